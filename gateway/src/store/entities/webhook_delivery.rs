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
    pub status: DeliveryStatus,
    pub attempts: i32,
    pub next_attempt_at: i64,
    pub claimed_by: Option<String>,
    pub claimed_until: Option<i64>,
    pub created_at: i64,
    pub finished_at: Option<i64>,
}

/// Where a delivery is (the same strings in the `status` column and the API).
#[derive(Debug, Clone, Copy, PartialEq, Eq, EnumIter, DeriveActiveEnum)]
#[sea_orm(rs_type = "String", db_type = "String(StringLen::None)")]
pub enum DeliveryStatus {
    /// Waiting for its next attempt.
    #[sea_orm(string_value = "pending")]
    Pending,
    #[sea_orm(string_value = "delivered")]
    Delivered,
    /// Gave up after its last retry.
    #[sea_orm(string_value = "failed")]
    Failed,
    /// The receiver answered 410 Gone.
    #[sea_orm(string_value = "disabled")]
    Disabled,
}

impl DeliveryStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::Delivered => "delivered",
            Self::Failed => "failed",
            Self::Disabled => "disabled",
        }
    }
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}

#[cfg(test)]
mod tests {
    use sea_orm::{ActiveEnum, Iterable};

    use super::DeliveryStatus;

    #[test]
    fn delivery_statuses_are_stored_as_the_api_shows_them() {
        let stored: Vec<String> = DeliveryStatus::iter().map(|s| s.to_value()).collect();
        assert_eq!(stored, ["pending", "delivered", "failed", "disabled"]);
        assert!(DeliveryStatus::iter().all(|s| s.to_value() == s.as_str()));
    }
}
