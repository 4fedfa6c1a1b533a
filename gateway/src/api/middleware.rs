//! Layers every request passes: the request id, and on `/v1` authentication with
//! the per-key rate limit and its `RateLimit-*` headers.

use std::net::SocketAddr;

use axum::extract::{ConnectInfo, MatchedPath, Request, State};
use axum::http::{HeaderName, HeaderValue, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use tracing::Instrument;

use super::AppState;
use super::extract::Caller;
use super::problem::ApiError;
use crate::store::AuditEntry;
use crate::task::RequestContext;

pub static REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

/// The request's id, echoed from the client (if sane) or generated.
#[derive(Clone)]
pub struct RequestId(pub String);

/// The route template a request matched (`/v1/tasks/{id}`), for metric labels.
#[derive(Clone)]
pub struct MatchedRoute(String);

/// Runs after routing: passes the matched template out on the response, where the
/// outer request-id layer (which runs before routing) records the metric.
pub async fn matched_route(request: Request, next: Next) -> Response {
    let route = request.extensions().get::<MatchedPath>().map(|p| p.as_str().to_string());
    let mut response = next.run(request).await;
    if let Some(route) = route {
        response.extensions_mut().insert(MatchedRoute(route));
    }
    response
}

/// Gives every request an id, logs it, and sets `x-request-id` on the response.
pub async fn request_id(mut request: Request, next: Next) -> Response {
    let id = request
        .headers()
        .get(&REQUEST_ID)
        .and_then(|v| v.to_str().ok())
        .filter(|v| !v.is_empty() && v.len() <= 128 && v.bytes().all(|b| b.is_ascii_graphic()))
        .map(String::from)
        .unwrap_or_else(|| crate::ids::new_id("req"));
    request.extensions_mut().insert(RequestId(id.clone()));
    let started = std::time::Instant::now();
    let method = request.method().to_string();
    let span =
        tracing::info_span!("request", request_id = %id, method = %request.method(), path = %request.uri().path());
    let mut response = async move {
        if tracing::enabled!(tracing::Level::DEBUG) {
            tracing::debug!(headers = %crate::telemetry::redact::headers_for_log(request.headers()), "request headers");
        }
        let response = next.run(request).await;
        tracing::info!(status = response.status().as_u16(), "request done");
        let route = response.extensions().get::<MatchedRoute>().map_or("unmatched", |r| r.0.as_str());
        crate::telemetry::metrics::http_request(route, &method, response.status().as_u16(), started.elapsed());
        response
    }
    .instrument(span)
    .await;
    if let Ok(value) = HeaderValue::from_str(&id) {
        response.headers_mut().insert(REQUEST_ID.clone(), value);
    }
    response
}

/// Authenticates `/v1` requests and applies the key's rate limit.
pub async fn authenticate(State(state): State<AppState>, mut request: Request, next: Next) -> Response {
    let context = RequestContext {
        request_id: request.extensions().get::<RequestId>().map(|r| r.0.clone()),
        client_addr: request.extensions().get::<ConnectInfo<SocketAddr>>().map(|c| c.0.ip().to_string()),
    };
    let route = format!("{} {}", request.method(), request.uri().path());
    let header = request.headers().get(header::AUTHORIZATION).and_then(|v| v.to_str().ok());
    let principal = match state.auth.authenticate(header).await {
        Ok(principal) => principal,
        Err(e) => {
            let reason = e.to_string();
            let mut response = ApiError::from(e).into_response();
            response.headers_mut().insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
            audit_denial(&state, None, &context, &route, response.status().as_u16(), &reason);
            return response;
        }
    };
    let key_id = principal.key_id.clone();
    let decision = state.limiter.check(&principal.key_id, principal.rate_limit_per_minute);
    let rate_headers = [
        ("ratelimit-limit", decision.limit as u64),
        ("ratelimit-remaining", decision.remaining as u64),
        ("ratelimit-reset", decision.reset_seconds),
    ];
    let mut response = if decision.allowed {
        request.extensions_mut().insert(Caller { principal, context: context.clone() });
        let response = next.run(request).await;
        if response.status() == axum::http::StatusCode::FORBIDDEN {
            audit_denial(&state, Some(key_id), &context, &route, 403, "the key lacks the scope");
        }
        response
    } else {
        audit_denial(&state, Some(key_id), &context, &route, 429, "over the key's rate limit");
        crate::telemetry::metrics::rate_limited();
        ApiError::new(
            axum::http::StatusCode::TOO_MANY_REQUESTS,
            "rate-limited",
            "Too many requests",
            format!("this key may make {} requests per minute", decision.limit),
        )
        .with_retry_after(decision.retry_after_seconds)
        .into_response()
    };
    for (name, value) in rate_headers {
        response.headers_mut().insert(HeaderName::from_static(name), HeaderValue::from(value));
    }
    response
}

/// Records a denied request in the audit log, off the request path. Denials are
/// themselves rate-limited (`DENIALS_AUDITED_PER_MINUTE` for the whole node) so a
/// flood of bad requests cannot fill the disk; the ones dropped are counted in the log.
fn audit_denial(
    state: &AppState,
    key_id: Option<String>,
    context: &RequestContext,
    route: &str,
    status: u16,
    reason: &str,
) {
    const DENIALS_AUDITED_PER_MINUTE: u32 = 600;
    if !state.limiter.check("\0audit-denials", DENIALS_AUDITED_PER_MINUTE).allowed {
        tracing::warn!(status, route, "denied request not audited: the audit log's denial budget is used up");
        return;
    }
    let entry = AuditEntry {
        key_id,
        target: Some(route.to_string()),
        request_id: context.request_id.clone(),
        client_addr: context.client_addr.clone(),
        details: Some(serde_json::json!({"status": status, "reason": reason})),
        ..AuditEntry::new("request.denied", "denied")
    };
    let store = state.tasks.store().clone();
    tokio::spawn(async move {
        if let Err(e) = store.audit(entry).await {
            tracing::warn!(error = %e, "could not audit a denied request");
        }
    });
}

/// Refuses a body whose announced length is over the limit before reading any of
/// it (a chunked body is cut off by the body limit while it is read).
pub async fn reject_oversized(State(state): State<AppState>, request: Request, next: Next) -> Response {
    let announced =
        request.headers().get(header::CONTENT_LENGTH).and_then(|v| v.to_str().ok()).and_then(|v| v.parse::<u64>().ok());
    if announced.is_some_and(|length| length > state.config.http.max_body_bytes as u64) {
        return ApiError::payload_too_large().into_response();
    }
    next.run(request).await
}
