//! The last write of a run: its outcome, or its task back in the queue (a retry,
//! a shutdown, a spent budget).

use sea_orm::sea_query::{Expr, ExprTrait};
use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, TransactionTrait};

use super::artifacts::replace_artifacts;
use super::lease::{Fence, without_live_spend};
use super::turns::set_turn_status;
use crate::artifacts::Artifact;
use crate::store::entities::{JsonText, TaskStatus, task, task_turn};
use crate::store::events::{EventRecord, append};
use crate::store::{AuditEntry, Context, Result, RunCost, Store, audit, outbox};
use crate::task::{TaskError, TaskResult};

/// Artifacts collected after a turn, and the storage set that holds their files.
#[derive(Debug, Clone)]
pub struct ArtifactSet {
    pub set: String,
    pub artifacts: Vec<Artifact>,
}

/// The final write of a run.
#[derive(Debug, Clone)]
pub struct FinishRun {
    pub status: TaskStatus,
    pub result: Option<TaskResult>,
    pub error: Option<TaskError>,
    pub session_id: Option<String>,
    pub events: Vec<EventRecord>,
    /// The turn's artifacts, replacing earlier ones; `None` leaves them as they are.
    pub artifacts: Option<ArtifactSet>,
    /// What `system/init` said, kept on the turn.
    pub claude_code_version: Option<String>,
    /// What the run cost its key.
    pub cost: Option<RunCost>,
    /// The workspace snapshot saved after the turn, recorded with its outcome (so a
    /// rerun never starts from a snapshot that already holds the turn).
    pub snapshot: Option<String>,
    pub audit: AuditEntry,
}

/// A run's task going back to the queue after a transient failure.
#[derive(Debug, Clone, Copy)]
pub struct RetryRun<'a> {
    pub turn: i32,
    /// Not claimed before this time.
    pub not_before: i64,
    /// The session holds the turn's prompt: the next run continues instead.
    pub continue_turn: bool,
    /// What the failed run cost its key.
    pub cost: Option<&'a RunCost>,
    pub events: &'a [EventRecord],
}

impl Store {
    /// Writes the outcome of a run. `false` when the run no longer holds the task.
    pub async fn finish_run(&self, id: &str, fence: &Fence, turn: i32, finish: FinishRun) -> Result<bool> {
        let now = crate::timestamp::now_ms();
        let txn = self.writer.begin().await.during("starting a transaction")?;
        if append(&txn, id, Some(fence), &finish.events, now).await?.is_none() {
            txn.rollback().await.during("finishing a run")?;
            return Ok(false);
        }
        let sample = run_sample(&txn, id, turn, &finish, now).await?;
        let update = task::Entity::update_many()
            .col_expr(task::Column::Status, Expr::value(finish.status))
            .col_expr(task::Column::FinishedAt, Expr::value(now))
            .col_expr(task::Column::LeaseOwner, Expr::value(Option::<String>::None))
            .col_expr(task::Column::LeaseExpiresAt, Expr::value(Option::<i64>::None))
            .col_expr(task::Column::Result, Expr::value(finish.result.map(JsonText::new)))
            .col_expr(task::Column::ContinueTurn, Expr::value(false))
            .col_expr(task::Column::Error, Expr::value(finish.error.map(JsonText::new)))
            .filter(task::Column::Id.eq(id));
        let mut update = without_live_spend(update);
        if let Some(session) = finish.session_id {
            update = update.col_expr(task::Column::SessionId, Expr::value(session));
        }
        if let Some(snapshot) = finish.snapshot {
            update = update.col_expr(task::Column::Snapshot, Expr::value(snapshot));
        }
        if let Some(artifacts) = &finish.artifacts {
            update = update
                .col_expr(task::Column::ArtifactsExpiredAt, Expr::value(Option::<i64>::None))
                .col_expr(task::Column::ArtifactSet, Expr::value(artifacts.set.clone()));
        }
        if fence.apply(update).exec(&txn).await.during("finishing a run")?.rows_affected == 0 {
            txn.rollback().await.during("finishing a run")?;
            return Ok(false);
        }
        crate::store::rollup::record(&txn, &sample, now).await?;
        set_turn_status(&txn, id, Some(turn), finish.status, now).await?;
        let cancel_requested =
            task::Entity::find_by_id(id).one(&txn).await.during("finishing a run")?.is_some_and(|t| t.cancel_requested);
        let cancelled = finish.status == TaskStatus::Cancelled || cancel_requested;
        crate::store::steering::settle_waiting(&txn, id, turn, cancelled, now).await?;
        if let Some(version) = finish.claude_code_version {
            task_turn::Entity::update_many()
                .col_expr(task_turn::Column::ClaudeCodeVersion, Expr::value(version))
                .filter(task_turn::Column::TaskId.eq(id))
                .filter(task_turn::Column::TurnIndex.eq(turn))
                .exec(&txn)
                .await
                .during("finishing a run")?;
        }
        if let Some(artifacts) = finish.artifacts {
            replace_artifacts(&txn, id, artifacts.artifacts, now).await?;
        }
        if let Some(cost) = &finish.cost {
            crate::store::spend::record(&txn, cost, now).await?;
        }
        outbox::enqueue(&txn, self.webhooks.as_ref(), id, finish.status, now).await?;
        audit::record(&txn, AuditEntry { target: Some(id.to_string()), ..finish.audit }, now).await?;
        txn.commit().await.during("finishing a run")?;
        Ok(true)
    }

