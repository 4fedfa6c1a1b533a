//! A task's event log. Sequence numbers come from a counter on the task row,
//! bumped in the same transaction as the insert (and fenced, for a run's events),
//! so they are gap-free per task and a run that lost its lease writes nothing.

use sea_orm::sea_query::{Expr, ExprTrait};
use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect, Set, TransactionTrait};
use serde_json::{Map, Value};

use super::entities::{task, task_event};
use super::{Context, Fence, Result, Store, StoreError};

/// An event to append: its type and payload (the envelope is added on read).
#[derive(Debug, Clone, PartialEq)]
pub struct EventRecord {
    pub event_type: String,
    pub data: Value,
}

impl EventRecord {
    pub fn new(event_type: impl Into<String>, data: Value) -> Self {
        Self { event_type: event_type.into(), data }
    }
}

/// An event as stored.
#[derive(Debug, Clone, PartialEq)]
pub struct StoredEvent {
    pub task_id: String,
    pub seq: i64,
    pub event_type: String,
    pub at: i64,
    pub data: Value,
}

impl StoredEvent {
    /// The event as clients see it: `{seq, type, at, task_id, …payload}`.
    pub fn to_json(&self) -> Value {
        let mut object = Map::new();
        object.insert("seq".into(), self.seq.into());
        object.insert("type".into(), self.event_type.clone().into());
        object.insert("at".into(), crate::timestamp::format_ms(self.at).into());
        object.insert("task_id".into(), self.task_id.clone().into());
        if let Value::Object(payload) = &self.data {
            for (k, v) in payload {
                object.entry(k.clone()).or_insert_with(|| v.clone());
            }
        }
        Value::Object(object)
    }
}

/// Appends `events` on `conn` (a transaction). Returns the last sequence number,
/// or `None` when `fence` no longer holds the task.
pub(crate) async fn append(
    conn: &impl ConnectionTrait,
    task_id: &str,
    fence: Option<&Fence>,
    events: &[EventRecord],
    at: i64,
) -> Result<Option<i64>> {
    if events.is_empty() {
        return Ok(Some(0));
    }
    let count = events.len() as i64;
    let mut bump = task::Entity::update_many()
        .col_expr(task::Column::EventSeq, Expr::col(task::Column::EventSeq).add(count))
        .filter(task::Column::Id.eq(task_id));
    if let Some(fence) = fence {
        bump = fence.apply(bump);
    }
    if bump.exec(conn).await.during("numbering events")?.rows_affected == 0 {
        return Ok(None);
    }
    let last: i64 = task::Entity::find_by_id(task_id)
        .select_only()
        .column(task::Column::EventSeq)
        .into_tuple()
        .one(conn)
        .await
        .during("numbering events")?
        .ok_or_else(|| StoreError::Corrupt(format!("task {task_id} vanished while appending events")))?;
    insert_numbered(conn, task_id, last - count + 1, events, at).await?;
    Ok(Some(last))
}

/// Inserts `events` numbered from `first`: the numbers are the caller's (a new
/// task's first events, numbered with its row), or `append`'s.
pub(crate) async fn insert_numbered(
    conn: &impl ConnectionTrait,
    task_id: &str,
    first: i64,
    events: &[EventRecord],
    at: i64,
) -> Result<()> {
    if events.is_empty() {
        return Ok(());
    }
    let rows = events.iter().enumerate().map(|(i, event)| task_event::ActiveModel {
        task_id: Set(task_id.to_string()),
        seq: Set(first + i as i64),
        event_type: Set(event.event_type.clone()),
        at: Set(at),
        data: Set(event.data.to_string()),
    });
    task_event::Entity::insert_many(rows).exec_without_returning(conn).await.during("appending events")?;
    Ok(())
}

impl Store {
    /// Appends events in their own transaction; `None` when fenced out.
    pub async fn append_events(
        &self,
        task_id: &str,
        fence: Option<&Fence>,
        events: &[EventRecord],
    ) -> Result<Option<i64>> {
        let txn = self.writer.begin().await.during("starting a transaction")?;
        let last = append(&txn, task_id, fence, events, crate::timestamp::now_ms()).await?;
        txn.commit().await.during("committing events")?;
        Ok(last)
    }

    /// Events of a task with `seq > after`, oldest first.
    pub async fn events_after(&self, task_id: &str, after: i64, limit: u64) -> Result<Vec<StoredEvent>> {
        let rows = task_event::Entity::find()
            .filter(task_event::Column::TaskId.eq(task_id))
            .filter(task_event::Column::Seq.gt(after))
            .order_by_asc(task_event::Column::Seq)
            .limit(limit)
            .all(&self.reader)
            .await
            .during("reading events")?;
        Ok(rows
            .into_iter()
            .map(|row| StoredEvent {
                data: serde_json::from_str(&row.data).unwrap_or(Value::Null),
                task_id: row.task_id,
                seq: row.seq,
                event_type: row.event_type,
                at: row.at,
            })
            .collect())
    }
}
