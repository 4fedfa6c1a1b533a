//! A task row: its input, its current state and lease, and its latest result.

use sea_orm::entity::prelude::*;

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
    pub options: super::JsonText<crate::task::TaskOptions>,
    /// JSON object of string values.
    pub metadata: String,
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
    /// JSON of the latest `TaskResult`.
    pub result: Option<String>,
    /// JSON of the `TaskError`, when failed or cancelled.
    pub error: Option<String>,
    /// The last sequence number given to an event of this task.
    pub event_seq: i64,
    /// JSON array of the workspace globs collected as artifacts after each turn.
    pub artifact_patterns: String,
    /// When the retention sweeper deleted the workspace (and Claude's state).
    pub workspace_expired_at: Option<i64>,
    /// When the retention sweeper deleted the artifacts.
    pub artifacts_expired_at: Option<i64>,
    /// JSON of the task's `webhook` (`{"url", "events"}`), if it has one.
    pub webhook: Option<String>,
    /// A queued task is not claimed before this time (the backoff of a retry).
    pub not_before: Option<i64>,
    /// The next run retries a turn whose prompt the session already holds.
    pub continue_turn: bool,
    /// Its key's environment: `live`, or `test` (the built-in scripted model, cost 0).
    pub environment: crate::auth::Environment,
    /// What the running run has used so far (US dollar micros, tokens), as of its
    /// last lease renewal; 0 when no run holds the task. Charged by recovery when
    /// the run is lost.
    pub live_cost_micros: i64,
    pub live_input_tokens: i64,
    pub live_output_tokens: i64,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
