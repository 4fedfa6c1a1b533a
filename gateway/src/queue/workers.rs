//! The queue of a node: what it is built from, its workers, the runs in progress,
//! and how it stops.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::{mpsc, watch};

use super::claims::ClaimGate;
use super::hub::Hub;
use super::lease::stop_once;
use super::pressure::{Floors, Pressure, QueueDepth, Shortage};
use super::shutdown::ShutdownSignal;
use crate::config::QueueConfig;
use crate::plugins::Plugins;
use crate::runner::{LiveMessage, Runner, Stop};
use crate::store::Store;
use crate::task::TaskStatus;
use crate::task::structured::SchemaChecker;

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
    pub snapshots: crate::snapshots::Snapshots,
}

/// The queue of this node: its workers, the runs in progress, and the reaper.
pub struct Queue {
    pub(crate) store: Store,
    pub(crate) hub: Arc<Hub>,
    pub(super) runner: Runner,
    pub(crate) config: QueueConfig,
    pub(super) data_dir: PathBuf,
    pub(super) plugins: Arc<Plugins>,
    pub(super) schema_checker: SchemaChecker,
    pub(super) artifacts: super::ArtifactCollection,
    /// Each task's workspace and session in shared storage, for any node to restore.
    pub(crate) snapshots: crate::snapshots::Snapshots,
    /// Free memory and disk against their floors: a node short of either claims nothing.
    pub(super) pressure: Pressure,
    /// Queued tasks of all keys, counted at most a few times a second.
    pub(super) depth: QueueDepth,
    pub(crate) node_id: String,
    pub(super) running: Mutex<HashMap<String, watch::Sender<Option<Stop>>>>,
    /// Where messages for the live session of each run of this node go.
    pub(super) live: Mutex<HashMap<String, mpsc::Sender<LiveMessage>>>,
    pub(crate) shutdown: ShutdownSignal,
    /// Closed while the node drains.
    pub(crate) claims: ClaimGate,
    pub(super) workers_done: Mutex<Vec<tokio::task::JoinHandle<()>>>,
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
            snapshots: parts.snapshots,
            pressure,
            depth: QueueDepth::new(Duration::from_millis(250)),
            node_id: crate::ids::new_id("node"),
            running: Mutex::new(HashMap::new()),
            live: Mutex::new(HashMap::new()),
            shutdown: ShutdownSignal::new(),
            claims: ClaimGate::new(),
            workers_done: Mutex::new(Vec::new()),
        })
    }

    /// Recovers lost runs, then starts the workers and the reaper. A node without
    /// workers (API only) has no runs of its own to recover at start; its reaper
    /// still recovers runs of dead nodes when their leases expire.
    pub async fn start(self: &Arc<Self>) {
        if self.config.workers > 0 {
            let recovered = self.recover_after_restart().await;
            if recovered > 0 {
                tracing::warn!(recovered, "recovered runs left behind by a previous gateway process");
            }
            let queue = Arc::downgrade(self);
            self.runner.start_pool(move || {
                queue.upgrade().is_none_or(|queue| queue.claims_paused() || queue.shortage().is_some())
            });
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

    /// Whether the gateway is shutting down (it refuses new work then).
    pub fn is_draining(&self) -> bool {
        self.shutdown.is_triggered()
    }

    /// Stops claiming work (a drain); runs in progress go on. `true` if it claimed until now.
    pub fn pause_claims(&self) -> bool {
        self.claims.pause()
    }

    /// Claims work again (a drain withdrawn). `true` if claims were paused until now.
    pub fn resume_claims(&self) -> bool {
        let resumed = self.claims.resume();
        if resumed {
            // Work queued meanwhile waits for no poll.
            self.hub.work_queued();
        }
        resumed
    }

    /// Whether this node claims no work: draining, or shutting down.
    pub fn claims_paused(&self) -> bool {
        self.claims.is_paused() || self.shutdown.is_triggered()
    }

    /// Stops every run of this node and hands its task back to the queue without
    /// counting the attempt (a drain's grace deadline). Returns how many.
    pub fn hand_back_running(&self) -> usize {
        let running = self.running.lock().unwrap_or_else(|p| p.into_inner());
        for stop in running.values() {
            stop_once(stop, Stop::Shutdown);
        }
        running.len()
    }

    /// What this node is short of, if anything (it claims no work meanwhile).
    pub fn shortage(&self) -> Option<Shortage> {
        self.pressure.current()
    }

    /// Queued tasks of all keys (a count at most a quarter second old).
    pub async fn depth(&self) -> Result<u64, crate::store::StoreError> {
        self.depth.queued(self.store.count_by_status(TaskStatus::Queued)).await
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
        self.runner.stop_pool().await;
        let deadline = tokio::time::Instant::now() + grace;
        while self.running_count() > 0 && tokio::time::Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        if self.running_count() > 0 {
            let remaining = self.hand_back_running();
            tracing::warn!(remaining, "stopping runs still in progress; their tasks go back to the queue");
        }
        let handles = std::mem::take(&mut *self.workers_done.lock().unwrap_or_else(|p| p.into_inner()));
        for handle in handles {
            let _ = handle.await;
        }
    }
}
