//! Downloads from a task's page: one workspace file, the workspace as an archive,
//! an artifact. These are the API's own handlers, given the signed-in key as
//! their caller, so what they check and serve (the task's own key, links never
//! followed, ranges, expiry) is the same; the files of a task running on another
//! node come live from it, relayed for the signed-in key (`api::relay`).

use axum::Router;
use axum::extract::{FromRequestParts, Request, State};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::get;

use super::viewer::Viewer;
use crate::api::{AppState, OnBehalf, download_archive, download_artifact, download_file};

/// The download routes, under `/dashboard`.
pub fn routes(state: &AppState) -> Router<AppState> {
    Router::new()
        .route("/tasks/{id}/archive", get(download_archive))
        .route("/tasks/{id}/files/{*path}", get(download_file))
        .route("/tasks/{id}/artifacts/{name}", get(download_artifact))
        .route_layer(axum::middleware::from_fn_with_state(state.clone(), as_caller))
}

/// Makes the signed-in key the caller the API's handlers expect, and the key a
/// file request of a task running on another node is relayed for.
async fn as_caller(State(state): State<AppState>, request: Request, next: Next) -> Response {
    let (mut parts, body) = request.into_parts();
    let viewer = match Viewer::from_request_parts(&mut parts, &state).await {
        Ok(viewer) => viewer,
        Err(response) => return response.into_response(),
    };
    parts.extensions.insert(OnBehalf(viewer.session.key_hash.clone()));
    parts.extensions.insert(viewer.caller);
    next.run(Request::from_parts(parts, body)).await
}

/// A workspace path or artifact name as a URL path: each segment percent-encoded.
pub fn href_path(path: &str) -> String {
    path.split('/')
        .map(|segment| {
            segment
                .bytes()
                .map(|b| match b {
                    b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => (b as char).to_string(),
                    other => format!("%{other:02X}"),
                })
                .collect::<String>()
        })
        .collect::<Vec<_>>()
        .join("/")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_keep_their_slashes_and_encode_the_rest() {
        assert_eq!(href_path("src/main file#1.rs"), "src/main%20file%231.rs");
        assert_eq!(href_path("a?b/ü"), "a%3Fb/%C3%BC");
    }
}
