//! Workers: claim a task, run its turn, write what happens, finish it.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::json;
use tokio::sync::{mpsc, watch};

use super::hub::Hub;
use super::pressure::{Floors, Pressure, QueueDepth, Shortage};
use crate::config::QueueConfig;
use crate::plugins::{Plugins, Processed, TaskFacts, ToolApprovers};
use crate::runner::{
    LiveMessage, Outcome, RunReport, Runner, RunnerMessage, Stop, TaskDirs, TurnInput, TurnRequest, decide,
};
use crate::sandbox::KeyTokens;
use crate::store::{AuditEntry, ClaimedTask, EventRecord, Fence, FinishRun, RetryRun, RunCost, Store};
use crate::task::structured::SchemaChecker;
use crate::task::{ErrorKind, TaskError, TaskOptions, TaskStatus};

/// A flag every long-running loop watches to stop.
#[derive(Clone)]
pub(crate) struct ShutdownSignal(watch::Sender<bool>);

impl ShutdownSignal {
    fn new() -> Self {
        Self(watch::channel(false).0)
    }

    fn trigger(&self) {
        self.0.send_replace(true);
    }

    pub(crate) fn is_triggered(&self) -> bool {
        *self.0.borrow()
    }

    pub(crate) async fn cancelled(&self) {
        let mut rx = self.0.subscribe();
        let _ = rx.wait_for(|stopped| *stopped).await;
    }
}

/// What the queue is built from.
pub struct QueueParts {
    pub store: Store,
    pub hub: Arc<Hub>,
    pub runner: Runner,
    pub config: QueueConfig,
    pub data_dir: PathBuf,
    pub plugins: Arc<Plugins>,
    pub schema_checker: SchemaChecker,
    pub artifacts: super::ArtifactCollection,
}

/// The queue of this node: its workers, the runs in progress, and the reaper.
pub struct Queue {
    pub(crate) store: Store,
    pub(crate) hub: Arc<Hub>,
    runner: Runner,
    pub(crate) config: QueueConfig,
    pub(super) data_dir: PathBuf,
    pub(super) plugins: Arc<Plugins>,
    schema_checker: SchemaChecker,
    pub(super) artifacts: super::ArtifactCollection,
    /// Free memory and disk against their floors: a node short of either claims nothing.
    pressure: Pressure,
    /// Queued tasks of all keys, counted at most a few times a second.
    depth: QueueDepth,
    pub(crate) node_id: String,
    running: Mutex<HashMap<String, watch::Sender<Option<Stop>>>>,
    /// Where messages for the live session of each run of this node go.
    live: Mutex<HashMap<String, mpsc::Sender<LiveMessage>>>,
    pub(crate) shutdown: ShutdownSignal,
    workers_done: Mutex<Vec<tokio::task::JoinHandle<()>>>,
}

impl Queue {
    pub fn new(parts: QueueParts) -> Arc<Self> {
        let floors = Floors { memory_mb: parts.config.min_free_memory_mb, disk_mb: parts.config.min_free_disk_mb };
        let pressure = Pressure::new(floors, parts.data_dir.clone());
        Arc::new(Self {
            store: parts.store,
            hub: parts.hub,
            runner: parts.runner,
            config: parts.config,
            data_dir: parts.data_dir,
            plugins: parts.plugins,
            schema_checker: parts.schema_checker,
            artifacts: parts.artifacts,
            pressure,
            depth: QueueDepth::new(Duration::from_millis(250)),
            node_id: crate::ids::new_id("node"),
            running: Mutex::new(HashMap::new()),
            live: Mutex::new(HashMap::new()),
            shutdown: ShutdownSignal::new(),
            workers_done: Mutex::new(Vec::new()),
        })
    }

    /// Recovers lost runs, then starts the workers and the reaper.
    pub async fn start(self: &Arc<Self>) {
        let recovered = self.recover_after_restart().await;
        if recovered > 0 {
            tracing::warn!(recovered, "recovered runs left behind by a previous gateway process");
        }
        let mut handles = self.workers_done.lock().unwrap_or_else(|p| p.into_inner());
        for _ in 0..self.config.workers {
            handles.push(tokio::spawn(self.clone().work_forever()));
        }
        tokio::spawn(self.clone().reap_forever());
    }

