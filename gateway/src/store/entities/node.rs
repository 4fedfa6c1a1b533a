//! A gateway node sharing the database: what it is, what it runs, and whether it
//! takes work.

use sea_orm::entity::prelude::*;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "nodes")]
pub struct Model {
    /// The node's id (the `lease_owner` of the runs it claims); new at each start.
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: String,
    pub name: String,
    /// The gateway's version.
    pub version: String,
    /// Where the node says it can be reached (`node.advertise_url`).
    pub advertise_url: Option<String>,
    /// `queue.workers`: 0 for a node that only answers the API.
    pub workers: i32,
    /// Runs in progress, as of its last heartbeat.
    pub running: i32,
    /// The gateway's process id, to tell a crashed node on the same machine (SQLite).
    pub pid: i64,
    pub state: NodeState,
    pub started_at: i64,
    pub last_seen_at: i64,
    /// When a drain was asked for; cleared by a resume.
    pub drain_requested_at: Option<i64>,
}

/// Whether a node takes work.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, EnumIter, DeriveActiveEnum, Serialize, Deserialize, ToSchema)]
#[sea_orm(rs_type = "String", db_type = "String(StringLen::None)")]
#[serde(rename_all = "snake_case")]
pub enum NodeState {
    /// Claims work (when it has workers).
    #[sea_orm(string_value = "active")]
    Active,
    /// Asked to drain: claims nothing, lets its runs finish.
    #[sea_orm(string_value = "draining")]
    Draining,
    /// Drained: claims nothing and runs nothing; a resume makes it active again.
    #[sea_orm(string_value = "drained")]
    Drained,
    /// Shutting down (SIGTERM): draining, then the process exits.
    #[sea_orm(string_value = "stopping")]
    Stopping,
    /// The process exited cleanly.
    #[sea_orm(string_value = "stopped")]
    Stopped,
}

impl NodeState {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Active => "active",
            Self::Draining => "draining",
            Self::Drained => "drained",
            Self::Stopping => "stopping",
            Self::Stopped => "stopped",
        }
    }
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
