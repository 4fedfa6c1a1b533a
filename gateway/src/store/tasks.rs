//! Task rows and the queue operations on them: insert, list, claim with a lease,
//! heartbeat, finish (fenced on owner + attempt), cancel, follow up, recover.

use std::collections::BTreeMap;

use sea_orm::sea_query::{Expr, ExprTrait, OnConflict, Query};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, DbBackend, EntityTrait, PaginatorTrait, QueryFilter, QueryOrder,
    QuerySelect, Set, Statement, TransactionTrait, UpdateMany,
};

use super::entities::{api_key, idempotency_record, task, task_artifact, task_metadata, task_turn};
use super::events::{EventRecord, append};
use super::{AuditEntry, Context, Result, Store, StoreError, audit, outbox, sql_for};
use crate::artifacts::Artifact;

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
            .filter(task::Column::Status.eq("running"))
    }
}

/// A new task as it is inserted.
#[derive(Debug, Clone)]
pub struct NewTaskRow {
    pub id: String,
    pub key_id: String,
    pub priority: i32,
    pub prompt: String,
    pub options_json: String,
    pub metadata: BTreeMap<String, String>,
    /// The client's `Idempotency-Key` and a hash of its request, if it sent one.
    pub idempotency: Option<IdempotencyClaim>,
    /// The key's cap on queued tasks, checked in the inserting transaction.
    pub max_queued: u32,
    /// Workspace globs collected as artifacts after each turn.
    pub artifact_patterns: Vec<String>,
    pub webhook: Option<crate::webhooks::TaskWebhook>,
    pub environment: crate::auth::Environment,
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

/// Filters of `GET /v1/tasks`.
#[derive(Debug, Clone, Default)]
pub struct TaskFilter {
    pub status: Option<String>,
    pub created_after: Option<i64>,
    pub metadata: Vec<(String, String)>,
}

/// A task this node just claimed, with the prompt of the turn to run.
#[derive(Debug, Clone)]
pub struct ClaimedTask {
    pub task: task::Model,
    pub prompt: String,
    pub fence: Fence,
}

/// The final write of a run.
#[derive(Debug, Clone)]
pub struct FinishRun {
    pub status: &'static str,
    pub result_json: Option<String>,
    pub error_json: Option<String>,
    pub session_id: Option<String>,
    pub events: Vec<EventRecord>,
    /// The turn's artifacts, replacing earlier ones; `None` leaves them as they are.
    pub artifacts: Option<Vec<Artifact>>,
    /// What `system/init` said, kept on the turn.
    pub claude_code_version: Option<String>,
    /// What the run cost its key.
    pub cost: Option<super::RunCost>,
    pub audit: AuditEntry,
}

/// A run's task going back to the queue after a transient failure.
#[derive(Debug)]
pub struct RetryRun<'a> {
    pub turn: i32,
    /// Not claimed before this time.
    pub not_before: i64,
    /// The session holds the turn's prompt: the next run continues instead.
    pub continue_turn: bool,
    /// What the failed run cost its key.
    pub cost: Option<&'a super::RunCost>,
    pub events: &'a [EventRecord],
}

/// What recovery did with a task whose run was lost.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RecoveredTask {
    Requeued(String),
    Failed(String),
    Cancelled(String),
}

