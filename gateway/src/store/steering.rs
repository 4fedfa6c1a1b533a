//! Turns of messages sent into a running task (`delivery` `queue` or `interrupt`):
//! recorded `queued` when accepted, `running` once the CLI took them, and — when the
//! run ended before it took them — queued as the task's next turns, so an accepted
//! message is never lost (unless the task is cancelled: then they are cancelled).

use sea_orm::sea_query::Expr;
use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, PaginatorTrait, QueryFilter, QueryOrder, TransactionTrait};

use super::entities::{TaskStatus, task, task_turn};
use super::events::{EventRecord, append};
use super::tasks::{Fence, insert_turn, next_turn_index, queue_turn, set_turn_status};
use super::{AuditEntry, Context, Result, Store, audit};

/// Most messages of one task waiting for the CLI to take them.
pub const MAX_WAITING_MESSAGES: u64 = 16;

/// What recording a message for a running task did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LiveTurn {
    /// Recorded as this turn, `queued` until the CLI takes it.
    Added(i32),
    /// The task is not running (its status at the time).
    NotRunning,
    /// `MAX_WAITING_MESSAGES` are waiting already.
    TooMany,
}

impl Store {
    /// Records `prompt` as the next turn of a running task, with `events` (the policy
    /// plugins'), a `message` event naming its turn and `delivery`, and the audit
    /// entry, all or nothing.
    pub async fn add_live_turn(
        &self,
        id: &str,
        prompt: &str,
        delivery: &str,
        events: &[EventRecord],
        audit_entry: AuditEntry,
    ) -> Result<LiveTurn> {
        let now = crate::timestamp::now_ms();
        let txn = self.writer().begin().await.during("starting a transaction")?;
        // A no-op update takes SQLite's write lock before the status is read, so a
        // run cannot finish between the check and the insert.
        task::Entity::update_many()
            .col_expr(task::Column::Id, Expr::col(task::Column::Id))
            .filter(task::Column::Id.eq(id))
            .exec(&txn)
            .await
            .during("recording a message")?;
        let running = task::Entity::find_by_id(id)
            .filter(task::Column::Status.eq(TaskStatus::Running))
            .one(&txn)
            .await
            .during("recording a message")?;
        let Some(task) = running else {
            txn.rollback().await.during("recording a message")?;
            return Ok(LiveTurn::NotRunning);
        };
        let waiting = waiting_turns(id, task.current_turn).count(&txn).await.during("recording a message")?;
        if waiting >= MAX_WAITING_MESSAGES {
            txn.rollback().await.during("recording a message")?;
            return Ok(LiveTurn::TooMany);
        }
        let turn = next_turn_index(&txn, id).await?;
        insert_turn(&txn, id, turn, prompt, now).await?;
        let mut events = events.to_vec();
        events.push(EventRecord::new("message", serde_json::json!({"turn": turn, "delivery": delivery})));
        append(&txn, id, None, &events, now).await?;
        audit::record(&txn, AuditEntry { target: Some(id.to_string()), ..audit_entry }, now).await?;
        txn.commit().await.during("recording a message")?;
        Ok(LiveTurn::Added(turn))
    }

    /// The CLI took the message of `turn`: the turns before it are done, it runs.
    /// `false` when the run no longer holds the task.
    pub async fn begin_turn(&self, id: &str, fence: &Fence, turn: i32) -> Result<bool> {
        let now = crate::timestamp::now_ms();
        let txn = self.writer().begin().await.during("starting a transaction")?;
        let update = task::Entity::update_many()
            .col_expr(task::Column::CurrentTurn, Expr::value(turn))
            .col_expr(task::Column::ContinueTurn, Expr::value(false))
            .filter(task::Column::Id.eq(id));
        if fence.apply(update).exec(&txn).await.during("starting a turn")?.rows_affected == 0 {
            txn.rollback().await.during("starting a turn")?;
            return Ok(false);
        }
        end_turns(&txn, id, task_turn::Column::TurnIndex.lt(turn), TaskStatus::Running, TaskStatus::Completed, now)
            .await?;
        set_turn_status(&txn, id, Some(turn), TaskStatus::Running, now).await?;
        txn.commit().await.during("starting a turn")?;
        Ok(true)
    }
}

/// Moves the task's turns in status `from` that match `which` to the finished status `to`.
async fn end_turns(
    conn: &impl ConnectionTrait,
    id: &str,
    which: sea_orm::sea_query::SimpleExpr,
    from: TaskStatus,
    to: TaskStatus,
    now: i64,
) -> Result<()> {
    task_turn::Entity::update_many()
        .col_expr(task_turn::Column::Status, Expr::value(to))
        .col_expr(task_turn::Column::FinishedAt, Expr::value(now))
        .filter(task_turn::Column::TaskId.eq(id))
        .filter(which)
        .filter(task_turn::Column::Status.eq(from))
        .exec(conn)
        .await
        .during("ending turns")?;
    Ok(())
}

/// Turns after `turn` still waiting: messages no run has taken yet.
fn waiting_turns(id: &str, turn: i32) -> sea_orm::Select<task_turn::Entity> {
    task_turn::Entity::find()
        .filter(task_turn::Column::TaskId.eq(id))
        .filter(task_turn::Column::TurnIndex.gt(turn))
        .filter(task_turn::Column::Status.eq(TaskStatus::Queued))
}

/// After a run of the task ended at `turn` (in the caller's transaction): messages
/// it never took become the next turn (the task is queued again for the first of
/// them), or are cancelled with the task. Returns the turn queued, if any.
pub(super) async fn settle_waiting(
    txn: &impl ConnectionTrait,
    id: &str,
    turn: i32,
    cancelled: bool,
    now: i64,
) -> Result<Option<i32>> {
    let waiting = waiting_turns(id, turn)
        .order_by_asc(task_turn::Column::TurnIndex)
        .all(txn)
        .await
        .during("settling messages")?;
    let Some(next) = waiting.first().map(|t| t.turn_index) else { return Ok(None) };
    if cancelled {
        end_turns(txn, id, task_turn::Column::TurnIndex.gt(turn), TaskStatus::Queued, TaskStatus::Cancelled, now)
            .await?;
        return Ok(None);
    }
    queue_turn(id, next, now).exec(txn).await.during("queueing a message's turn")?;
    let event = EventRecord::new(
        "status",
        serde_json::json!({"status": TaskStatus::Queued, "attempt": 0, "turn": next,
                           "notice": "a message sent into the run was not taken before it ended; it runs as the next turn"}),
    );
    append(txn, id, None, &[event], now).await?;
    Ok(Some(next))
}
