//! Creating a task: policy, quotas, budget, the output schema, the workspace
//! from its input files, then the row (or the task an `Idempotency-Key` replays).

use serde_json::json;

use super::{CreateOutcome, RequestContext, TaskService, TaskServiceError, audit_entry, refused};
use crate::auth::Principal;
use crate::plugins::Hook;
use crate::runner::TaskDirs;
use crate::snapshots::Manifest;
use crate::store::{EventRecord, IdempotencyClaim, Inserted, NewTaskRow};
use crate::task::NewTask;
use crate::task::request::FieldError;
use crate::task::structured::CheckError;
use crate::workspace::inputs::{self, InputError, InputFile, Limits, Upload};

impl TaskService {
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
        if request.options.network == crate::task::Network::Full && !principal.has(crate::auth::Scope::NetworkFull) {
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
    pub(super) async fn check_capacity(&self) -> Result<(), TaskServiceError> {
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
    pub(super) async fn compile_output_schema(&self, schema: &serde_json::Value) -> Result<(), TaskServiceError> {
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
    pub(super) async fn check_budget(&self, principal: &Principal) -> Result<(), TaskServiceError> {
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
    pub(super) async fn store_new(
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
        let mut snapshot = None;
        if !request.files.is_empty() || upload.is_some() {
            let files = std::mem::take(&mut request.files);
            self.build_workspace(&dirs, files, upload).await?;
            // Saved before the task exists, so the node that claims it finds its files.
            let inputs = Manifest { session_id: None, after_turn: None };
            snapshot = match self.queue.snapshots.save(&id, inputs).await {
                Ok(saved) => saved,
                Err(e) => {
                    let _ = std::fs::remove_dir_all(&dirs.root);
                    return Err(TaskServiceError::Snapshot(e));
                }
            };
        }
        let row = NewTaskRow {
            id: id.clone(),
            key_id: principal.key_id.clone(),
            priority: request.priority,
            prompt: request.prompt.clone(),
            options: request.options.clone(),
            metadata: request.metadata.clone(),
            idempotency,
            max_queued: principal.max_queued_tasks,
            artifact_patterns: request.artifacts.clone().unwrap_or_else(|| self.rules.default_artifacts.clone()),
            webhook: request.webhook.clone(),
            environment: principal.environment,
            snapshot: snapshot.clone(),
        };
        let mut events = plugin_events;
        events.push(EventRecord::new("status", json!({"status": "queued", "attempt": 0, "turn": 0})));
        let audit = audit_entry(principal, ctx, "task.create", "ok");
        let inserted = self.store.insert_task(row, &events, audit).await;
        if let Some(name) = &snapshot {
            match &inserted {
                Ok(Inserted::Created(_)) => self.queue.snapshots.committed(&id, name, None, None).await,
                _ => self.queue.snapshots.discard(&id, name).await,
            }
        }
        match inserted {
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

    pub(super) async fn build_workspace(
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
    pub(super) async fn replay(
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
}
