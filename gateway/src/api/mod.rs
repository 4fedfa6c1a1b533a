//! The HTTP API (`shared/design/API.md`): routes, extractors, middleware, and the
//! mapping of errors to problem+json. Handlers parse, call a service, and answer.

mod audit;
mod events;
mod extract;
mod files;
mod health;
mod keys;
mod middleware;
mod paging;
mod problem;
mod task_body;
mod tasks;

use std::sync::Arc;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::http::StatusCode;
use axum::routing::{delete, get, post};

pub use health::Readiness;
pub use problem::ApiError;

use crate::auth::{Authenticator, KeyHasher, RateLimiter};
use crate::config::Config;
use crate::queue::Queue;
use crate::task::TaskService;

/// What handlers share.
#[derive(Clone)]
pub struct AppState {
    pub config: Arc<Config>,
    pub tasks: TaskService,
    pub auth: Authenticator,
    pub hasher: KeyHasher,
    pub limiter: Arc<RateLimiter>,
    pub queue: Arc<Queue>,
    pub readiness: Arc<Readiness>,
    pub metrics: Option<metrics_exporter_prometheus::PrometheusHandle>,
}

/// The whole HTTP surface.
pub fn router(state: AppState) -> Router {
    let v1 = Router::new()
        .route("/tasks", post(tasks::create).get(tasks::list))
        .route("/execute", post(tasks::execute))
        .route("/tasks/{id}", get(tasks::get))
        .route("/tasks/{id}/cancel", post(tasks::cancel))
        .route("/tasks/{id}/messages", post(tasks::follow_up))
        .route("/tasks/{id}/events", get(events::stream))
        .route("/tasks/{id}/files", get(files::index))
        .route("/tasks/{id}/files/{*path}", get(files::download))
        .route("/tasks/{id}/archive", get(files::archive))
        .route("/keys", post(keys::create).get(keys::list))
        .route("/keys/{id}", delete(keys::revoke).get(keys::get))
        .route("/audit", get(audit::list))
        .method_not_allowed_fallback(method_not_allowed)
        .route_layer(axum::middleware::from_fn_with_state(state.clone(), middleware::authenticate));
    Router::new()
        .route("/healthz", get(health::healthz))
        .route("/readyz", get(health::readyz))
        .route("/metrics", get(health::metrics))
        .nest("/v1", v1)
        .route_layer(axum::middleware::from_fn(middleware::matched_route))
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(DefaultBodyLimit::max(state.config.http.max_body_bytes))
        .layer(axum::middleware::from_fn_with_state(state.clone(), middleware::reject_oversized))
        .layer(axum::middleware::from_fn(middleware::request_id))
        .with_state(state)
}

async fn not_found() -> ApiError {
    ApiError::not_found("no such route")
}

async fn method_not_allowed() -> ApiError {
    ApiError::new(
        StatusCode::METHOD_NOT_ALLOWED,
        "method-not-allowed",
        "Method not allowed",
        "this route does not take that method",
    )
}
