//! A run's workspace snapshot (see `snapshots`): restored before a turn runs on a
//! node whose local copy is not the task's latest, saved and recorded (fenced)
//! after the turn, before its outcome is stored, so that a client told the turn
//! ended can send the next one to any node.

use super::finish::Ending;
use super::persist::persist;
use super::workers::Queue;
use crate::snapshots::Manifest;
use crate::store::entities::task;
use crate::store::{EventRecord, Fence};
use crate::task::{ErrorKind, TaskError, TaskStatus};

impl Queue {
    /// Makes this node's copy of the task its latest snapshot. A restored snapshot
    /// brings its own session: the turn resumes that one, with its prompt (a retry
    /// that would have continued a session of the lost node starts the turn
    /// afresh). `None` when the snapshot could not be restored: the task was
    /// handed back for a retry, or failed.
    pub(super) async fn restore_snapshot(&self, mut task: task::Model, fence: &Fence) -> Option<task::Model> {
        match self.snapshots.ensure_local(&task.id, task.snapshot.as_deref()).await {
            Ok(None) => Some(task),
            Ok(Some(manifest)) => {
                task.session_id = manifest.session_id;
                task.continue_turn = false;
                Some(task)
            }
            Err(e) => {
                tracing::error!(task_id = %task.id, error = %e, "could not restore the task's workspace snapshot");
                let reason = format!("the task's workspace could not be restored from storage: {e}");
                if !self.retry_later(&task, fence, &reason, None, task.continue_turn, None).await {
                    let error = TaskError::new(ErrorKind::Internal, reason);
                    self.finish(&task, fence, Ending::new(TaskStatus::Failed, None, Some(error))).await;
                }
                None
            }
        }
    }

    /// Saves the task's workspace and session after its turn and records the
    /// snapshot as the task's; a notice for the run's events when it was not saved.
    pub(super) async fn save_snapshot(
        &self,
        task: &task::Model,
        fence: &Fence,
        session_id: Option<String>,
    ) -> Option<EventRecord> {
        let manifest = Manifest { session_id, after_turn: Some(task.current_turn) };
        let name = match self.snapshots.save(&task.id, manifest).await {
            Ok(Some(name)) => name,
            Ok(None) => return None,
            Err(e) => {
                tracing::warn!(task_id = %task.id, error = %e, "could not save the workspace snapshot");
                return Some(not_saved(&e.to_string(), &self.node_id));
            }
        };
        let recorded = persist(self.outage_limit(), &task.id, "the workspace snapshot", || {
            self.store.set_snapshot(&task.id, fence, &name)
        })
        .await;
        match recorded {
            Ok(Some(previous)) => {
                self.snapshots.committed(&task.id, &name, previous).await;
                None
            }
            // The run lost the task: the node that holds it now keeps its own state.
            Ok(None) => {
                self.snapshots.discard(&task.id, &name).await;
                None
            }
            Err(e) => {
                self.snapshots.discard(&task.id, &name).await;
                Some(not_saved(&e.to_string(), &self.node_id))
            }
        }
    }
}

fn not_saved(why: &str, node_id: &str) -> EventRecord {
    crate::runner::gateway_notice(&format!(
        "the workspace could not be saved to storage ({why}): this turn's files stay on node {node_id}, and \
         a next turn another node runs starts from the task's previous snapshot"
    ))
}
