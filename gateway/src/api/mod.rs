//! The HTTP API (documented in `openapi.json`): routes, extractors, middleware, and the
//! mapping of errors to problem+json. Handlers parse, call a service, and answer.

mod approvals;
mod artifacts;
mod audit;
mod body;
mod denials;
mod docs;
mod events;
mod extract;
mod files;
mod health;
mod keys;
mod middleware;
mod nodes;
mod openapi;
mod paging;
mod plugins;
mod problem;
mod relay;
mod schema;
mod task_body;
mod tasks;
mod webhooks;

use std::sync::Arc;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::http::StatusCode;
use axum::routing::get;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

pub(crate) use approvals::parse_decision;
pub(crate) use artifacts::download as download_artifact;
pub use denials::{DenialBudget, flush_forever as flush_denial_counts};
pub(crate) use events::{StreamSlots, follow as follow_events};
pub(crate) use extract::{Caller, body_bytes};
pub(crate) use files::{archive as download_archive, download as download_file, workspace_files};
pub use health::Readiness;
pub(crate) use health::readiness_report;
pub(crate) use keys::{create_key, revoke_key, rotate_webhook_secret_of};
pub use middleware::client_network;
pub(crate) use middleware::{RefusedKey, audit_dashboard_refusals, request_context};
pub use openapi::DOCUMENT as OPENAPI_DOCUMENT;
pub(crate) use plugins::{reload_plugins, visible_plugins};
pub use problem::ApiError;
pub(crate) use relay::OnBehalf;
pub use schema::{KeyCreated, KeyView};

use crate::auth::{Authenticator, KeyService, RateLimiter};
use crate::config::Config;
use crate::queue::Queue;
use crate::task::TaskService;

/// What handlers share.
#[derive(Clone)]
pub struct AppState {
    pub config: Arc<Config>,
    pub tasks: TaskService,
    pub auth: Authenticator,
    /// Keys as admins manage them.
    pub keys: KeyService,
    pub audit: crate::audit::AuditLog,
    pub stats: crate::telemetry::Stats,
    pub limiter: Arc<RateLimiter>,
    pub queue: Arc<Queue>,
    /// This gateway in the node registry.
    pub node: Arc<crate::nodes::Node>,
    pub readiness: Arc<Readiness>,
    pub metrics: Option<metrics_exporter_prometheus::PrometheusHandle>,
    pub artifacts: crate::artifacts::ArtifactStore,
    pub plugins: Arc<crate::plugins::Plugins>,
    /// Budgets of audited refusals, per key and per client address.
    pub denials: Arc<denials::DenialBudget>,
    /// Multipart uploads being received, per key.
    pub uploads: Arc<crate::in_flight::InFlight<String>>,
    /// Open event streams, per key and for the node.
    pub streams: Arc<events::OpenStreams>,
    /// Sign-ins to the dashboard.
    pub sessions: Arc<crate::dashboard::Sessions>,
}

/// The documented routes under `/v1`, without the layers that need state.
fn v1_routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(tasks::create, tasks::list))
        .routes(routes!(tasks::execute))
        .routes(routes!(tasks::get))
        .routes(routes!(tasks::cancel))
        .routes(routes!(tasks::follow_up))
        .routes(routes!(events::stream))
        .routes(routes!(files::index))
        // A wildcard has no OpenAPI spelling: routed here, documented by `WildcardDoc`.
        .route("/tasks/{id}/files/{*path}", get(files::download))
        .routes(routes!(files::archive))
        .routes(routes!(approvals::list))
        .routes(routes!(approvals::decide))
        .routes(routes!(artifacts::list))
        .routes(routes!(artifacts::download))
        .routes(routes!(keys::create, keys::list))
        .routes(routes!(keys::revoke, keys::get, keys::update))
        .routes(routes!(audit::list))
        .routes(routes!(keys::rotate_webhook_secret))
        .routes(routes!(webhooks::deliveries))
        .routes(routes!(plugins::list))
        .routes(routes!(plugins::reload))
        .routes(routes!(nodes::list))
        .routes(routes!(nodes::get))
        .routes(routes!(nodes::drain))
        .routes(routes!(nodes::resume))
}

/// The documented routes outside `/v1`: no key needed.
fn root_routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(health::healthz))
        .routes(routes!(health::readyz))
        .routes(routes!(health::metrics))
        .routes(routes!(docs::openapi))
}

#[derive(utoipa::OpenApi)]
#[openapi(paths(files::download))]
struct WildcardDoc;

/// The OpenAPI document of every route.
pub fn openapi_document() -> utoipa::openapi::OpenApi {
    use utoipa::OpenApi as _;
    let (_, v1) = v1_routes().split_for_parts();
    let (_, root) = root_routes().split_for_parts();
    let mut document = openapi::ApiDoc::openapi().nest("/v1", v1.merge_from(WildcardDoc::openapi())).merge_from(root);
    openapi::complete(&mut document);
    document
}

/// The whole HTTP surface.
pub fn router(state: AppState) -> Router {
    let (v1, _) = v1_routes().split_for_parts();
    let (root, _) = root_routes().split_for_parts();
    let v1 = v1
        .method_not_allowed_fallback(method_not_allowed)
        .route_layer(axum::middleware::from_fn_with_state(state.clone(), middleware::authenticate));
    let root = root.route("/docs", get(docs::page)).route("/docs/rapidoc-min.js", get(docs::rapidoc));
    let root =
        if state.config.dashboard.enabled { root.nest("/dashboard", crate::dashboard::router(&state)) } else { root };
    root.nest("/v1", v1)
        .route_layer(axum::middleware::from_fn(middleware::matched_route))
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(DefaultBodyLimit::max(state.config.http.max_body_bytes))
        .layer(axum::middleware::from_fn_with_state(state.clone(), middleware::reject_oversized))
        .layer(axum::middleware::from_fn(middleware::catch_panic))
        .layer(axum::middleware::from_fn(middleware::json_charset))
        .layer(axum::middleware::from_fn(middleware::request_id))
        .with_state(state)
}

/// `/metrics` alone, for its own listener (`metrics.listen`).
pub fn metrics_router(state: AppState) -> Router {
    Router::new()
        .route("/metrics", get(health::metrics))
        .fallback(not_found)
        .layer(axum::Extension(health::MetricsListener))
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
