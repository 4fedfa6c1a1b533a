//! Pure decisions about nodes: which state a node is in, whether it is alive,
//! what the API calls that state, when its drain's grace ends.

use serde::Serialize;
use utoipa::ToSchema;

use crate::store::entities::node::NodeState;

/// What a node knows about itself at a heartbeat.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Facts {
    /// A drain was asked for (through the API, `ccgate drain`) and not withdrawn.
    pub drain_requested: bool,
    /// The process is shutting down (SIGTERM).
    pub exiting: bool,
    /// Runs in progress on the node.
    pub running: usize,
}

/// The state a node is in, given what it knows.
pub fn state_of(facts: Facts) -> NodeState {
    match facts {
        Facts { exiting: true, .. } => NodeState::Stopping,
        Facts { drain_requested: true, running: 0, .. } => NodeState::Drained,
        Facts { drain_requested: true, .. } => NodeState::Draining,
        Facts { drain_requested: false, .. } => NodeState::Active,
    }
}

/// Whether a node is alive: it did not stop, and its last heartbeat is within a lease.
pub fn is_alive(state: NodeState, last_seen_at: i64, now: i64, lease_ms: i64) -> bool {
    state != NodeState::Stopped && now - last_seen_at <= lease_ms
}

/// A node's state as the API names it: whether it takes work, stopped taking it,
/// or is gone. (The node's own finer account is its `phase`.)
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum NodeStatus {
    /// Alive and claiming work (when it has workers).
    Active,
    /// Alive and claiming nothing: draining, drained, or shutting down.
    Draining,
    /// Stopped, or silent for longer than a lease.
    Gone,
}

/// The API's state of a node in `phase`, alive or not.
pub fn status_of(phase: NodeState, alive: bool) -> NodeStatus {
    match (alive, phase) {
        (false, _) | (_, NodeState::Stopped) => NodeStatus::Gone,
        (true, NodeState::Active) => NodeStatus::Active,
        (true, NodeState::Draining | NodeState::Drained | NodeState::Stopping) => NodeStatus::Draining,
    }
}

/// When a drain asked for at `requested_at` hands back the runs still going.
pub fn grace_deadline(requested_at: i64, grace_ms: i64) -> i64 {
    requested_at.saturating_add(grace_ms)
}

/// How long rows of nodes unseen are kept before they are deleted.
pub const FORGET_AFTER_MS: i64 = 24 * 3600 * 1000;

/// The most rows of the registry read at once (for the API's list and `ccgate
/// drain`): rows unseen for a day are deleted, so a registry is far smaller.
pub const MAX_LISTED_NODES: u64 = 1000;

#[cfg(test)]
mod tests {
    use super::*;

    fn facts(drain_requested: bool, exiting: bool, running: usize) -> Facts {
        Facts { drain_requested, exiting, running }
    }

    #[test]
    fn a_drain_drains_until_nothing_runs_and_exiting_wins() {
        assert_eq!(state_of(facts(false, false, 3)), NodeState::Active);
        assert_eq!(state_of(facts(false, false, 0)), NodeState::Active);
        assert_eq!(state_of(facts(true, false, 2)), NodeState::Draining);
        assert_eq!(state_of(facts(true, false, 0)), NodeState::Drained);
        assert_eq!(state_of(facts(false, true, 0)), NodeState::Stopping);
        assert_eq!(state_of(facts(true, true, 5)), NodeState::Stopping);
    }

    #[test]
    fn a_node_is_alive_while_it_heartbeats_and_has_not_stopped() {
        let lease = 30_000;
        assert!(is_alive(NodeState::Active, 1_000, 31_000, lease), "last seen a lease ago");
        assert!(!is_alive(NodeState::Active, 1_000, 31_001, lease), "silent for longer than a lease");
        assert!(is_alive(NodeState::Drained, 1_000, 2_000, lease), "a drained node is alive");
        assert!(!is_alive(NodeState::Stopped, 1_000, 1_000, lease), "a stopped node is not, however recent");
    }

    #[test]
    fn the_api_says_active_draining_or_gone() {
        assert_eq!(status_of(NodeState::Active, true), NodeStatus::Active);
        for claiming_nothing in [NodeState::Draining, NodeState::Drained, NodeState::Stopping] {
            assert_eq!(status_of(claiming_nothing, true), NodeStatus::Draining, "{claiming_nothing:?}");
        }
        for phase in [NodeState::Active, NodeState::Draining, NodeState::Drained, NodeState::Stopping] {
            assert_eq!(status_of(phase, false), NodeStatus::Gone, "silent past its lease: {phase:?}");
        }
        assert_eq!(status_of(NodeState::Stopped, true), NodeStatus::Gone);
    }

    #[test]
    fn the_grace_deadline_is_the_request_plus_the_grace() {
        assert_eq!(grace_deadline(1_000, 900_000), 901_000);
        assert_eq!(grace_deadline(i64::MAX - 1, 10), i64::MAX);
    }
}
