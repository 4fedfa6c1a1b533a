//! Reading a running task's live workspace on another node: the node asked for
//! its files passes the request on to the node that runs it (at that node's
//! `node.advertise_url`), with the client's own `Authorization` (the node that
//! answers checks the key itself) and a signature of `node.cluster_secret`, which
//! tells the answering node the request was relayed by a peer, so it answers from
//! its own copy and never relays it again. A dashboard session has no key to pass
//! on: its request goes as the key's hash (`RELAY_KEY_HEADER`), which the
//! signature covers, and the answering node checks that key as it would a secret.

use std::time::Duration;

use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;

/// The header a relayed request carries: `<unix ms>.<hex HMAC-SHA256>`.
pub const RELAY_HEADER: &str = "x-ccgate-relay";
/// The hash of the key a request without `Authorization` is relayed for.
pub const RELAY_KEY_HEADER: &str = "x-ccgate-relay-key";

/// Whose request a relay passes on.
#[derive(Debug, Clone, Copy)]
pub enum Credential<'a> {
    /// The client's own `Authorization` header.
    Authorization(&'a str),
    /// The hash of a signed-in dashboard session's key.
    KeyHash(&'a str),
}
/// How far a relay's clock may be from this node's.
const CLOCK_SKEW_MS: i64 = 60_000;
/// How long a relayed request may take to connect, to answer, and between two
/// reads of its body: a node that stopped answering is given up, and the asking
/// node answers from the snapshot instead.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
const ANSWER_TIMEOUT: Duration = Duration::from_secs(15);
const READ_TIMEOUT: Duration = Duration::from_secs(30);

/// Relaying between nodes; does nothing without a cluster secret.
pub struct Relay {
    secret: Option<Vec<u8>>,
    /// Made at the first relay (the TLS provider is chosen at start-up); `None`
    /// when it could not be made.
    http: std::sync::OnceLock<Option<reqwest::Client>>,
}

impl Relay {
    pub fn new(secret: &str) -> Self {
        let secret = Some(secret.trim().as_bytes().to_vec()).filter(|s| !s.is_empty());
        Self { secret, http: std::sync::OnceLock::new() }
    }

    pub fn enabled(&self) -> bool {
        self.secret.is_some()
    }

    fn mac(&self, method: &str, path_and_query: &str, at_ms: i64, key_hash: Option<&str>) -> Option<Hmac<Sha256>> {
        let mut mac = Hmac::<Sha256>::new_from_slice(self.secret.as_deref()?).ok()?;
        mac.update(format!("{method}\n{path_and_query}\n{at_ms}").as_bytes());
        if let Some(key_hash) = key_hash {
            mac.update(format!("\n{key_hash}").as_bytes());
        }
        Some(mac)
    }

    /// The relay header for `method path_and_query` at `at_ms`, sent for the key
    /// whose hash is `key_hash` when the request carries no `Authorization`.
    pub fn sign(&self, method: &str, path_and_query: &str, at_ms: i64, key_hash: Option<&str>) -> Option<String> {
        let mac = self.mac(method, path_and_query, at_ms, key_hash)?;
        Some(format!("{at_ms}.{}", crate::hashing::hex(&mac.finalize().into_bytes())))
    }

    /// Whether `header` is a peer's signature of this request (for `key_hash`, the
    /// request's `RELAY_KEY_HEADER`), made within the allowed clock skew of `now_ms`.
    pub fn verify(
        &self,
        header: &str,
        method: &str,
        path_and_query: &str,
        now_ms: i64,
        key_hash: Option<&str>,
    ) -> bool {
        let Some((at, signature)) = header.split_once('.') else { return false };
        let Ok(at) = at.parse::<i64>() else { return false };
        if (now_ms - at).abs() > CLOCK_SKEW_MS {
            return false;
        }
        let Some(mac) = self.mac(method, path_and_query, at, key_hash) else { return false };
        let expected = crate::hashing::hex(&mac.finalize().into_bytes());
        crate::auth::constant_time_eq(expected.as_bytes(), signature.as_bytes())
    }

    /// Sends `GET path_and_query` to the node at `base_url` for `credential`;
    /// `None` when relaying is off, or when the URL would not ask for exactly that
    /// path (`..` or encodings a URL parser rewrites).
    pub async fn get(
        &self,
        base_url: &str,
        path_and_query: &str,
        credential: Credential<'_>,
    ) -> Option<Result<reqwest::Response, RelayError>> {
        let key_hash = match credential {
            Credential::Authorization(_) => None,
            Credential::KeyHash(hash) => Some(hash),
        };
        let signature = self.sign("GET", path_and_query, crate::timestamp::now_ms(), key_hash)?;
        let url = exact_url(base_url, path_and_query)?;
        let http = self
            .http
            .get_or_init(|| {
                // No overall timeout: a relayed archive streams for as long as it takes.
                reqwest::Client::builder()
                    .connect_timeout(CONNECT_TIMEOUT)
                    .read_timeout(READ_TIMEOUT)
                    .tcp_keepalive(READ_TIMEOUT)
                    .redirect(reqwest::redirect::Policy::none())
                    .build()
                    .ok()
            })
            .as_ref()?;
        let sent = match credential {
            Credential::Authorization(authorization) => {
                http.get(url).header(reqwest::header::AUTHORIZATION, authorization)
            }
            Credential::KeyHash(hash) => http.get(url).header(RELAY_KEY_HEADER, hash),
        };
        let sent = sent.header(RELAY_HEADER, signature);
        Some(match tokio::time::timeout(ANSWER_TIMEOUT, sent.send()).await {
            Ok(Ok(answer)) => Ok(answer),
            Ok(Err(e)) => Err(RelayError::Failed(e)),
            Err(_) => Err(RelayError::NoAnswer),
        })
    }
}

/// Why a relayed request got no answer.
#[derive(Debug, thiserror::Error)]
pub enum RelayError {
    #[error("{0}")]
    Failed(reqwest::Error),
    #[error("no answer within {} s", ANSWER_TIMEOUT.as_secs())]
    NoAnswer,
}

/// `base_url` + `path_and_query`, if parsing it as a URL leaves the path exactly as
/// asked (what the running node verifies is what the asking node signed and checked).
fn exact_url(base_url: &str, path_and_query: &str) -> Option<url::Url> {
    let base = base_url.trim_end_matches('/');
    let url = url::Url::parse(&format!("{base}{path_and_query}")).ok()?;
    let prefix = url::Url::parse(base).ok()?.path().trim_end_matches('/').to_string();
    (url[url::Position::BeforePath..] == format!("{prefix}{path_and_query}")).then_some(url)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_signature_holds_for_its_request_secret_and_time_only() {
        let relay = Relay::new("a-cluster-secret-of-enough-length-0123456789");
        let path = "/v1/tasks/tsk_1/files/a.txt";
        let signed = relay.sign("GET", path, 1_000_000, None).unwrap();
        assert!(relay.verify(&signed, "GET", path, 1_030_000, None));
        assert!(!relay.verify(&signed, "GET", "/v1/tasks/tsk_1/files/b.txt", 1_000_000, None), "another path");
        assert!(!relay.verify(&signed, "POST", path, 1_000_000, None), "another method");
        assert!(!relay.verify(&signed, "GET", path, 1_061_000, None), "too old");
        assert!(!relay.verify(&signed, "GET", path, 1_000_000, Some("a-key-hash")), "a key it was not for");
        let other = Relay::new("another-cluster-secret-of-enough-length-987654");
        assert!(!other.verify(&signed, "GET", path, 1_000_000, None), "another secret");
        for forged in ["", "1000000", "1000000.", "x.y", &signed.replace('.', "")] {
            assert!(!relay.verify(forged, "GET", path, 1_000_000, None), "{forged:?}");
        }
        // For a dashboard session's key: the signature holds for that key's hash only.
        let for_key = relay.sign("GET", path, 1_000_000, Some("hash-a")).unwrap();
        assert!(relay.verify(&for_key, "GET", path, 1_000_000, Some("hash-a")));
        assert!(!relay.verify(&for_key, "GET", path, 1_000_000, Some("hash-b")), "another key");
        assert!(!relay.verify(&for_key, "GET", path, 1_000_000, None), "no key");
        assert!(exact_url("http://10.0.0.2:8080", "/v1/tasks/tsk_1/files/a%20b.txt").is_some());
        assert!(exact_url("http://10.0.0.2:8080/gw/", "/v1/tasks/tsk_1/archive?format=zip").is_some());
        for rewritten in ["/v1/tasks/tsk_1/files/../../../metrics", "/v1/tasks/tsk_1/files/%2e%2e/x", "/v1/x\\y"] {
            assert!(exact_url("http://10.0.0.2:8080", rewritten).is_none(), "{rewritten}");
        }
        let off = Relay::new("");
        assert!(!off.enabled() && off.sign("GET", "/", 0, None).is_none());
        assert!(!off.verify(&signed, "GET", path, 1_000_000, None));
    }
}
