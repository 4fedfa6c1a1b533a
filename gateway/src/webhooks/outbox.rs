//! The rules the store's outbox writes deliveries by: which task changes send
//! which event, to the task's webhook or its key's default one, with the task as
//! the API shows it.

use serde_json::json;

use super::{APPROVAL_REQUESTED, key_events};
use crate::approvals::desk::ApprovalView;
use crate::store::entities::{TaskStatus, api_key, task};
use crate::store::{OutboxEvent, TaskSnapshot, WebhookRules};
use crate::task::TaskView;

/// The gateway's webhook rules.
pub struct Rules;

impl WebhookRules for Rules {
    fn event_type(&self, event: OutboxEvent<'_>) -> Option<&'static str> {
        match event {
            OutboxEvent::Status(status) => event_for_status(status),
            OutboxEvent::ApprovalRequested(_) => Some(APPROVAL_REQUESTED),
        }
    }

    fn destination(&self, task: &task::Model, key: Option<&api_key::Model>, event_type: &str) -> Option<String> {
        match task.webhook.as_ref().and_then(|w| w.parsed()).cloned() {
            Some(webhook) if webhook.disabled => None,
            Some(webhook) => webhook.events.iter().any(|e| e == event_type).then_some(webhook.url),
            None => key
                .filter(|key| key_events(key.webhook_events.as_deref()).iter().any(|e| e == event_type))
                .and_then(|key| key.webhook_url.clone()),
        }
    }

    /// `data` is the task as it is now; for a prompt, with the prompt as `data.approval`.
    fn payload(&self, snapshot: &TaskSnapshot<'_>, event: OutboxEvent<'_>, event_type: &str, now: i64) -> String {
        let approval = match event {
            OutboxEvent::ApprovalRequested(row) => Some(ApprovalView::from(row)),
            OutboxEvent::Status(_) => None,
        };
        let pending = approval.iter().cloned().collect();
        let view = TaskView::new(snapshot.task, &snapshot.turns, snapshot.artifacts.clone(), pending);
        let mut data = serde_json::to_value(view).unwrap_or_default();
        if let (Some(approval), Some(object)) = (approval, data.as_object_mut()) {
            object.insert("approval".into(), serde_json::to_value(approval).unwrap_or_default());
        }
        json!({"type": event_type, "timestamp": crate::timestamp::format_ms(now), "data": data}).to_string()
    }
}

/// The event type of a task that reached `status`, if any is sent for it.
fn event_for_status(status: TaskStatus) -> Option<&'static str> {
    match status {
        TaskStatus::Queued => None,
        TaskStatus::Running => Some("task.started"),
        TaskStatus::Completed => Some("task.completed"),
        TaskStatus::Failed => Some("task.failed"),
        TaskStatus::Cancelled => Some("task.cancelled"),
    }
}
