//! A run's workspace snapshot (see `snapshots`): restored before a turn runs on a
//! node whose local copy is not the task's latest, saved after the turn and
//! recorded with its outcome (fenced, in one transaction), so that a client told
//! the turn ended can send the next one to any node, and a turn whose outcome was
//! not stored reruns from the snapshot before it.

use super::finish::Ending;
use super::workers::Queue;
use crate::runner::TaskDirs;
use crate::snapshots::{LocalCopy, Manifest};
use crate::store::entities::task;
use crate::store::{EventRecord, Fence};
use crate::task::{ErrorKind, TaskError, TaskStatus};

impl Queue {
    /// Makes this node's copy of the task its latest snapshot. A copy that is the
    /// snapshot brings its own session: the turn resumes that one, with its prompt
    /// (a rerun of a turn begun on another node, whose session the row may name,
    /// starts the turn afresh from there). `None` when the snapshot could not be
    /// restored: the task was handed back for a retry, or failed.
    pub(super) async fn restore_snapshot(&self, mut task: task::Model, fence: &Fence) -> Option<task::Model> {
        match self.snapshots.ensure_local(&task.id, task.snapshot.as_deref()).await {
            Ok(copy) => {
                if let LocalCopy::Snapshot { session_id } = copy {
                    task.session_id = session_id;
                    task.continue_turn = false;
                }
                self.snapshots.mark_changed(&task.id).await;
                // A first turn whose node was lost began its session there: it cannot
                // be resumed here, and the turn starts a new one, with its prompt. (A
                // later turn's session holds the conversation: it is never dropped.)
                let dirs = TaskDirs::new(&self.data_dir, &task.id);
                let seen = self.runner.workspace_seen(&dirs);
                let first_turn = task.current_turn == 0;
                if let Some(session) =
                    task.session_id.take_if(|session| first_turn && !dirs.has_transcript(session, &seen))
                {
                    task.continue_turn = false;
                    let notice = format!(
                        "the Claude session {session} of an earlier attempt is not on this node; the turn starts a new one"
                    );
                    let _ = self
                        .store
                        .append_events(&task.id, Some(fence), &[crate::runner::gateway_notice(&notice)])
                        .await;
                }
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

    /// Saves the task's workspace and session after its turn, to be recorded with
    /// its outcome; the notice for the run's events when it was not saved.
    pub(super) async fn save_snapshot(
        &self,
        task: &task::Model,
        session_id: Option<String>,
    ) -> Result<Option<String>, EventRecord> {
        let manifest = Manifest { session_id, after_turn: Some(task.current_turn) };
        self.snapshots.save(&task.id, manifest).await.map_err(|e| {
            tracing::warn!(task_id = %task.id, error = %e, "could not save the workspace snapshot");
            not_saved(&e.to_string(), &self.node_id)
        })
    }

    /// The outcome that recorded `snapshot` was stored (or not: the run lost the
    /// task, whose new holder keeps its own state).
    pub(super) async fn settle_snapshot(
        &self,
        task: &task::Model,
        snapshot: &str,
        session_id: Option<String>,
        stored: bool,
    ) {
        if stored {
            self.snapshots.committed(&task.id, snapshot, session_id, task.snapshot.clone()).await;
        } else {
            self.snapshots.discard(&task.id, snapshot).await;
        }
    }
}

fn not_saved(why: &str, node_id: &str) -> EventRecord {
    crate::runner::gateway_notice(&format!(
        "the workspace could not be saved to storage ({why}): this turn's files stay on node {node_id}, and \
         a next turn another node runs starts from the task's previous snapshot"
    ))
}