    pub fn node_id(&self) -> &str {
        &self.node_id
    }

    /// How many runs this node has in progress.
    pub fn running_count(&self) -> usize {
        self.running.lock().map(|r| r.len()).unwrap_or(0)
    }

    pub(crate) fn runs_locally(&self, task_id: &str) -> bool {
        self.running.lock().map(|r| r.contains_key(task_id)).unwrap_or(false)
    }

    async fn cancel_was_requested(&self, id: &str) -> bool {
        matches!(self.store.task(id).await, Ok(Some(task)) if task.cancel_requested)
    }

    pub fn is_draining(&self) -> bool {
        self.shutdown.is_triggered()
    }

    /// What this node is short of, if anything (it claims no work meanwhile).
    pub fn shortage(&self) -> Option<Shortage> {
        self.pressure.current()
    }

    /// Queued tasks of all keys (a count at most a quarter second old).
    pub async fn depth(&self) -> Result<u64, crate::store::StoreError> {
        self.depth.queued(self.store.count_by_status(TaskStatus::Queued.as_str())).await
    }

    /// Stops a run of this node at once (cancel). `false` if it does not run here.
    pub fn stop_local(&self, task_id: &str, reason: Stop) -> bool {
        let running = self.running.lock().unwrap_or_else(|p| p.into_inner());
        match running.get(task_id) {
            Some(stop) => {
                stop.send_replace(Some(reason));
                true
            }
            None => false,
        }
    }

    /// Hands `message` to the task's run on this node. `false` when no run of it is
    /// here or it has too many messages in hand: the message's turn stays queued and
    /// runs after the run.
    pub fn steer_local(&self, task_id: &str, message: LiveMessage) -> bool {
        let live = self.live.lock().unwrap_or_else(|p| p.into_inner());
        live.get(task_id).is_some_and(|run| run.try_send(message).is_ok())
    }

    /// Stops claiming, lets runs finish for `grace`, then stops the rest and puts
    /// them back in the queue without counting the attempt.
    pub async fn shutdown(&self, grace: Duration) {
        self.shutdown.trigger();
        let deadline = tokio::time::Instant::now() + grace;
        while self.running_count() > 0 && tokio::time::Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        let remaining = self.running_count();
        if remaining > 0 {
            tracing::warn!(remaining, "stopping runs still in progress; their tasks go back to the queue");
            for stop in self.running.lock().unwrap_or_else(|p| p.into_inner()).values() {
                stop_once(stop, Stop::Shutdown);
            }
        }
        let handles = std::mem::take(&mut *self.workers_done.lock().unwrap_or_else(|p| p.into_inner()));
        for handle in handles {
            let _ = handle.await;
        }
    }

    async fn work_forever(self: Arc<Self>) {
        let poll = Duration::from_millis(self.config.poll_interval_ms.max(10));
        while !self.shutdown.is_triggered() {
            if self.pressure.current().is_some() {
                tokio::select! {
                    () = tokio::time::sleep(poll.min(Duration::from_secs(1))) => {}
                    () = self.shutdown.cancelled() => {}
                }
                continue;
            }
            match self.store.claim(&self.node_id, self.lease_ms()).await {
                Ok(Some(claimed)) => {
                    // Another worker may find work too: pass the wake-up on.
                    self.hub.work_queued();
                    self.run_claimed(claimed).await;
                }
                Ok(None) => {
                    tokio::select! {
                        () = self.hub.wait_for_work() => {}
                        () = tokio::time::sleep(poll) => {}
                        () = self.shutdown.cancelled() => {}
                    }
                }
                Err(e) => {
                    tracing::error!(error = %e, "could not claim a task");
                    tokio::time::sleep(poll).await;
                }
            }
        }
    }

    fn lease_ms(&self) -> i64 {
        (self.config.lease_seconds * 1000) as i64
    }

