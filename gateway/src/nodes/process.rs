//! Whether the node that holds a run is still there: on SQLite every node shares
//! one machine, so a node whose process is gone has crashed, whatever its last
//! heartbeat says, and its runs can be recovered at once.

use super::state::is_alive;
use crate::store::entities::node;

/// Whether `owner` (the row of a run's `lease_owner`) still runs it: alive by its
/// heartbeat, and its process present (`process_exists`).
pub(crate) fn holds_its_runs(
    owner: Option<&node::Model>,
    now: i64,
    lease_ms: i64,
    process_exists: impl Fn(i64) -> bool,
) -> bool {
    owner.is_some_and(|n| is_alive(n.state, n.last_seen_at, now, lease_ms) && process_exists(n.pid))
}

/// Whether a process with this id exists on this machine.
pub(crate) fn process_exists(pid: i64) -> bool {
    pid > 0 && std::path::Path::new(&format!("/proc/{pid}")).exists()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::entities::node::NodeState;

    fn owner(state: NodeState, last_seen_at: i64) -> node::Model {
        node::Model {
            id: "node_a".into(),
            name: "gw".into(),
            version: "1".into(),
            advertise_url: None,
            workers: 1,
            running: 1,
            pid: 42,
            state,
            started_at: 0,
            last_seen_at,
            drain_requested_at: None,
        }
    }

    #[test]
    fn only_a_live_node_whose_process_is_there_holds_its_runs() {
        let there = |pid| pid == 42;
        let gone = |_| false;
        assert!(holds_its_runs(Some(&owner(NodeState::Draining, 900)), 1_000, 500, there));
        assert!(!holds_its_runs(Some(&owner(NodeState::Active, 900)), 1_000, 500, gone), "crashed");
        assert!(!holds_its_runs(Some(&owner(NodeState::Active, 100)), 1_000, 500, there), "silent too long");
        assert!(!holds_its_runs(Some(&owner(NodeState::Stopped, 900)), 1_000, 500, there), "stopped");
        assert!(!holds_its_runs(None, 1_000, 500, there), "an owner with no row (an older gateway)");
        assert!(process_exists(i64::from(std::process::id())));
        assert!(!process_exists(0));
    }
}
