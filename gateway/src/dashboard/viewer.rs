//! Who is looking: the key behind the session cookie, checked again on every
//! request (a revoked key's session ends), under the key's rate limit like the
//! API; and the forms people send, which must carry the session's CSRF token.

use std::sync::Arc;

use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::request::Parts;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};

use super::page::see_other;
use super::session::{Session, session_id};
use crate::api::{ApiError, AppState, Caller, RefusedKey, body_bytes, request_context};
use crate::auth::{AuthError, Principal, Scope};
use crate::task::FieldError;

/// The signed-in key.
pub struct Viewer {
    pub caller: Caller,
    pub session: Arc<Session>,
}

impl Viewer {
    pub fn principal(&self) -> &Principal {
        &self.caller.principal
    }

    pub fn is_admin(&self) -> bool {
        self.caller.principal.scopes.contains(&Scope::Admin)
    }

    /// Fails with 403 unless the key is an admin key.
    pub fn require_admin(&self) -> Result<(), ApiError> {
        self.caller.require(Scope::Admin).map(|_| ())
    }
}

impl FromRequestParts<AppState> for Viewer {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Response> {
        let sign_in = || see_other("/dashboard/sign-in");
        let id = session_id(&parts.headers).ok_or_else(sign_in)?;
        let session = state.sessions.get(&id).await.ok_or_else(sign_in)?;
        let principal = match state.auth.verify_hash(session.key_hash.clone()).await {
            Ok(principal) => principal,
            Err(AuthError::Store(e)) => return Err(ApiError::from(e).into_response()),
            Err(_) => {
                state.sessions.close(&id).await;
                return Err(sign_in());
            }
        };
        let decision = state.limiter.check(&principal.key_id, principal.rate_limit_per_minute);
        if !decision.allowed {
            crate::telemetry::metrics::rate_limited();
            return Err(ApiError::new(
                StatusCode::TOO_MANY_REQUESTS,
                "rate-limited",
                "Too many requests",
                format!("this key may make {} requests per minute", decision.limit),
            )
            .with_retry_after(decision.retry_after_seconds)
            .into_response());
        }
        if let Some(refused) = parts.extensions.get::<RefusedKey>() {
            let _ = refused.0.set(principal.key_id.clone());
        }
        Ok(Self { caller: Caller { principal, context: request_context(&parts.extensions) }, session })
    }
}

/// The fields of an `application/x-www-form-urlencoded` body.
pub struct Form(Vec<(String, String)>);

impl Form {
    pub fn get(&self, name: &str) -> Option<&str> {
        self.0.iter().find(|(n, _)| n == name).map(|(_, v)| v.as_str())
    }

    /// Reads the body of a form POST (within the server's body limit).
    pub async fn read(request: Request, state: &AppState) -> Result<Self, ApiError> {
        let content_type = request.headers().get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).unwrap_or("");
        let essence = content_type.split(';').next().unwrap_or("").trim();
        if !essence.eq_ignore_ascii_case("application/x-www-form-urlencoded") {
            return Err(ApiError::new(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "unsupported-media-type",
                "Unsupported media type",
                format!("send a form: Content-Type: application/x-www-form-urlencoded (got {content_type:?})"),
            ));
        }
        let bytes = body_bytes(request, state).await?;
        Ok(Self(url::form_urlencoded::parse(&bytes).into_owned().collect()))
    }

    /// Fails with 403 naming the `csrf` field unless it is `expected`'s token.
    pub fn check_csrf(&self, matches: impl FnOnce(&str) -> bool) -> Result<(), ApiError> {
        match self.get("csrf") {
            Some(token) if matches(token) => Ok(()),
            given => {
                let why = if given.is_some() { "does not match this session" } else { "is missing" };
                let mut error = ApiError::forbidden(format!("the form's CSRF token (field `csrf`) {why}"));
                error.errors = vec![FieldError::new("/csrf", why)];
                Err(error)
            }
        }
    }
}

/// A form sent by the signed-in key, its CSRF token checked.
pub struct SignedForm {
    pub viewer: Viewer,
    pub form: Form,
}

impl FromRequest<AppState> for SignedForm {
    type Rejection = Response;

    async fn from_request(request: Request, state: &AppState) -> Result<Self, Response> {
        let (mut parts, body) = request.into_parts();
        let viewer = Viewer::from_request_parts(&mut parts, state).await?;
        let form = Form::read(Request::from_parts(parts, body), state).await.map_err(IntoResponse::into_response)?;
        form.check_csrf(|token| viewer.session.csrf_matches(token)).map_err(IntoResponse::into_response)?;
        Ok(Self { viewer, form })
    }
}