    async fn run_claimed(&self, claimed: ClaimedTask) {
        let ClaimedTask { task, prompt, fence } = claimed;
        let queue_wait = Duration::from_millis((crate::timestamp::now_ms() - task.enqueued_at).max(0) as u64);
        let id = task.id.clone();
        self.hub.task_changed(&id);
        let options: TaskOptions = match serde_json::from_str(&task.options) {
            Ok(options) => options,
            Err(e) => {
                let error =
                    TaskError::new(ErrorKind::Internal, format!("the task's stored options are unreadable: {e}"));
                self.finish(&task, &fence, Ending::new(TaskStatus::Failed, None, Some(error))).await;
                return;
            }
        };
        if self.wait_for_budget(&task, &fence).await {
            return;
        }
        let (stop_tx, stop_rx) = watch::channel(None);
        self.running.lock().unwrap_or_else(|p| p.into_inner()).insert(id.clone(), stop_tx.clone());
        let (live_tx, live_rx) = mpsc::channel(LIVE_MESSAGES_IN_HAND);
        self.live.lock().unwrap_or_else(|p| p.into_inner()).insert(id.clone(), live_tx);
        if self.shutdown.is_triggered() {
            // Claimed while shutdown began: hand it straight back.
            stop_once(&stop_tx, Stop::Shutdown);
        }
        tracing::info!(task_id = %id, attempt = fence.attempt, turn = task.current_turn, "run started");

        let (sink, messages) = mpsc::unbounded_channel();
        // Result plugins with `filter_events` see the run's events before they are stored.
        let filter = if self.plugins.serves(crate::plugins::Hook::Result) {
            let facts = self.task_facts(&task, TaskStatus::Running).await;
            self.plugins.filters_events(&facts.key_id, &facts.key_name).then(|| (self.plugins.clone(), facts))
        } else {
            None
        };
        let writer = tokio::spawn(write_events(
            self.store.clone(),
            self.hub.clone(),
            id.clone(),
            fence.clone(),
            messages,
            stop_tx.clone(),
            filter,
        ));
        // Aborted however this function ends: a lease kept alive by a run that panicked
        // would hold the task forever.
        let heartbeat = AbortOnDrop(tokio::spawn(keep_lease(
            self.store.clone(),
            id.clone(),
            fence.clone(),
            self.lease_ms(),
            stop_tx.clone(),
        )));
        let dirs = TaskDirs::new(&self.data_dir, &id);
        let prompt = if task.continue_turn { crate::runner::CONTINUE_PROMPT.to_string() } else { prompt };
        let tokens = self.tokens_left(&task.key_id).await;
        let approvers = if self.plugins.serves(crate::plugins::Hook::ToolApproval) {
            let facts = self.task_facts(&task, TaskStatus::Running).await;
            Some(ToolApprovers::for_task(&self.plugins, &id, &facts.key_id, &facts.key_name))
        } else {
            None
        };
        let request = TurnRequest {
            task_id: &id,
            dirs: &dirs,
            prompt: &prompt,
            input: TurnInput { options: &options, resume_session: task.session_id.as_deref() },
            timeout: Duration::from_secs(options.timeout_seconds),
            tokens: tokens.as_ref(),
            turn: task.current_turn,
            approvers,
            test: crate::auth::Environment::stored(&task.environment) == crate::auth::Environment::Test,
        };
        let report = self.runner.run(request, sink, stop_rx, live_rx).await;
        self.live.lock().unwrap_or_else(|p| p.into_inner()).remove(&id);
        // Messages sent into the run began turns of their own: the run ends the last.
        let mut task = task;
        if let Ok(Some(turn)) = writer.await {
            task.current_turn = turn;
        }
        // The lease stays alive until the outcome is stored, or the reaper would run
        // the task again.
        self.conclude(&task, &fence, &options, report, queue_wait).await;
        drop(heartbeat);
        self.running.lock().unwrap_or_else(|p| p.into_inner()).remove(&id);
        self.hub.task_changed(&id);
    }

