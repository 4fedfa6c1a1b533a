//! Webhooks: when a task reaches a state its webhook (or its key's default one)
//! subscribes to, a delivery is written to the outbox in the same transaction,
//! then sent by the delivery workers, signed per Standard Webhooks, retried with
//! backoff, every attempt recorded. URLs are checked against SSRF (`guard`).

pub mod guard;
mod sender;
pub mod signing;

use serde::{Deserialize, Serialize};

pub use sender::{Deliverer, DelivererConfig};

/// Event types a webhook can subscribe to.
pub const EVENTS: [&str; 5] = ["task.started", "task.completed", "task.failed", "task.cancelled", APPROVAL_REQUESTED];

/// A permission prompt of the task waits for a client (`options.approvals.mode = "ask"`).
pub const APPROVAL_REQUESTED: &str = "task.approval_requested";

/// What a key's default webhook receives.
pub const DEFAULT_EVENTS: [&str; 3] = ["task.completed", "task.failed", "task.cancelled"];

/// A task's `webhook`, as stored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct TaskWebhook {
    #[schema(example = "https://hooks.example.com/ccgate")]
    pub url: String,
    /// Defaults to `task.completed`, `task.failed`, `task.cancelled`.
    #[schema(example = json!(["task.completed", "task.failed"]))]
    pub events: Vec<String>,
    /// Set when the receiver answered 410 Gone: nothing more is sent.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub disabled: bool,
}

/// The event type of a task that reached `status`, if any is sent for it.
pub fn event_for_status(status: &str) -> Option<&'static str> {
    match status {
        "running" => Some("task.started"),
        "completed" => Some("task.completed"),
        "failed" => Some("task.failed"),
        "cancelled" => Some("task.cancelled"),
        _ => None,
    }
}
