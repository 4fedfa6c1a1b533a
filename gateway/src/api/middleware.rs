//! Layers every request passes: the request id, a problem answer for a handler
//! that panicked, the charset of JSON answers, and on `/v1` authentication with
//! the per-key rate limit and its `RateLimit-*` headers.

use std::net::SocketAddr;
use std::sync::Arc;

use axum::extract::{ConnectInfo, MatchedPath, Request, State};
use axum::http::{HeaderName, HeaderValue, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use tracing::Instrument;

use super::AppState;
use super::denials::{Admission, Source, write_summaries};
use super::extract::Caller;
use super::problem::ApiError;
use crate::auth::AuthError;
use crate::store::AuditEntry;
use crate::task::RequestContext;

pub static REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

/// The request's ids: the gateway's own (always generated, unique), and the one
/// the client sent (if sane), which the response echoes as the contract says.
#[derive(Clone)]
pub struct RequestId {
    pub own: String,
    pub client: Option<String>,
}

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
    let client = request
        .headers()
        .get(&REQUEST_ID)
        .and_then(|v| v.to_str().ok())
        .filter(|v| !v.is_empty() && v.len() <= 128 && v.bytes().all(|b| b.is_ascii_graphic()))
        .map(String::from);
    let own = crate::ids::new_id("req");
    let echoed = client.clone().unwrap_or_else(|| own.clone());
    let span = tracing::info_span!(
        "request",
        request_id = %own,
        client_request_id = client.as_deref().unwrap_or(""),
        method = %request.method(),
        path = %request.uri().path()
    );
    request.extensions_mut().insert(RequestId { own, client });
    let started = std::time::Instant::now();
    let method = request.method().to_string();
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
    if let Ok(value) = HeaderValue::from_str(&echoed) {
        response.headers_mut().insert(REQUEST_ID.clone(), value);
    }
    response
}

/// A handler that panics answers a problem+json 500 (logged with the request id)
/// instead of dropping the connection.
pub async fn catch_panic(request: Request, next: Next) -> Response {
    use futures_util::FutureExt as _;
    match std::panic::AssertUnwindSafe(next.run(request)).catch_unwind().await {
        Ok(response) => response,
        Err(panic) => {
            let what = panic
                .downcast_ref::<&str>()
                .map(|s| s.to_string())
                .or_else(|| panic.downcast_ref::<String>().cloned())
                .unwrap_or_default();
            tracing::error!(panic = %what, "a request handler panicked");
            ApiError::internal("the request failed inside the gateway").into_response()
        }
    }
}

/// JSON answers say their charset, `application/json; charset=utf-8`, as the API
/// promises (axum's `Json` leaves it out; JSON is UTF-8 either way).
pub async fn json_charset(request: Request, next: Next) -> Response {
    let mut response = next.run(request).await;
    // A download (an artifact of type application/json) is a file, served as stored.
    let download = response.headers().contains_key(header::CONTENT_DISPOSITION);
    if !download && response.headers().get(header::CONTENT_TYPE).is_some_and(|v| v.as_bytes() == b"application/json") {
        response.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static(JSON_UTF8));
    }
    response
}

const JSON_UTF8: &str = "application/json; charset=utf-8";

/// Who asked, for the audit log: the request's ids and the client's address.
pub fn request_context(extensions: &axum::http::Extensions) -> RequestContext {
    let ids = extensions.get::<RequestId>();
    RequestContext {
        request_id: ids.map(|r| r.own.clone()),
        client_request_id: ids.and_then(|r| r.client.clone()),
        client_addr: extensions.get::<ConnectInfo<SocketAddr>>().map(|c| c.0.ip().to_string()),
    }
}