    async fn conclude(
        &self,
        task: &crate::store::entities::task::Model,
        fence: &Fence,
        options: &TaskOptions,
        report: RunReport,
        queue_wait: Duration,
    ) {
        let id = &task.id;
        if report.lingered {
            let notice = "Claude Code stayed alive after its result; it was stopped";
            let _ = self.store.append_events(id, Some(fence), &[crate::runner::gateway_notice(notice)]).await;
        }
        let mut outcome = decide(&report, options.timeout_seconds);
        if let Outcome::Retry { reason, not_before, fallback } = outcome {
            // Past `system/init` the session holds the prompt: the retry continues it
            // (and once a retry continued, every later one does).
            // A session the CLI cannot find (the run that began it died before the
            // CLI wrote it, as 2.1.332 does while a permission prompt waits) cannot
            // be continued: the retry starts the turn afresh.
            let session_lost = crate::runner::session_not_found(&report);
            if session_lost && let Err(e) = self.store.forget_session(&task.id, fence).await {
                tracing::warn!(task_id = %task.id, error = %e, "could not forget a lost session");
            }
            let continue_turn =
                !session_lost && (task.continue_turn || (report.state.saw_init && report.state.session_id.is_some()));
            let cost = partial_cost(task, &report);
            if self.retry_later(task, fence, &reason, not_before, continue_turn, cost).await {
                return;
            }
            outcome = match *fallback {
                // A cancel that came in while the retry was being decided wins.
                Outcome::Finished { result, .. } if self.cancel_was_requested(&task.id).await => Outcome::Finished {
                    status: TaskStatus::Cancelled,
                    result,
                    error: Some(TaskError::new(ErrorKind::Cancelled, "the task was cancelled")),
                },
                Outcome::Finished { status, result, error } => Outcome::Finished {
                    status,
                    result,
                    error: error.map(|e| {
                        let mut details = e.details.clone();
                        details["transient"] = json!(reason);
                        details["attempts"] = json!(fence.attempt);
                        TaskError { details, ..e }
                    }),
                },
                other => other,
            };
        }
        match outcome {
            Outcome::Finished { status, mut result, mut error } => {
                if let (TaskStatus::Completed, Some(schema)) = (status, &options.output_schema) {
                    match self
                        .schema_checker
                        .check_answer(schema, result.structured.as_ref(), result.text.as_deref())
                        .await
                    {
                        Ok(answer) => result.structured = Some(answer),
                        Err(mismatch) => {
                            result.structured = None;
                            error = Some(
                                TaskError::new(ErrorKind::OutputSchemaMismatch, mismatch.message)
                                    .with_details(mismatch.details),
                            );
                        }
                    }
                }
                let facts = self.task_facts(task, status).await;
                let Processed { mut result, error: refused, events: plugin_events } =
                    self.plugins.process_result(&facts, result).await;
                // What a plugin answered meets the task's output schema too (and a
                // task without one has no structured answer).
                match (&options.output_schema, refused.is_none() && error.is_none()) {
                    (None, _) => result.structured = None,
                    (Some(schema), true) if result.structured.is_some() => {
                        if let Err(mismatch) =
                            self.schema_checker.check_answer(schema, result.structured.as_ref(), None).await
                        {
                            result.structured = None;
                            error = Some(
                                TaskError::new(
                                    ErrorKind::OutputSchemaMismatch,
                                    format!("after the result plugins: {}", mismatch.message),
                                )
                                .with_details(mismatch.details),
                            );
                        }
                    }
                    _ => {}
                }
                let error = refused.or(error);
                let status =
                    if error.is_some() && status == TaskStatus::Completed { TaskStatus::Failed } else { status };
                let model = options.model.as_deref().unwrap_or("default");
                crate::telemetry::metrics::usage(model, &result.usage, result.cost_usd);
                crate::telemetry::metrics::key_usage(&task.key_id, &result.usage, result.cost_usd);
                crate::telemetry::metrics::run_finished(status.as_str(), report.duration, queue_wait);
                let version = report.state.claude_code_version.clone();
                let ending = Ending {
                    claude_code_version: version,
                    events: plugin_events,
                    charge: crate::runner::charge(&report),
                    facts: Some(facts),
                    time_left: Some(Duration::from_secs(options.timeout_seconds).saturating_sub(report.duration)),
                    ..Ending::new(status, Some(result), error)
                };
                self.finish(task, fence, ending).await;
                tracing::info!(task_id = %id, status = status.as_str(), duration_ms = report.duration.as_millis() as u64, "run finished");
            }
            Outcome::Requeue if self.cancel_was_requested(id).await => {
                let error = TaskError::new(ErrorKind::Cancelled, "the task was cancelled");
                let partial = crate::runner::partial_result(&report);
                let facts = self.task_facts(task, TaskStatus::Cancelled).await;
                let processed = self.plugins.process_result(&facts, partial).await;
                let version = report.state.claude_code_version.clone();
                let ending = Ending {
                    claude_code_version: version,
                    events: processed.events,
                    charge: crate::runner::charge(&report),
                    facts: Some(facts),
                    time_left: Some(Duration::from_secs(options.timeout_seconds).saturating_sub(report.duration)),
                    ..Ending::new(TaskStatus::Cancelled, Some(processed.result), Some(error))
                };
                self.finish(task, fence, ending).await;
            }
            Outcome::Requeue => {
                let events = [
                    crate::runner::gateway_notice("the gateway is shutting down; the task goes back to the queue"),
                    EventRecord::new("status", json!({"status": "queued", "attempt": fence.attempt})),
                ];
                match self.store.requeue_run(id, fence, task.current_turn, None, &events).await {
                    Ok(true) => tracing::info!(task_id = %id, "run stopped for shutdown; task re-queued"),
                    Ok(false) => tracing::warn!(task_id = %id, "run stopped for shutdown but no longer held the task"),
                    Err(e) => tracing::error!(task_id = %id, error = %e, "could not re-queue a task at shutdown"),
                }
            }
            Outcome::Abandon => tracing::warn!(task_id = %id, "run lost its lease; another node owns the task"),
            // A retry's fallback is always a finished outcome.
            Outcome::Retry { .. } => tracing::error!(task_id = %id, "a retry had no outcome to fall back on"),
        }
    }