    /// Puts a run's task back in the queue after a transient failure: the attempt
    /// counts, and the task is not claimed before `not_before`.
    pub async fn retry_run(&self, id: &str, fence: &Fence, retry: RetryRun<'_>) -> Result<bool> {
        let RetryRun { turn, not_before, continue_turn, cost, events } = retry;
        let now = crate::timestamp::now_ms();
        let txn = self.writer.begin().await.during("starting a transaction")?;
        // Not when a cancel came in meanwhile: the caller finishes the task instead.
        let update = task::Entity::update_many()
            .col_expr(task::Column::Status, Expr::value(TaskStatus::Queued))
            .col_expr(task::Column::NotBefore, Expr::value(not_before))
            .col_expr(task::Column::ContinueTurn, Expr::value(continue_turn))
            .col_expr(task::Column::LeaseOwner, Expr::value(Option::<String>::None))
            .col_expr(task::Column::LeaseExpiresAt, Expr::value(Option::<i64>::None))
            .filter(task::Column::Id.eq(id))
            .filter(task::Column::CancelRequested.eq(false));
        let update = without_live_spend(update);
        if fence.apply(update).exec(&txn).await.during("re-queueing a task")?.rows_affected == 0 {
            txn.rollback().await.during("re-queueing a task")?;
            return Ok(false);
        }
        append(&txn, id, None, events, now).await?;
        set_turn_status(&txn, id, Some(turn), TaskStatus::Queued, now).await?;
        // The failed attempt may have cost something: it counts against the key.
        if let Some(cost) = cost {
            crate::store::spend::record(&txn, cost, now).await?;
        }
        txn.commit().await.during("re-queueing a task")?;
        Ok(true)
    }

    /// Puts a run's task back in the queue without counting the attempt (shutdown).
    /// `not_before` keeps it from being claimed again before then (a spent budget).
    pub async fn requeue_run(
        &self,
        id: &str,
        fence: &Fence,
        turn: i32,
        not_before: Option<i64>,
        cost: Option<&RunCost>,
        events: &[EventRecord],
    ) -> Result<bool> {
        let now = crate::timestamp::now_ms();
        let txn = self.writer.begin().await.during("starting a transaction")?;
        if append(&txn, id, Some(fence), events, now).await?.is_none() {
            txn.rollback().await.during("re-queueing a task")?;
            return Ok(false);
        }
        let update = task::Entity::update_many()
            .col_expr(task::Column::Status, Expr::value(TaskStatus::Queued))
            .col_expr(task::Column::NotBefore, Expr::value(not_before))
            .col_expr(task::Column::Attempts, Expr::col(task::Column::Attempts).sub(1))
            .col_expr(task::Column::LeaseOwner, Expr::value(Option::<String>::None))
            .col_expr(task::Column::LeaseExpiresAt, Expr::value(Option::<i64>::None))
            .filter(task::Column::Id.eq(id));
        let update = without_live_spend(update);
        let changed = fence.apply(update).exec(&txn).await.during("re-queueing a task")?.rows_affected == 1;
        if changed {
            set_turn_status(&txn, id, Some(turn), TaskStatus::Queued, now).await?;
            // The stopped run used the model for a while: that counts against the key.
            if let Some(cost) = cost {
                crate::store::spend::record(&txn, cost, now).await?;
            }
        }
        txn.commit().await.during("re-queueing a task")?;
        Ok(changed)
    }
}

/// What the usage rollup counts of a run that finished `turn`: its times come
/// from the turn (submitted, started), read before the finish overwrites them.
async fn run_sample(
    conn: &impl ConnectionTrait,
    id: &str,
    turn: i32,
    finish: &FinishRun,
    now: i64,
) -> Result<crate::store::rollup::RunSample> {
    let row = task_turn::Entity::find_by_id((id.to_string(), turn)).one(conn).await.during("reading a turn")?;
    let started = row.as_ref().and_then(|t| t.started_at);
    let cost = finish.cost.clone().unwrap_or_default();
    Ok(crate::store::rollup::RunSample {
        status: finish.status,
        run_ms: started.map(|at| Ord::max(now - at, 0)),
        queue_wait_ms: row.as_ref().zip(started).map(|(t, at)| Ord::max(at - t.created_at, 0)),
        input_tokens: cost.input_tokens,
        output_tokens: cost.output_tokens,
        cost_micros: cost.cost_micros,
    })
}
