//! Runs lost with their node (an expired lease, a restart) and tasks restored
//! from a backup taken while they ran.

use sea_orm::sea_query::{Expr, ExprTrait};
use sea_orm::{ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter, QueryOrder, TransactionTrait};

use super::lease::{Fence, live_spend, without_live_spend};
use super::turns::set_turn_status;
use crate::store::entities::{JsonText, TaskStatus, task, task_event, task_turn};
use crate::store::events::{EventRecord, append};
use crate::store::{AuditEntry, Context, Result, Store, audit, outbox};
use crate::task::{ErrorKind, TaskError, TaskResult, Usage};

/// Where a task whose run was lost goes: cancelled if a cancel was asked, back
/// to the queue while attempts remain, else failed.
pub fn recovered_status(cancel_requested: bool, attempts: i32, max_attempts: i32) -> TaskStatus {
    if cancel_requested {
        TaskStatus::Cancelled
    } else if attempts < max_attempts {
        TaskStatus::Queued
    } else {
        TaskStatus::Failed
    }
}

/// The error a lost run leaves its task: a cancel that was asked wins over the loss.
pub(super) fn lost_run_error(status: TaskStatus, failure: TaskError) -> TaskError {
    match status {
        TaskStatus::Cancelled => {
            TaskError::new(ErrorKind::Cancelled, "the task was cancelled; its run was lost with its gateway node")
                .with_details(failure.details)
        }
        _ => failure,
    }
}

/// How a run lost for good ends its task: its partial result as the result
/// plugins left it, and their calls' events.
#[derive(Debug, Clone)]
pub struct LostEnding {
    pub result: TaskResult,
    pub events: Vec<EventRecord>,
}

/// What recovery did with a task whose run was lost.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RecoveredTask {
    Requeued(String),
    Failed(String),
    Cancelled(String),
}

impl Store {
    /// What `lost`, a run lost for good, produced before its node stopped, as the
    /// task's partial result (see `recover`): the text of its last `assistant`
    /// event, how many it said, and what the model proxy metered by its last lease
    /// renewal. (What it wrote is in its workspace.)
    pub async fn lost_run_result(&self, lost: &task::Model) -> Result<TaskResult> {
        let (conn, now) = (&self.reader, crate::timestamp::now_ms());
        let turn = task_turn::Entity::find()
            .filter(task_turn::Column::TaskId.eq(lost.id.clone()))
            .filter(task_turn::Column::TurnIndex.eq(lost.current_turn))
            .one(conn)
            .await
            .during("reading a lost run's turn")?;
        let since = turn.and_then(|t| t.started_at).or(lost.started_at).unwrap_or(now);
        let said = task_event::Entity::find()
            .filter(task_event::Column::TaskId.eq(lost.id.clone()))
            .filter(task_event::Column::EventType.eq("assistant"))
            .filter(task_event::Column::At.gte(since));
        let messages = said.clone().count(conn).await.during("counting a lost run's messages")?;
        let last = said.order_by_desc(task_event::Column::Seq).one(conn).await.during("reading a lost run's text")?;
        let text = last
            .and_then(|event| serde_json::from_str::<serde_json::Value>(&event.data).ok())
            .and_then(|data| data["text"].as_str().map(String::from));
        Ok(TaskResult {
            text,
            structured: None,
            session_id: lost.session_id.clone(),
            num_turns: u32::try_from(messages).unwrap_or(u32::MAX),
            usage: Usage {
                input_tokens: u64::try_from(lost.live_input_tokens).unwrap_or(0),
                output_tokens: u64::try_from(lost.live_output_tokens).unwrap_or(0),
                ..Usage::default()
            },
            cost_usd: u64::try_from(lost.live_cost_micros).unwrap_or(0) as f64 / 1e6,
            reported_cost_usd: None,
            duration_ms: u64::try_from(now - since).unwrap_or(0),
            partial: true,
        })
    }

