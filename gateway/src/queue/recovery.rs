//! Recovering runs that were lost with the node that ran them: re-queued while
//! attempts remain, failed as `agent_crashed` after that, never left running.

use std::time::Duration;

use super::workers::Queue;
use crate::store::RecoveredTask;
use crate::task::{ErrorKind, TaskError};

impl Queue {
    /// At start-up on a single-node database, every `running` task belongs to a
    /// previous life of this gateway: recover them all now instead of waiting for
    /// their leases to expire.
    pub async fn recover_after_restart(&self) -> usize {
        let not_owner = (!self.store.is_shared()).then_some(self.node_id.as_str());
        if not_owner.is_none() {
            return self.recover_expired().await;
        }
        match self.store.lost_runs(not_owner).await {
            Ok(lost) => self.recover_all(lost).await,
            Err(e) => {
                tracing::error!(error = %e, "could not look for lost runs");
                0
            }
        }
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

    async fn recover_all(&self, lost: Vec<crate::store::entities::task::Model>) -> usize {
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
            match self.store.recover(&task, self.config.max_attempts as i32, error).await {
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
