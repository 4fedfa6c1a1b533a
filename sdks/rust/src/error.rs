//! What can go wrong: the gateway's refusals as typed problems with their field
//! pointers, and the client's own failures.

use std::path::PathBuf;
use std::time::Duration;

use crate::types::{FieldError, Problem};

/// Everything a call can fail with.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The gateway refused the request with a problem (`application/problem+json`).
    #[error("{0}")]
    Api(Box<ApiError>),
    /// The gateway could not be reached, or the connection broke.
    #[error("cannot reach the gateway: {0}")]
    Http(#[from] reqwest::Error),
    /// The request cannot be sent as asked (found before sending anything).
    #[error("{0}")]
    Usage(String),
    /// A local file could not be read or written.
    #[error("{}: {source}", path.display())]
    Io { path: PathBuf, source: std::io::Error },
    /// The gateway answered with something that is not what the API describes.
    #[error("unexpected answer from the gateway: {0}")]
    Decode(String),
    /// An event stream broke more often in a row than the client retries.
    #[error("the event stream broke {failures} times in a row: {last}")]
    Stream { failures: u32, last: String },
    /// `wait` or `events` passed its timeout before the task finished.
    #[error("the task did not finish within {0:?}")]
    Timeout(Duration),
}

impl Error {
    /// The problem, when the gateway refused the request.
    pub fn api(&self) -> Option<&ApiError> {
        match self {
            Error::Api(api) => Some(api),
            _ => None,
        }
    }

    pub(crate) fn io(path: impl Into<PathBuf>) -> impl FnOnce(std::io::Error) -> Error {
        let path = path.into();
        move |source| Error::Io { path, source }
    }
}

/// What kind of refusal a status is: the ones a caller handles differently.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ProblemKind {
    /// 400: the path, query or body cannot be decoded.
    BadRequest,
    /// 401: missing, unknown, revoked or expired key.
    Unauthorized,
    /// 402: a budget is spent.
    PaymentRequired,
    /// 403: the key lacks the scope.
    Forbidden,
    /// 404: no such resource for this key.
    NotFound,
    /// 409: the resource is not in a state that allows it.
    Conflict,
    /// 413: the body is too large.
    TooLarge,
    /// 422: invalid fields; `errors` names each one.
    Validation,
    /// 429: rate limit or quota; see `retry_after`.
    RateLimited,
    /// 503: overloaded or shutting down; see `retry_after`.
    Unavailable,
    /// 5xx other than 503: the cause is in the gateway's log.
    Server,
    /// Any other status.
    Other,
}

impl ProblemKind {
    pub fn of(status: u16) -> Self {
        match status {
            400 => Self::BadRequest,
            401 => Self::Unauthorized,
            402 => Self::PaymentRequired,
            403 => Self::Forbidden,
            404 => Self::NotFound,
            409 => Self::Conflict,
            413 => Self::TooLarge,
            422 => Self::Validation,
            429 => Self::RateLimited,
            503 => Self::Unavailable,
            500..=599 => Self::Server,
            _ => Self::Other,
        }
    }
}

/// A refusal: the HTTP status, the problem the gateway sent, and `Retry-After`.
#[derive(Debug, Clone, PartialEq)]
pub struct ApiError {
    pub status: u16,
    pub problem: Problem,
    /// When to try again (429 and 503).
    pub retry_after: Option<Duration>,
}

impl ApiError {
    /// From a refused response's status, `Retry-After` and body. A body that is not a
    /// problem (a proxy's page) becomes one with its text as the detail.
    pub fn from_response(status: u16, retry_after: Option<Duration>, body: &[u8]) -> Self {
        let problem = serde_json::from_slice::<Problem>(body).unwrap_or_else(|_| {
            let text = String::from_utf8_lossy(&body[..body.len().min(512)]).trim().to_string();
            Problem {
                type_: "about:blank".into(),
                title: format!("HTTP {status}"),
                status: i32::from(status),
                detail: if text.is_empty() { format!("HTTP {status}") } else { text },
                errors: Vec::new(),
            }
        });
        Self { status, problem, retry_after }
    }

    pub fn kind(&self) -> ProblemKind {
        ProblemKind::of(self.status)
    }

    /// Every invalid field, by JSON Pointer (`/prompt`, `/parts/archive`).
    pub fn errors(&self) -> &[FieldError] {
        &self.problem.errors
    }

    /// The pointers of the invalid fields.
    pub fn pointers(&self) -> Vec<&str> {
        self.problem.errors.iter().map(|e| e.pointer.as_str()).collect()
    }
}

impl std::fmt::Display for ApiError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} {}: {}", self.status, self.problem.title, self.problem.detail)
    }
}

/// `Retry-After` as a duration: the gateway sends whole seconds; fractions are read
/// too. An HTTP date is not (the gateway never sends one): the policy's backoff applies.
pub fn retry_after(value: Option<&str>) -> Option<Duration> {
    let seconds: f64 = value?.trim().parse().ok()?;
    (seconds.is_finite() && seconds >= 0.0).then(|| Duration::from_secs_f64(seconds))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_problem_keeps_its_field_pointers() {
        let body = br#"{"type":"https://ccgate.dev/errors/validation-error","title":"Invalid request",
            "status":422,"detail":"/prompt must not be empty",
            "errors":[{"pointer":"/prompt","message":"must not be empty"},{"pointer":"/parts/file1","message":"bad"}]}"#;
        let error = ApiError::from_response(422, None, body);
        assert_eq!(error.kind(), ProblemKind::Validation);
        assert_eq!(error.pointers(), ["/prompt", "/parts/file1"]);
        assert_eq!(error.to_string(), "422 Invalid request: /prompt must not be empty");
    }

    #[test]
    fn a_body_that_is_no_problem_becomes_the_detail() {
        let error = ApiError::from_response(502, None, b"<html>Bad Gateway</html>\n");
        assert_eq!(error.kind(), ProblemKind::Server);
        assert_eq!(error.problem.detail, "<html>Bad Gateway</html>");
        assert!(error.pointers().is_empty());
        assert_eq!(ApiError::from_response(503, None, b"").problem.detail, "HTTP 503");
    }

    #[test]
    fn retry_after_is_read_in_seconds() {
        assert_eq!(retry_after(Some("7")), Some(Duration::from_secs(7)));
        assert_eq!(retry_after(Some(" 0.5 ")), Some(Duration::from_millis(500)));
        assert_eq!(retry_after(Some("Wed, 21 Oct 2015 07:28:00 GMT")), None);
        assert_eq!(retry_after(Some("-1")), None);
        assert_eq!(retry_after(None), None);
    }
}
