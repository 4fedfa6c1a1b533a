//! What a client sends an existing task: a cancel, a follow-up turn, a message
//! into its running session; and waiting for it to finish.

use serde_json::json;

use super::{RequestContext, TaskService, TaskServiceError, audit_entry, refused};
use crate::auth::Principal;
use crate::runner::{LiveMessage, Stop};
use crate::store::entities::task;
use crate::store::{EventRecord, LiveTurn, StoreError};
use crate::task::{Delivery, ErrorKind, FollowUp, NewTask, TaskError, TaskStatus, TaskView};

impl TaskService {
    /// Cancels a queued or running task; a finished task is returned unchanged.
    pub async fn cancel(
        &self,
        principal: &Principal,
        id: &str,
        ctx: &RequestContext,
    ) -> Result<TaskView, TaskServiceError> {
        // A task can move between queued and running while we act (claimed, or put
        // back at shutdown): try again until one of the two conditional writes lands.
        for _ in 0..5 {
            let task = self.owned(principal, id).await?;
            match task.status {
                TaskStatus::Queued => {
                    let error = TaskError::new(ErrorKind::Cancelled, "the task was cancelled before it started");
                    let events = [
                        EventRecord::new("error", json!({"error": error})),
                        EventRecord::new("status", json!({"status": TaskStatus::Cancelled, "attempt": task.attempts})),
                    ];
                    let audit = audit_entry(principal, ctx, "task.cancel", "ok");
                    if self.store.cancel_queued(id, error, &events, audit).await? {
                        self.hub.task_changed(id);
                        break;
                    }
                }
                TaskStatus::Running => {
                    if self.store.request_cancel(id, audit_entry(principal, ctx, "task.cancel", "ok")).await? {
                        self.queue.stop_local(id, Stop::Cancel);
                        // The run may be another node's.
                        self.hub.cancel_requested(id);
                        // Give the run a moment to stop so the answer usually shows `cancelled`.
                        self.wait_until_finished(id, std::time::Duration::from_secs(10)).await?;
                        break;
                    }
                }
                TaskStatus::Completed | TaskStatus::Failed | TaskStatus::Cancelled => break,
            }
        }
        self.view(principal, id).await
    }

    /// A message for the task: the next turn of a finished task, or a message sent
    /// into its running session (`delivery`).
    pub async fn message(
        &self,
        principal: &Principal,
        id: &str,
        message: FollowUp,
        ctx: &RequestContext,
    ) -> Result<TaskView, TaskServiceError> {
        match message.delivery {
            Delivery::NextTurn => self.follow_up(principal, id, message.prompt, ctx).await,
            delivery => self.steer(principal, id, message.prompt, delivery, ctx).await,
        }
    }

    /// Sends a message into the running session of a task: recorded as a turn of its
    /// own, then handed to the run (which writes it on the CLI's stdin). A message the
    /// run cannot take any more runs as the next turn.
    pub(super) async fn steer(
        &self,
        principal: &Principal,
        id: &str,
        prompt: String,
        delivery: Delivery,
        ctx: &RequestContext,
    ) -> Result<TaskView, TaskServiceError> {
        if self.queue.is_draining() {
            return Err(TaskServiceError::ShuttingDown);
        }
        let task = self.owned(principal, id).await?;
        if task.status != TaskStatus::Running {
            return Err(TaskServiceError::NotRunning { status: task.status, delivery });
        }
        self.check_budget(principal).await?;
        let (prompt, events) = self.check_message(principal, &task, prompt).await?;
        let audit = audit_entry(principal, ctx, "task.message", "ok");
        match self.store.add_live_turn(id, &prompt, delivery.as_str(), &events, audit).await? {
            LiveTurn::Added(turn) => {
                let message = LiveMessage { turn, prompt, interrupt: delivery == Delivery::Interrupt };
                if !self.queue.steer_local(id, message) {
                    tracing::info!(task_id = %id, turn, "no run of the task here takes the message; it runs as the next turn");
                }
                self.hub.task_changed(id);
                self.view(principal, id).await
            }
            LiveTurn::NotRunning => {
                let task = self.owned(principal, id).await?;
                Err(TaskServiceError::NotRunning { status: task.status, delivery })
            }
            LiveTurn::TooMany => Err(TaskServiceError::TooManyMessages),
        }
    }

    /// Runs a message of `task` through the policy plugins (which see it with the
    /// task's options and metadata); returns the prompt as they left it and their events.
    pub(super) async fn check_message(
        &self,
        principal: &Principal,
        task: &task::Model,
        prompt: String,
    ) -> Result<(String, Vec<EventRecord>), TaskServiceError> {
        let id = &task.id;
        let mut request = NewTask {
            prompt,
            priority: task.priority,
            options: task
                .options
                .get()
                .map_err(|e| TaskServiceError::Store(StoreError::Corrupt(format!("the options of task {id}: {e}"))))?
                .clone(),
            metadata: task.metadata.parsed().cloned().unwrap_or_default(),
            files: Vec::new(),
            artifacts: None,
            webhook: None,
            wait_seconds: None,
        };
        let events = self
            .plugins
            .check_request(&mut request, principal, &self.rules.limits, &[], Some(id))
            .await
            .map_err(refused)?;
        Ok((request.prompt, events))
    }

    /// Queues a follow-up prompt on a finished task (same workspace and session).
    pub(super) async fn follow_up(
        &self,
        principal: &Principal,
        id: &str,
        prompt: String,
        ctx: &RequestContext,
    ) -> Result<TaskView, TaskServiceError> {
        self.check_capacity().await?;
        let task = self.owned(principal, id).await?;
        if task.workspace_expired_at.is_some() {
            return Err(TaskServiceError::WorkspaceExpired);
        }
        self.check_budget(principal).await?;
        let (prompt, mut events) = self.check_message(principal, &task, prompt).await?;
        events
            .push(EventRecord::new("status", json!({"status": "queued", "attempt": 0, "turn": task.current_turn + 1})));
        let audit = audit_entry(principal, ctx, "task.message", "ok");
        match self.store.queue_follow_up(id, &prompt, &events, audit).await? {
            Some((queued, turns)) => {
                self.hub.task_changed(id);
                self.hub.work_queued();
                // The task as this request left it (`queued`), though a worker may
                // have claimed it already.
                let artifacts = self.store.artifacts(id).await?;
                Ok(TaskView::new(&queued, &turns, artifacts, Vec::new()))
            }
            None => {
                let task = self.owned(principal, id).await?;
                if task.workspace_expired_at.is_some() {
                    return Err(TaskServiceError::WorkspaceExpired);
                }
                Err(TaskServiceError::Conflict { status: task.status, action: "a follow-up message" })
            }
        }
    }

    /// Waits until the task is finished or `limit` passes; returns its row.
    pub async fn wait_until_finished(
        &self,
        id: &str,
        limit: std::time::Duration,
    ) -> Result<task::Model, TaskServiceError> {
        let deadline = tokio::time::Instant::now() + limit;
        let notify = self.hub.follow(id);
        loop {
            let notified = notify.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            let task = self.store.task(id).await?.ok_or(TaskServiceError::NotFound)?;
            if task.status.is_terminal() || tokio::time::Instant::now() >= deadline {
                return Ok(task);
            }
            tokio::select! {
                () = notified => {}
                () = tokio::time::sleep_until(deadline) => {}
                () = tokio::time::sleep(std::time::Duration::from_secs(1)) => {}
            }
        }
    }
}