    /// Running tasks whose run is lost: their lease expired, or (`not_owner`, for a
    /// single-node database at start-up) they are held by anyone but this node.
    pub async fn lost_runs(&self, not_owner: Option<&str>) -> Result<Vec<task::Model>> {
        let mut query = task::Entity::find().filter(task::Column::Status.eq(TaskStatus::Running));
        query = match not_owner {
            Some(owner) => {
                query.filter(task::Column::LeaseOwner.ne(owner.to_string()).or(task::Column::LeaseOwner.is_null()))
            }
            None => query.filter(task::Column::LeaseExpiresAt.lt(crate::timestamp::now_ms())),
        };
        query.all(&self.writer).await.during("finding lost runs")
    }

    /// After a restore: tasks that were running at backup time are queued again,
    /// their interrupted attempt not counted (their runs died with the old gateway
    /// through no fault of theirs). Returns how many.
    pub async fn requeue_restored(&self) -> Result<u64> {
        let now = crate::timestamp::now_ms();
        let running = task::Entity::find()
            .filter(task::Column::Status.eq(TaskStatus::Running))
            .all(&self.writer)
            .await
            .during("finding running tasks")?;
        for lost in &running {
            let txn = self.writer.begin().await.during("starting a transaction")?;
            let update = task::Entity::update_many()
                .col_expr(task::Column::Status, Expr::value(TaskStatus::Queued))
                .col_expr(task::Column::LeaseOwner, Expr::value(Option::<String>::None))
                .col_expr(task::Column::LeaseExpiresAt, Expr::value(Option::<i64>::None))
                .col_expr(task::Column::Attempts, Expr::value(std::cmp::max(lost.attempts - 1, 0)))
                .filter(task::Column::Id.eq(lost.id.clone()));
            // What the interrupted run held of its key's budget died with it.
            without_live_spend(update).exec(&txn).await.during("queueing a restored task")?;
            set_turn_status(&txn, &lost.id, Some(lost.current_turn), TaskStatus::Queued, now).await?;
            let events = [
                EventRecord::new(
                    "log",
                    serde_json::json!({"stream": "gateway", "line": "restored from a backup taken while it ran; queued again"}),
                ),
                EventRecord::new("status", serde_json::json!({"status": TaskStatus::Queued, "attempt": lost.attempts})),
            ];
            append(&txn, &lost.id, None, &events, now).await?;
            txn.commit().await.during("queueing a restored task")?;
        }
        Ok(running.len() as u64)
    }

