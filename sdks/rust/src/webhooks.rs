//! Verifying the gateway's webhooks (Standard Webhooks): the `webhook-signature`
//! header holds `v1,<base64 HMAC-SHA256(key, "{id}.{timestamp}.{body}")>` entries,
//! one per signing secret (two during a rotation); the key is the base64 after
//! `whsec_`. A timestamp too far from now is refused, so an old delivery cannot be
//! replayed.

use std::collections::HashMap;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use hmac::{Hmac, KeyInit, Mac};
use serde_json::Value;
use sha2::Sha256;

/// Why a delivery did not verify.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum WebhookError {
    #[error("the {0} header is missing")]
    MissingHeader(&'static str),
    #[error("the webhook-timestamp header is not a number of seconds")]
    BadTimestamp,
    #[error("the timestamp is {0:?} away from now: too old or too new")]
    OutsideTolerance(Duration),
    #[error("no secret given, or one that is not whsec_<base64>")]
    BadSecret,
    #[error("no signature matches")]
    NoMatch,
    #[error("the body is not JSON: {0}")]
    NotJson(String),
}

/// Where a delivery's headers come from: an `http::HeaderMap` (reqwest's, axum's,
/// hyper's), a map or a list of pairs. Names are matched without regard to case.
pub trait WebhookHeaders {
    fn header(&self, name: &str) -> Option<&str>;
}

impl WebhookHeaders for reqwest::header::HeaderMap {
    fn header(&self, name: &str) -> Option<&str> {
        self.get(name).and_then(|v| v.to_str().ok())
    }
}

impl<K: AsRef<str>, V: AsRef<str>, S> WebhookHeaders for HashMap<K, V, S> {
    fn header(&self, name: &str) -> Option<&str> {
        self.iter().find(|(k, _)| k.as_ref().eq_ignore_ascii_case(name)).map(|(_, v)| v.as_ref())
    }
}

impl<K: AsRef<str>, V: AsRef<str>> WebhookHeaders for [(K, V)] {
    fn header(&self, name: &str) -> Option<&str> {
        self.iter().find(|(k, _)| k.as_ref().eq_ignore_ascii_case(name)).map(|(_, v)| v.as_ref())
    }
}

/// How far a delivery's timestamp may be from now (Standard Webhooks' default).
pub const DEFAULT_TOLERANCE: Duration = Duration::from_secs(300);

/// The delivery's JSON once its signature (by `secret`) and timestamp check out.
pub fn verify<H: WebhookHeaders + ?Sized>(secret: &str, headers: &H, body: &[u8]) -> Result<Value, WebhookError> {
    Verifier::new([secret]).verify(headers, body)
}

/// `client.webhooks()`: [`verify`] where the client's other entry points are. It
/// needs no connection, only the key's webhook secret.
#[derive(Clone, Copy, Debug, Default)]
pub struct Webhooks;

impl Webhooks {
    /// The delivery's JSON once its signature (by `secret`) and timestamp check out.
    pub fn verify<H: WebhookHeaders + ?Sized>(
        &self,
        secret: &str,
        headers: &H,
        body: &[u8],
    ) -> Result<Value, WebhookError> {
        verify(secret, headers, body)
    }
}

/// Verification with several secrets (any one may match: during a rotation), another
/// tolerance, or another "now".
#[derive(Clone, Debug)]
pub struct Verifier {
    secrets: Vec<String>,
    tolerance: Duration,
    now: Option<SystemTime>,
}

impl Verifier {
    pub fn new<S: Into<String>>(secrets: impl IntoIterator<Item = S>) -> Self {
        Self { secrets: secrets.into_iter().map(Into::into).collect(), tolerance: DEFAULT_TOLERANCE, now: None }
    }

    pub fn tolerance(mut self, tolerance: Duration) -> Self {
        self.tolerance = tolerance;
        self
    }

    /// Checks timestamps against `now` instead of the clock.
    pub fn at(mut self, now: SystemTime) -> Self {
        self.now = Some(now);
        self
    }

    pub fn verify<H: WebhookHeaders + ?Sized>(&self, headers: &H, body: &[u8]) -> Result<Value, WebhookError> {
        let header = |name: &'static str| headers.header(name).ok_or(WebhookError::MissingHeader(name));
        let id = header("webhook-id")?;
        let timestamp = header("webhook-timestamp")?;
        let signatures = header("webhook-signature")?;
        let seconds: i64 = timestamp.trim().parse().map_err(|_| WebhookError::BadTimestamp)?;
        let now = self.now.unwrap_or_else(SystemTime::now);
        let now = now.duration_since(UNIX_EPOCH).map(|d| d.as_secs() as i64).unwrap_or(0);
        let skew = Duration::from_secs(now.abs_diff(seconds));
        if skew > self.tolerance {
            return Err(WebhookError::OutsideTolerance(skew));
        }
        let keys: Vec<Vec<u8>> =
            self.secrets.iter().map(|s| key(s)).collect::<Option<_>>().ok_or(WebhookError::BadSecret)?;
        if keys.is_empty() {
            return Err(WebhookError::BadSecret);
        }
        let signed = [id.as_bytes(), b".", timestamp.trim().as_bytes(), b".", body].concat();
        let matches = signatures
            .split_whitespace()
            .filter_map(|entry| entry.strip_prefix("v1,"))
            .filter_map(|signature| STANDARD.decode(signature).ok())
            .any(|signature| keys.iter().any(|key| verifies(key, &signed, &signature)));
        if !matches {
            return Err(WebhookError::NoMatch);
        }
        serde_json::from_slice(body).map_err(|e| WebhookError::NotJson(e.to_string()))
    }
}

