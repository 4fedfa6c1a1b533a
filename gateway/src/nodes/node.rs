//! This gateway's node: its row in the registry, its heartbeat, and the drain it
//! follows (asked through the registry, or by SIGTERM).

use std::sync::{Arc, Mutex};
use std::time::Duration;

use super::state::{FORGET_AFTER_MS, Facts, MAX_LISTED_NODES, grace_deadline, state_of};
use super::view::NodeView;
use crate::config::Config;
use crate::queue::Queue;
use crate::store::entities::node::{self, NodeState};
use crate::store::{AuditEntry, Resumed, Store, StoreError};
use crate::timestamp::now_ms;

/// Why a drain or resume could not be done.
#[derive(Debug, thiserror::Error)]
pub enum NodeError {
    #[error("no node has the id {0}")]
    NotFound(String),
    #[error("node {0} is shutting down or stopped; it cannot take work again")]
    Exiting(String),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// What the node knows of its own drain.
#[derive(Debug, Default)]
struct Local {
    /// When the registry says a drain was asked for.
    drain_requested_at: Option<i64>,
    /// SIGTERM: draining to exit.
    exiting: bool,
    /// What the node last wrote as its state.
    state: Option<NodeState>,
}

/// This gateway's node in the registry.
pub struct Node {
    store: Store,
    queue: Arc<Queue>,
    row: node::Model,
    lease_ms: i64,
    drain_grace_ms: i64,
    local: Mutex<Local>,
    relay: super::relay::Relay,
}

impl Node {
    /// The node of `queue` (its id is the queue's `node_id`), not yet registered.
    pub fn new(store: Store, queue: Arc<Queue>, config: &Config) -> Arc<Self> {
        let now = now_ms();
        let name = name_of(config);
        let advertise_url = Some(config.node.advertise_url.trim().to_string()).filter(|u| !u.is_empty());
        let row = node::Model {
            id: queue.node_id().to_string(),
            name,
            version: env!("CARGO_PKG_VERSION").to_string(),
            advertise_url,
            workers: i32::try_from(config.queue.workers).unwrap_or(i32::MAX),
            running: 0,
            pid: i64::from(std::process::id()),
            state: NodeState::Active,
            started_at: now,
            last_seen_at: now,
            drain_requested_at: None,
        };
        Arc::new(Self {
            store,
            queue,
            row,
            lease_ms: (config.queue.lease_seconds * 1000) as i64,
            drain_grace_ms: (config.queue.drain_grace_seconds * 1000) as i64,
            local: Mutex::new(Local::default()),
            relay: super::relay::Relay::new(&config.node.cluster_secret),
        })
    }

    pub fn id(&self) -> &str {
        &self.row.id
    }

    pub fn relay(&self) -> &super::relay::Relay {
        &self.relay
    }

    /// Where to relay a request for the files of `task`: the advertised URL of the
    /// live node running it, when that is another node and relaying is on.
    pub async fn runner_url(&self, task: &crate::store::entities::task::Model) -> Option<String> {
        let owner = task.lease_owner.as_deref().filter(|owner| *owner != self.id())?;
        if !self.relay.enabled() || task.status != crate::task::TaskStatus::Running {
            return None;
        }
        let node = self.get(owner).await.ok()?;
        node.alive.then_some(node.advertise_url).flatten()
    }

    /// How long a node may go unseen and still be alive.
    pub fn lease_ms(&self) -> i64 {
        self.lease_ms
    }

    /// Adds this node's row, and deletes the rows of nodes unseen for a day.
    pub async fn register(&self) -> Result<(), StoreError> {
        self.store.register_node(self.row.clone()).await?;
        self.forget_old_nodes().await;
        Ok(())
    }

    /// The state this node is in, as it last decided.
    pub fn state(&self) -> NodeState {
        self.lock().state.unwrap_or(NodeState::Active)
    }