/// Authenticates `/v1` requests and applies the key's rate limit.
pub async fn authenticate(State(state): State<AppState>, mut request: Request, next: Next) -> Response {
    let context = request_context(request.extensions());
    let route = RouteTarget::of(&request);
    // A client address that keeps presenting bad keys gets no more database
    // look-ups: only keys verified recently still pass, so guessing costs the
    // guesser time, and a valid client behind the same address keeps working.
    let client = request.extensions().get::<ConnectInfo<SocketAddr>>().map(|c| client_network(c.0.ip()));
    let failures_key = format!("\0auth-failures:{}", client.map(|c| c.to_string()).unwrap_or_default());
    let failures_cap = state.config.http.max_auth_failures_per_minute;
    let header = request.headers().get(header::AUTHORIZATION).and_then(|v| v.to_str().ok());
    // A request a peer relayed: counted against the key's limit on that peer. One
    // relayed for a dashboard session names its key by hash, under the signature.
    let asked = request.extensions().get::<axum::extract::OriginalUri>().map_or(request.uri(), |o| &o.0);
    let relayed = super::relay::relayed(&state, request.method(), asked, request.headers());
    // A key's hash is no credential elsewhere: only on the routes a dashboard's
    // relay asks for, and only read.
    let file_route = request
        .extensions()
        .get::<MatchedPath>()
        .is_some_and(|route| super::relay::DASHBOARD_RELAY_ROUTES.contains(&route.as_str()));
    let relayed_key = relayed
        .as_ref()
        .and_then(|r| r.key_hash.clone())
        .filter(|_| header.is_none() && request.method() == axum::http::Method::GET && file_route);
    let verified = if let Some(hash) = relayed_key {
        state.auth.verify_hash(hash).await
    } else if state.limiter.has_room(&failures_key, failures_cap) {
        state.auth.authenticate(header).await
    } else {
        match state.auth.known(header).await {
            Some(verified) => verified,
            None => {
                crate::telemetry::metrics::rate_limited();
                let reason = "too many failed authentications from this address";
                audit_denial(&state, None, &context, &route, 429, reason);
                return ApiError::new(
                    axum::http::StatusCode::TOO_MANY_REQUESTS,
                    "rate-limited",
                    "Too many failed authentications",
                    format!(
                        "this address failed to authenticate {failures_cap} times in a minute \
                         (the server's cap http.max_auth_failures_per_minute)"
                    ),
                )
                .with_retry_after(state.limiter.retry_after(&failures_key, failures_cap))
                .into_response();
            }
        }
    };
    let principal = match verified {
        Ok(principal) => principal,
        Err(e) => {
            // Only a key that had to be looked up counts: a missing or malformed
            // header costs the gateway nothing.
            if matches!(e, AuthError::Unknown | AuthError::Revoked) {
                state.limiter.check(&failures_key, failures_cap);
            }
            let reason = e.to_string();
            let mut response = ApiError::from(e).into_response();
            response.headers_mut().insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
            audit_denial(&state, None, &context, &route, response.status().as_u16(), &reason);
            return response;
        }
    };
    let key_id = principal.key_id.clone();
    let decision = relayed.is_none().then(|| state.limiter.check(&principal.key_id, principal.rate_limit_per_minute));
    let rate_headers = decision.as_ref().map(|decision| {
        [
            ("ratelimit-limit", decision.limit as u64),
            ("ratelimit-remaining", decision.remaining as u64),
            ("ratelimit-reset", decision.reset_seconds),
        ]
    });
    let mut response = if let Some(decision) = decision.as_ref().filter(|d| !d.allowed) {
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
    } else {
        request.extensions_mut().insert(Caller { principal, context: context.clone() });
        let response = next.run(request).await;
        if response.status() == axum::http::StatusCode::FORBIDDEN {
            audit_denial(&state, Some(key_id), &context, &route, 403, "the key lacks the scope");
        }
        response
    };
    for (name, value) in rate_headers.into_iter().flatten() {
        response.headers_mut().insert(HeaderName::from_static(name), HeaderValue::from(value));
    }
    response
}

/// The key a dashboard request was made with, once its session is read: set by the
/// dashboard's `Viewer`, read by [`audit_dashboard_refusals`] after the answer.
#[derive(Clone, Default)]
pub struct RefusedKey(pub Arc<std::sync::OnceLock<String>>);

/// Records the dashboard's refusals (403: a missing scope or CSRF token) in the
/// audit log, within the same budgets as the API's.
pub async fn audit_dashboard_refusals(State(state): State<AppState>, mut request: Request, next: Next) -> Response {
    let route = RouteTarget::of(&request);
    let context = request_context(request.extensions());
    let key = RefusedKey::default();
    request.extensions_mut().insert(key.clone());
    let response = next.run(request).await;
    if response.status() == axum::http::StatusCode::FORBIDDEN {
        audit_denial(
            &state,
            key.0.get().cloned(),
            &context,
            &route,
            403,
            "the key lacks the scope, or the form its CSRF token",
        );
    }
    response
}

/// The network a client address stands for in per-address limits: an IPv4 address
/// itself, an IPv6 address its /64 (one host commonly holds a whole /64, so a
/// limit per /128 would be no limit).
pub fn client_network(address: std::net::IpAddr) -> std::net::IpAddr {
    match address {
        std::net::IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => std::net::IpAddr::V4(v4),
            None => std::net::IpAddr::V6(std::net::Ipv6Addr::from(u128::from(v6) & !((1u128 << 64) - 1))),
        },
        v4 => v4,
    }
}

/// What a refused request asked for, bounded: the route template it matched
/// (`GET /v1/tasks/{id}`) and the `{id}` it named, clipped; never the raw path.
#[derive(Debug, Clone, PartialEq, Eq)]
struct RouteTarget {
    route: String,
    id: Option<String>,
}

impl RouteTarget {
    const MAX_ID_BYTES: usize = 64;

