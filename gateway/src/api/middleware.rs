//! Layers every request passes: the request id, and on `/v1` authentication with
//! the per-key rate limit and its `RateLimit-*` headers.

use std::net::SocketAddr;

use axum::extract::{ConnectInfo, Request, State};
use axum::http::{HeaderName, HeaderValue, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use tracing::Instrument;

use super::AppState;
use super::extract::Caller;
use super::problem::ApiError;
use crate::task::RequestContext;

pub static REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

/// The request's id, echoed from the client (if sane) or generated.
#[derive(Clone)]
pub struct RequestId(pub String);

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
    let span =
        tracing::info_span!("request", request_id = %id, method = %request.method(), path = %request.uri().path());
    let mut response = async move {
        let response = next.run(request).await;
        tracing::info!(status = response.status().as_u16(), "request done");
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
    let header = request.headers().get(header::AUTHORIZATION).and_then(|v| v.to_str().ok());
    let principal = match state.auth.authenticate(header).await {
        Ok(principal) => principal,
        Err(e) => {
            let mut response = ApiError::from(e).into_response();
            response.headers_mut().insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
            return response;
        }
    };
    let decision = state.limiter.check(&principal.key_id, principal.rate_limit_per_minute);
    let rate_headers = [
        ("ratelimit-limit", decision.limit as u64),
        ("ratelimit-remaining", decision.remaining as u64),
        ("ratelimit-reset", decision.reset_seconds),
    ];
    let mut response = if decision.allowed {
        let context = RequestContext {
            request_id: request.extensions().get::<RequestId>().map(|r| r.0.clone()),
            client_addr: request.extensions().get::<ConnectInfo<SocketAddr>>().map(|c| c.0.ip().to_string()),
        };
        request.extensions_mut().insert(Caller { principal, context });
        next.run(request).await
    } else {
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
