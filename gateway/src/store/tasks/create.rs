//! Inserting a task: its row, first turn, metadata, first events and audit entry,
//! under the key's queue cap and its `Idempotency-Key`.

use std::collections::BTreeMap;

use sea_orm::sea_query::OnConflict;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, DbBackend, EntityTrait, PaginatorTrait, QueryFilter, QuerySelect, Set,
    TransactionTrait,
};

use super::turns::insert_turn;
use crate::store::entities::{JsonText, TaskStatus, api_key, idempotency_record, task, task_metadata};
use crate::store::events::{EventRecord, insert_numbered};
use crate::store::{AuditEntry, Context, Result, Store, StoreError, audit};

/// A new task as it is inserted.
#[derive(Debug, Clone)]
pub struct NewTaskRow {
    pub id: String,
    pub key_id: String,
    pub priority: i32,
    pub prompt: String,
    pub options: crate::task::TaskOptions,
    pub metadata: BTreeMap<String, String>,
    /// The client's `Idempotency-Key` and a hash of its request, if it sent one.
    pub idempotency: Option<IdempotencyClaim>,
    /// The key's cap on queued tasks, checked in the inserting transaction.
    pub max_queued: u32,
    /// Workspace globs collected as artifacts after each turn.
    pub artifact_patterns: Vec<String>,
    pub webhook: Option<crate::task::TaskWebhook>,
    pub environment: crate::store::entities::Environment,
    /// The snapshot of its input files in shared storage, if one was saved.
    pub snapshot: Option<String>,
}

/// An `Idempotency-Key` with the hash of the request that used it.
#[derive(Debug, Clone)]
pub struct IdempotencyClaim {
    pub key: String,
    pub request_hash: String,
}

/// What inserting a task did.
#[derive(Debug, Clone)]
pub enum Inserted {
    Created(Box<task::Model>),
    /// The key's `Idempotency-Key` was used within 24 h: by the same request
    /// (`same_request`, answer with that task) or by another one (refuse).
    Replayed {
        task_id: String,
        same_request: bool,
    },
    /// The key already has `queued` tasks waiting, its cap; nothing was written.
    QueueFull {
        queued: u64,
    },
}

/// How long an `Idempotency-Key` is remembered.
const IDEMPOTENCY_WINDOW_MS: i64 = 24 * 3600 * 1000;

/// The oldest use of an `Idempotency-Key` still remembered at `now`: one made
/// exactly 24 h before replays, one a millisecond older is forgotten.
fn idempotency_window_start(now: i64) -> i64 {
    now - IDEMPOTENCY_WINDOW_MS
}

impl Store {
    /// Inserts a task with its first turn, metadata, first events and audit entry.
    pub async fn insert_task(
        &self,
        row: NewTaskRow,
        events: &[EventRecord],
        audit_entry: AuditEntry,
    ) -> Result<Inserted> {
        self.insert_task_at(row, events, audit_entry, crate::timestamp::now_ms()).await
    }

