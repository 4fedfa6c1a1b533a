//! The one place where errors become HTTP responses: RFC 9457
//! `application/problem+json`, listing every invalid field.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::json;

use crate::auth::AuthError;
use crate::snapshots::SnapshotError;
use crate::storage::StorageError;
use crate::store::StoreError;
use crate::task::{FieldError, TaskServiceError};

/// The most field errors one answer lists.
pub const MAX_LISTED_ERRORS: usize = 50;

/// An error answered to a client.
#[derive(Debug)]
pub struct ApiError {
    pub status: StatusCode,
    pub slug: &'static str,
    pub title: &'static str,
    pub detail: String,
    pub errors: Vec<FieldError>,
    pub retry_after: Option<u64>,
}

impl ApiError {
    pub fn new(status: StatusCode, slug: &'static str, title: &'static str, detail: impl Into<String>) -> Self {
        Self { status, slug, title, detail: detail.into(), errors: Vec::new(), retry_after: None }
    }

    /// 422 naming the invalid fields: at most [`MAX_LISTED_ERRORS`] of them, so
    /// an answer never grows with the request that caused it.
    pub fn validation(mut errors: Vec<FieldError>) -> Self {
        let detail = match errors.len() {
            1 => format!("{} {}", errors[0].pointer, errors[0].message),
            n if n > MAX_LISTED_ERRORS => {
                format!("{n} fields are invalid; the first {MAX_LISTED_ERRORS} are listed in `errors`")
            }
            n => format!("{n} fields are invalid; see `errors`"),
        };
        errors.truncate(MAX_LISTED_ERRORS);
        Self { errors, ..Self::new(StatusCode::UNPROCESSABLE_ENTITY, "validation-error", "Invalid request", detail) }
    }

    pub fn not_found(detail: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, "not-found", "Not found", detail)
    }

    pub fn forbidden(detail: impl Into<String>) -> Self {
        Self::new(StatusCode::FORBIDDEN, "forbidden", "Forbidden", detail)
    }

    pub fn bad_request(detail: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "malformed-request", "Malformed request", detail)
    }

    pub fn gone(detail: impl Into<String>) -> Self {
        Self::new(StatusCode::GONE, "gone", "Gone", detail)
    }

    pub fn payload_too_large() -> Self {
        Self::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "payload-too-large",
            "Payload too large",
            "the request body is larger than the gateway accepts (http.max_body_bytes)",
        )
    }

    /// 507: the disk under the database or the data directory is full. Nothing of
    /// the request was kept; reads still work. Logged, since an operator must act.
    pub fn storage_full(error: impl std::fmt::Display) -> Self {
        tracing::error!(error = %error, "out of disk space: a write was refused");
        Self::new(
            StatusCode::INSUFFICIENT_STORAGE,
            "insufficient-storage",
            "Insufficient storage",
            "the gateway's disk is full, so nothing of this request was stored; reading works, try writing again later",
        )
        .with_retry_after(30)
    }

    /// 503: the database cannot be reached (stopped, restarting, the network). The
    /// request did nothing; the same request can succeed once it is back. Runs going
    /// on keep their outcome until then. Logged, since an operator must act.
    pub fn database_unavailable(error: impl std::fmt::Display) -> Self {
        tracing::error!(error = %error, "database unavailable: a request was refused");
        Self::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "database-unavailable",
            "Database unavailable",
            "the gateway cannot reach its database, so this request was not served; try again later",
        )
        .with_retry_after(5)
    }

    /// A store error: 507 when the disk is full, 503 when the database cannot be
    /// reached, else internal.
    pub fn store(error: StoreError) -> Self {
        if error.is_storage_full() {
            Self::storage_full(error)
        } else if error.is_unavailable() {
            Self::database_unavailable(error)
        } else {
            Self::internal(error)
        }
    }

    pub fn internal(error: impl std::fmt::Display) -> Self {
        // The cause goes to the log; the client gets a stable message.
        tracing::error!(error = %error, "internal error");
        Self::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal",
            "Internal error",
            "the gateway hit an internal error; it has been logged",
        )
    }

    pub fn with_retry_after(mut self, seconds: u64) -> Self {
        self.retry_after = Some(seconds.max(1));
        self
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let mut body = json!({
            "type": format!("https://ccgate.dev/errors/{}", self.slug),
            "title": self.title,
            "status": self.status.as_u16(),
            "detail": self.detail,
        });
        if !self.errors.is_empty() {
            body["errors"] = serde_json::to_value(&self.errors).unwrap_or_default();
        }
        let mut response = (self.status, body.to_string()).into_response();
        let headers = response.headers_mut();
        headers.insert(header::CONTENT_TYPE, HeaderValue::from_static("application/problem+json"));
        if let Some(seconds) = self.retry_after {
            headers.insert(header::RETRY_AFTER, HeaderValue::from(seconds));
        }
        response
    }
}

