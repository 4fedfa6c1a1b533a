//! A request for the files of a task that runs on another node, answered by that
//! node (`nodes::relay`): the live workspace rather than the task's last snapshot.

use axum::body::Body;
use axum::http::{HeaderMap, Method, StatusCode, Uri, header};
use axum::response::Response;

use super::AppState;
use crate::nodes::relay::RELAY_HEADER;
use crate::store::entities::task;

/// Whether a peer node relayed this request (it carries a valid signature under
/// the cluster secret): the peer already counted it against the key's rate limit.
pub(crate) fn is_relayed(state: &AppState, method: &Method, uri: &Uri, headers: &HeaderMap) -> bool {
    let path = uri.path_and_query().map_or(uri.path(), |p| p.as_str());
    headers.get(RELAY_HEADER).and_then(|v| v.to_str().ok()).is_some_and(|signature| {
        state.node.relay().verify(signature, method.as_str(), path, crate::timestamp::now_ms())
    })
}

/// The answer of the node that runs `task`, when it runs on another node that can
/// be reached; `None`: answer here (from this node's copy). A request a peer
/// relayed is always answered here, so nothing is relayed twice.
pub(crate) async fn from_runner(
    state: &AppState,
    task: &task::Model,
    method: &Method,
    uri: &Uri,
    headers: &HeaderMap,
) -> Option<Response> {
    if method != Method::GET {
        return None;
    }
    if is_relayed(state, method, uri, headers) {
        return None;
    }
    let relay = state.node.relay();
    let path = uri.path_and_query().map_or(uri.path(), |p| p.as_str());
    let base = state.node.runner_url(task).await?;
    let authorization = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let answer = match relay.get(&base, path, authorization).await? {
        Ok(answer) if !answer.status().is_server_error() => answer,
        Ok(answer) => {
            let status = answer.status();
            tracing::warn!(task_id = %task.id, node = %base, %status, "the node running the task failed a relayed request; answering from the last snapshot");
            return None;
        }
        Err(e) => {
            tracing::warn!(task_id = %task.id, node = %base, error = %e, "cannot relay to the node running the task; answering from the last snapshot");
            return None;
        }
    };
    let status = StatusCode::from_u16(answer.status().as_u16()).unwrap_or(StatusCode::BAD_GATEWAY);
    let mut response = Response::builder().status(status);
    for name in [
        header::CONTENT_TYPE,
        header::CONTENT_LENGTH,
        header::CONTENT_DISPOSITION,
        header::X_CONTENT_TYPE_OPTIONS,
        header::RETRY_AFTER,
    ] {
        if let Some(value) = answer.headers().get(name.as_str())
            && let Ok(value) = header::HeaderValue::from_bytes(value.as_bytes())
        {
            response = response.header(name, value);
        }
    }
    response.body(Body::from_stream(answer.bytes_stream())).ok()
}
