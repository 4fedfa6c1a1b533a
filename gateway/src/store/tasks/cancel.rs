//! Cancelling a task: at once while it is queued, by a flag its runner sees while
//! it runs.

use sea_orm::sea_query::Expr;
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, TransactionTrait};

use super::turns::set_turn_status;
use crate::store::entities::{JsonText, TaskStatus, task};
use crate::store::events::{EventRecord, append};
use crate::store::{AuditEntry, Context, Result, Store, audit, outbox};
use crate::task::TaskError;

impl Store {
    /// Cancels a task that is still queued. `false` when it is not queued (any more).
    pub async fn cancel_queued(
        &self,
        id: &str,
        error: TaskError,
        events: &[EventRecord],
        audit_entry: AuditEntry,
    ) -> Result<bool> {
        let now = crate::timestamp::now_ms();
        let txn = self.writer.begin().await.during("starting a transaction")?;
        // Conditional on `queued`: a claim racing this either wins (and the run sees
        // the cancel flag) or finds the task cancelled.
        let changed = task::Entity::update_many()
            .col_expr(task::Column::Status, Expr::value(TaskStatus::Cancelled))
            .col_expr(task::Column::FinishedAt, Expr::value(now))
            .col_expr(task::Column::Error, Expr::value(JsonText::new(error)))
            .filter(task::Column::Id.eq(id))
            .filter(task::Column::Status.eq(TaskStatus::Queued))
            .exec(&txn)
            .await
            .during("cancelling a task")?
            .rows_affected
            == 1;
        if changed {
            set_turn_status(&txn, id, None, TaskStatus::Cancelled, now).await?;
            let turn =
                task::Entity::find_by_id(id).one(&txn).await.during("cancelling a task")?.map_or(0, |t| t.current_turn);
            crate::store::steering::settle_waiting(&txn, id, turn, true, now).await?;
            append(&txn, id, None, events, now).await?;
            outbox::enqueue(&txn, self.webhooks.as_ref(), id, TaskStatus::Cancelled, now).await?;
            audit::record(&txn, AuditEntry { target: Some(id.to_string()), ..audit_entry }, now).await?;
        }
        txn.commit().await.during("cancelling a task")?;
        Ok(changed)
    }

    /// Flags a running task for cancellation (its runner, on any node, sees the flag).
    pub async fn request_cancel(&self, id: &str, audit_entry: AuditEntry) -> Result<bool> {
        let now = crate::timestamp::now_ms();
        let txn = self.writer.begin().await.during("starting a transaction")?;
        let changed = task::Entity::update_many()
            .col_expr(task::Column::CancelRequested, Expr::value(true))
            .filter(task::Column::Id.eq(id))
            .filter(task::Column::Status.eq(TaskStatus::Running))
            .exec(&txn)
            .await
            .during("cancelling a task")?
            .rows_affected
            == 1;
        if changed {
            audit::record(&txn, AuditEntry { target: Some(id.to_string()), ..audit_entry }, now).await?;
        }
        txn.commit().await.during("cancelling a task")?;
        Ok(changed)
    }
}
