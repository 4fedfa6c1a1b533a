//! What clients do with tasks — create, cancel, follow up, read — as operations
//! that tie validation, policy, quotas, the store and the queue together. HTTP
//! handlers call these and only translate requests and responses.

use std::path::PathBuf;
use std::sync::Arc;

use serde_json::json;

use super::request::FieldError;
use super::structured::{CheckError, SchemaChecker};
use super::{Delivery, ErrorKind, FollowUp, NewTask, TaskError, TaskStatus, TaskView};
use crate::approvals::desk::{ApprovalView, ClientDecision, DecideError, Desk};
use crate::approvals::questions;
use crate::auth::Principal;
use crate::config::TaskLimits;
use crate::plugins::{Hook, Plugins, PolicyRefusal};
use crate::queue::{Hub, Queue};
use crate::runner::{LiveMessage, Stop, TaskDirs};
use crate::store::entities::task;
use crate::store::{
    AuditEntry, EventRecord, IdempotencyClaim, Inserted, LiveTurn, MAX_WAITING_MESSAGES, NewTaskRow, Store, StoreError,
};
use crate::workspace::inputs::{self, InputError, InputFile, Limits, Upload};

/// Why an operation on a task was refused.
#[derive(Debug, thiserror::Error)]
pub enum TaskServiceError {
    #[error("no such task")]
    NotFound,
    #[error("plugin `{plugin}` rejected the request")]
    Rejected { plugin: String, violations: Vec<FieldError> },
    #[error("{0}")]
    PluginFailed(String),
    #[error("the key already has {queued} queued tasks, its limit (max_queued_tasks)")]
    QueueFull { queued: u64 },
    #[error("the task is {status}; {action} needs a finished task")]
    Conflict { status: String, action: &'static str },
    #[error("the task is {status}; delivery \"{}\" needs a running task (send \"next_turn\" to a finished one)", delivery.as_str())]
    NotRunning { status: String, delivery: Delivery },
    #[error("{} messages sent into the run are waiting already; wait until it takes them", MAX_WAITING_MESSAGES)]
    TooManyMessages,
    #[error("{0}")]
    BudgetExceeded(crate::store::Reached),
    #[error("the task's workspace expired and was deleted (retention.workspace_ttl)")]
    WorkspaceExpired,
    #[error("this Idempotency-Key was used in the last 24 h with a different request")]
    IdempotencyKeyReused,
    #[error("the gateway is shutting down")]
    ShuttingDown,
    #[error("{queued} tasks are queued, the gateway's cap (queue.max_depth is {max_depth}); try again later")]
    Overloaded { queued: u64, max_depth: u64 },
    #[error("this key may not give tasks the host's network (options.network = \"full\" needs the network:full scope)")]
    NetworkNotAllowed,
    #[error("the input files were refused")]
    InputsRefused(Vec<FieldError>),
    #[error("{0}")]
    SchemaChecker(String),
    #[error("{}", crate::task::structured::CheckError::Busy)]
    SchemaCheckerBusy,
    #[error("no such approval for this task")]
    ApprovalNotFound,
    #[error("{0}")]
    ApprovalClosed(String),
    #[error("the decision does not fit the prompt")]
    InvalidDecision(Vec<FieldError>),
    #[error("cannot prepare the task's workspace: {0}")]
    Workspace(std::io::Error),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Who asked, for the audit log.
#[derive(Debug, Clone, Default)]
pub struct RequestContext {
    /// The gateway's own id of the request.
    pub request_id: Option<String>,
    /// The `X-Request-Id` the client sent, kept apart from the gateway's.
    pub client_request_id: Option<String>,
    pub client_addr: Option<String>,
}

impl RequestContext {
    /// An audit entry of this request.
    pub fn audit_entry(&self, key_id: Option<String>, action: &'static str, outcome: &'static str) -> AuditEntry {
        AuditEntry {
            key_id,
            request_id: self.request_id.clone(),
            client_request_id: self.client_request_id.clone(),
            client_addr: self.client_addr.clone(),
            ..AuditEntry::new(action, outcome)
        }
    }
}

/// What creating a task produced.
pub struct CreateOutcome {
    pub task: task::Model,
    /// An earlier request with the same `Idempotency-Key` created it.
    pub replayed: bool,
}

#[derive(Clone)]
pub struct TaskService {
    store: Store,
    queue: Arc<Queue>,
    hub: Arc<Hub>,
    plugins: Arc<Plugins>,
    data_dir: PathBuf,
    rules: TaskRules,
    desk: Arc<Desk>,
}

/// What the service holds tasks to: the request limits, the artifact globs of tasks
/// that name none, and the checker of output schemas.
#[derive(Clone)]
pub struct TaskRules {
    pub limits: TaskLimits,
    pub default_artifacts: Vec<String>,
    pub schema_checker: SchemaChecker,
}

impl TaskService {
    pub fn new(
        store: Store,
        queue: Arc<Queue>,
        hub: Arc<Hub>,
        plugins: Arc<Plugins>,
        data_dir: PathBuf,
        rules: TaskRules,
        desk: Arc<Desk>,
    ) -> Self {
        Self { store, queue, hub, plugins, data_dir, rules, desk }
    }

    /// The task's permission prompts, oldest first.
    pub async fn approvals(&self, principal: &Principal, id: &str) -> Result<Vec<ApprovalView>, TaskServiceError> {
        let task = self.owned(principal, id).await?;
        Ok(self.store.approvals_of(&task.id, false).await?.iter().map(ApprovalView::from).collect())
    }

    /// A client's decision on one of the task's prompts.
    pub async fn decide_approval(
        &self,
        principal: &Principal,
        id: &str,
        approval_id: &str,
        decision: ClientDecision,
        ctx: &RequestContext,
    ) -> Result<ApprovalView, TaskServiceError> {
        let task = self.owned(principal, id).await?;
        let allow = decision.allow;
        let decision = self.with_answers(&task.id, approval_id, decision).await?;
        let row = self.desk.decide(&task.id, approval_id, decision).await.map_err(|e| match e {
            DecideError::NotFound => TaskServiceError::ApprovalNotFound,
            DecideError::Store(e) => TaskServiceError::Store(e),
            e => TaskServiceError::ApprovalClosed(e.to_string()),
        })?;
        let mut audit = audit_entry(principal, ctx, "approval.decide", "ok");
        audit.target = Some(task.id.clone());
        audit.details = Some(json!({"approval_id": approval_id, "decision": if allow { "allow" } else { "deny" }}));
        if let Err(e) = self.store.audit(audit).await {
            tracing::warn!(error = %e, "could not audit an approval decision");
        }
        Ok(ApprovalView::from(&row))
    }

    /// A decision whose `answers` are turned into the `AskUserQuestion` input the
    /// CLI reads (checked against the questions the prompt asked).
    async fn with_answers(
        &self,
        task_id: &str,
        approval_id: &str,
        mut decision: ClientDecision,
    ) -> Result<ClientDecision, TaskServiceError> {
        let Some(answers) = decision.answers.take() else { return Ok(decision) };
        let row = self.store.approval(task_id, approval_id).await?.ok_or(TaskServiceError::ApprovalNotFound)?;
        let invalid = |message: String| TaskServiceError::InvalidDecision(vec![FieldError::new("/answers", message)]);
        if row.tool != questions::TOOL {
            return Err(invalid(format!("go with {} prompts only; this one is for {}", questions::TOOL, row.tool)));
        }
        let input: serde_json::Value = serde_json::from_str(&row.input).unwrap_or_default();
        if input.get("withheld").is_some() {
            return Err(invalid("cannot be given: the questions were too large to keep (over 16 KiB)".into()));
        }
        let answered = questions::answered_input(&input, &answers).map_err(|errors| {
            TaskServiceError::InvalidDecision(
                errors.into_iter().map(|e| FieldError::new(e.pointer, e.message)).collect(),
            )
        })?;
        decision.updated_input = Some(answered);
        Ok(decision)
    }

    pub fn store(&self) -> &Store {
        &self.store
    }

    pub fn hub(&self) -> &Arc<Hub> {
        &self.hub
    }

    /// Where multipart uploads are staged while they are received.
    pub fn uploads_dir(&self) -> PathBuf {
        self.data_dir.join("uploads")
    }

    /// Validates policy and quotas, builds the workspace from the input files and
    /// `upload`, stores and queues the task.
    pub async fn create(
        &self,
        principal: &Principal,
        mut request: NewTask,
        upload: Option<Upload>,
        idempotency: Option<IdempotencyClaim>,
        ctx: &RequestContext,
    ) -> Result<CreateOutcome, TaskServiceError> {
        if let Some(claim) = &idempotency
            && let Some(replay) = self.replay(principal, claim).await?
        {
            return Ok(replay);
        }
        self.check_capacity().await?;
        let upload_files: Vec<(String, u64)> =
            upload.iter().flat_map(|u| u.parts()).map(|p| (p.filename.clone(), p.size)).collect();
        let plugin_events = self
            .plugins
            .check_request(&mut request, principal, &self.rules.limits, &upload_files, None)
            .await
            .map_err(refused)?;
        if request.options.network == "full" && !principal.has(crate::auth::Scope::NetworkFull) {
            return Err(TaskServiceError::NetworkNotAllowed);
        }
        // After the budget: a key that may not run spends no checker on its schema.
        self.check_budget(principal).await?;
        if let Some(schema) = &request.options.output_schema {
            self.compile_output_schema(schema).await?;
        }
        // The insert decides on the queue cap; with input files to write first, an
        // early look saves writing them for nothing.
        if !request.files.is_empty() || upload.is_some() {
            let queued = self.store.queued_count(&principal.key_id).await?;
            if queued >= u64::from(principal.max_queued_tasks) {
                return Err(TaskServiceError::QueueFull { queued });
            }
        }
        // Run to the end even if the client hangs up: a half-done create would leave
        // a workspace without a task, or a task whose files were cleaned away.
        let service = self.clone();
        let (principal, ctx) = (principal.clone(), ctx.clone());
        tokio::spawn(
            async move { service.store_new(&principal, request, upload, idempotency, &ctx, plugin_events).await },
        )
        .await
        .unwrap_or_else(|e| Err(TaskServiceError::Workspace(std::io::Error::other(e))))
    }

    /// Refuses new work while the gateway shuts down or its queue is at `queue.max_depth`.
    async fn check_capacity(&self) -> Result<(), TaskServiceError> {
        if self.queue.is_draining() {
            return Err(TaskServiceError::ShuttingDown);
        }
        let max_depth = self.queue.config.max_depth;
        let queued = self.queue.depth().await?;
        if queued >= max_depth {
            return Err(TaskServiceError::Overloaded { queued, max_depth });
        }
        Ok(())
    }

    /// Compiles the task's output schema in the checker's child process (after the
    /// policy plugins, which may have rewritten it).
    async fn compile_output_schema(&self, schema: &serde_json::Value) -> Result<(), TaskServiceError> {
        let refused =
            |message: String| TaskServiceError::InputsRefused(vec![FieldError::new("/options/output_schema", message)]);
        match self.rules.schema_checker.compile(schema).await {
            Ok(Ok(())) => Ok(()),
            Ok(Err(why)) => Err(refused(why)),
            Err(e) if e.is_over_budget() => Err(refused(format!("cannot be compiled: compiling it {e}"))),
            Err(CheckError::Busy) => Err(TaskServiceError::SchemaCheckerBusy),
            Err(e) => Err(TaskServiceError::SchemaChecker(e.to_string())),
        }
    }

    /// Refuses a key that has spent its daily or monthly budget (its running tasks
    /// are not stopped; their cost still counts).
    async fn check_budget(&self, principal: &Principal) -> Result<(), TaskServiceError> {
        let budgets = principal.budgets();
        if budgets.is_empty() {
            return Ok(());
        }
        let spend = self.store.spend(&principal.key_id, crate::timestamp::now_ms()).await?;
        match spend.reached(&budgets) {
            Some(reached) => Err(TaskServiceError::BudgetExceeded(reached)),
            None => Ok(()),
        }
    }

    /// Builds the workspace, then stores and queues the task (or cleans up).
    async fn store_new(
        &self,
        principal: &Principal,
        mut request: NewTask,
        upload: Option<Upload>,
        idempotency: Option<IdempotencyClaim>,
        ctx: &RequestContext,
        plugin_events: Vec<EventRecord>,
    ) -> Result<CreateOutcome, TaskServiceError> {
        let id = crate::ids::new_id("tsk");
        let dirs = TaskDirs::new(&self.data_dir, &id);
        // The runner creates the directories of a task without input files; with
        // files, they are written before the task exists for any worker.
        if !request.files.is_empty() || upload.is_some() {
            let files = std::mem::take(&mut request.files);
            self.build_workspace(&dirs, files, upload).await?;
        }
        let row = NewTaskRow {
            id: id.clone(),
            key_id: principal.key_id.clone(),
            priority: request.priority,
            prompt: request.prompt.clone(),
            options_json: serde_json::to_string(&request.options).unwrap_or_default(),
            metadata: request.metadata.clone(),
            idempotency,
            max_queued: principal.max_queued_tasks,
            artifact_patterns: request.artifacts.clone().unwrap_or_else(|| self.rules.default_artifacts.clone()),
            webhook: request.webhook.clone(),
            environment: principal.environment,
        };
        let mut events = plugin_events;
        events.push(EventRecord::new("status", json!({"status": "queued", "attempt": 0, "turn": 0})));
        let audit = audit_entry(principal, ctx, "task.create", "ok");
        match self.store.insert_task(row, &events, audit).await {
            Ok(Inserted::Created(task)) => {
                self.hub.work_queued();
                Ok(CreateOutcome { task: *task, replayed: false })
            }
            Ok(Inserted::Replayed { task_id, same_request }) => {
                let _ = std::fs::remove_dir_all(&dirs.root);
                if !same_request {
                    return Err(TaskServiceError::IdempotencyKeyReused);
                }
                let task = self.store.task(&task_id).await?.ok_or(TaskServiceError::NotFound)?;
                Ok(CreateOutcome { task, replayed: true })
            }
            Ok(Inserted::QueueFull { queued }) => {
                let _ = std::fs::remove_dir_all(&dirs.root);
                Err(TaskServiceError::QueueFull { queued })
            }
            Err(e) => {
                let _ = std::fs::remove_dir_all(&dirs.root);
                Err(e.into())
            }
        }
    }

    async fn build_workspace(
        &self,
        dirs: &TaskDirs,
        files: Vec<InputFile>,
        upload: Option<Upload>,
    ) -> Result<(), TaskServiceError> {
        let upload = match upload {
            Some(upload) => upload,
            None => Upload::create(&self.uploads_dir()).map_err(TaskServiceError::Workspace)?,
        };
        let limits = Limits {
            max_files: self.rules.limits.max_input_files,
            max_bytes: self.rules.limits.max_input_bytes as u64,
            max_ratio: self.rules.limits.max_archive_ratio,
        };
        let target = dirs.clone();
        // Artifact plugins may diff a turn's workspace against the inputs.
        let keep_baseline = self.plugins.serves(Hook::Artifacts);
        let built = tokio::task::spawn_blocking(move || {
            inputs::build_workspace(&files, upload, limits, &target.workspace)?;
            if keep_baseline {
                crate::workspace::snapshot(&target.workspace, &target.baseline)?;
            }
            target.create().map_err(InputError::Io)
        })
        .await
        .unwrap_or_else(|e| Err(InputError::Io(std::io::Error::other(e))));
        built.map_err(|e| {
            let _ = std::fs::remove_dir_all(&dirs.root);
            match e {
                InputError::Refused(refusals) => TaskServiceError::InputsRefused(
                    refusals.into_iter().map(|r| FieldError::new(r.pointer, r.message)).collect(),
                ),
                InputError::Io(e) => TaskServiceError::Workspace(e),
            }
        })
    }

    /// The task an earlier request with this `Idempotency-Key` created, if any.
    async fn replay(
        &self,
        principal: &Principal,
        claim: &IdempotencyClaim,
    ) -> Result<Option<CreateOutcome>, TaskServiceError> {
        let Some(record) = self.store.idempotency_record(&principal.key_id, &claim.key).await? else { return Ok(None) };
        if record.request_hash != claim.request_hash {
            return Err(TaskServiceError::IdempotencyKeyReused);
        }
        let task = self.store.task(&record.task_id).await?.ok_or(TaskServiceError::NotFound)?;
        Ok(Some(CreateOutcome { task, replayed: true }))
    }

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
            match task.status.as_str() {
                "queued" => {
                    let error = TaskError::new(ErrorKind::Cancelled, "the task was cancelled before it started");
                    let events = [
                        EventRecord::new("error", json!({"error": error})),
                        EventRecord::new("status", json!({"status": "cancelled", "attempt": task.attempts})),
                    ];
                    let error_json = serde_json::to_string(&error).unwrap_or_default();
                    let audit = audit_entry(principal, ctx, "task.cancel", "ok");
                    if self.store.cancel_queued(id, error_json, &events, audit).await? {
                        self.hub.task_changed(id);
                        break;
                    }
                }
                "running" => {
                    if self.store.request_cancel(id, audit_entry(principal, ctx, "task.cancel", "ok")).await? {
                        self.queue.stop_local(id, Stop::Cancel);
                        // Give the run a moment to stop so the answer usually shows `cancelled`.
                        self.wait_until_finished(id, std::time::Duration::from_secs(10)).await?;
                        break;
                    }
                }
                _ => break,
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
    async fn steer(
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
        if task.status != TaskStatus::Running.as_str() {
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
    async fn check_message(
        &self,
        principal: &Principal,
        task: &task::Model,
        prompt: String,
    ) -> Result<(String, Vec<EventRecord>), TaskServiceError> {
        let id = &task.id;
        let mut request = NewTask {
            prompt,
            priority: task.priority,
            options: serde_json::from_str(&task.options)
                .map_err(|e| TaskServiceError::Store(StoreError::Corrupt(format!("the options of task {id}: {e}"))))?,
            metadata: serde_json::from_str(&task.metadata).unwrap_or_default(),
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
    async fn follow_up(
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
            Some(_) => {
                self.hub.task_changed(id);
                self.hub.work_queued();
                self.view(principal, id).await
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
            let finished = crate::task::TaskStatus::parse(&task.status).is_some_and(|s| s.is_terminal());
            if finished || tokio::time::Instant::now() >= deadline {
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

fn audit_entry(principal: &Principal, ctx: &RequestContext, action: &'static str, outcome: &'static str) -> AuditEntry {
    ctx.audit_entry(Some(principal.key_id.clone()), action, outcome)
}

/// A refusal of the policy chain as the service reports it.
fn refused(refusal: PolicyRefusal) -> TaskServiceError {
    match refusal {
        PolicyRefusal::Denied { plugin, violations } => TaskServiceError::Rejected { plugin, violations },
        failed @ PolicyRefusal::Failed { .. } => TaskServiceError::PluginFailed(failed.to_string()),
    }
}
