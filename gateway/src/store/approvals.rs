//! Permission prompts asked of a person: written pending, decided once (a decision
//! is a conditional update, so a client and the timeout cannot both win), expired
//! when their run ends.

use sea_orm::sea_query::Expr;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect, Set, TransactionTrait,
};

use super::entities::approval::{self, ApprovalState};
use super::entities::{TaskStatus, task};
use super::{Context, Result, Store};

/// A prompt to record.
#[derive(Debug, Clone)]
pub struct NewApproval {
    pub id: String,
    pub task_id: String,
    pub run_id: String,
    pub turn: i32,
    pub tool: String,
    pub input: String,
    pub reason: Option<String>,
    pub requested_at: i64,
    pub expires_at: i64,
}

/// A decision to record.
#[derive(Debug, Clone)]
pub struct ApprovalDecision {
    pub decision: &'static str,
    pub decided_by: &'static str,
    pub message: Option<String>,
    pub updated_input: Option<String>,
}

/// Which runs' prompts an expiry is for.
#[derive(Debug, Clone, Copy)]
pub enum Runs<'a> {
    Only(&'a str),
    Except(&'a str),
}

/// Most prompts one task lists (the newest).
const MAX_LISTED: u64 = 1000;

/// The row of `new`: pending, or decided at its asking when `decision` is given.
fn row_of(new: NewApproval, decision: Option<ApprovalDecision>) -> approval::ActiveModel {
    let state = if decision.is_some() { ApprovalState::Decided } else { ApprovalState::Pending };
    approval::ActiveModel {
        id: Set(new.id),
        task_id: Set(new.task_id),
        run_id: Set(new.run_id),
        turn: Set(new.turn),
        tool: Set(new.tool),
        input: Set(new.input),
        reason: Set(new.reason),
        state: Set(state),
        decision: Set(decision.as_ref().map(|d| d.decision.to_string())),
        decided_by: Set(decision.as_ref().map(|d| d.decided_by.to_string())),
        message: Set(decision.as_ref().and_then(|d| d.message.clone())),
        updated_input: Set(decision.and_then(|d| d.updated_input)),
        requested_at: Set(new.requested_at),
        expires_at: Set(new.expires_at),
        decided_at: Set((state == ApprovalState::Decided).then_some(new.requested_at)),
    }
}

impl Store {
    pub async fn insert_approval(&self, new: NewApproval) -> Result<approval::Model> {
        let txn = self.writer.begin().await.during("starting a transaction")?;
        let row = row_of(new, None).insert(&txn).await.during("recording a permission prompt")?;
        // The webhook goes out with the prompt, or neither is written.
        if let Some(task) = task::Entity::find_by_id(&row.task_id).one(&txn).await.during("reading a task")? {
            let event = super::outbox::OutboxEvent::ApprovalRequested(&row);
            super::outbox::enqueue_for(&txn, self.webhooks.as_ref(), &task, event, row.requested_at).await?;
        }
        txn.commit().await.during("recording a permission prompt")?;
        Ok(row)
    }

    /// Records a prompt decided at once (by the task's mode or rules, or a plugin), so
    /// that the task's list of prompts has every one. No webhook: none waited.
    pub async fn record_decided_approval(&self, new: NewApproval, decision: ApprovalDecision) -> Result<()> {
        row_of(new, Some(decision)).insert(&self.writer).await.during("recording a decided permission prompt")?;
        Ok(())
    }

    /// Decides a pending prompt of `task_id`; `None` when it is not pending (any more).
    pub async fn decide_approval(
        &self,
        task_id: &str,
        id: &str,
        decision: ApprovalDecision,
    ) -> Result<Option<approval::Model>> {
        let updated = approval::Entity::update_many()
            .col_expr(approval::Column::State, Expr::value(ApprovalState::Decided))
            .col_expr(approval::Column::Decision, Expr::value(decision.decision))
            .col_expr(approval::Column::DecidedBy, Expr::value(decision.decided_by))
            .col_expr(approval::Column::Message, Expr::value(decision.message))
            .col_expr(approval::Column::UpdatedInput, Expr::value(decision.updated_input))
            .col_expr(approval::Column::DecidedAt, Expr::value(crate::timestamp::now_ms()))
            .filter(approval::Column::Id.eq(id))
            .filter(approval::Column::TaskId.eq(task_id))
            .filter(approval::Column::State.eq(ApprovalState::Pending))
            .exec(&self.writer)
            .await
            .during("deciding a permission prompt")?;
        if updated.rows_affected == 0 {
            return Ok(None);
        }
        self.approval(task_id, id).await
    }

    /// Marks the pending prompts of `task_id` expired: those of `run` (it ended), or
    /// with `Runs::Except`, those of every other run (they died with their gateway).
    pub async fn expire_approvals(&self, task_id: &str, runs: Runs<'_>) -> Result<u64> {
        let query = approval::Entity::update_many()
            .col_expr(approval::Column::State, Expr::value(ApprovalState::Expired))
            .col_expr(approval::Column::DecidedAt, Expr::value(crate::timestamp::now_ms()))
            .filter(approval::Column::TaskId.eq(task_id))
            .filter(approval::Column::State.eq(ApprovalState::Pending));
        let query = match runs {
            Runs::Only(run) => query.filter(approval::Column::RunId.eq(run)),
            Runs::Except(run) => query.filter(approval::Column::RunId.ne(run)),
        };
        let updated = query.exec(&self.writer).await.during("expiring permission prompts")?;
        Ok(updated.rows_affected)
    }

    /// Expires the pending prompts of tasks that are no longer running: left by a
    /// gateway that died while they waited (at start-up).
    pub async fn expire_orphaned_approvals(&self) -> Result<u64> {
        use super::entities::task;
        use sea_orm::sea_query::Query;
        let running = Query::select()
            .column(task::Column::Id)
            .from(task::Entity)
            .and_where(task::Column::Status.eq(TaskStatus::Running))
            .to_owned();
        let updated = approval::Entity::update_many()
            .col_expr(approval::Column::State, Expr::value(ApprovalState::Expired))
            .col_expr(approval::Column::DecidedAt, Expr::value(crate::timestamp::now_ms()))
            .filter(approval::Column::State.eq(ApprovalState::Pending))
            .filter(approval::Column::TaskId.not_in_subquery(running))
            .exec(&self.writer)
            .await
            .during("expiring orphaned permission prompts")?;
        Ok(updated.rows_affected)
    }

    pub async fn approval(&self, task_id: &str, id: &str) -> Result<Option<approval::Model>> {
        approval::Entity::find_by_id(id.to_string())
            .filter(approval::Column::TaskId.eq(task_id))
            .one(&self.reader)
            .await
            .during("reading a permission prompt")
    }

    /// A task's newest prompts, oldest first; only the pending ones with `pending_only`.
    /// The newest decision a client gave an earlier run of `task_id` for the same
    /// call (`tool` with `input`, as stored) in turn `turn`: a run recovered after its
    /// gateway died asks again, and what was decided is not asked twice.
    pub async fn earlier_decision(
        &self,
        task_id: &str,
        turn: i32,
        run_id: &str,
        tool: &str,
        input: &str,
    ) -> Result<Option<approval::Model>> {
        approval::Entity::find()
            .filter(approval::Column::TaskId.eq(task_id))
            .filter(approval::Column::Turn.eq(turn))
            .filter(approval::Column::RunId.ne(run_id))
            .filter(approval::Column::State.eq(ApprovalState::Decided))
            .filter(approval::Column::DecidedBy.eq("client"))
            .filter(approval::Column::Tool.eq(tool))
            .filter(approval::Column::Input.eq(input))
            .order_by_desc(approval::Column::DecidedAt)
            .one(&self.reader)
            .await
            .during("looking for an earlier decision")
    }

    pub async fn approvals_of(&self, task_id: &str, pending_only: bool) -> Result<Vec<approval::Model>> {
        let mut query = approval::Entity::find().filter(approval::Column::TaskId.eq(task_id));
        if pending_only {
            query = query.filter(approval::Column::State.eq(ApprovalState::Pending));
        }
        let mut newest = query
            .order_by_desc(approval::Column::RequestedAt)
            .order_by_desc(approval::Column::Id)
            .limit(MAX_LISTED)
            .all(&self.reader)
            .await
            .during("listing permission prompts")?;
        newest.reverse();
        Ok(newest)
    }
}
