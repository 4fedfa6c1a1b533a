//! Signing in with an API key (a form POST) and out. The sign-in form has a CSRF
//! token too, kept in a cookie of its own until there is a session, so no other
//! site can sign a browser in with a key of its choosing. Failed sign-ins count
//! against the client address like failed API authentications.

use std::time::Duration;

use axum::extract::{ConnectInfo, Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use minijinja::context;

use super::page::{render, see_other};
use super::session::{COOKIE, SIGN_IN_COOKIE, cookie, random_token, token_cookie, wants_secure};
use super::viewer::{Form, SignedForm};
use crate::api::{ApiError, AppState, client_network, request_context};
use crate::auth::AuthError;

/// How long the sign-in form's token lasts.
const FORM_LIFETIME: Duration = Duration::from_secs(3600);

/// `GET /dashboard/sign-in`.
pub async fn form(State(state): State<AppState>, headers: HeaderMap) -> Result<Response, ApiError> {
    sign_in_form(&state, &headers, StatusCode::OK, None)
}

/// The form with a fresh token (and its cookie), and why the last try failed.
fn sign_in_form(
    state: &AppState,
    headers: &HeaderMap,
    status: StatusCode,
    error: Option<&str>,
) -> Result<Response, ApiError> {
    let token = random_token();
    let html = render("sign_in.html", context! { csrf => token, error => error })?;
    let secure = wants_secure(headers, state.config.dashboard.secure_cookies);
    Ok(with_cookies((status, html).into_response(), &[cookie(SIGN_IN_COOKIE, &token, FORM_LIFETIME, secure)]))
}

/// `POST /dashboard/sign-in`: `key` and `csrf`.
pub async fn sign_in(State(state): State<AppState>, request: Request) -> Result<Response, ApiError> {
    let headers = request.headers().clone();
    let context = request_context(request.extensions());
    let client = request.extensions().get::<ConnectInfo<std::net::SocketAddr>>().map(|c| client_network(c.0.ip()));
    let form = Form::read(request, &state).await?;
    let expected = token_cookie(&headers, SIGN_IN_COOKIE);
    form.check_csrf(|token| expected.is_some_and(|e| crate::auth::constant_time_eq(e.as_bytes(), token.as_bytes())))?;
    let failures_key = format!("\0dashboard-sign-in:{}", client.map(|c| c.to_string()).unwrap_or_default());
    let cap = state.config.http.max_auth_failures_per_minute;
    if !state.limiter.has_room(&failures_key, cap) {
        return Err(ApiError::new(
            StatusCode::TOO_MANY_REQUESTS,
            "rate-limited",
            "Too many failed sign-ins",
            format!("this address failed to sign in {cap} times in a minute (http.max_auth_failures_per_minute)"),
        )
        .with_retry_after(state.limiter.retry_after(&failures_key, cap)));
    }
    let hash = state.auth.hash_of_secret(form.get("key").unwrap_or(""));
    let verified = match hash {
        Ok(hash) => state.auth.verify_hash(hash.clone()).await.map(|principal| (hash, principal)),
        Err(e) => Err(e),
    };
    let (hash, principal) = match verified {
        Ok(verified) => verified,
        Err(AuthError::Store(e)) => return Err(e.into()),
        Err(e) => {
            state.limiter.check(&failures_key, cap);
            audit(&state, context.audit_entry(None, "dashboard.sign_in", "denied")).await;
            return sign_in_form(&state, &headers, StatusCode::UNAUTHORIZED, Some(&e.to_string()));
        }
    };
    let (id, _) = state.sessions.open(hash).await;
    audit(&state, context.audit_entry(Some(principal.key_id.clone()), "dashboard.sign_in", "ok")).await;
    let secure = wants_secure(&headers, state.config.dashboard.secure_cookies);
    Ok(with_cookies(
        see_other("/dashboard"),
        &[cookie(COOKIE, &id, state.sessions.lifetime(), secure), cookie(SIGN_IN_COOKIE, "", Duration::ZERO, secure)],
    ))
}

/// `POST /dashboard/sign-out`.
pub async fn sign_out(State(state): State<AppState>, headers: HeaderMap, form: SignedForm) -> Response {
    if let Some(id) = super::session::session_id(&headers) {
        state.sessions.close(&id).await;
    }
    let caller = &form.viewer.caller;
    audit(&state, caller.context.audit_entry(Some(caller.principal.key_id.clone()), "dashboard.sign_out", "ok")).await;
    let secure = wants_secure(&headers, state.config.dashboard.secure_cookies);
    with_cookies(see_other("/dashboard/sign-in"), &[cookie(COOKIE, "", Duration::ZERO, secure)])
}

async fn audit(state: &AppState, entry: crate::store::AuditEntry) {
    state.audit.record_or_warn(entry, "a dashboard sign-in").await;
}

fn with_cookies(mut response: Response, cookies: &[String]) -> Response {
    for value in cookies {
        if let Ok(value) = HeaderValue::from_str(value) {
            response.headers_mut().append(header::SET_COOKIE, value);
        }
    }
    response
}