    /// `insert_task` as of `now`, which decides whether an `Idempotency-Key` is remembered.
    pub(crate) async fn insert_task_at(
        &self,
        row: NewTaskRow,
        events: &[EventRecord],
        audit_entry: AuditEntry,
        now: i64,
    ) -> Result<Inserted> {
        let txn = self.writer.begin().await.during("starting a transaction")?;
        if let Some(claim) = &row.idempotency {
            // The unique (key, Idempotency-Key) row decides races: a parallel duplicate
            // waits for this transaction and then finds the record.
            idempotency_record::Entity::delete_many()
                .filter(idempotency_record::Column::KeyId.eq(row.key_id.clone()))
                .filter(idempotency_record::Column::IdempotencyKey.eq(claim.key.clone()))
                .filter(idempotency_record::Column::CreatedAt.lt(idempotency_window_start(now)))
                .exec(&txn)
                .await
                .during("expiring an idempotency key")?;
            let record = idempotency_record::ActiveModel {
                key_id: Set(row.key_id.clone()),
                idempotency_key: Set(claim.key.clone()),
                request_hash: Set(claim.request_hash.clone()),
                task_id: Set(row.id.clone()),
                created_at: Set(now),
            };
            let inserted = idempotency_record::Entity::insert(record)
                .on_conflict(
                    OnConflict::columns([
                        idempotency_record::Column::KeyId,
                        idempotency_record::Column::IdempotencyKey,
                    ])
                    .do_nothing()
                    .to_owned(),
                )
                .exec_without_returning(&txn)
                .await
                .during("recording an idempotency key")?;
            if inserted == 0 {
                txn.rollback().await.during("recording an idempotency key")?;
                let existing = idempotency_record::Entity::find_by_id((row.key_id.clone(), claim.key.clone()))
                    .one(&self.writer)
                    .await
                    .during("reading an idempotency key")?
                    .ok_or_else(|| StoreError::Corrupt("an idempotency record vanished".into()))?;
                return Ok(Inserted::Replayed {
                    same_request: existing.request_hash == claim.request_hash,
                    task_id: existing.task_id,
                });
            }
        }
        let key_id = row.key_id.clone();
        let model = task::ActiveModel {
            id: Set(row.id.clone()),
            key_id: Set(key_id.clone()),
            status: Set(TaskStatus::Queued),
            priority: Set(row.priority),
            prompt: Set(row.prompt.clone()),
            options: Set(JsonText::new(row.options)),
            metadata: Set(JsonText::new(row.metadata.clone())),
            created_at: Set(now),
            enqueued_at: Set(now),
            started_at: Set(None),
            finished_at: Set(None),
            current_turn: Set(0),
            attempts: Set(0),
            lease_owner: Set(None),
            lease_expires_at: Set(None),
            cancel_requested: Set(false),
            session_id: Set(None),
            result: Set(None),
            error: Set(None),
            // Its first events are numbered with it (no read-back of the counter).
            event_seq: Set(events.len() as i64),
            artifact_patterns: Set(JsonText::new(row.artifact_patterns)),
            workspace_expired_at: Set(None),
            artifacts_expired_at: Set(None),
            webhook: Set(row.webhook.map(JsonText::new)),
            not_before: Set(None),
            continue_turn: Set(false),
            environment: Set(row.environment),
            snapshot: Set(row.snapshot),
            live_cost_micros: Set(0),
            live_input_tokens: Set(0),
            live_output_tokens: Set(0),
            live_held_tokens: Set(0),
            artifact_set: Set(None),
        }
        .insert(&txn)
        .await
        .during("creating a task")?;
        insert_turn(&txn, &row.id, 0, &row.prompt, now).await?;
        if !row.metadata.is_empty() {
            let pairs = row.metadata.iter().map(|(name, value)| task_metadata::ActiveModel {
                task_id: Set(row.id.clone()),
                name: Set(name.clone()),
                value: Set(value.clone()),
            });
            task_metadata::Entity::insert_many(pairs).exec(&txn).await.during("creating a task")?;
        }
        insert_numbered(&txn, &row.id, 1, events, now).await?;
        audit::record(&txn, AuditEntry { target: Some(row.id.clone()), ..audit_entry }, now).await?;
        // The cap is checked last, under the key's row lock on PostgreSQL, so that
        // parallel creates cannot all pass it while the lock is held only for the
        // count and the commit, not the whole create (SQLite has one writer
        // connection: already serial). The count includes this task.
        if self.backend() == DbBackend::Postgres {
            api_key::Entity::find_by_id(key_id.clone()).lock_exclusive().one(&txn).await.during("locking a key")?;
        }
        let queued = task::Entity::find()
            .filter(task::Column::KeyId.eq(key_id))
            .filter(task::Column::Status.eq(TaskStatus::Queued))
            .count(&txn)
            .await
            .during("counting queued tasks")?;
        if queued > u64::from(row.max_queued) {
            txn.rollback().await.during("creating a task")?;
            return Ok(Inserted::QueueFull { queued: queued - 1 });
        }
        txn.commit().await.during("creating a task")?;
        Ok(Inserted::Created(Box::new(model)))
    }

    /// A live (at most 24 h old) `Idempotency-Key` record of a key.
    pub async fn idempotency_record(&self, key_id: &str, key: &str) -> Result<Option<idempotency_record::Model>> {
        self.idempotency_record_at(key_id, key, crate::timestamp::now_ms()).await
    }

    /// `idempotency_record` as of `now`.
    pub(crate) async fn idempotency_record_at(
        &self,
        key_id: &str,
        key: &str,
        now: i64,
    ) -> Result<Option<idempotency_record::Model>> {
        let since = idempotency_window_start(now);
        Ok(idempotency_record::Entity::find_by_id((key_id.to_string(), key.to_string()))
            .one(&self.reader)
            .await
            .during("reading an idempotency key")?
            .filter(|record| record.created_at >= since))
    }
}