    /// Heartbeats until the process exits: every third of a lease, sooner when a
    /// drain's grace deadline falls before.
    pub async fn heartbeat_forever(self: Arc<Self>) {
        let period = Duration::from_millis((self.lease_ms / 3).max(500) as u64);
        let mut forgot = tokio::time::Instant::now();
        loop {
            let until_deadline = self.beat().await;
            let wait = until_deadline.map_or(period, |left| left.min(period));
            tokio::time::sleep(wait.max(Duration::from_millis(50))).await;
            if forgot.elapsed() >= Duration::from_secs(3600) {
                forgot = tokio::time::Instant::now();
                self.forget_old_nodes().await;
            }
        }
    }

    /// One heartbeat: records that the node is alive, follows a drain asked for or
    /// withdrawn, hands back the runs still going at the drain's grace deadline,
    /// and records the state. Returns the time left until that deadline.
    async fn beat(&self) -> Option<Duration> {
        let running = i32::try_from(self.queue.running_count()).unwrap_or(i32::MAX);
        match self.store.node_heartbeat(self.id(), running).await {
            Ok(Some(row)) => self.follow(row.drain_requested_at).await,
            Ok(None) => {
                // Deleted as unseen (the node was cut off for a day): it is alive.
                tracing::warn!(node = self.id(), "this node's registry row was gone; registering it again");
                let mut row = self.row.clone();
                row.last_seen_at = now_ms();
                if let Err(e) = self.store.register_node(row).await {
                    tracing::warn!(error = %e, "could not register this node again");
                }
                None
            }
            Err(e) => {
                tracing::warn!(error = %e, "could not record this node's heartbeat");
                None
            }
        }
    }

    /// Applies the drain the registry says (`drain_requested_at`) and records the
    /// resulting state; returns the time left until the drain's grace deadline.
    async fn follow(&self, drain_requested_at: Option<i64>) -> Option<Duration> {
        let now = now_ms();
        let exiting = {
            let mut local = self.lock();
            local.drain_requested_at = drain_requested_at;
            local.exiting
        };
        let mut left = None;
        if !exiting {
            match drain_requested_at {
                Some(at) => {
                    if self.queue.pause_claims() {
                        tracing::info!(node = self.id(), "draining: this node claims no more work");
                    }
                    let deadline = grace_deadline(at, self.drain_grace_ms);
                    if now >= deadline {
                        if self.queue.running_count() > 0 {
                            let handed_back = self.queue.hand_back_running();
                            tracing::warn!(
                                handed_back,
                                "the drain's grace period is over: runs still going go back to the queue"
                            );
                        }
                    } else {
                        left = Some(Duration::from_millis((deadline - now) as u64));
                    }
                }
                None => {
                    if self.queue.resume_claims() {
                        tracing::info!(node = self.id(), "drain withdrawn: this node claims work again");
                    }
                }
            }
        }
        let facts =
            Facts { drain_requested: drain_requested_at.is_some(), exiting, running: self.queue.running_count() };
        self.record(state_of(facts), drain_requested_at).await;
        left
    }

    /// Writes `state` when it changed.
    async fn record(&self, state: NodeState, drain_seen: Option<i64>) {
        let before = self.lock().state.replace(state);
        if before == Some(state) {
            return;
        }
        match self.store.set_node_state(self.id(), state, drain_seen).await {
            Ok(true) => tracing::info!(node = self.id(), state = state.as_str(), "node state"),
            // A drain asked for or withdrawn meanwhile: the next heartbeat decides again.
            Ok(false) => self.lock().state = before,
            Err(e) => {
                tracing::warn!(error = %e, "could not record this node's state");
                self.lock().state = before;
            }
        }
    }

    /// The nodes of the registry, the latest started first (rows of nodes unseen
    /// for a day are deleted, so they are few).
    pub async fn list(&self) -> Result<Vec<NodeView>, NodeError> {
        let now = now_ms();
        let rows = self.store.nodes(MAX_LISTED_NODES).await?;
        Ok(rows.into_iter().map(|row| self.view(row, now)).collect())
    }