    /// Puts a claimed task back until its key's budget resets, if the key has spent
    /// it (tasks queued before it ran out wait instead of spending more); says
    /// whether it did.
    async fn wait_for_budget(&self, task: &crate::store::entities::task::Model, fence: &Fence) -> bool {
        let Ok(Some(key)) = self.store.key(&task.key_id).await else { return false };
        let budgets = crate::store::Budgets::of_key(&key);
        if budgets.is_empty() {
            return false;
        }
        let now = crate::timestamp::now_ms();
        let Ok(spend) = self.store.spend(&key.id, now).await else { return false };
        let (tomorrow, next_month) = crate::store::next_day_and_month(now);
        // The database lags runs in progress: a spent live allowance counts too.
        let live_spent = budgets.has_tokens() && self.runner.live_tokens_left(&key.id).is_some_and(|left| left <= 0);
        let until = match spend.reached(&budgets) {
            Some(reached) if reached.monthly => next_month,
            Some(_) => tomorrow,
            None if live_spent && budgets.tokens_per_day.is_some() => tomorrow,
            None if live_spent => next_month,
            None => return false,
        };
        let notice = format!(
            "the key's budget is spent; the task waits until {} when it resets",
            crate::timestamp::format_ms(until)
        );
        let events = [
            crate::runner::gateway_notice(&notice),
            EventRecord::new("status", json!({"status": "queued", "attempt": fence.attempt - 1})),
        ];
        match self.store.requeue_run(&task.id, fence, task.current_turn, Some(until), &events).await {
            Ok(changed) => {
                tracing::info!(task_id = %task.id, until, "key over budget; task deferred");
                self.hub.task_changed(&task.id);
                changed
            }
            Err(e) => {
                tracing::error!(task_id = %task.id, error = %e, "could not defer a task of a key over budget");
                false
            }
        }
    }

    /// Re-queues the task after a transient failure if attempts are left; says
    /// whether it did.
    async fn retry_later(
        &self,
        task: &crate::store::entities::task::Model,
        fence: &Fence,
        reason: &str,
        not_before: Option<i64>,
        continue_turn: bool,
        cost: Option<RunCost>,
    ) -> bool {
        let max_attempts = self.config.max_attempts as i32;
        if fence.attempt >= max_attempts || self.shutdown.is_triggered() || self.cancel_was_requested(&task.id).await {
            return false;
        }
        let schedule = &self.config.retry_backoff_seconds;
        let backoff = schedule.get(fence.attempt as usize - 1).or(schedule.last()).copied().unwrap_or(5);
        let now = crate::timestamp::now_ms();
        let at = retry_at(now, backoff, not_before, self.config.max_retry_wait_seconds);
        let seconds = (at - now + 999) / 1000;
        let notice = format!(
            "transient failure: {reason}; retrying in {seconds} s (attempt {} of {max_attempts})",
            fence.attempt + 1
        );
        let events = [
            crate::runner::gateway_notice(&notice),
            EventRecord::new("status", json!({"status": "queued", "attempt": fence.attempt, "retry": reason})),
        ];
        let retry =
            RetryRun { turn: task.current_turn, not_before: at, continue_turn, cost: cost.as_ref(), events: &events };
        match self.store.retry_run(&task.id, fence, retry).await {
            Ok(changed) => {
                tracing::info!(task_id = %task.id, reason, seconds, "transient failure; task re-queued");
                changed
            }
            Err(e) => {
                tracing::error!(task_id = %task.id, error = %e, "could not re-queue a task for a retry");
                false
            }
        }
    }

