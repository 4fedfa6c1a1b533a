//! A worker's loop: claim the next task when the node has room, run its turn with
//! its lease kept and its events written, then conclude it.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{mpsc, watch};

use super::events::{EventTarget, write_events};
use super::finish::Ending;
use super::lease::{AbortOnDrop, HeldRun, keep_lease, stop_once};
use super::workers::Queue;
use crate::plugins::ToolApprovers;
use crate::runner::{LiveMeter, Stop, TaskDirs, TurnInput, TurnRequest};
use crate::store::ClaimedTask;
use crate::task::{ErrorKind, TaskError, TaskOptions, TaskStatus};

/// The least time between a worker's claim attempt that found nothing and its next.
const EMPTY_CLAIM_GAP: Duration = Duration::from_millis(20);
/// Looks that found nothing a worker makes without the gap after each run.
const FREE_EMPTY_LOOKS: u32 = 2;

impl Queue {
    pub(super) async fn work_forever(self: Arc<Self>) {
        let poll = self.poll_interval();
        // Looks that found nothing since this worker last claimed a task.
        let mut empty_looks = 0u32;
        while !self.shutdown.is_triggered() {
            if self.claims.is_paused() {
                // Draining: claim nothing until the drain is withdrawn.
                tokio::select! {
                    () = self.claims.opened() => {}
                    () = self.shutdown.cancelled() => {}
                }
                continue;
            }
            if let Some(shortage) = self.pressure.current() {
                crate::telemetry::metrics::claim_skipped(shortage.resource());
                tokio::select! {
                    () = tokio::time::sleep(poll.min(Duration::from_secs(1))) => {}
                    () = self.shutdown.cancelled() => {}
                }
                continue;
            }
            match self.store.claim(&self.node_id, self.lease_ms()).await {
                Ok(Some(claimed)) => {
                    empty_looks = 0;
                    // Another worker may find work too: pass the wake-up on.
                    self.hub.pass_work_on();
                    self.run_claimed(claimed).await;
                }
                Ok(None) => {
                    let found_nothing = tokio::time::Instant::now();
                    tokio::select! {
                        () = self.hub.wait_for_work() => {}
                        () = tokio::time::sleep(poll) => {}
                        () = self.shutdown.cancelled() => {}
                    }
                    // Every submit wakes the idle workers, and a claim looks at every
                    // key with queued work. A worker that keeps finding nothing looks
                    // again at most every `EMPTY_CLAIM_GAP`. The first looks after a
                    // run go at once: the one right after it, and one woken by a
                    // submit made while it ran, find nothing before a client's next
                    // task (submitted as the last one ends) arrives.
                    empty_looks = empty_looks.saturating_add(1);
                    if empty_looks > FREE_EMPTY_LOOKS {
                        tokio::select! {
                            () = tokio::time::sleep_until(found_nothing + EMPTY_CLAIM_GAP) => {}
                            () = self.shutdown.cancelled() => {}
                        }
                    }
                }
                Err(e) => {
                    tracing::error!(error = %e, "could not claim a task");
                    tokio::time::sleep(poll).await;
                }
            }
        }
    }

    /// How often to look for what other nodes did, when no wake-up says so.
    pub fn poll_interval(&self) -> Duration {
        Duration::from_millis(self.config.poll_interval_ms.max(10))
    }

    pub(super) fn lease_ms(&self) -> i64 {
        (self.config.lease_seconds * 1000) as i64
    }

    /// How long a run's writes wait for a database that cannot be reached.
    pub(super) fn outage_limit(&self) -> Duration {
        Duration::from_secs(self.config.database_outage_seconds)
    }

    pub(super) async fn run_claimed(&self, claimed: ClaimedTask) {
        let ClaimedTask { task, prompt, fence } = claimed;
        let queue_wait = Duration::from_millis((crate::timestamp::now_ms() - task.enqueued_at).max(0) as u64);
        let id = task.id.clone();
        self.hub.task_changed(&id);
        let options: TaskOptions = match task.options.get() {
            Ok(options) => options.clone(),
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
        if self.shutdown.is_triggered() || self.claims.is_paused() {
            // Claimed while a drain or shutdown began: hand it straight back.
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
        let target = EventTarget {
            store: self.store.clone(),
            hub: self.hub.clone(),
            task_id: id.clone(),
            fence: fence.clone(),
            outage_limit: self.outage_limit(),
        };
        let writer = tokio::spawn(write_events(target, messages, stop_tx.clone(), filter));
        // Aborted however this function ends: a lease kept alive by a run that panicked
        // would hold the task forever.
        let live_meter = Arc::new(LiveMeter::new());
        let held = HeldRun {
            task_id: id.clone(),
            key_id: task.key_id.clone(),
            fence: fence.clone(),
            meter: live_meter.clone(),
            test: task.environment == crate::auth::Environment::Test,
        };
        let heartbeat = AbortOnDrop(tokio::spawn(keep_lease(
            self.store.clone(),
            self.hub.clone(),
            held,
            self.lease_ms(),
            self.poll_interval(),
            stop_tx.clone(),
        )));
        // With the lease kept: restoring a large snapshot may take a while.
        let Some(task) = self.restore_snapshot(task, &fence).await else {
            drop(sink);
            let _ = writer.await;
            drop(heartbeat);
            self.live.lock().unwrap_or_else(|p| p.into_inner()).remove(&id);
            self.running.lock().unwrap_or_else(|p| p.into_inner()).remove(&id);
            self.hub.task_changed(&id);
            return;
        };
        let dirs = TaskDirs::new(&self.data_dir, &id);
        let prompt = if task.continue_turn { crate::runner::CONTINUE_PROMPT.to_string() } else { prompt };
        let tokens = self.run_tokens(&id, &task.key_id, &fence).await;
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
            test: task.environment == crate::auth::Environment::Test,
            live_meter: Some(&live_meter),
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
}

/// Messages a run can have in hand before it wrote them into its session.
pub(super) const LIVE_MESSAGES_IN_HAND: usize = 16;
