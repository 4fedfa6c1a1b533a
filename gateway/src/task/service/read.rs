//! Reading a task as its key sees it.

use super::{TaskService, TaskServiceError};
use crate::approvals::desk::ApprovalView;
use crate::auth::Principal;
use crate::runner::TaskDirs;
use crate::store::entities::task;
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
        let pending = if task.status == TaskStatus::Running.as_str() {
            self.store.approvals_of(&task.id, true).await?
        } else {
            Vec::new()
        };
        Ok(TaskView::new(task, &turns, artifacts, pending.iter().map(ApprovalView::from).collect()))
    }

    /// The task row, if it is this key's and its workspace is still there.
    pub async fn with_workspace(&self, principal: &Principal, id: &str) -> Result<task::Model, TaskServiceError> {
        let task = self.owned(principal, id).await?;
        if task.workspace_expired_at.is_some() {
            return Err(TaskServiceError::WorkspaceExpired);
        }
        Ok(task)
    }

    /// The task row, if it is this key's (another key's task is "not found").
    pub async fn owned(&self, principal: &Principal, id: &str) -> Result<task::Model, TaskServiceError> {
        if !crate::ids::looks_like(id, "tsk") {
            return Err(TaskServiceError::NotFound);
        }
        self.store.task_of_key(id, &principal.key_id).await?.ok_or(TaskServiceError::NotFound)
    }
}
