//! A task row: its input, its current state and lease, and its latest result.

use std::collections::BTreeMap;

use sea_orm::entity::prelude::*;

use crate::task::{TaskError, TaskOptions, TaskResult, TaskWebhook};

#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "tasks")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: String,
    pub key_id: String,
    pub status: super::TaskStatus,
    pub priority: i32,
    /// The first turn's prompt.
    pub prompt: String,
    /// The resolved options (JSON in the database).
    #[sea_orm(column_type = "Text")]
    pub options: super::JsonText<TaskOptions>,
    /// String values by name (JSON in the database).
    #[sea_orm(column_type = "Text")]
    pub metadata: super::JsonText<BTreeMap<String, String>>,
    pub created_at: i64,
    /// When the task last entered the queue: FIFO order within a priority.
    pub enqueued_at: i64,
    pub started_at: Option<i64>,
    pub finished_at: Option<i64>,
    pub current_turn: i32,
    /// Runs of the current turn so far; a run's writes are fenced on it.
    pub attempts: i32,
    pub lease_owner: Option<String>,
    pub lease_expires_at: Option<i64>,
    pub cancel_requested: bool,
    pub session_id: Option<String>,
    /// The latest turn's result (JSON in the database).
    #[sea_orm(column_type = "Text", nullable)]
    pub result: Option<super::JsonText<TaskResult>>,
    /// Why it failed or was cancelled (JSON in the database).
    #[sea_orm(column_type = "Text", nullable)]
    pub error: Option<super::JsonText<TaskError>>,
    /// The last sequence number given to an event of this task.
    pub event_seq: i64,
    /// The workspace globs collected as artifacts after each turn (JSON in the database).
    #[sea_orm(column_type = "Text")]
    pub artifact_patterns: super::JsonText<Vec<String>>,
    /// When the retention sweeper deleted the workspace (and Claude's state).
    pub workspace_expired_at: Option<i64>,
    /// When the retention sweeper deleted the artifacts.
    pub artifacts_expired_at: Option<i64>,
    /// The task's own webhook, if it has one (JSON in the database).
    #[sea_orm(column_type = "Text", nullable)]
    pub webhook: Option<super::JsonText<TaskWebhook>>,
    /// A queued task is not claimed before this time (the backoff of a retry).
    pub not_before: Option<i64>,
    /// The next run retries a turn whose prompt the session already holds.
    pub continue_turn: bool,
    /// Its key's environment: `live`, or `test` (the built-in scripted model, cost 0).
    pub environment: crate::store::entities::Environment,
    /// The name of its latest workspace snapshot in shared storage, if one was saved.
    pub snapshot: Option<String>,
    /// What the running run has used so far (US dollar micros, tokens), as of its
    /// last lease renewal; 0 when no run holds the task. Charged by recovery when
    /// the run is lost.
    pub live_cost_micros: i64,
    pub live_input_tokens: i64,
    pub live_output_tokens: i64,
    /// The tokens the running run holds against its key's token budget: what its
    /// model requests in flight reserved and what its answered ones used (0 when
    /// no run holds the task). Summed over a key's running tasks by every node.
    pub live_held_tokens: i64,
    /// The storage set holding the artifacts recorded for the task (`None`: none
    /// recorded, or recorded before sets were named here: the storage's current set).
    pub artifact_set: Option<String>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
