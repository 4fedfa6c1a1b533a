//! Webhooks: when a task reaches a state its webhook (or its key's default one)
//! subscribes to, a delivery is written to the outbox in the same transaction,
//! then sent by the delivery workers, signed per Standard Webhooks, retried with
//! backoff, every attempt recorded. URLs are checked against SSRF (`guard`).

pub mod guard;
mod outbox;
mod sender;
pub mod signing;

pub use crate::task::TaskWebhook;
pub use outbox::Rules;
pub use sender::{Deliverer, DelivererConfig};

/// Event types a webhook can subscribe to.
pub const EVENTS: [&str; 5] = ["task.started", "task.completed", "task.failed", "task.cancelled", APPROVAL_REQUESTED];

/// A permission prompt of the task waits for a client (`options.approvals.mode = "ask"`).
pub const APPROVAL_REQUESTED: &str = "task.approval_requested";

/// What a key's default webhook receives.
pub const DEFAULT_EVENTS: [&str; 3] = ["task.completed", "task.failed", "task.cancelled"];

/// A key's default-webhook events: at least one, each known; a name given twice
/// counts once.
pub fn key_events_of(names: &[String]) -> Result<Vec<String>, String> {
    let known = names.iter().all(|name| EVENTS.contains(&name.as_str()));
    if names.is_empty() || names.len() > 16 || !known {
        return Err(format!("must be a list of 1 to 16 event names among {}", EVENTS.join(", ")));
    }
    let mut events = names.to_vec();
    events.sort_by_key(|name| EVENTS.iter().position(|e| e == name));
    events.dedup();
    Ok(events)
}

/// A key's default-webhook events as stored: `None` keeps the defaults.
pub fn stored_events(events: &Option<Vec<String>>) -> Option<String> {
    events.as_ref().map(|events| serde_json::Value::from(events.clone()).to_string())
}

/// The events a key's default webhook receives, from their stored form; what cannot
/// be read gets the defaults.
pub fn key_events(stored: Option<&str>) -> Vec<String> {
    stored
        .and_then(|text| serde_json::from_str::<Vec<String>>(text).ok())
        .unwrap_or_else(|| DEFAULT_EVENTS.map(String::from).to_vec())
}
