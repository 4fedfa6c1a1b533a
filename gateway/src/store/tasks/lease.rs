//! What a run holds while it runs: its lease, fenced on owner and attempt, and the
//! session it records.

use sea_orm::sea_query::Expr;
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, QuerySelect, UpdateMany};

use crate::store::entities::{TaskStatus, task};
use crate::store::{Context, Result, RunCost, Store};

/// Who may write a running task: the node holding its lease, for this attempt.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fence {
    pub owner: String,
    pub attempt: i32,
}

impl Fence {
    pub(crate) fn apply(&self, update: UpdateMany<task::Entity>) -> UpdateMany<task::Entity> {
        update
            .filter(task::Column::LeaseOwner.eq(self.owner.clone()))
            .filter(task::Column::Attempts.eq(self.attempt))
            .filter(task::Column::Status.eq(TaskStatus::Running))
    }
}

/// Sets what the task's run has used so far.
pub(crate) fn with_live_spend(update: UpdateMany<task::Entity>, used: &RunCost) -> UpdateMany<task::Entity> {
    update
        .col_expr(task::Column::LiveCostMicros, Expr::value(used.cost_micros))
        .col_expr(task::Column::LiveInputTokens, Expr::value(used.input_tokens))
        .col_expr(task::Column::LiveOutputTokens, Expr::value(used.output_tokens))
}

/// Clears what a run used and holds of its key's budget, as the run lets go of
/// the task: in the same transaction that records what it is charged.
pub(crate) fn without_live_spend(update: UpdateMany<task::Entity>) -> UpdateMany<task::Entity> {
    with_live_spend(update, &RunCost::default()).col_expr(task::Column::LiveHeldTokens, Expr::value(0i64))
}

/// What a lost run had used by its last lease renewal, to charge its key; `None`
/// when nothing was recorded.
pub(crate) fn live_spend(task: &task::Model) -> Option<RunCost> {
    let used = RunCost {
        key_id: task.key_id.clone(),
        cost_micros: task.live_cost_micros,
        input_tokens: task.live_input_tokens,
        output_tokens: task.live_output_tokens,
    };
    (used.cost_micros > 0 || used.input_tokens > 0 || used.output_tokens > 0).then_some(used)
}

impl Store {
    /// Extends a lease, and records what the run has used so far (`used`, when the
    /// model proxy meters it), so that a gateway dying mid-run loses at most what
    /// was used since. `None` when the lease was lost; else whether cancel was asked.
    pub async fn heartbeat(
        &self,
        id: &str,
        fence: &Fence,
        lease_ms: i64,
        used: Option<&RunCost>,
    ) -> Result<Option<bool>> {
        let until = crate::timestamp::now_ms() + lease_ms;
        let mut update = task::Entity::update_many()
            .col_expr(task::Column::LeaseExpiresAt, Expr::value(until))
            .filter(task::Column::Id.eq(id));
        if let Some(used) = used {
            update = with_live_spend(update, used);
        }
        if fence.apply(update).exec(&self.writer).await.during("renewing a lease")?.rows_affected == 0 {
            return Ok(None);
        }
        let cancel: Option<bool> = task::Entity::find_by_id(id)
            .select_only()
            .column(task::Column::CancelRequested)
            .into_tuple()
            .one(&self.writer)
            .await
            .during("renewing a lease")?;
        Ok(cancel)
    }

    /// Records the Claude session of a running task as soon as it is known.
    pub async fn set_session(&self, id: &str, fence: &Fence, session_id: &str) -> Result<bool> {
        let update = task::Entity::update_many()
            .col_expr(task::Column::SessionId, Expr::value(session_id))
            .filter(task::Column::Id.eq(id));
        Ok(fence.apply(update).exec(&self.writer).await.during("recording the session")?.rows_affected == 1)
    }

    /// Forgets the task's session: the CLI could not resume it, so the next run
    /// starts the turn afresh. `false` when the run no longer holds the task.
    pub async fn forget_session(&self, id: &str, fence: &Fence) -> Result<bool> {
        let update = task::Entity::update_many()
            .col_expr(task::Column::SessionId, Expr::value(Option::<String>::None))
            .col_expr(task::Column::ContinueTurn, Expr::value(false))
            .filter(task::Column::Id.eq(id));
        Ok(fence.apply(update).exec(&self.writer).await.during("forgetting the session")?.rows_affected == 1)
    }
}
