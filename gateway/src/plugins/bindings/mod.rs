//! Host bindings of the plugin contract, one module per WIT version with its own
//! shapes (as Zed's extension host keeps them): `wit/v0.1.0/` and `wit/v0.1.1/`
//! are frozen, `wit/v0.1.2/` is the current one. A component is called through
//! the bindings of the version it declares; the hooks work with the current
//! records, and `versioned` converts them for an older component.

pub mod v0_1_1;
pub mod v0_1_2;
mod versioned;

pub use v0_1_2 as current;
pub use versioned::{ArtifactsPre, PolicyPre, ResultPre, ToolApprovalPre, WebhookPre};

use current::types::{EventKind, TaskStatus};

/// The WIT package name and the version the current bindings were generated from.
pub const PACKAGE: &str = "ccgate:plugin";
pub const VERSION: &str = "0.1.2";

/// The versions this gateway loads, oldest first.
pub const VERSIONS: [&str; 3] = ["0.1.0", "0.1.1", VERSION];

/// Which bindings call a component.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Contract {
    /// 0.1.0 and 0.1.1: strings for status and event kind.
    V0_1_1,
    /// 0.1.2.
    Current,
}

impl Contract {
    /// The bindings for a component built against `ccgate:plugin@{version}`; none
    /// for a version this gateway does not speak (0.2, or a later 0.1.x).
    pub fn of(version: &str) -> Option<Self> {
        match version {
            "0.1.0" | "0.1.1" => Some(Self::V0_1_1),
            VERSION => Some(Self::Current),
            _ => None,
        }
    }
}

/// A task status as 0.1.0 and 0.1.1 plugins see it (API.md's spelling).
pub fn status_name(status: TaskStatus) -> &'static str {
    match status {
        TaskStatus::Queued => "queued",
        TaskStatus::Running => "running",
        TaskStatus::Completed => "completed",
        TaskStatus::Failed => "failed",
        TaskStatus::Cancelled => "cancelled",
    }
}

/// A webhook event kind as 0.1.0 and 0.1.1 plugins see it (the payload's `type`).
pub fn event_name(kind: EventKind) -> &'static str {
    match kind {
        EventKind::TaskStarted => "task.started",
        EventKind::TaskCompleted => "task.completed",
        EventKind::TaskFailed => "task.failed",
        EventKind::TaskCancelled => "task.cancelled",
        EventKind::TaskApprovalRequested => "task.approval_requested",
    }
}

/// The event kind a webhook delivery named `name` tells of.
pub fn event_kind(name: &str) -> Option<EventKind> {
    [
        EventKind::TaskStarted,
        EventKind::TaskCompleted,
        EventKind::TaskFailed,
        EventKind::TaskCancelled,
        EventKind::TaskApprovalRequested,
    ]
    .into_iter()
    .find(|kind| event_name(*kind) == name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn components_are_called_through_the_bindings_of_their_version() {
        assert_eq!(Contract::of("0.1.0"), Some(Contract::V0_1_1));
        assert_eq!(Contract::of("0.1.1"), Some(Contract::V0_1_1));
        assert_eq!(Contract::of("0.1.2"), Some(Contract::Current));
        for unknown in ["0.1.3", "0.2.0", "1.0.0", "0.1", ""] {
            assert_eq!(Contract::of(unknown), None, "{unknown}");
        }
    }

    #[test]
    fn every_webhook_event_has_a_kind_with_its_old_name() {
        for name in crate::webhooks::EVENTS {
            let kind = event_kind(name).unwrap_or_else(|| panic!("{name} has no WIT kind"));
            assert_eq!(event_name(kind), name);
        }
        assert_eq!(event_kind("task.unknown"), None);
    }
}
