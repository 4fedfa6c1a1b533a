//! Recovering runs that were lost with the node that ran them: re-queued while
//! attempts remain, failed as `agent_crashed` after that, never left running.

use std::time::Duration;

use super::workers::Queue;
use crate::store::entities::task;
use crate::store::{LostEnding, RecoveredTask, recovered_status};
use crate::task::{ErrorKind, TaskError, TaskStatus};

impl Queue {
    /// At start-up on SQLite (one machine), every `running` task not held by a live
    /// node of the registry belongs to a gateway that died: recover them now instead
    /// of waiting for their leases to expire. On PostgreSQL, the leases tell.
    pub async fn recover_after_restart(&self) -> usize {
        let not_owner = (!self.store.is_shared()).then_some(self.node_id.as_str());
        if not_owner.is_none() {
            return self.recover_expired().await;
        }
        match self.store.lost_runs(not_owner).await {
            Ok(lost) => {
                let lost = self.not_held_by_live_nodes(lost).await;
                self.recover_all(lost).await
            }
            Err(e) => {
                tracing::error!(error = %e, "could not look for lost runs");
                0
            }
        }
    }

    /// Leaves out the runs of other nodes still alive on this machine (several
    /// processes may share one SQLite file): their leases say when they are lost.
    async fn not_held_by_live_nodes(&self, lost: Vec<task::Model>) -> Vec<task::Model> {
        let now = crate::timestamp::now_ms();
        let mut unheld = Vec::with_capacity(lost.len());
        for task in lost {
            let owner = match task.lease_owner.as_deref() {
                Some(owner) => self.store.node_row(owner).await.ok().flatten(),
                None => None,
            };
            if crate::nodes::holds_its_runs(owner.as_ref(), now, self.lease_ms(), crate::nodes::process_exists) {
                tracing::info!(task_id = %task.id, node = ?task.lease_owner, "left to the live node running it");
                continue;
            }
            unheld.push(task);
        }
        unheld
    }

    /// Recovers runs whose lease expired.
    pub async fn recover_expired(&self) -> usize {
        match self.store.lost_runs(None).await {
            Ok(lost) => self.recover_all(lost).await,
            Err(e) => {
                tracing::error!(error = %e, "could not look for lost runs");
                0
            }
        }
    }

    async fn recover_all(&self, lost: Vec<task::Model>) -> usize {
        let mut recovered = 0;
        for task in lost {
            if task.lease_owner.as_deref() == Some(self.node_id.as_str()) && self.runs_locally(&task.id) {
                continue; // alive here; only its heartbeat was late
            }
            let error = TaskError::new(
                ErrorKind::AgentCrashed,
                format!("the run was lost {} times (the gateway running it stopped)", task.attempts),
            )
            .with_details(serde_json::json!({"attempts": task.attempts}));
            let Ok(ending) = self.lost_ending(&task).await else { continue }; // the next pass tries again
            match self.store.recover(&task, self.config.max_attempts as i32, error, ending).await {
                Ok(Some(outcome)) => {
                    recovered += 1;
                    match &outcome {
                        RecoveredTask::Requeued(id) => {
                            tracing::warn!(task_id = %id, attempt = task.attempts, "re-queued a lost run");
                            self.hub.work_queued();
                        }
                        RecoveredTask::Failed(id) => {
                            tracing::warn!(task_id = %id, "failed a task whose runs kept being lost");
                            // A message sent into the lost run may be its next turn now.
                            self.hub.work_queued();
                        }
                        RecoveredTask::Cancelled(id) => tracing::info!(task_id = %id, "cancelled a lost run"),
                    }
                    self.hub.task_changed(&task.id);
                }
                Ok(None) => {}
                Err(e) => tracing::error!(task_id = %task.id, error = %e, "could not recover a lost run"),
            }
        }
        recovered
    }

    /// How `task`, whose run was lost, ends when it does (no attempt left, or a
    /// cancel asked): its partial result, through the key's result plugins as a
    /// finished run's. `None` when it goes back to the queue; an error when the
    /// result could not be read (the task is left for the reaper's next pass).
    async fn lost_ending(&self, task: &task::Model) -> Result<Option<LostEnding>, crate::store::StoreError> {
        let status = recovered_status(task.cancel_requested, task.attempts, self.config.max_attempts as i32);
        if status == TaskStatus::Queued {
            return Ok(None);
        }
        let partial = self.store.lost_run_result(task).await.inspect_err(|e| {
            tracing::warn!(task_id = %task.id, error = %e, "could not read what a lost run produced; trying again later");
        })?;
        let facts = self.task_facts(task, status).await;
        let processed = self.plugins.process_result(&facts, partial).await;
        Ok(Some(LostEnding { result: processed.result, events: processed.events }))
    }

    /// Runs the reaper until shutdown.
    pub(crate) async fn reap_forever(self: std::sync::Arc<Self>) {
        let period = Duration::from_secs((self.config.lease_seconds / 2).max(1));
        loop {
            tokio::select! {
                () = tokio::time::sleep(period) => { self.recover_expired().await; }
                () = self.shutdown.cancelled() => return,
            }
        }
    }
}
