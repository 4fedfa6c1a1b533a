//! A node as the API shows it.

use serde::Serialize;
use utoipa::ToSchema;

use super::state::{NodeStatus, is_alive, status_of};
use crate::store::entities::node::{self, NodeState};
use crate::timestamp::format_ms;

/// A gateway node sharing the database.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct NodeView {
    /// The node's id, new at each start (the `node` of its runs' audit entries).
    #[schema(example = "node_01JDX3N8Q6W2V0M1R5T7Y9B4C2")]
    pub id: String,
    /// `node.name`, else the machine's hostname.
    #[schema(example = "gw-3")]
    pub name: String,
    /// The gateway's version.
    #[schema(example = "0.1.0")]
    pub version: String,
    /// `node.advertise_url`, when set.
    #[schema(example = "https://gw-3.internal:8080")]
    pub advertise_url: Option<String>,
    /// `queue.workers`: 0 for a node that only answers the API.
    pub workers: i32,
    /// Runs in progress, as of its last heartbeat.
    pub running: i32,
    /// `active` (alive, claims work), `draining` (alive, claims nothing: draining,
    /// drained or shutting down; `phase` says which) or `gone` (stopped, or silent
    /// for longer than a lease).
    pub state: NodeStatus,
    /// What the node last said of itself: `active`, `draining` (its runs finish),
    /// `drained` (nothing runs; `resume` makes it active), `stopping` (shutting
    /// down), `stopped` (exited cleanly). A node that died keeps its last phase.
    pub phase: NodeState,
    /// Whether the node heartbeats: not stopped, and last seen within a lease
    /// (`queue.lease_seconds`).
    pub alive: bool,
    /// Whether this is the node that answered.
    pub this_node: bool,
    pub started_at: String,
    pub last_seen_at: String,
    /// When a drain was asked for (cleared by a resume).
    pub drain_requested_at: Option<String>,
}

impl NodeView {
    pub fn of(row: node::Model, this_node: &str, now: i64, lease_ms: i64) -> Self {
        let alive = is_alive(row.state, row.last_seen_at, now, lease_ms);
        Self {
            state: status_of(row.state, alive),
            phase: row.state,
            alive,
            this_node: row.id == this_node,
            id: row.id,
            name: row.name,
            version: row.version,
            advertise_url: row.advertise_url,
            workers: row.workers,
            running: row.running,
            started_at: format_ms(row.started_at),
            last_seen_at: format_ms(row.last_seen_at),
            drain_requested_at: row.drain_requested_at.map(format_ms),
        }
    }
}

/// A page of nodes, the latest started first.
#[derive(Debug, Serialize, ToSchema)]
pub struct NodeList {
    pub data: Vec<NodeView>,
    /// The `cursor` of the next page; `null` on the last.
    pub next_cursor: Option<String>,
}
