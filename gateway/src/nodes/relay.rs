//! Reading a running task's live workspace on another node: the node asked for
//! its files passes the request on to the node that runs it (at that node's
//! `node.advertise_url`), with the client's own `Authorization` (the node that
//! answers checks the key itself) and a signature of `node.cluster_secret`, which
//! tells the answering node the request was relayed by a peer, so it answers from
//! its own copy and never relays it again.

use std::time::Duration;

use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;

/// The header a relayed request carries: `<unix ms>.<hex HMAC-SHA256>`.
pub const RELAY_HEADER: &str = "x-ccgate-relay";
/// How far a relay's clock may be from this node's.
const CLOCK_SKEW_MS: i64 = 60_000;
/// How long a relayed request may take to connect.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

/// Relaying between nodes; does nothing without a cluster secret.
pub struct Relay {
    secret: Option<Vec<u8>>,
    /// Made at the first relay (the TLS provider is chosen at start-up).
    http: std::sync::OnceLock<reqwest::Client>,
}

impl Relay {
    pub fn new(secret: &str) -> Self {
        let secret = Some(secret.trim().as_bytes().to_vec()).filter(|s| !s.is_empty());
        Self { secret, http: std::sync::OnceLock::new() }
    }

    pub fn enabled(&self) -> bool {
        self.secret.is_some()
    }

    fn mac(&self, method: &str, path_and_query: &str, at_ms: i64) -> Option<Hmac<Sha256>> {
        let mut mac = Hmac::<Sha256>::new_from_slice(self.secret.as_deref()?).ok()?;
        mac.update(format!("{method}\n{path_and_query}\n{at_ms}").as_bytes());
        Some(mac)
    }

    /// The relay header for `method path_and_query` at `at_ms`.
    pub fn sign(&self, method: &str, path_and_query: &str, at_ms: i64) -> Option<String> {
        let mac = self.mac(method, path_and_query, at_ms)?;
        Some(format!("{at_ms}.{}", crate::hashing::hex(&mac.finalize().into_bytes())))
    }

    /// Whether `header` is a peer's signature of this request, made within the
    /// allowed clock skew of `now_ms`.
    pub fn verify(&self, header: &str, method: &str, path_and_query: &str, now_ms: i64) -> bool {
        let Some((at, signature)) = header.split_once('.') else { return false };
        let Ok(at) = at.parse::<i64>() else { return false };
        if (now_ms - at).abs() > CLOCK_SKEW_MS {
            return false;
        }
        let Some(mac) = self.mac(method, path_and_query, at) else { return false };
        let expected = crate::hashing::hex(&mac.finalize().into_bytes());
        crate::auth::constant_time_eq(expected.as_bytes(), signature.as_bytes())
    }

    /// Sends `GET path_and_query` to the node at `base_url` for the client whose
    /// `Authorization` it was; `None` when relaying is off.
    pub async fn get(
        &self,
        base_url: &str,
        path_and_query: &str,
        authorization: &str,
    ) -> Option<Result<reqwest::Response, reqwest::Error>> {
        let signature = self.sign("GET", path_and_query, crate::timestamp::now_ms())?;
        let url = format!("{}{path_and_query}", base_url.trim_end_matches('/'));
        let http = self.http.get_or_init(|| {
            // No overall timeout: a relayed archive streams for as long as it takes.
            reqwest::Client::builder()
                .connect_timeout(CONNECT_TIMEOUT)
                .redirect(reqwest::redirect::Policy::none())
                .build()
                .unwrap_or_default()
        });
        Some(
            http.get(url)
                .header(reqwest::header::AUTHORIZATION, authorization)
                .header(RELAY_HEADER, signature)
                .send()
                .await,
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_signature_holds_for_its_request_secret_and_time_only() {
        let relay = Relay::new("a-cluster-secret-of-enough-length-0123456789");
        let signed = relay.sign("GET", "/v1/tasks/tsk_1/files/a.txt", 1_000_000).unwrap();
        assert!(relay.verify(&signed, "GET", "/v1/tasks/tsk_1/files/a.txt", 1_030_000));
        assert!(!relay.verify(&signed, "GET", "/v1/tasks/tsk_1/files/b.txt", 1_000_000), "another path");
        assert!(!relay.verify(&signed, "POST", "/v1/tasks/tsk_1/files/a.txt", 1_000_000), "another method");
        assert!(!relay.verify(&signed, "GET", "/v1/tasks/tsk_1/files/a.txt", 1_061_000), "too old");
        let other = Relay::new("another-cluster-secret-of-enough-length-987654");
        assert!(!other.verify(&signed, "GET", "/v1/tasks/tsk_1/files/a.txt", 1_000_000), "another secret");
        for forged in ["", "1000000", "1000000.", "x.y", &signed.replace('.', "")] {
            assert!(!relay.verify(forged, "GET", "/v1/tasks/tsk_1/files/a.txt", 1_000_000), "{forged:?}");
        }
        let off = Relay::new("");
        assert!(!off.enabled() && off.sign("GET", "/", 0).is_none());
        assert!(!off.verify(&signed, "GET", "/v1/tasks/tsk_1/files/a.txt", 1_000_000));
    }
}