    /// What the key's token budget leaves for this run, if it has one. When the
    /// database cannot say, nothing is left (the budget fails closed).
    async fn tokens_left(&self, key_id: &str) -> Option<KeyTokens> {
        let now = crate::timestamp::now_ms();
        let (key, spend) = match self.store.key(key_id).await {
            Ok(Some(key)) => {
                let spend = self.store.spend(key_id, now).await;
                (key, spend)
            }
            Ok(None) => return None,
            Err(e) => {
                tracing::error!(key_id, error = %e, "cannot read the key's token budget; its run gets none");
                let stamp = format!("unknown {now}");
                return Some(KeyTokens { key_id: key_id.to_string(), left: 0, stamp });
            }
        };
        let budgets = crate::store::Budgets::of_key(&key);
        if !budgets.has_tokens() {
            return None;
        }
        let stamp =
            format!("{} {:?} {:?}", crate::store::day_of(now), budgets.tokens_per_day, budgets.tokens_per_month);
        let left = match spend {
            Ok(spend) => spend.tokens_left(&budgets)?,
            Err(e) => {
                tracing::error!(key_id, error = %e, "cannot read the key's spending; its run gets no tokens");
                0
            }
        };
        Some(KeyTokens { key_id: key_id.to_string(), left, stamp })
    }

    /// What a task needs from its key and row for the plugin hooks.
    async fn task_facts(&self, task: &crate::store::entities::task::Model, status: TaskStatus) -> TaskFacts {
        let key_name = match self.store.key(&task.key_id).await {
            Ok(Some(key)) => key.name,
            _ => String::new(),
        };
        TaskFacts {
            id: task.id.clone(),
            status,
            prompt: task.prompt.clone(),
            metadata: serde_json::from_str(&task.metadata).unwrap_or_default(),
            key_id: task.key_id.clone(),
            key_name,
        }
    }