/// The HMAC key of a `whsec_<base64>` secret (a bare base64 secret is taken too).
fn key(secret: &str) -> Option<Vec<u8>> {
    STANDARD.decode(secret.strip_prefix("whsec_").unwrap_or(secret)).ok().filter(|key| !key.is_empty())
}

/// Compared in constant time (hmac's `verify_slice`).
fn verifies(key: &[u8], signed: &[u8], signature: &[u8]) -> bool {
    let Ok(mut mac) = Hmac::<Sha256>::new_from_slice(key) else { return false };
    mac.update(signed);
    mac.verify_slice(signature).is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The example of the Standard Webhooks specification.
    const SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
    const ID: &str = "msg_p5jXN8AQM9LWM0D4loKWxJek";
    const TIMESTAMP: u64 = 1614265330;
    const BODY: &[u8] = br#"{"test": 2432232314}"#;
    const SIGNATURE: &str = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=";

    fn headers(signature: &str) -> Vec<(&'static str, String)> {
        vec![
            ("Webhook-Id", ID.to_string()),
            ("webhook-timestamp", TIMESTAMP.to_string()),
            ("webhook-signature", signature.to_string()),
        ]
    }

    fn at(seconds: u64) -> SystemTime {
        UNIX_EPOCH + Duration::from_secs(seconds)
    }

    #[test]
    fn the_specification_example_verifies() {
        let verified = Verifier::new([SECRET]).at(at(TIMESTAMP)).verify(headers(SIGNATURE).as_slice(), BODY);
        assert_eq!(verified, Ok(serde_json::json!({"test": 2432232314u64})));
    }

    #[test]
    fn a_changed_body_id_or_secret_does_not() {
        let verifier = Verifier::new([SECRET]).at(at(TIMESTAMP));
        assert_eq!(
            verifier.verify(headers(SIGNATURE).as_slice(), br#"{"test": 2432232315}"#),
            Err(WebhookError::NoMatch)
        );
        let mut other_id = headers(SIGNATURE);
        other_id[0].1 = "msg_other".into();
        assert_eq!(verifier.verify(other_id.as_slice(), BODY), Err(WebhookError::NoMatch));
        let other = Verifier::new(["whsec_dGhlIG90aGVyIHNlY3JldA=="]).at(at(TIMESTAMP));
        assert_eq!(other.verify(headers(SIGNATURE).as_slice(), BODY), Err(WebhookError::NoMatch));
        let broken = Verifier::new(["whsec_not base64!"]).at(at(TIMESTAMP));
        assert_eq!(broken.verify(headers(SIGNATURE).as_slice(), BODY), Err(WebhookError::BadSecret));
        let none = Verifier::new(Vec::<String>::new()).at(at(TIMESTAMP));
        assert_eq!(none.verify(headers(SIGNATURE).as_slice(), BODY), Err(WebhookError::BadSecret));
    }

    #[test]
    fn any_listed_signature_or_secret_may_match() {
        let rotated = format!("v1,bm90IGl0 v2,ignored {SIGNATURE}");
        let verifier = Verifier::new(["whsec_dGhlIG90aGVyIHNlY3JldA==", SECRET]).at(at(TIMESTAMP));
        assert!(verifier.verify(headers(&rotated).as_slice(), BODY).is_ok());
    }

    #[test]
    fn timestamps_outside_the_tolerance_are_refused() {
        let verifier = |now| Verifier::new([SECRET]).at(at(now));
        for now in [TIMESTAMP - 300, TIMESTAMP + 300] {
            assert!(verifier(now).verify(headers(SIGNATURE).as_slice(), BODY).is_ok(), "{now}");
        }
        for now in [TIMESTAMP - 301, TIMESTAMP + 301] {
            assert_eq!(
                verifier(now).verify(headers(SIGNATURE).as_slice(), BODY),
                Err(WebhookError::OutsideTolerance(Duration::from_secs(301)))
            );
        }
        let wide = verifier(TIMESTAMP + 3600).tolerance(Duration::from_secs(3600));
        assert!(wide.verify(headers(SIGNATURE).as_slice(), BODY).is_ok());
        // The clock, not a fixed "now": a 2021 delivery is a replay today.
        assert!(matches!(verify(SECRET, headers(SIGNATURE).as_slice(), BODY), Err(WebhookError::OutsideTolerance(_))));
    }

    #[test]
    fn headers_must_all_be_there() {
        let verifier = Verifier::new([SECRET]).at(at(TIMESTAMP));
        for missing in ["webhook-id", "webhook-timestamp", "webhook-signature"] {
            let partial: Vec<_> =
                headers(SIGNATURE).into_iter().filter(|(k, _)| !k.eq_ignore_ascii_case(missing)).collect();
            assert_eq!(verifier.verify(partial.as_slice(), BODY), Err(WebhookError::MissingHeader(missing)));
        }
        let mut bad = headers(SIGNATURE);
        bad[1].1 = "yesterday".into();
        assert_eq!(verifier.verify(bad.as_slice(), BODY), Err(WebhookError::BadTimestamp));
        let map: HashMap<String, String> = headers(SIGNATURE).into_iter().map(|(k, v)| (k.to_uppercase(), v)).collect();
        assert!(verifier.verify(&map, BODY).is_ok());
    }
}
