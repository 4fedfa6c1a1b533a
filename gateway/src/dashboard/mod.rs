//! The operator's web pages at `/dashboard`: what the gateway is doing and has
//! done (readiness, the queue, a usage rollup over the last hour, day and week),
//! its tasks with their events following live, keys, plugins and the audit log;
//! and the actions a person takes on them (cancel, follow up, allow or deny a tool
//! call, revoke a key, reload plugins), through the same service functions and audit log as the API.
//!
//! Pages are rendered on the server from templates compiled into the binary with
//! minijinja (no default features: no proc-macros, so it builds in seconds and a
//! template change does not recompile the crate's macros, where askama would
//! expand every template at compile time). Charts are SVG drawn on the server.
//! Everything reads without JavaScript; one small script, served from the binary
//! like the stylesheet, makes the task list and a task's events follow live (the
//! events over the same stream as `GET /v1/tasks/{id}/events`). Every answer has a
//! strict Content-Security-Policy: nothing inline, nothing from another origin.
//!
//! Access is by sign-in with an API key (`session`); every form carries the
//! session's CSRF token (`viewer`). An admin key sees everything; a `tasks` key
//! sees its own tasks and its own key.

mod assets;
mod audit;
mod files;
mod keys;
mod overview;
mod page;
mod plugins;
mod session;
mod sign_in;
mod task;
mod tasks;
mod viewer;

use axum::Router;
use axum::extract::Request;
use axum::http::{HeaderName, HeaderValue, header};
use axum::middleware::Next;
use axum::response::Response;
use axum::routing::{get, post};

pub use session::Sessions;

use crate::api::{AppState, audit_dashboard_refusals};

/// What every dashboard answer may load: its own scripts, styles and images only.
const CONTENT_SECURITY_POLICY: &str = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self'; \
     connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'; object-src 'none'";

/// The routes under `/dashboard`.
pub fn router(state: &AppState) -> Router<AppState> {
    files::routes(state)
        .route("/", get(overview::page))
        .route("/sign-in", get(sign_in::form).post(sign_in::sign_in))
        .route("/sign-out", post(sign_in::sign_out))
        .route("/tasks", get(tasks::page))
        .route("/tasks/{id}", get(task::page))
        .route("/tasks/{id}/events", get(task::events))
        .route("/tasks/{id}/cancel", post(task::cancel))
        .route("/tasks/{id}/messages", post(task::follow_up))
        .route("/tasks/{id}/approvals/{approval_id}", post(task::decide))
        .route("/keys", get(keys::page).post(keys::create))
        .route("/keys/{id}/webhook-secret", post(keys::rotate_webhook_secret))
        .route("/keys/{id}/revoke", post(keys::revoke))
        .route("/plugins", get(plugins::page))
        .route("/plugins/reload", post(plugins::reload))
        .route("/audit", get(audit::page))
        .route("/assets/{name}", get(assets::serve))
        .route_layer(axum::middleware::from_fn_with_state(state.clone(), audit_dashboard_refusals))
        .layer(axum::middleware::from_fn(secure_headers))
}

/// The headers every dashboard answer carries.
async fn secure_headers(request: Request, next: Next) -> Response {
    let mut response = next.run(request).await;
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_SECURITY_POLICY, HeaderValue::from_static(CONTENT_SECURITY_POLICY));
    headers.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    headers.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    headers.insert(header::REFERRER_POLICY, HeaderValue::from_static("same-origin"));
    headers.entry(header::CACHE_CONTROL).or_insert(HeaderValue::from_static("no-store"));
    headers.insert(HeaderName::from_static("cross-origin-opener-policy"), HeaderValue::from_static("same-origin"));
    response
}
