//! Standard Webhooks signatures: `v1,<base64 HMAC-SHA256(secret, id.timestamp.body)>`,
//! with the secret `whsec_<base64>` (the key bytes are the decoded part).

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;

/// A new signing secret: 32 random bytes.
pub fn generate_secret() -> String {
    let mut bytes = [0u8; 32];
    getrandom::fill(&mut bytes).expect("the OS random source works");
    format!("whsec_{}", STANDARD.encode(bytes))
}

/// How long a rotated-out secret keeps signing: the overlap ends exactly this
/// long after the rotation.
pub const PREVIOUS_SECRET_MS: i64 = 24 * 3600 * 1000;

/// The secrets a delivery made at `now` is signed with: the current one, and the
/// previous one while the rotation's overlap lasts.
pub fn signing_secrets<'a>(
    current: Option<&'a str>,
    previous: Option<&'a str>,
    rotated_at: Option<i64>,
    now: i64,
) -> Vec<&'a str> {
    let overlapping = rotated_at.is_some_and(|at| now - at < PREVIOUS_SECRET_MS);
    current.into_iter().chain(previous.filter(|_| overlapping)).collect()
}

/// The `webhook-signature` header value: one `v1,<sig>` per secret, space-separated
/// (two during a rotation, so receivers holding either secret can verify).
pub fn signature_header(secrets: &[&str], id: &str, timestamp: i64, body: &str) -> String {
    secrets.iter().filter_map(|secret| sign(secret, id, timestamp, body)).collect::<Vec<_>>().join(" ")
}

fn sign(secret: &str, id: &str, timestamp: i64, body: &str) -> Option<String> {
    let key = STANDARD.decode(secret.strip_prefix("whsec_").unwrap_or(secret)).ok()?;
    let mut mac = Hmac::<Sha256>::new_from_slice(&key).ok()?;
    mac.update(format!("{id}.{timestamp}.{body}").as_bytes());
    Some(format!("v1,{}", STANDARD.encode(mac.finalize().into_bytes())))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The example of the Standard Webhooks specification.
    #[test]
    fn matches_the_specification_example() {
        let secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
        let body = r#"{"test": 2432232314}"#;
        let header = signature_header(&[secret], "msg_p5jXN8AQM9LWM0D4loKWxJek", 1614265330, body);
        assert_eq!(header, "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=");
    }

    /// The old secret verifies up to the last millisecond of the overlap, not at its end.
    #[test]
    fn the_old_secret_signs_during_the_overlap_and_not_after() {
        let (old, new, rotated_at) = (generate_secret(), generate_secret(), 1_764_000_000_000);
        let verifies_with = |secret: &str, now: i64| {
            let secrets = signing_secrets(Some(&new), Some(&old), Some(rotated_at), now);
            let header = signature_header(&secrets, "msg_1", now / 1000, "{}");
            let expected = sign(secret, "msg_1", now / 1000, "{}").unwrap();
            header.split(' ').any(|signature| signature == expected)
        };
        for now in [rotated_at, rotated_at + PREVIOUS_SECRET_MS - 1] {
            assert!(verifies_with(&old, now) && verifies_with(&new, now), "inside the overlap at {now}");
        }
        for now in [rotated_at + PREVIOUS_SECRET_MS, rotated_at + PREVIOUS_SECRET_MS + 1] {
            assert!(!verifies_with(&old, now), "the overlap is over at {now}");
            assert!(verifies_with(&new, now));
        }
        assert_eq!(signing_secrets(Some(&new), None, Some(rotated_at), rotated_at), [new.as_str()]);
        assert_eq!(signing_secrets(Some(&new), Some(&old), None, rotated_at), [new.as_str()], "never rotated");
        assert!(signing_secrets(None, None, None, 0).is_empty());
    }

    #[test]
    fn a_rotation_signs_twice() {
        let (old, new) = (generate_secret(), generate_secret());
        let header = signature_header(&[&new, &old], "msg_1", 1, "{}");
        assert_eq!(header.split(' ').count(), 2);
        assert!(new.starts_with("whsec_") && new.len() > 40);
    }
}