    async fn finish(&self, task: &crate::store::entities::task::Model, fence: &Fence, ending: Ending) {
        let Ending { status, result, mut error, claude_code_version, events: plugin_events, charge, facts, time_left } =
            ending;
        // Read once per run: the result hook's facts, with the final status.
        let facts = match facts {
            Some(facts) => TaskFacts { status, ..facts },
            None => self.task_facts(task, status).await,
        };
        let (staged, mut events) = self.collect_artifacts(task, &facts, result.as_ref(), time_left).await;
        if let Some(error) = &error {
            events.push(EventRecord::new("error", json!({"error": error})));
        }
        // The error's details (stderr lines, say) pass the event filter like every
        // event of the run; what it withholds is not kept in the task either.
        if self.plugins.filters_events(&facts.key_id, &facts.key_name) {
            self.plugins.filter_events(&facts, &mut events).await;
            if let (Some(error), Some(event)) = (&mut error, events.iter().find(|e| e.event_type == "error")) {
                match serde_json::from_value::<TaskError>(event.data["error"].clone()) {
                    Ok(filtered) => *error = filtered,
                    Err(_) => error.details = json!({"withheld": true}),
                }
            }
        }
        events.splice(0..0, plugin_events);
        if let Some(result) = &result {
            let at = events.iter().position(|e| e.event_type == "error").unwrap_or(events.len());
            events.insert(at, EventRecord::new("result", json!({"result": result})));
        }
        events.push(EventRecord::new("status", json!({"status": status.as_str(), "attempt": fence.attempt})));
        let finish = FinishRun {
            status: status.as_str(),
            session_id: result.as_ref().and_then(|r| r.session_id.clone()),
            result_json: result.as_ref().and_then(|r| serde_json::to_string(r).ok()),
            error_json: error.as_ref().and_then(|e| serde_json::to_string(e).ok()),
            events,
            artifacts: staged.as_ref().map(|s| s.artifacts.clone()),
            claude_code_version,
            cost: charge.map(|(usage, cost_usd)| RunCost::of(&task.key_id, cost_usd, &usage)),
            audit: AuditEntry {
                key_id: Some(task.key_id.clone()),
                details: Some(json!({"attempt": fence.attempt, "turn": task.current_turn, "status": status.as_str(),
                                      "error_kind": error.as_ref().map(|e| e.kind)})),
                ..AuditEntry::new("run.finish", if status == TaskStatus::Completed { "ok" } else { "failed" })
            },
        };
        // A failed write is retried: giving up would leave the task to the reaper,
        // which would run it again.
        for attempt in 0..6u32 {
            match self.store.finish_run(&task.id, fence, task.current_turn, finish.clone()).await {
                Ok(true) => return self.settle_artifacts(&task.id, staged, true).await,
                Ok(false) => {
                    tracing::warn!(task_id = %task.id, "run finished after losing its lease; its outcome was discarded");
                    return self.settle_artifacts(&task.id, staged, false).await;
                }
                Err(e) => {
                    tracing::error!(task_id = %task.id, error = %e, attempt, "could not store the outcome of a run");
                    tokio::time::sleep(Duration::from_millis(200 << attempt)).await;
                }
            }
        }
        self.settle_artifacts(&task.id, staged, false).await;
    }
}

/// Writes a run's events in batches, fenced; a fenced-out write means the lease is
/// lost. Returns the last turn a message sent into the run began, if any.
async fn write_events(
    store: Store,
    hub: Arc<Hub>,
    task_id: String,
    fence: Fence,
    mut messages: mpsc::UnboundedReceiver<RunnerMessage>,
    stop: watch::Sender<Option<Stop>>,
    filter: Option<(Arc<Plugins>, TaskFacts)>,
) -> Option<i32> {
    let mut batch = Vec::new();
    let mut last_turn = None;
    while let Some(first) = messages.recv().await {
        let mut session = None;
        let mut started = None;
        let mut take = |message: RunnerMessage, batch: &mut Vec<EventRecord>| match message {
            RunnerMessage::Events(events) => batch.extend(events),
            RunnerMessage::Session(id) => session = Some(id),
            RunnerMessage::TurnStarted(turn) => {
                batch.push(EventRecord::new(
                    "status",
                    json!({"status": "running", "attempt": fence.attempt, "turn": turn}),
                ));
                started = Some(turn);
            }
        };
        take(first, &mut batch);
        while batch.len() < 512 {
            match messages.try_recv() {
                Ok(message) => take(message, &mut batch),
                Err(_) => break,
            }
        }
        if let Some((plugins, facts)) = &filter {
            plugins.filter_events(facts, &mut batch).await;
        }
        let mut lost = false;
        for attempt in 0..5u32 {
            match store.append_events(&task_id, Some(&fence), &batch).await {
                Ok(Some(_)) => break,
                Ok(None) => {
                    lost = true;
                    break;
                }
                Err(e) => {
                    tracing::error!(task_id = %task_id, error = %e, attempt, "could not store events; retrying");
                    tokio::time::sleep(Duration::from_millis(100 << attempt)).await;
                }
            }
        }
        if let Some(session) = session
            && let Err(e) = store.set_session(&task_id, &fence, &session).await
        {
            tracing::error!(task_id = %task_id, error = %e, "could not store the session id");
        }
        if let Some(turn) = started.filter(|_| !lost) {
            match store.begin_turn(&task_id, &fence, turn).await {
                Ok(_) => last_turn = Some(turn),
                Err(e) => tracing::error!(task_id = %task_id, error = %e, turn, "could not record a turn's start"),
            }
        }
        batch.clear();
        hub.task_changed(&task_id);
        if lost {
            stop.send_replace(Some(Stop::LeaseLost));
        }
    }
    last_turn
}