    /// One node of the registry.
    pub async fn get(&self, id: &str) -> Result<NodeView, NodeError> {
        let row = self.store.node(id).await?.ok_or_else(|| NodeError::NotFound(id.to_string()))?;
        Ok(self.view(row, now_ms()))
    }

    /// Asks node `id` to drain: this node follows at once, another at its next
    /// heartbeat. Asking again changes nothing. `audit` says who asked.
    pub async fn drain(&self, id: &str, audit: AuditEntry) -> Result<NodeView, NodeError> {
        let row = self.store.request_drain(id).await?.ok_or_else(|| NodeError::NotFound(id.to_string()))?;
        self.store.audit(AuditEntry { target: Some(id.to_string()), ..audit }).await?;
        if id == self.id() {
            self.beat().await;
            return self.get(id).await;
        }
        Ok(self.view(row, now_ms()))
    }

    /// Withdraws the drain of node `id` (draining or drained): it claims again.
    /// `audit` says who asked.
    pub async fn resume(&self, id: &str, audit: AuditEntry) -> Result<NodeView, NodeError> {
        let resumed = self.store.resume_node(id).await?;
        if let Resumed::Resumed(_) = &resumed {
            self.store.audit(AuditEntry { target: Some(id.to_string()), ..audit }).await?;
        }
        match resumed {
            Resumed::Resumed(row) if id == self.id() => {
                self.lock().state = Some(row.state);
                self.beat().await;
                self.get(id).await
            }
            Resumed::Resumed(row) => Ok(self.view(row, now_ms())),
            Resumed::Exiting(_) => Err(NodeError::Exiting(id.to_string())),
            Resumed::NotFound => Err(NodeError::NotFound(id.to_string())),
        }
    }

    /// SIGTERM: drains within `grace` (or by the grace deadline of a drain already
    /// going, when sooner), hands back what still runs, and marks the node stopped.
    pub async fn shutdown(&self, grace: Duration) {
        let drain_requested_at = {
            let mut local = self.lock();
            local.exiting = true;
            local.drain_requested_at
        };
        self.record(NodeState::Stopping, drain_requested_at).await;
        let grace = match drain_requested_at {
            Some(at) => {
                let left = (grace_deadline(at, self.drain_grace_ms) - now_ms()).max(0) as u64;
                grace.min(Duration::from_millis(left))
            }
            None => grace,
        };
        tracing::info!(
            grace_seconds = grace.as_secs_f64(),
            "shutting down: no new work; running tasks get the grace period"
        );
        self.queue.shutdown(grace).await;
        // Whatever was asked meanwhile: the last word of a node that exits cleanly.
        match self.store.mark_node_stopped(self.id()).await {
            Ok(()) => tracing::info!(node = self.id(), state = "stopped", "node state"),
            Err(e) => tracing::warn!(error = %e, "could not record that this node stopped"),
        }
    }

    fn view(&self, row: node::Model, now: i64) -> NodeView {
        NodeView::of(row, self.id(), now, self.lease_ms)
    }

    async fn forget_old_nodes(&self) {
        match self.store.forget_nodes_unseen_since(now_ms() - FORGET_AFTER_MS).await {
            Ok(0) => {}
            Ok(forgotten) => tracing::info!(forgotten, "deleted the registry rows of nodes unseen for a day"),
            Err(e) => tracing::warn!(error = %e, "could not delete the rows of nodes unseen for a day"),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Local> {
        self.local.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// The node's name: `node.name`, else the machine's hostname.
pub fn name_of(config: &Config) -> String {
    match config.node.name.trim() {
        "" => Some(crate::runner::orphans::host()).filter(|h| !h.is_empty()).unwrap_or_else(|| "localhost".into()),
        name => name.to_string(),
    }
}