const TERMINAL: [&str; 3] = ["completed", "failed", "cancelled"];

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
        // The key's row lock serialises its creates on PostgreSQL, so parallel requests
        // cannot all pass the cap (SQLite has one writer connection: already serial).
        if self.backend() == DbBackend::Postgres {
            api_key::Entity::find_by_id(row.key_id.clone()).lock_exclusive().one(&txn).await.during("locking a key")?;
        }
        let queued = task::Entity::find()
            .filter(task::Column::KeyId.eq(row.key_id.clone()))
            .filter(task::Column::Status.eq("queued"))
            .count(&txn)
            .await
            .during("counting queued tasks")?;
        if queued >= u64::from(row.max_queued) {
            txn.rollback().await.during("creating a task")?;
            return Ok(Inserted::QueueFull { queued });
        }
        let model = task::ActiveModel {
            id: Set(row.id.clone()),
            key_id: Set(row.key_id),
            status: Set("queued".into()),
            priority: Set(row.priority),
            prompt: Set(row.prompt.clone()),
            options: Set(row.options_json),
            metadata: Set(serde_json::to_string(&row.metadata).unwrap_or_else(|_| "{}".into())),
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
            event_seq: Set(0),
            artifact_patterns: Set(serde_json::to_string(&row.artifact_patterns).unwrap_or_else(|_| "[]".into())),
            workspace_expired_at: Set(None),
            artifacts_expired_at: Set(None),
            webhook: Set(row.webhook.as_ref().and_then(|w| serde_json::to_string(w).ok())),
            not_before: Set(None),
            continue_turn: Set(false),
            environment: Set(row.environment.as_str().into()),
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
        append(&txn, &row.id, None, events, now).await?;
        audit::record(&txn, AuditEntry { target: Some(row.id.clone()), ..audit_entry }, now).await?;
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

    pub async fn task(&self, id: &str) -> Result<Option<task::Model>> {
        task::Entity::find_by_id(id).one(&self.reader).await.during("reading a task")
    }

    /// The task, if it belongs to `key_id` (another key's task is "not found").
    pub async fn task_of_key(&self, id: &str, key_id: &str) -> Result<Option<task::Model>> {
        Ok(self.task(id).await?.filter(|t| t.key_id == key_id))
    }

    pub async fn turns(&self, task_id: &str) -> Result<Vec<task_turn::Model>> {
        turns_of(&self.reader, task_id).await
    }

    /// A key's tasks (`None`: every key's), newest first, after the `before_id` cursor.
    pub async fn list_tasks(
        &self,
        key_id: Option<&str>,
        filter: &TaskFilter,
        before_id: Option<&str>,
        limit: u64,
    ) -> Result<Vec<task::Model>> {
        let mut query = task::Entity::find();
        if let Some(key_id) = key_id {
            query = query.filter(task::Column::KeyId.eq(key_id));
        }
        if let Some(status) = &filter.status {
            query = query.filter(task::Column::Status.eq(status.clone()));
        }
        if let Some(after) = filter.created_after {
            query = query.filter(task::Column::CreatedAt.gt(after));
        }
        for (name, value) in &filter.metadata {
            let matching = Query::select()
                .column(task_metadata::Column::TaskId)
                .from(task_metadata::Entity)
                .and_where(task_metadata::Column::Name.eq(name.clone()))
                .and_where(task_metadata::Column::Value.eq(value.clone()))
                .to_owned();
            query = query.filter(task::Column::Id.in_subquery(matching));
        }
        if let Some(before) = before_id {
            query = query.filter(task::Column::Id.lt(before));
        }
        query.order_by_desc(task::Column::Id).limit(limit).all(&self.reader).await.during("listing tasks")
    }

    /// How many of a key's tasks wait in the queue.
    pub async fn queued_count(&self, key_id: &str) -> Result<u64> {
        task::Entity::find()
            .filter(task::Column::KeyId.eq(key_id))
            .filter(task::Column::Status.eq("queued"))
            .count(&self.reader)
            .await
            .during("counting queued tasks")
    }

    /// Queued and running tasks of this whole gateway, by status.
    pub async fn count_by_status(&self, status: &str) -> Result<u64> {
        task::Entity::find().filter(task::Column::Status.eq(status)).count(&self.reader).await.during("counting tasks")
    }

    /// Running tasks per node holding their lease: the nodes at work, busiest first.
    pub async fn running_by_node(&self) -> Result<Vec<(String, i64)>> {
        let mut nodes: Vec<(String, i64)> = task::Entity::find()
            .select_only()
            .column(task::Column::LeaseOwner)
            .column_as(task::Column::Id.count(), "running")
            .filter(task::Column::Status.eq("running"))
            .filter(task::Column::LeaseOwner.is_not_null())
            .group_by(task::Column::LeaseOwner)
            .into_tuple()
            .all(&self.reader)
            .await
            .during("counting running tasks per node")?;
        nodes.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
        Ok(nodes)
    }

    /// Cancels a task that is still queued. `false` when it is not queued (any more).
    pub async fn cancel_queued(
        &self,
        id: &str,
        error_json: String,
        events: &[EventRecord],
        audit_entry: AuditEntry,
    ) -> Result<bool> {
        let now = crate::timestamp::now_ms();
        let txn = self.writer.begin().await.during("starting a transaction")?;
        // Conditional on `queued`: a claim racing this either wins (and the run sees
        // the cancel flag) or finds the task cancelled.
        let changed = task::Entity::update_many()
            .col_expr(task::Column::Status, Expr::value("cancelled"))
            .col_expr(task::Column::FinishedAt, Expr::value(now))
            .col_expr(task::Column::Error, Expr::value(error_json))
            .filter(task::Column::Id.eq(id))
            .filter(task::Column::Status.eq("queued"))
            .exec(&txn)
            .await
            .during("cancelling a task")?
            .rows_affected
            == 1;
        if changed {
            set_turn_status(&txn, id, None, "cancelled", now).await?;
            let turn =
                task::Entity::find_by_id(id).one(&txn).await.during("cancelling a task")?.map_or(0, |t| t.current_turn);
            super::steering::settle_waiting(&txn, id, turn, true, now).await?;
            append(&txn, id, None, events, now).await?;
            outbox::enqueue(&txn, id, "cancelled", now).await?;
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
            .filter(task::Column::Status.eq("running"))
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

    /// Queues the next turn of a finished task. `None` when the task is not finished.
    pub async fn queue_follow_up(
        &self,
        id: &str,
        prompt: &str,
        events: &[EventRecord],
        audit_entry: AuditEntry,
    ) -> Result<Option<i32>> {
        let now = crate::timestamp::now_ms();
        let txn = self.writer.begin().await.during("starting a transaction")?;
        // After the last turn recorded: a message sent into a run and cancelled with
        // it has a turn above the current one.
        let turn = next_turn_index(&txn, id).await?;
        let changed = queue_turn(id, turn, now)
            .col_expr(task::Column::CancelRequested, Expr::value(false))
            .filter(task::Column::Status.is_in(TERMINAL))
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
        txn.commit().await.during("queueing a follow-up")?;
        Ok(Some(turn))
    }

    /// Claims the next runnable task for `owner`: highest priority first, FIFO within
    /// a priority, skipping keys already at their concurrency cap.
    ///
    /// SQLite: the candidate is picked on the read pool, so the scan never holds the
    /// write lock that submits need, then taken by a conditional UPDATE that re-checks
    /// it is still queued and its key still has room (another worker may have been
    /// faster: then the next candidate is tried). PostgreSQL: one UPDATE picks and
    /// takes the row, skipping rows other nodes have locked.
    pub async fn claim(&self, owner: &str, lease_ms: i64) -> Result<Option<ClaimedTask>> {
        // `not_before` is compared with a number this code computes, not with input.
        let now = crate::timestamp::now_ms();
        let candidate = format!(
            "SELECT t.id FROM tasks t WHERE t.status = 'queued' AND (t.not_before IS NULL OR t.not_before <= {now}) \
             AND t.key_id IN ( \
               SELECT k.id FROM api_keys k WHERE ( \
                 SELECT COUNT(*) FROM tasks r WHERE r.key_id = k.id AND r.status = 'running' \
               ) < k.max_concurrent_tasks) \
             ORDER BY t.priority DESC, t.enqueued_at ASC, t.id ASC LIMIT 1"
        );
        const TAKE: &str = "UPDATE tasks SET status = 'running', lease_owner = $1, lease_expires_at = $2, \
               attempts = attempts + 1, started_at = COALESCE(started_at, $3) \
             WHERE status = 'queued' AND ( \
               SELECT COUNT(*) FROM tasks r WHERE r.key_id = tasks.key_id AND r.status = 'running' \
             ) < (SELECT k.max_concurrent_tasks FROM api_keys k WHERE k.id = tasks.key_id) AND id = ";
        let backend = self.backend();
        let values = || -> Vec<sea_orm::Value> { vec![owner.into(), (now + lease_ms).into(), now.into()] };
        let mut claimed = None;
        if backend == DbBackend::Postgres {
            let txn = self.writer.begin().await.during("starting a transaction")?;
            let sql = format!("{TAKE}({candidate} FOR UPDATE OF t SKIP LOCKED) RETURNING id, attempts");
            match txn
                .query_one_raw(Statement::from_sql_and_values(backend, sql, values()))
                .await
                .during("claiming a task")?
            {
                Some(row) => claimed = Some((txn, row)),
                None => txn.rollback().await.during("claiming a task")?,
            }
        } else {
            for _ in 0..3 {
                // Scanned without the writer: submits must not wait for a claim.
                let pick = Statement::from_string(backend, candidate.clone());
                let Some(candidate) = self.reader.query_one_raw(pick).await.during("claiming a task")? else { break };
                let id: String = candidate.try_get("", "id").during("claiming a task")?;
                let mut bound = values();
                bound.push(id.into());
                let sql = sql_for(backend, &format!("{TAKE}$4 RETURNING id, attempts"));
                let txn = self.writer.begin().await.during("starting a transaction")?;
                match txn
                    .query_one_raw(Statement::from_sql_and_values(backend, sql, bound))
                    .await
                    .during("claiming a task")?
                {
                    Some(row) => {
                        claimed = Some((txn, row));
                        break;
                    }
                    None => txn.rollback().await.during("claiming a task")?,
                }
            }
        }
        let Some((txn, row)) = claimed else { return Ok(None) };
        let id: String = row.try_get("", "id").during("claiming a task")?;
        let attempt: i32 = row.try_get("", "attempts").during("claiming a task")?;
        let fence = Fence { owner: owner.to_string(), attempt };
        let task = task::Entity::find_by_id(&id)
            .one(&txn)
            .await
            .during("claiming a task")?
            .ok_or_else(|| StoreError::Corrupt(format!("claimed task {id} vanished")))?;
        let turn = task_turn::Entity::find_by_id((id.clone(), task.current_turn))
            .one(&txn)
            .await
            .during("claiming a task")?
            .ok_or_else(|| StoreError::Corrupt(format!("task {id} has no turn {}", task.current_turn)))?;
        set_turn_status(&txn, &id, Some(task.current_turn), "running", now).await?;
        if attempt == 1 {
            outbox::enqueue_for(&txn, &task, "running", now).await?;
        }
        let status = EventRecord::new(
            "status",
            serde_json::json!({"status": "running", "attempt": attempt, "turn": task.current_turn}),
        );
        append(&txn, &id, Some(&fence), &[status], now).await?;
        let entry = AuditEntry {
            key_id: Some(task.key_id.clone()),
            target: Some(id.clone()),
            details: Some(serde_json::json!({"attempt": attempt, "turn": task.current_turn, "node": owner})),
            ..AuditEntry::new("run.start", "ok")
        };
        audit::record(&txn, entry, now).await?;
        txn.commit().await.during("claiming a task")?;
        Ok(Some(ClaimedTask { task, prompt: turn.prompt, fence }))
    }

    /// Extends a lease. `None` when the lease was lost; else whether cancel was asked.
    pub async fn heartbeat(&self, id: &str, fence: &Fence, lease_ms: i64) -> Result<Option<bool>> {
        let until = crate::timestamp::now_ms() + lease_ms;
        let update = task::Entity::update_many()
            .col_expr(task::Column::LeaseExpiresAt, Expr::value(until))
            .filter(task::Column::Id.eq(id));
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
            .filter(task::Column::Id.eq(id));
        Ok(fence.apply(update).exec(&self.writer).await.during("forgetting the session")?.rows_affected == 1)
    }

    /// Writes the outcome of a run. `false` when the run no longer holds the task.
    pub async fn finish_run(&self, id: &str, fence: &Fence, turn: i32, finish: FinishRun) -> Result<bool> {
        let now = crate::timestamp::now_ms();
        let txn = self.writer.begin().await.during("starting a transaction")?;
        if append(&txn, id, Some(fence), &finish.events, now).await?.is_none() {
            txn.rollback().await.during("finishing a run")?;
            return Ok(false);
        }
        let sample = run_sample(&txn, id, turn, &finish, now).await?;
        let mut update = task::Entity::update_many()
            .col_expr(task::Column::Status, Expr::value(finish.status))
            .col_expr(task::Column::FinishedAt, Expr::value(now))
            .col_expr(task::Column::LeaseOwner, Expr::value(Option::<String>::None))
            .col_expr(task::Column::LeaseExpiresAt, Expr::value(Option::<i64>::None))
            .col_expr(task::Column::Result, Expr::value(finish.result_json))
            .col_expr(task::Column::ContinueTurn, Expr::value(false))
            .col_expr(task::Column::Error, Expr::value(finish.error_json))
            .filter(task::Column::Id.eq(id));
        if let Some(session) = finish.session_id {
            update = update.col_expr(task::Column::SessionId, Expr::value(session));
        }
        if finish.artifacts.is_some() {
            update = update.col_expr(task::Column::ArtifactsExpiredAt, Expr::value(Option::<i64>::None));
        }
        if fence.apply(update).exec(&txn).await.during("finishing a run")?.rows_affected == 0 {
            txn.rollback().await.during("finishing a run")?;
            return Ok(false);
        }
        super::rollup::record(&txn, &sample, now).await?;
        set_turn_status(&txn, id, Some(turn), finish.status, now).await?;
        let cancel_requested =
            task::Entity::find_by_id(id).one(&txn).await.during("finishing a run")?.is_some_and(|t| t.cancel_requested);
        let cancelled = finish.status == "cancelled" || cancel_requested;
        super::steering::settle_waiting(&txn, id, turn, cancelled, now).await?;
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
            replace_artifacts(&txn, id, artifacts, now).await?;
        }
        if let Some(cost) = &finish.cost {
            super::spend::record(&txn, cost, now).await?;
        }
        outbox::enqueue(&txn, id, finish.status, now).await?;
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
            .col_expr(task::Column::Status, Expr::value("queued"))
            .col_expr(task::Column::NotBefore, Expr::value(not_before))
            .col_expr(task::Column::ContinueTurn, Expr::value(continue_turn))
            .col_expr(task::Column::LeaseOwner, Expr::value(Option::<String>::None))
            .col_expr(task::Column::LeaseExpiresAt, Expr::value(Option::<i64>::None))
            .filter(task::Column::Id.eq(id))
            .filter(task::Column::CancelRequested.eq(false));
        if fence.apply(update).exec(&txn).await.during("re-queueing a task")?.rows_affected == 0 {
            txn.rollback().await.during("re-queueing a task")?;
            return Ok(false);
        }
        append(&txn, id, None, events, now).await?;
        set_turn_status(&txn, id, Some(turn), "queued", now).await?;
        // The failed attempt may have cost something: it counts against the key.
        if let Some(cost) = cost {
            super::spend::record(&txn, cost, now).await?;
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
        events: &[EventRecord],
    ) -> Result<bool> {
        let now = crate::timestamp::now_ms();
        let txn = self.writer.begin().await.during("starting a transaction")?;
        if append(&txn, id, Some(fence), events, now).await?.is_none() {
            txn.rollback().await.during("re-queueing a task")?;
            return Ok(false);
        }
        let update = task::Entity::update_many()
            .col_expr(task::Column::Status, Expr::value("queued"))
            .col_expr(task::Column::NotBefore, Expr::value(not_before))
            .col_expr(task::Column::Attempts, Expr::col(task::Column::Attempts).sub(1))
            .col_expr(task::Column::LeaseOwner, Expr::value(Option::<String>::None))
            .col_expr(task::Column::LeaseExpiresAt, Expr::value(Option::<i64>::None))
            .filter(task::Column::Id.eq(id));
        let changed = fence.apply(update).exec(&txn).await.during("re-queueing a task")?.rows_affected == 1;
        if changed {
            set_turn_status(&txn, id, Some(turn), "queued", now).await?;
        }
        txn.commit().await.during("re-queueing a task")?;
        Ok(changed)
    }

    /// Running tasks whose run is lost: their lease expired, or (`not_owner`, for a
    /// single-node database at start-up) they are held by anyone but this node.
    pub async fn lost_runs(&self, not_owner: Option<&str>) -> Result<Vec<task::Model>> {
        let mut query = task::Entity::find().filter(task::Column::Status.eq("running"));
        query = match not_owner {
            Some(owner) => {
                query.filter(task::Column::LeaseOwner.ne(owner.to_string()).or(task::Column::LeaseOwner.is_null()))
            }
            None => query.filter(task::Column::LeaseExpiresAt.lt(crate::timestamp::now_ms())),
        };
        query.all(&self.writer).await.during("finding lost runs")
    }

    /// Re-queues (attempts left), cancels (cancel was asked) or fails a lost run.
    /// After a restore: tasks that were running at backup time are queued again,
    /// their interrupted attempt not counted (their runs died with the old gateway
    /// through no fault of theirs). Returns how many.
    pub async fn requeue_restored(&self) -> Result<u64> {
        let now = crate::timestamp::now_ms();
        let running = task::Entity::find()
            .filter(task::Column::Status.eq("running"))
            .all(&self.writer)
            .await
            .during("finding running tasks")?;
        for lost in &running {
            let txn = self.writer.begin().await.during("starting a transaction")?;
            task::Entity::update_many()
                .col_expr(task::Column::Status, Expr::value("queued"))
                .col_expr(task::Column::LeaseOwner, Expr::value(Option::<String>::None))
                .col_expr(task::Column::LeaseExpiresAt, Expr::value(Option::<i64>::None))
                .col_expr(task::Column::Attempts, Expr::value(std::cmp::max(lost.attempts - 1, 0)))
                .filter(task::Column::Id.eq(lost.id.clone()))
                .exec(&txn)
                .await
                .during("queueing a restored task")?;
            set_turn_status(&txn, &lost.id, Some(lost.current_turn), "queued", now).await?;
            let events = [
                EventRecord::new(
                    "log",
                    serde_json::json!({"stream": "gateway", "line": "restored from a backup taken while it ran; queued again"}),
                ),
                EventRecord::new("status", serde_json::json!({"status": "queued", "attempt": lost.attempts})),
            ];
            append(&txn, &lost.id, None, &events, now).await?;
            txn.commit().await.during("queueing a restored task")?;
        }
        Ok(running.len() as u64)
    }

    pub async fn recover(
        &self,
        lost: &task::Model,
        max_attempts: i32,
        failure_json: String,
    ) -> Result<Option<RecoveredTask>> {
        let now = crate::timestamp::now_ms();
        let fence = Fence { owner: lost.lease_owner.clone().unwrap_or_default(), attempt: lost.attempts };
        let (status, outcome) = if lost.cancel_requested {
            ("cancelled", RecoveredTask::Cancelled(lost.id.clone()))
        } else if lost.attempts < max_attempts {
            ("queued", RecoveredTask::Requeued(lost.id.clone()))
        } else {
            ("failed", RecoveredTask::Failed(lost.id.clone()))
        };
        let txn = self.writer.begin().await.during("starting a transaction")?;
        let mut update = task::Entity::update_many()
            .col_expr(task::Column::Status, Expr::value(status))
            .col_expr(task::Column::LeaseOwner, Expr::value(Option::<String>::None))
            .col_expr(task::Column::LeaseExpiresAt, Expr::value(Option::<i64>::None))
            .filter(task::Column::Id.eq(lost.id.clone()))
            .filter(task::Column::Status.eq("running"))
            .filter(task::Column::Attempts.eq(lost.attempts))
            .filter(task::Column::CancelRequested.eq(lost.cancel_requested));
        update = match &lost.lease_owner {
            Some(owner) => update.filter(task::Column::LeaseOwner.eq(owner.clone())),
            None => update.filter(task::Column::LeaseOwner.is_null()),
        };
        if status != "queued" {
            update = update
                .col_expr(task::Column::FinishedAt, Expr::value(now))
                .col_expr(task::Column::Error, Expr::value(failure_json.clone()));
        }
        if update.exec(&txn).await.during("recovering a task")?.rows_affected == 0 {
            txn.rollback().await.during("recovering a task")?;
            return Ok(None); // its owner renewed the lease or finished meanwhile
        }
        set_turn_status(&txn, &lost.id, Some(lost.current_turn), status, now).await?;
        outbox::enqueue(&txn, &lost.id, status, now).await?;
        let mut events = vec![EventRecord::new(
            "log",
            serde_json::json!({"stream": "gateway", "line": format!(
                "the run of attempt {} was lost (its gateway node stopped without finishing it)", fence.attempt)}),
        )];
        if status != "queued" {
            let error: serde_json::Value = serde_json::from_str(&failure_json).unwrap_or_default();
            events.push(EventRecord::new("error", serde_json::json!({"error": error})));
        }
        events.push(EventRecord::new("status", serde_json::json!({"status": status, "attempt": fence.attempt})));
        append(&txn, &lost.id, None, &events, now).await?;
        if status != "queued" {
            super::steering::settle_waiting(&txn, &lost.id, lost.current_turn, status == "cancelled", now).await?;
        }
        let entry = AuditEntry {
            key_id: Some(lost.key_id.clone()),
            target: Some(lost.id.clone()),
            details: Some(serde_json::json!({"attempt": fence.attempt, "recovered_as": status})),
            ..AuditEntry::new("run.recover", "ok")
        };
        audit::record(&txn, entry, now).await?;
        txn.commit().await.during("recovering a task")?;
        Ok(Some(outcome))
    }
}

/// The update that queues the task for its turn `turn`, a fresh start: no attempt
/// counted, no error, no wait.
pub(super) fn queue_turn(id: &str, turn: i32, now: i64) -> UpdateMany<task::Entity> {
    task::Entity::update_many()
        .col_expr(task::Column::Status, Expr::value("queued"))
        .col_expr(task::Column::CurrentTurn, Expr::value(turn))
        .col_expr(task::Column::Attempts, Expr::value(0))
        .col_expr(task::Column::EnqueuedAt, Expr::value(now))
        .col_expr(task::Column::FinishedAt, Expr::value(Option::<i64>::None))
        .col_expr(task::Column::Error, Expr::value(Option::<String>::None))
        .col_expr(task::Column::NotBefore, Expr::value(Option::<i64>::None))
        .col_expr(task::Column::ContinueTurn, Expr::value(false))
        .filter(task::Column::Id.eq(id))
}

/// The index a new turn of the task gets: one after the last recorded.
pub(super) async fn next_turn_index(conn: &impl ConnectionTrait, task_id: &str) -> Result<i32> {
    let last = task_turn::Entity::find()
        .filter(task_turn::Column::TaskId.eq(task_id))
        .order_by_desc(task_turn::Column::TurnIndex)
        .one(conn)
        .await
        .during("reading turns")?;
    Ok(last.map_or(0, |t| t.turn_index + 1))
}

pub(super) async fn insert_turn(
    conn: &impl ConnectionTrait,
    task_id: &str,
    index: i32,
    prompt: &str,
    now: i64,
) -> Result<()> {
    task_turn::ActiveModel {
        task_id: Set(task_id.to_string()),
        turn_index: Set(index),
        prompt: Set(prompt.to_string()),
        status: Set("queued".into()),
        created_at: Set(now),
        started_at: Set(None),
        finished_at: Set(None),
        claude_code_version: Set(None),
    }
    .insert(conn)
    .await
    .during("recording a turn")?;
    Ok(())
}

/// Sets the status of turn `index` (the current one when `None`).
/// What the usage rollup counts of a run that finished `turn`: its times come
/// from the turn (submitted, started), read before the finish overwrites them.
async fn run_sample(
    conn: &impl ConnectionTrait,
    id: &str,
    turn: i32,
    finish: &FinishRun,
    now: i64,
) -> Result<super::rollup::RunSample> {
    let row = task_turn::Entity::find_by_id((id.to_string(), turn)).one(conn).await.during("reading a turn")?;
    let started = row.as_ref().and_then(|t| t.started_at);
    let cost = finish.cost.clone().unwrap_or_default();
    Ok(super::rollup::RunSample {
        status: finish.status,
        run_ms: started.map(|at| Ord::max(now - at, 0)),
        queue_wait_ms: row.as_ref().zip(started).map(|(t, at)| Ord::max(at - t.created_at, 0)),
        input_tokens: cost.input_tokens,
        output_tokens: cost.output_tokens,
        cost_micros: cost.cost_micros,
    })
}

pub(super) async fn set_turn_status(
    conn: &impl ConnectionTrait,
    task_id: &str,
    index: Option<i32>,
    status: &str,
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
        "running" => update.col_expr(task_turn::Column::StartedAt, Expr::value(now)),
        "queued" => update,
        _ => update.col_expr(task_turn::Column::FinishedAt, Expr::value(now)),
    };
    update.exec(conn).await.during("updating a turn")?;
    Ok(())
}

async fn replace_artifacts(txn: &impl ConnectionTrait, id: &str, artifacts: Vec<Artifact>, now: i64) -> Result<()> {
    task_artifact::Entity::delete_many()
        .filter(task_artifact::Column::TaskId.eq(id))
        .exec(txn)
        .await
        .during("replacing artifacts")?;
    if artifacts.is_empty() {
        return Ok(());
    }
    let rows = artifacts.into_iter().map(|a| task_artifact::ActiveModel {
        task_id: Set(id.to_string()),
        name: Set(a.name),
        path: Set(a.path),
        size: Set(a.size as i64),
        sha256: Set(a.sha256),
        content_type: Set(a.content_type),
        created_at: Set(now),
    });
    task_artifact::Entity::insert_many(rows).exec(txn).await.during("replacing artifacts")?;
    Ok(())
}

impl Store {
    /// The task's current artifacts, by name.
    pub async fn artifacts(&self, task_id: &str) -> Result<Vec<Artifact>> {
        artifacts_of(&self.reader, task_id).await
    }
}

/// A task's turns in order, read through `conn` (a pool or a transaction).
pub(super) async fn turns_of(conn: &impl ConnectionTrait, task_id: &str) -> Result<Vec<task_turn::Model>> {
    task_turn::Entity::find()
        .filter(task_turn::Column::TaskId.eq(task_id))
        .order_by_asc(task_turn::Column::TurnIndex)
        .all(conn)
        .await
        .during("reading turns")
}

/// A task's current artifacts by name, read through `conn`.
pub(super) async fn artifacts_of(conn: &impl ConnectionTrait, task_id: &str) -> Result<Vec<Artifact>> {
    let rows = task_artifact::Entity::find()
        .filter(task_artifact::Column::TaskId.eq(task_id))
        .order_by_asc(task_artifact::Column::Name)
        .all(conn)
        .await
        .during("reading artifacts")?;
    Ok(rows
        .into_iter()
        .map(|r| Artifact {
            name: r.name,
            path: r.path,
            size: r.size as u64,
            sha256: r.sha256,
            content_type: r.content_type,
        })
        .collect())
}

/// What the retention sweeper deletes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Expiring {
    Workspace,
    Artifacts,
}