    /// Re-queues (attempts left), cancels (cancel was asked) or fails a lost run;
    /// one that ends keeps `ending` (its partial result, see `lost_run_result`).
    pub async fn recover(
        &self,
        lost: &task::Model,
        max_attempts: i32,
        failure: TaskError,
        ending: Option<LostEnding>,
    ) -> Result<Option<RecoveredTask>> {
        let now = crate::timestamp::now_ms();
        let fence = Fence { owner: lost.lease_owner.clone().unwrap_or_default(), attempt: lost.attempts };
        let status = recovered_status(lost.cancel_requested, lost.attempts, max_attempts);
        let outcome = match status {
            TaskStatus::Queued => RecoveredTask::Requeued(lost.id.clone()),
            TaskStatus::Cancelled => RecoveredTask::Cancelled(lost.id.clone()),
            _ => RecoveredTask::Failed(lost.id.clone()),
        };
        let txn = self.writer.begin().await.during("starting a transaction")?;
        let mut update = task::Entity::update_many()
            .col_expr(task::Column::Status, Expr::value(status))
            .col_expr(task::Column::LeaseOwner, Expr::value(Option::<String>::None))
            .col_expr(task::Column::LeaseExpiresAt, Expr::value(Option::<i64>::None))
            .filter(task::Column::Id.eq(lost.id.clone()))
            .filter(task::Column::Status.eq(TaskStatus::Running))
            .filter(task::Column::Attempts.eq(lost.attempts))
            .filter(task::Column::CancelRequested.eq(lost.cancel_requested));
        update = match &lost.lease_owner {
            Some(owner) => update.filter(task::Column::LeaseOwner.eq(owner.clone())),
            None => update.filter(task::Column::LeaseOwner.is_null()),
        };
        // A lease renewed since it was read (a heartbeat late, not a node lost) keeps
        // its run: the update matches nothing.
        update = match lost.lease_expires_at {
            Some(expires) => update.filter(task::Column::LeaseExpiresAt.eq(expires)),
            None => update.filter(task::Column::LeaseExpiresAt.is_null()),
        };
        let failure = lost_run_error(status, failure);
        let ending = ending.filter(|_| status != TaskStatus::Queued);
        if status != TaskStatus::Queued {
            update = update
                .col_expr(task::Column::FinishedAt, Expr::value(now))
                .col_expr(task::Column::Error, Expr::value(JsonText::new(failure.clone())));
        }
        if let Some(LostEnding { result, .. }) = &ending {
            update = update.col_expr(task::Column::Result, Expr::value(JsonText::new(result.clone())));
        }
        if without_live_spend(update).exec(&txn).await.during("recovering a task")?.rows_affected == 0 {
            txn.rollback().await.during("recovering a task")?;
            return Ok(None); // its owner renewed the lease or finished meanwhile
        }
        // What the lost run used by its last lease renewal still counts against its key.
        let charged = live_spend(lost);
        if let Some(used) = &charged {
            crate::store::spend::record(&txn, used, now).await?;
        }
        set_turn_status(&txn, &lost.id, Some(lost.current_turn), status, now).await?;
        outbox::enqueue(&txn, self.webhooks.as_ref(), &lost.id, status, now).await?;
        let mut events = vec![EventRecord::new(
            "log",
            serde_json::json!({"stream": "gateway", "line": format!(
                "the run of attempt {} was lost (its gateway node stopped without finishing it)", fence.attempt)}),
        )];
        if let Some(LostEnding { result, events: plugin_events }) = ending {
            events.extend(plugin_events);
            events.push(EventRecord::new("result", serde_json::json!({"result": result})));
        }
        if status != TaskStatus::Queued {
            events.push(EventRecord::new("error", serde_json::json!({"error": failure})));
        }
        events.push(EventRecord::new("status", serde_json::json!({"status": status, "attempt": fence.attempt})));
        append(&txn, &lost.id, None, &events, now).await?;
        if status != TaskStatus::Queued {
            crate::store::steering::settle_waiting(
                &txn,
                &lost.id,
                lost.current_turn,
                status == TaskStatus::Cancelled,
                now,
            )
            .await?;
        }
        let entry = AuditEntry {
            key_id: Some(lost.key_id.clone()),
            target: Some(lost.id.clone()),
            details: Some(serde_json::json!({
                "attempt": fence.attempt,
                "recovered_as": status,
                "charged": charged.map(|used| serde_json::json!({
                    "cost_micros": used.cost_micros,
                    "input_tokens": used.input_tokens,
                    "output_tokens": used.output_tokens,
                })),
            })),
            ..AuditEntry::new("run.recover", "ok")
        };
        audit::record(&txn, entry, now).await?;
        txn.commit().await.during("recovering a task")?;
        Ok(Some(outcome))
    }
}

#[cfg(test)]
mod tests {
    use super::{lost_run_error, recovered_status};
    use crate::store::entities::TaskStatus;
    use crate::task::{ErrorKind, TaskError};

    #[test]
    fn a_lost_run_of_a_cancelled_task_says_cancelled() {
        let lost = TaskError::new(ErrorKind::AgentCrashed, "lost").with_details(serde_json::json!({"attempts": 1}));
        let cancelled = lost_run_error(TaskStatus::Cancelled, lost.clone());
        assert_eq!((cancelled.kind, &cancelled.details), (ErrorKind::Cancelled, &lost.details));
        assert_eq!(lost_run_error(TaskStatus::Failed, lost.clone()), lost);
    }

    #[test]
    fn a_lost_run_is_cancelled_if_asked_requeued_while_attempts_remain_else_failed() {
        let rows = [
            (false, 1, 3, TaskStatus::Queued),
            (false, 2, 3, TaskStatus::Queued),
            (false, 3, 3, TaskStatus::Failed),
            (true, 1, 3, TaskStatus::Cancelled),
            (true, 3, 3, TaskStatus::Cancelled),
        ];
        for (cancel, attempts, max, status) in rows {
            assert_eq!(recovered_status(cancel, attempts, max), status, "cancel {cancel}, attempt {attempts} of {max}");
        }
    }
}