/// Messages a run can have in hand before it wrote them into its session.
const LIVE_MESSAGES_IN_HAND: usize = 16;

/// Renews the lease a few times per lease period, and passes on cancel requests
/// made on other nodes.
async fn keep_lease(store: Store, task_id: String, fence: Fence, lease_ms: i64, stop: watch::Sender<Option<Stop>>) {
    let period = Duration::from_millis((lease_ms / 3).max(500) as u64);
    let cancel_poll = Duration::from_millis(1000).min(period);
    let mut last_renewal = tokio::time::Instant::now();
    loop {
        tokio::time::sleep(cancel_poll).await;
        let renew = last_renewal.elapsed() >= period;
        let answer = if renew {
            last_renewal = tokio::time::Instant::now();
            store.heartbeat(&task_id, &fence, lease_ms).await
        } else {
            store.task(&task_id).await.map(|t| t.map(|t| t.cancel_requested))
        };
        match answer {
            Ok(Some(true)) => {
                stop_once(&stop, Stop::Cancel);
            }
            Ok(Some(false)) => {}
            Ok(None) if renew => {
                stop.send_replace(Some(Stop::LeaseLost));
                return;
            }
            Ok(None) => {}
            Err(e) => tracing::warn!(task_id = %task_id, error = %e, "could not renew a lease"),
        }
    }
}

/// Asks a run to stop unless it was already asked (a cancel must not become a shutdown).
fn stop_once(stop: &watch::Sender<Option<Stop>>, reason: Stop) {
    stop.send_if_modified(|current| {
        let unset = current.is_none();
        if unset {
            *current = Some(reason);
        }
        unset
    });
}

/// What a run that ends in a retry cost (what the model proxy counted counts
/// even when the run printed no result).
fn partial_cost(task: &crate::store::entities::task::Model, report: &crate::runner::RunReport) -> Option<RunCost> {
    crate::runner::charge(report).map(|(usage, cost_usd)| RunCost::of(&task.key_id, cost_usd, &usage))
}

/// When a retry runs: the later of the backoff and what the API asked for (as
/// the run reported it: a rate limit's reset, `Retry-After`), but never more than
/// `max_wait_seconds` away (a run cannot push its own retry out for good).
fn retry_at(now: i64, backoff_seconds: u64, not_before: Option<i64>, max_wait_seconds: u64) -> i64 {
    let seconds = |s: u64| i64::try_from(s.saturating_mul(1000)).unwrap_or(i64::MAX);
    let latest = now.saturating_add(seconds(max_wait_seconds));
    now.saturating_add(seconds(backoff_seconds)).max(not_before.unwrap_or(0)).min(latest)
}

/// Aborts a background task when dropped.
struct AbortOnDrop(tokio::task::JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// How a run ends: what `finish` stores.
struct Ending {
    status: TaskStatus,
    result: Option<crate::task::TaskResult>,
    error: Option<TaskError>,
    claude_code_version: Option<String>,
    /// `plugin` events of the result hook, recorded before the result.
    events: Vec<EventRecord>,
    /// What the run is charged (tokens and US dollars), from `runner::charge`.
    charge: Option<(crate::task::Usage, f64)>,
    /// What the result hook already read of the task and its key.
    facts: Option<TaskFacts>,
    /// What the run left of the task's timeout (artifact collection gets no more).
    time_left: Option<Duration>,
}

impl Ending {
    fn new(status: TaskStatus, result: Option<crate::task::TaskResult>, error: Option<TaskError>) -> Self {
        Self {
            status,
            result,
            error,
            claude_code_version: None,
            events: Vec::new(),
            charge: None,
            facts: None,
            time_left: None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_retry_waits_what_the_api_asked_but_no_longer_than_the_cap() {
        let now = 1_000_000;
        assert_eq!(retry_at(now, 5, None, 3600), now + 5_000, "the backoff");
        assert_eq!(retry_at(now, 5, Some(now + 60_000), 3600), now + 60_000, "the API's own word");
        assert_eq!(retry_at(now, 5, Some(now + 100 * 3_600_000), 3600), now + 3_600_000, "a forged reset is capped");
        assert_eq!(retry_at(now, 5, Some(i64::MAX), u64::MAX), i64::MAX, "no overflow");
    }
}
