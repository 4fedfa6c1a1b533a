//! Claiming the next runnable task with a lease: priority, FIFO, and each key's
//! concurrency cap.

use sea_orm::{ConnectionTrait, DbBackend, EntityTrait, QuerySelect, Statement, TransactionTrait};

use super::lease::Fence;
use super::turns::set_turn_status;
use crate::store::entities::{TaskStatus, api_key, task, task_turn};
use crate::store::events::{EventRecord, append};
use crate::store::{AuditEntry, Context, OutboxEvent, Result, Store, StoreError, audit, outbox, sql_for};

/// A task this node just claimed, with the prompt of the turn to run.
#[derive(Debug, Clone)]
pub struct ClaimedTask {
    pub task: task::Model,
    pub prompt: String,
    pub fence: Fence,
}

/// Tasks each key offers a claim on PostgreSQL: more claimers of one key at the
/// same moment than this wait for the next look.
const OFFERED_PER_KEY: usize = 8;

impl Store {
    /// Claims the next runnable task for `owner`: highest priority first, FIFO within
    /// a priority, skipping keys already at their concurrency cap.
    ///
    /// A candidate is picked, then taken by a conditional UPDATE that re-checks it is
    /// still queued and its key still has room (another claimer may have been faster:
    /// then the next candidate is tried). SQLite: the candidate is picked on the read
    /// pool, so the scan never holds the write lock that submits need; the one writer
    /// makes the re-check exact. PostgreSQL: the candidate is picked and locked in the
    /// claiming transaction, skipping rows other nodes have locked, and its key's row
    /// is locked before the re-check, so claimers on several nodes count the key's
    /// running tasks one at a time and cannot all pass its cap.
    pub async fn claim(&self, owner: &str, lease_ms: i64) -> Result<Option<ClaimedTask>> {
        // `not_before` is compared with a number this code computes, not with input.
        let now = crate::timestamp::now_ms();
        let backend = self.backend();
        let postgres = backend == DbBackend::Postgres;
        // Each key with room offers its next tasks (seeks in `tasks_key_queue`), and
        // the best of those is the candidate: a key at its cap costs a count, never a
        // read of its backlog (100,000 queued behind a capped key: 30 ms a look
        // before, 0.2 ms now on SQLite). An empty queue skips the keys.
        let ready = |t: &str| format!("{t}.status = 'queued' AND ({t}.not_before IS NULL OR {t}.not_before <= {now})");
        let keys_with_room = "WHERE EXISTS (SELECT 1 FROM tasks e WHERE e.status = 'queued') AND ( \
               SELECT COUNT(*) FROM tasks r WHERE r.key_id = k.id AND r.status = 'running' \
             ) < k.max_concurrent_tasks";
        let order = |t: &str| format!("{t}.priority DESC, {t}.enqueued_at ASC, {t}.id ASC");
        let offered = if postgres {
            // Several a key: another node's claimer holding a key's first task (which
            // SKIP LOCKED passes over) still finds the key's next ones.
            format!(
                "SELECT o.id FROM api_keys k CROSS JOIN LATERAL ( \
                   SELECT q.id FROM tasks q WHERE q.key_id = k.id AND {} ORDER BY {} LIMIT {OFFERED_PER_KEY}) o \
                 {keys_with_room}",
                ready("q"),
                order("q")
            )
        } else {
            // One writer: claimers of one node never hold a task while another picks.
            format!(
                "SELECT (SELECT q.id FROM tasks q WHERE q.key_id = k.id AND {} ORDER BY {} LIMIT 1) \
                 FROM api_keys k {keys_with_room}",
                ready("q"),
                order("q")
            )
        };
        // Ready again here: on PostgreSQL a row another claimer took meanwhile is
        // re-checked against this WHERE once its lock is released.
        let candidate = format!(
            "SELECT t.id, t.key_id FROM tasks t WHERE {} AND t.id IN ({offered}) ORDER BY {} LIMIT 1",
            ready("t"),
            order("t")
        );
        const TAKE: &str = "UPDATE tasks SET status = 'running', lease_owner = $1, lease_expires_at = $2, \
               attempts = attempts + 1, started_at = COALESCE(started_at, $3), \
               live_cost_micros = 0, live_input_tokens = 0, live_output_tokens = 0, live_held_tokens = 0 \
             WHERE status = 'queued' AND ( \
               SELECT COUNT(*) FROM tasks r WHERE r.key_id = tasks.key_id AND r.status = 'running' \
             ) < (SELECT k.max_concurrent_tasks FROM api_keys k WHERE k.id = tasks.key_id) AND id = $4 \
             RETURNING id, attempts";
        let mut claimed = None;
        for _ in 0..3 {
            let (txn, picked) = if postgres {
                let txn = self.writer.begin().await.during("starting a transaction")?;
                let pick = Statement::from_string(backend, format!("{candidate} FOR UPDATE OF t SKIP LOCKED"));
                let Some(picked) = txn.query_one_raw(pick).await.during("claiming a task")? else {
                    txn.rollback().await.during("claiming a task")?;
                    break;
                };
                let key_id: String = picked.try_get("", "key_id").during("claiming a task")?;
                // Held to the commit: the next claimer of this key counts after it.
                api_key::Entity::find_by_id(key_id).lock_exclusive().one(&txn).await.during("locking a key")?;
                (txn, picked)
            } else {
                // Scanned without the writer: submits must not wait for a claim.
                let pick = Statement::from_string(backend, candidate.clone());
                let Some(picked) = self.reader.query_one_raw(pick).await.during("claiming a task")? else { break };
                (self.writer.begin().await.during("starting a transaction")?, picked)
            };
            let id: String = picked.try_get("", "id").during("claiming a task")?;
            let bound: Vec<sea_orm::Value> = vec![owner.into(), (now + lease_ms).into(), now.into(), id.into()];
            let take = Statement::from_sql_and_values(backend, sql_for(backend, TAKE), bound);
            match txn.query_one_raw(take).await.during("claiming a task")? {
                Some(row) => {
                    claimed = Some((txn, row));
                    break;
                }
                None => txn.rollback().await.during("claiming a task")?,
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
        set_turn_status(&txn, &id, Some(task.current_turn), TaskStatus::Running, now).await?;
        if attempt == 1 {
            outbox::enqueue_for(&txn, self.webhooks.as_ref(), &task, OutboxEvent::Status(TaskStatus::Running), now)
                .await?;
        }
        let status = EventRecord::new(
            "status",
            serde_json::json!({"status": TaskStatus::Running, "attempt": attempt, "turn": task.current_turn}),
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
}
