//! Reading a task as its key sees it.

use super::{TaskService, TaskServiceError};
use crate::approvals::desk::ApprovalView;
use crate::artifacts::Artifact;
use crate::auth::Principal;
use crate::runner::TaskDirs;
use crate::store::entities::{task, task_turn};
use crate::store::{DeliveryLog, StoredEvent, TaskFilter};
use crate::task::{TaskStatus, TaskView};

impl TaskService {
    /// Where a task's files live (the same absolute data directory the runner uses).
    pub fn dirs(&self, task_id: &str) -> TaskDirs {
        TaskDirs::new(&self.data_dir, task_id)
    }

    /// The task with its turns, if it is this key's.
    pub async fn view(&self, principal: &Principal, id: &str) -> Result<TaskView, TaskServiceError> {
        let task = self.owned(principal, id).await?;
        self.view_of(&task).await
    }

    pub async fn view_of(&self, task: &task::Model) -> Result<TaskView, TaskServiceError> {
        let turns = self.store.turns(&task.id).await?;
        let artifacts = self.store.artifacts(&task.id).await?;
        // Prompts wait only while their run runs (they expire with it): lists of
        // finished and queued tasks need no query for them.
        let pending = if task.status == TaskStatus::Running {
            self.store.approvals_of(&task.id, true).await?
        } else {
            Vec::new()
        };
        Ok(TaskView::new(task, &turns, artifacts, pending.iter().map(ApprovalView::from).collect()))
    }

    /// The task row, if it is this key's and its workspace is still there; this
    /// node's copy of the workspace is then its latest snapshot (restored from
    /// storage when it was not), unless the task runs here.
    pub async fn with_workspace(&self, principal: &Principal, id: &str) -> Result<task::Model, TaskServiceError> {
        let task = self.with_files(principal, id).await?;
        self.local_copy(&task).await?;
        Ok(task)
    }

    /// The task row, if it is this key's and its workspace is still there.
    pub async fn with_files(&self, principal: &Principal, id: &str) -> Result<task::Model, TaskServiceError> {
        let task = self.owned(principal, id).await?;
        if task.workspace_expired_at.is_some() {
            return Err(TaskServiceError::WorkspaceExpired);
        }
        Ok(task)
    }

    /// Makes this node's copy of the task's workspace its latest snapshot (restored
    /// from storage when it was not), unless the task runs here.
    pub async fn local_copy(&self, task: &task::Model) -> Result<(), TaskServiceError> {
        if !self.queue.runs_locally(&task.id) {
            let latest = task.snapshot.as_deref();
            self.queue.snapshots.ensure_local(&task.id, latest).await.map_err(TaskServiceError::Snapshot)?;
        }
        Ok(())
    }

    /// The task row, if it is this key's (another key's task is "not found").
    pub async fn owned(&self, principal: &Principal, id: &str) -> Result<task::Model, TaskServiceError> {
        if !crate::ids::looks_like(id, "tsk") {
            return Err(TaskServiceError::NotFound);
        }
        self.store.task_of_key(id, &principal.key_id).await?.ok_or(TaskServiceError::NotFound)
    }

    /// Any key's task (operators' views); "not found" for what is not a task id.
    pub async fn find(&self, id: &str) -> Result<Option<task::Model>, TaskServiceError> {
        if !crate::ids::looks_like(id, "tsk") {
            return Ok(None);
        }
        Ok(self.store.task(id).await?)
    }

    /// The task's events after sequence number `after`, oldest first, at most `limit`.
    pub async fn events_after(&self, id: &str, after: i64, limit: u64) -> Result<Vec<StoredEvent>, TaskServiceError> {
        Ok(self.store.events_after(id, after, limit).await?)
    }

    /// A key's tasks (`None`: every key's), newest first, after the `before` cursor.
    pub async fn list(
        &self,
        key_id: Option<&str>,
        filter: &TaskFilter,
        before: Option<&str>,
        limit: u64,
    ) -> Result<Vec<task::Model>, TaskServiceError> {
        Ok(self.store.list_tasks(key_id, filter, before, limit).await?)
    }

    /// The task's current artifacts, by name.
    pub async fn artifacts(&self, task: &task::Model) -> Result<Vec<Artifact>, TaskServiceError> {
        Ok(self.store.artifacts(&task.id).await?)
    }

    /// The task's webhook deliveries, oldest first, each with its attempts.
    pub async fn deliveries(&self, task: &task::Model) -> Result<Vec<DeliveryLog>, TaskServiceError> {
        Ok(self.store.deliveries(&task.id).await?)
    }

    /// What an operator's page of the task shows: its prompts (all of them), turns
    /// and first `events`.
    pub async fn history(&self, task: &task::Model, events: u64) -> Result<TaskHistory, TaskServiceError> {
        Ok(TaskHistory {
            approvals: self.store.approvals_of(&task.id, false).await?.iter().map(ApprovalView::from).collect(),
            turns: self.store.turns(&task.id).await?,
            artifacts: self.store.artifacts(&task.id).await?,
            events: self.store.events_after(&task.id, 0, events).await?,
        })
    }
}

/// A task's record for its operator's page.
pub struct TaskHistory {
    pub approvals: Vec<ApprovalView>,
    pub turns: Vec<task_turn::Model>,
    pub artifacts: Vec<Artifact>,
    pub events: Vec<StoredEvent>,
}