impl From<TaskServiceError> for ApiError {
    fn from(error: TaskServiceError) -> Self {
        match error {
            TaskServiceError::NotFound => Self::not_found("no task with this id"),
            TaskServiceError::Rejected { plugin, violations } => Self {
                errors: violations,
                ..Self::new(
                    StatusCode::UNPROCESSABLE_ENTITY,
                    "rejected-by-plugin",
                    "Rejected by policy",
                    format!("plugin `{plugin}` refused this request; see `errors`"),
                )
            },
            TaskServiceError::PluginFailed(detail) => {
                Self::new(StatusCode::SERVICE_UNAVAILABLE, "plugin-failed", "Policy unavailable", detail)
                    .with_retry_after(5)
            }
            TaskServiceError::InputsRefused(errors) => Self::validation(errors),
            TaskServiceError::InvalidDecision(errors) => Self::validation(errors),
            e @ TaskServiceError::Overloaded { .. } => {
                Self::new(StatusCode::SERVICE_UNAVAILABLE, "overloaded", "Overloaded", e.to_string())
                    .with_retry_after(5)
            }
            e @ TaskServiceError::SchemaChecker(_) => Self::internal(e),
            e @ TaskServiceError::SchemaCheckerBusy => {
                Self::new(StatusCode::SERVICE_UNAVAILABLE, "overloaded", "Overloaded", e.to_string())
                    .with_retry_after(1)
            }
            TaskServiceError::ApprovalNotFound => Self::not_found("no such approval for this task"),
            TaskServiceError::ApprovalClosed(why) => Self::new(StatusCode::CONFLICT, "conflict", "Conflict", why),
            e @ TaskServiceError::QueueFull { .. } => {
                Self::new(StatusCode::TOO_MANY_REQUESTS, "quota-exceeded", "Quota exceeded", e.to_string())
                    .with_retry_after(5)
            }
            e @ TaskServiceError::Conflict { .. } => {
                Self::new(StatusCode::CONFLICT, "conflict", "Conflict", e.to_string())
            }
            e @ TaskServiceError::NotRunning { .. } => Self {
                errors: vec![FieldError::new("/delivery", e.to_string())],
                ..Self::new(StatusCode::CONFLICT, "conflict", "Conflict", e.to_string())
            },
            e @ TaskServiceError::TooManyMessages => {
                Self::new(StatusCode::CONFLICT, "conflict", "Conflict", e.to_string())
            }
            e @ TaskServiceError::IdempotencyKeyReused => Self {
                errors: vec![FieldError::new("/headers/idempotency-key", e.to_string())],
                ..Self::new(
                    StatusCode::UNPROCESSABLE_ENTITY,
                    "idempotency-key-reused",
                    "Idempotency key reused",
                    e.to_string(),
                )
            },
            e @ TaskServiceError::WorkspaceExpired => Self::gone(e.to_string()),
            e @ TaskServiceError::NetworkNotAllowed => Self {
                errors: vec![FieldError::new("/options/network", e.to_string())],
                ..Self::new(StatusCode::FORBIDDEN, "forbidden", "Forbidden", e.to_string())
            },
            e @ TaskServiceError::BudgetExceeded { .. } => {
                Self::new(StatusCode::PAYMENT_REQUIRED, "budget-exceeded", "Budget exceeded", e.to_string())
            }
            TaskServiceError::ShuttingDown => {
                Self::new(StatusCode::SERVICE_UNAVAILABLE, "unavailable", "Unavailable", "the gateway is shutting down")
                    .with_retry_after(5)
            }
            TaskServiceError::Workspace(e) if crate::store::is_storage_full(&e) => {
                Self::storage_full(format!("workspace: {e}"))
            }
            TaskServiceError::Workspace(e) => Self::internal(format!("workspace: {e}")),
            // Retention deleted it since the task row was read.
            TaskServiceError::Snapshot(SnapshotError::Storage(e)) if e.is_not_found() => {
                Self::gone("the task's workspace expired and was deleted (retention.workspace_ttl)")
            }
            TaskServiceError::Snapshot(SnapshotError::Storage(e)) => e.into(),
            TaskServiceError::Snapshot(SnapshotError::Io(e)) if crate::store::is_storage_full(&e) => {
                Self::storage_full(format!("workspace snapshot: {e}"))
            }
            e @ TaskServiceError::Snapshot(_) => Self::internal(e),
            TaskServiceError::Store(e) => Self::store(e),
        }
    }
}

impl From<StoreError> for ApiError {
    fn from(error: StoreError) -> Self {
        Self::store(error)
    }
}

impl From<AuthError> for ApiError {
    fn from(error: AuthError) -> Self {
        match error {
            AuthError::Store(e) => Self::store(e),
            e => Self::new(StatusCode::UNAUTHORIZED, "unauthorized", "Unauthorized", e.to_string()),
        }
    }
}

impl From<StorageError> for ApiError {
    fn from(error: StorageError) -> Self {
        match error {
            StorageError::NotFound { .. } => Self::not_found("no such object in storage"),
            // Logged: an operator must bring the store back; the client retries.
            e @ StorageError::Unavailable { .. } => {
                tracing::error!(error = %e, "shared storage unavailable");
                Self::new(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "storage-unavailable",
                    "Storage unavailable",
                    "the gateway's storage (storage.url) cannot be reached; try again later",
                )
                .with_retry_after(5)
            }
            e => Self::internal(e),
        }
    }
}