    fn of(request: &Request) -> Self {
        let template = request.extensions().get::<MatchedPath>().map(|p| p.as_str());
        Self::from_parts(request.method().as_str(), template, request.uri().path())
    }

    fn from_parts(method: &str, template: Option<&str>, path: &str) -> Self {
        let Some(template) = template else {
            return Self { route: format!("{method} (unmatched)"), id: None };
        };
        let id = template
            .split('/')
            .zip(path.split('/'))
            .find(|(pattern, _)| *pattern == "{id}")
            .map(|(_, value)| crate::text::clip(value, Self::MAX_ID_BYTES).to_string());
        Self { route: format!("{method} {template}"), id }
    }
}

/// Records a denied request in the audit log, off the request path, within the
/// budget of its source (`denials`): a refused key always has room of its own.
fn audit_denial(
    state: &AppState,
    key_id: Option<String>,
    context: &RequestContext,
    target: &RouteTarget,
    status: u16,
    reason: &str,
) {
    let source = match (&key_id, &context.client_addr) {
        (Some(key), _) => Source::Key(key.clone()),
        (None, Some(addr)) => {
            let network = addr.parse().map(client_network).map_or_else(|_| addr.clone(), |n| n.to_string());
            Source::Address(network)
        }
        (None, None) => Source::OtherAddresses,
    };
    let (admission, ended) = state.denials.admit(source, std::time::Instant::now());
    let audit = state.audit.clone();
    let entry = (admission == Admission::Record).then(|| AuditEntry {
        target: Some(target.route.clone()),
        details: Some(serde_json::json!({"status": status, "reason": reason, "id": target.id})),
        ..context.audit_entry(key_id, "request.denied", "denied")
    });
    if entry.is_none() && ended.is_empty() {
        crate::telemetry::metrics::denial_unaudited();
        return;
    }
    tokio::spawn(async move {
        write_summaries(&audit, ended).await;
        if let Some(entry) = entry {
            audit.record_or_warn(entry, "a denied request").await;
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ipv6_clients_are_limited_by_their_64_and_ipv4_by_address() {
        let network = |text: &str| client_network(text.parse().unwrap()).to_string();
        assert_eq!(network("2001:db8:1:2:aaaa:bbbb:cccc:dddd"), "2001:db8:1:2::");
        assert_eq!(network("2001:db8:1:2::9"), network("2001:db8:1:2:ffff::1"), "one /64, one limit");
        assert_ne!(network("2001:db8:1:2::9"), network("2001:db8:1:3::9"));
        assert_eq!(network("::ffff:192.0.2.7"), "192.0.2.7");
        assert_eq!(network("192.0.2.7"), "192.0.2.7");
    }

    #[test]
    fn refusals_name_the_route_and_a_clipped_id_never_the_path() {
        let long = format!("/v1/tasks/{}", "x".repeat(60_000));
        let target = RouteTarget::from_parts("GET", Some("/v1/tasks/{id}"), &long);
        assert_eq!(target.route, "GET /v1/tasks/{id}");
        assert_eq!(target.id.as_deref().map(str::len), Some(64));
        assert_eq!(RouteTarget::from_parts("POST", None, &long).route, "POST (unmatched)");
    }

    #[tokio::test]
    async fn a_panicking_handler_answers_a_problem_and_json_says_its_charset() {
        use axum::routing::get;
        use tower::ServiceExt as _;
        async fn panics() -> &'static str {
            panic!("a bug")
        }
        let app = axum::Router::new()
            .route("/panics", get(panics))
            .route("/json", get(|| async { axum::Json(serde_json::json!({"a": 1})) }))
            .route("/text", get(|| async { "plain" }))
            .layer(axum::middleware::from_fn(catch_panic))
            .layer(axum::middleware::from_fn(json_charset));
        let get = |path: &str| Request::get(path).body(axum::body::Body::empty()).unwrap();
        let content_type = |r: &Response| r.headers()[header::CONTENT_TYPE].to_str().unwrap().to_string();

        let panicked = app.clone().oneshot(get("/panics")).await.unwrap();
        assert_eq!(panicked.status(), 500);
        assert_eq!(content_type(&panicked), "application/problem+json");
        let body = axum::body::to_bytes(panicked.into_body(), 1 << 16).await.unwrap();
        let problem: serde_json::Value = serde_json::from_slice(&body).unwrap();
        assert_eq!(problem["type"], "https://ccgate.dev/errors/internal", "{problem}");
        assert!(!problem.to_string().contains("a bug"), "the panic's message stays in the log: {problem}");

        let json = app.clone().oneshot(get("/json")).await.unwrap();
        assert_eq!(content_type(&json), "application/json; charset=utf-8");
        let text = app.oneshot(get("/text")).await.unwrap();
        assert_eq!(content_type(&text), "text/plain; charset=utf-8", "other types are left alone");
    }
}
