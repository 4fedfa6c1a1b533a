//! A request for the files of a task that runs on another node, answered by that
//! node (`nodes::relay`): the live workspace rather than the task's last snapshot.

use axum::body::Body;
use axum::http::{HeaderMap, Method, StatusCode, Uri, header};
use axum::response::Response;

use super::AppState;
use crate::nodes::relay::{Credential, RELAY_HEADER, RELAY_KEY_HEADER};
use crate::store::entities::task;

/// The routes a request relayed for a dashboard session's key may ask for: the
/// task's files, as the dashboard serves them.
pub(crate) const DASHBOARD_RELAY_ROUTES: [&str; 3] =
    ["/v1/tasks/{id}/files", "/v1/tasks/{id}/files/{*path}", "/v1/tasks/{id}/archive"];

/// A request that a peer relayed: it carries a valid signature under the cluster
/// secret, and for a dashboard session the key's hash, which the signature covers.
pub(crate) struct Relayed {
    pub key_hash: Option<String>,
}

/// The signed-in dashboard key a request is made for (the hash its session holds),
/// which a relay passes on in place of an `Authorization` header.
#[derive(Clone)]
pub(crate) struct OnBehalf(pub String);

/// Whether a peer node relayed this request (it is then counted against the key's
/// rate limit on that peer, and answered here, never relayed again).
pub(crate) fn relayed(state: &AppState, method: &Method, uri: &Uri, headers: &HeaderMap) -> Option<Relayed> {
    let path = uri.path_and_query().map_or(uri.path(), |p| p.as_str());
    let signature = headers.get(RELAY_HEADER)?.to_str().ok()?;
    let key_hash = match headers.get(RELAY_KEY_HEADER) {
        Some(value) => Some(value.to_str().ok()?.to_string()),
        None => None,
    };
    let now = crate::timestamp::now_ms();
    let valid = state.node.relay().verify(signature, method.as_str(), path, now, key_hash.as_deref());
    valid.then_some(Relayed { key_hash })
}

/// The answer of the node that runs `task`, when it runs on another node that can
/// be reached; `None`: answer here (from this node's copy). A request a peer
/// relayed is always answered here, so nothing is relayed twice. A dashboard
/// request (`on_behalf`) goes as the API's request for the same files.
pub(crate) async fn from_runner(
    state: &AppState,
    task: &task::Model,
    method: &Method,
    uri: &Uri,
    headers: &HeaderMap,
    on_behalf: Option<&OnBehalf>,
) -> Option<Response> {
    if method != Method::GET || relayed(state, method, uri, headers).is_some() {
        return None;
    }
    let asked = uri.path_and_query().map_or(uri.path(), |p| p.as_str());
    // A dashboard request goes for its session's key whatever else it carries (a
    // proxy in front of the dashboard may add an `Authorization` of its own).
    let (path, credential) = match (on_behalf, headers.get(header::AUTHORIZATION)) {
        (Some(OnBehalf(hash)), _) => {
            (format!("/v1/{}", asked.strip_prefix("/dashboard/")?), Credential::KeyHash(hash.as_str()))
        }
        (None, Some(authorization)) => (asked.to_string(), Credential::Authorization(authorization.to_str().ok()?)),
        (None, None) => return None,
    };
    let base = state.node.runner_url(task).await?;
    let answer = match state.node.relay().get(&base, &path, credential).await? {
        // A node of an older version does not take a dashboard key's relay: the
        // snapshot will do.
        Ok(answer) if on_behalf.is_some() && matches!(answer.status().as_u16(), 401 | 403) => {
            let status = answer.status();
            tracing::warn!(task_id = %task.id, node = %base, %status, "the node running the task refused a dashboard relay; answering from the last snapshot");
            return None;
        }
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