impl Expiring {
    fn column(self) -> task::Column {
        match self {
            Self::Workspace => task::Column::WorkspaceExpiredAt,
            Self::Artifacts => task::Column::ArtifactsExpiredAt,
        }
    }
}

impl Store {
    /// Finished tasks whose `what` is not expired yet and that finished before `cutoff`.
    pub async fn expirable(&self, what: Expiring, cutoff: i64, limit: u64) -> Result<Vec<String>> {
        task::Entity::find()
            .select_only()
            .column(task::Column::Id)
            .filter(task::Column::Status.is_in(TERMINAL))
            .filter(task::Column::FinishedAt.lt(cutoff))
            .filter(what.column().is_null())
            .order_by_asc(task::Column::FinishedAt)
            .limit(limit)
            .into_tuple::<String>()
            .all(&self.reader)
            .await
            .during("finding expired files")
    }

    /// Marks `what` of the task expired, if it is still finished since before
    /// `cutoff` (a follow-up may have re-queued it); the caller deletes the files
    /// only when this says so. Expired artifacts lose their rows too.
    pub async fn mark_expired(&self, what: Expiring, id: &str, cutoff: i64) -> Result<bool> {
        let now = crate::timestamp::now_ms();
        let txn = self.writer.begin().await.during("starting a transaction")?;
        let marked = task::Entity::update_many()
            .col_expr(what.column(), Expr::value(now))
            .filter(task::Column::Id.eq(id))
            .filter(task::Column::Status.is_in(TERMINAL))
            .filter(task::Column::FinishedAt.lt(cutoff))
            .filter(what.column().is_null())
            .exec(&txn)
            .await
            .during("marking files expired")?
            .rows_affected
            == 1;
        if marked && what == Expiring::Artifacts {
            replace_artifacts(&txn, id, Vec::new(), now).await?;
        }
        txn.commit().await.during("marking files expired")?;
        Ok(marked)
    }
}
