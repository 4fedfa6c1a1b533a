//! A task's turns: the rows of each prompt and its state, and queueing the next
//! turn of a finished task.

use sea_orm::sea_query::Expr;
use sea_orm::{
    ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect, Set, TransactionTrait, UpdateMany,
};

use crate::store::entities::{JsonText, TaskStatus, task, task_turn};
use crate::store::events::{EventRecord, append};
use crate::store::{AuditEntry, Context, Result, Store, audit};
use crate::task::TaskError;

impl Store {
    /// Queues the next turn of a finished task: the task and its turns as queued
    /// (read in the same transaction: a worker may claim it the moment it commits).
    /// `None` when the task is not finished.
    pub async fn queue_follow_up(
        &self,
        id: &str,
        prompt: &str,
        events: &[EventRecord],
        audit_entry: AuditEntry,
    ) -> Result<Option<(task::Model, Vec<task_turn::Model>)>> {
        let now = crate::timestamp::now_ms();
        let txn = self.writer.begin().await.during("starting a transaction")?;
        // After the last turn recorded: a message sent into a run and cancelled with
        // it has a turn above the current one.
        let turn = next_turn_index(&txn, id).await?;
        let changed = queue_turn(id, turn, now)
            .col_expr(task::Column::CancelRequested, Expr::value(false))
            .filter(task::Column::Status.is_in(TaskStatus::TERMINAL))
            .filter(task::Column::WorkspaceExpiredAt.is_null())
            .exec(&txn)
            .await
            .during("queueing a follow-up")?
            .rows_affected
            == 1;
        if !changed {
            txn.rollback().await.during("queueing a follow-up")?;
            return Ok(None);
        }
        insert_turn(&txn, id, turn, prompt, now).await?;
        append(&txn, id, None, events, now).await?;
        audit::record(&txn, AuditEntry { target: Some(id.to_string()), ..audit_entry }, now).await?;
        let queued = task::Entity::find_by_id(id).one(&txn).await.during("reading the queued task")?;
        let turns = turns_of(&txn, id).await?;
        txn.commit().await.during("queueing a follow-up")?;
        Ok(queued.map(|task| (task, turns)))
    }
}

/// The update that queues the task for its turn `turn`, a fresh start: no attempt
/// counted, no error, no wait.
pub(in crate::store) fn queue_turn(id: &str, turn: i32, now: i64) -> UpdateMany<task::Entity> {
    task::Entity::update_many()
        .col_expr(task::Column::Status, Expr::value(TaskStatus::Queued))
        .col_expr(task::Column::CurrentTurn, Expr::value(turn))
        .col_expr(task::Column::Attempts, Expr::value(0))
        .col_expr(task::Column::EnqueuedAt, Expr::value(now))
        .col_expr(task::Column::FinishedAt, Expr::value(Option::<i64>::None))
        .col_expr(task::Column::Error, Expr::value(Option::<JsonText<TaskError>>::None))
        .col_expr(task::Column::NotBefore, Expr::value(Option::<i64>::None))
        .col_expr(task::Column::ContinueTurn, Expr::value(false))
        .filter(task::Column::Id.eq(id))
}

/// The index a new turn of the task gets: one after the last recorded.
pub(in crate::store) async fn next_turn_index(conn: &impl ConnectionTrait, task_id: &str) -> Result<i32> {
    let last = task_turn::Entity::find()
        .filter(task_turn::Column::TaskId.eq(task_id))
        .order_by_desc(task_turn::Column::TurnIndex)
        .one(conn)
        .await
        .during("reading turns")?;
    Ok(last.map_or(0, |t| t.turn_index + 1))
}

pub(in crate::store) async fn insert_turn(
    conn: &impl ConnectionTrait,
    task_id: &str,
    index: i32,
    prompt: &str,
    now: i64,
) -> Result<()> {
    let turn = task_turn::ActiveModel {
        task_id: Set(task_id.to_string()),
        turn_index: Set(index),
        prompt: Set(prompt.to_string()),
        status: Set(TaskStatus::Queued),
        created_at: Set(now),
        started_at: Set(None),
        finished_at: Set(None),
        claude_code_version: Set(None),
    };
    task_turn::Entity::insert(turn).exec_without_returning(conn).await.during("recording a turn")?;
    Ok(())
}

/// Sets the status of turn `index` (the current one when `None`).
pub(in crate::store) async fn set_turn_status(
    conn: &impl ConnectionTrait,
    task_id: &str,
    index: Option<i32>,
    status: TaskStatus,
    now: i64,
) -> Result<()> {
    let index = match index {
        Some(i) => i,
        None => task::Entity::find_by_id(task_id)
            .select_only()
            .column(task::Column::CurrentTurn)
            .into_tuple()
            .one(conn)
            .await
            .during("reading a turn")?
            .unwrap_or(0),
    };
    let mut update = task_turn::Entity::update_many()
        .col_expr(task_turn::Column::Status, Expr::value(status))
        .filter(task_turn::Column::TaskId.eq(task_id))
        .filter(task_turn::Column::TurnIndex.eq(index));
    update = match status {
        TaskStatus::Running => update.col_expr(task_turn::Column::StartedAt, Expr::value(now)),
        TaskStatus::Queued => update,
        TaskStatus::Completed | TaskStatus::Failed | TaskStatus::Cancelled => {
            update.col_expr(task_turn::Column::FinishedAt, Expr::value(now))
        }
    };
    update.exec(conn).await.during("updating a turn")?;
    Ok(())
}

/// A task's turns in order, read through `conn` (a pool or a transaction).
pub(in crate::store) async fn turns_of(conn: &impl ConnectionTrait, task_id: &str) -> Result<Vec<task_turn::Model>> {
    task_turn::Entity::find()
        .filter(task_turn::Column::TaskId.eq(task_id))
        .order_by_asc(task_turn::Column::TurnIndex)
        .all(conn)
        .await
        .during("reading turns")
}
