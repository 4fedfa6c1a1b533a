//! One webhook message to deliver: the outbox row, written in the transaction
//! that changed the task, then sent (and retried) by the delivery workers.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "webhook_deliveries")]
pub struct Model {
    /// The `webhook-id` header: the same on every attempt, so receivers de-duplicate.
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: String,
    pub task_id: String,
    pub key_id: String,
    /// `task.completed`, `task.failed`, `task.cancelled`, `task.started`,
    /// `task.approval_requested`.
    pub event_type: String,
    pub url: String,
    /// The exact body sent, signed as is.
    pub payload: String,
    /// `pending`, `delivered`, `failed` (gave up) or `disabled` (the receiver said 410).
    pub status: String,
    pub attempts: i32,
    pub next_attempt_at: i64,
    pub claimed_by: Option<String>,
    pub claimed_until: Option<i64>,
    pub created_at: i64,
    pub finished_at: Option<i64>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
