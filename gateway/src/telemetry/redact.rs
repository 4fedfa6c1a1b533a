//! Request headers as they may appear in logs: credentials and cookies are
//! replaced by `[redacted]`, whatever their case or however often they repeat.

use axum::http::HeaderMap;

/// Headers whose values are secrets.
const SENSITIVE: &[&str] = &[
    "authorization",
    "proxy-authorization",
    "cookie",
    "set-cookie",
    "x-api-key",
    "x-auth-token",
    "x-ccgate-key",
    "x-ccgate-relay",
    "x-ccgate-relay-key",
];

/// `name: value` pairs, one per header, secrets redacted.
pub fn headers_for_log(headers: &HeaderMap) -> String {
    let mut shown = Vec::with_capacity(headers.len());
    for (name, value) in headers {
        let value = if SENSITIVE.contains(&name.as_str()) {
            "[redacted]".to_string()
        } else {
            String::from_utf8_lossy(value.as_bytes()).into_owned()
        };
        shown.push(format!("{name}: {value}"));
    }
    shown.join(", ")
}

#[cfg(test)]
mod tests {
    use axum::http::{HeaderMap, HeaderValue};

    #[test]
    fn secrets_never_reach_the_log() {
        let mut headers = HeaderMap::new();
        headers.insert("Authorization", HeaderValue::from_static("Bearer ccg_live_secret"));
        headers.append("cookie", HeaderValue::from_static("session=secret"));
        headers.append("cookie", HeaderValue::from_static("other=secret"));
        headers.insert("X-Api-Key", HeaderValue::from_static("secret"));
        headers.insert("accept", HeaderValue::from_static("application/json"));
        let shown = super::headers_for_log(&headers);
        assert!(!shown.contains("secret"), "{shown}");
        assert!(shown.contains("authorization: [redacted]") && shown.contains("accept: application/json"), "{shown}");
    }
}
