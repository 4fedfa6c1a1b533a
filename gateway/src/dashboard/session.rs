//! Sign-ins: one server-side session per sign-in, held in memory for
//! `dashboard.session_minutes` from the sign-in. Sessions survive nothing more
//! than the process: a restart (or another node behind the same balancer) signs
//! people out, which costs a sign-in and keeps the database free of them.
//!
//! A session holds the key's hash, never the secret, and every request checks
//! the key again, so a revoked key's sessions stop at once on this node. The
//! cookie is `HttpOnly` and `SameSite=Strict`, and `Secure` when the request came
//! over TLS (as a proxy in front says with `X-Forwarded-Proto`) or configured so.

use std::sync::Arc;
use std::time::Duration;

use axum::http::{HeaderMap, header};
use moka::future::Cache;

use crate::auth::constant_time_eq;

/// The session cookie's name.
pub const COOKIE: &str = "ccgate_session";
/// The cookie that carries the sign-in form's CSRF token before there is a session.
pub const SIGN_IN_COOKIE: &str = "ccgate_sign_in";
/// Sessions a node holds at most; past this the oldest go first.
const MAX_SESSIONS: u64 = 10_000;

/// One sign-in.
#[derive(Debug)]
pub struct Session {
    /// The stored hash of the key signed in with.
    pub key_hash: String,
    /// The token every form of this session carries.
    pub csrf: String,
}

impl Session {
    /// Whether a form's token is this session's, compared in constant time.
    pub fn csrf_matches(&self, token: &str) -> bool {
        constant_time_eq(self.csrf.as_bytes(), token.as_bytes())
    }
}

/// The sessions of this node.
pub struct Sessions {
    by_id: Cache<String, Arc<Session>>,
    lifetime: Duration,
}

impl Sessions {
    pub fn new(lifetime: Duration) -> Self {
        Self { by_id: Cache::builder().max_capacity(MAX_SESSIONS).time_to_live(lifetime).build(), lifetime }
    }

    /// A new session for the key with `key_hash`: its id (the cookie's value) and it.
    pub async fn open(&self, key_hash: String) -> (String, Arc<Session>) {
        let id = random_token();
        let session = Arc::new(Session { key_hash, csrf: random_token() });
        self.by_id.insert(id.clone(), session.clone()).await;
        (id, session)
    }

    pub async fn get(&self, id: &str) -> Option<Arc<Session>> {
        self.by_id.get(id).await
    }

    pub async fn close(&self, id: &str) {
        self.by_id.invalidate(id).await;
    }

    /// How long a session lasts, for the cookie's `Max-Age`.
    pub fn lifetime(&self) -> Duration {
        self.lifetime
    }
}

/// 256 random bits, hex.
pub fn random_token() -> String {
    crate::hashing::hex(&crate::ids::random_bytes::<32>())
}

/// The session id the request's cookies carry, if it has the shape of one.
pub fn session_id(headers: &HeaderMap) -> Option<String> {
    token_cookie(headers, COOKIE)
}

/// The cookie `name`, if it has the shape of a token of ours.
pub fn token_cookie(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(cookie, _)| *cookie == name)
        .map(|(_, value)| value.trim())
        .filter(|value| value.len() == 64 && value.bytes().all(|b| b.is_ascii_hexdigit()))
        .map(String::from)
}

/// Whether the cookie must be `Secure`: configured so, or the request came over TLS.
pub fn wants_secure(headers: &HeaderMap, configured: bool) -> bool {
    configured
        || headers
            .get("x-forwarded-proto")
            .and_then(|v| v.to_str().ok())
            .is_some_and(|proto| proto.trim().eq_ignore_ascii_case("https"))
}

/// The `Set-Cookie` value of cookie `name` (`max_age` 0 ends it).
pub fn cookie(name: &str, value: &str, max_age: Duration, secure: bool) -> String {
    let secure = if secure { "; Secure" } else { "" };
    format!("{name}={value}; Path=/dashboard; Max-Age={}; HttpOnly; SameSite=Strict{secure}", max_age.as_secs())
}

#[cfg(test)]
mod tests {
    use axum::http::HeaderValue;

    use super::*;

    #[test]
    fn the_session_cookie_is_found_among_others_and_must_look_like_an_id() {
        let id = "ab".repeat(32);
        let mut headers = HeaderMap::new();
        headers.append(header::COOKIE, HeaderValue::from_str(&format!("theme=dark; {COOKIE}={id}")).unwrap());
        assert_eq!(session_id(&headers), Some(id));
        let mut forged = HeaderMap::new();
        forged.append(header::COOKIE, HeaderValue::from_static("ccgate_session=../../etc"));
        assert_eq!(session_id(&forged), None);
    }

    #[test]
    fn cookies_are_http_only_strict_and_secure_over_tls() {
        let plain = cookie(COOKIE, "x", Duration::from_secs(60), false);
        assert!(plain.contains("HttpOnly") && plain.contains("SameSite=Strict") && plain.contains("Max-Age=60"));
        assert!(!plain.contains("Secure"));
        let mut headers = HeaderMap::new();
        assert!(!wants_secure(&headers, false));
        assert!(wants_secure(&headers, true));
        headers.insert("x-forwarded-proto", HeaderValue::from_static("https"));
        assert!(wants_secure(&headers, false));
        assert!(cookie(COOKIE, "x", Duration::ZERO, true).ends_with("; Secure"));
    }

    #[tokio::test]
    async fn sessions_end_when_closed_and_tokens_are_compared_whole() {
        let sessions = Sessions::new(Duration::from_secs(60));
        let (id, session) = sessions.open("hash".into()).await;
        assert!(session.csrf_matches(&session.csrf.clone()));
        assert!(!session.csrf_matches(&session.csrf[..10]));
        assert!(sessions.get(&id).await.is_some());
        sessions.close(&id).await;
        assert!(sessions.get(&id).await.is_none());
    }
}
