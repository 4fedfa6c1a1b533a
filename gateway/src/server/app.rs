//! The gateway's parts, built from a configuration and what start-up found on the
//! machine ([`Machine`]), before anything runs: the API's state over the store, the
//! queue with its workers not started, the plugins. `serve` then starts the work
//! ([`App::start_work`]); in-process tests serve [`App::router`] alone, with no run,
//! no Claude Code and no sandbox process.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use super::ServeError;
use crate::api::{AppState, DenialBudget, Readiness, flush_denial_counts};
use crate::approvals::desk::Desk;
use crate::artifacts::{ArtifactStore, CollectLimits};
use crate::audit::AuditLog;
use crate::auth::{Authenticator, KeyHasher, KeyService, RateLimiter};
use crate::config::Config;
use crate::nodes::Node;
use crate::plugins::Plugins;
use crate::queue::{ArtifactCollection, Hub, Queue, QueueParts};
use crate::retention::Sweeper;
use crate::runner::Runner;
use crate::sandbox::Sandbox;
use crate::snapshots::{SnapshotLimits, Snapshots};
use crate::store::Store;
use crate::task::structured::SchemaChecker;
use crate::task::{TaskRules, TaskService};
use crate::webhooks::guard::Allowlist;
use crate::webhooks::{Deliverer, DelivererConfig};
use crate::workspace::inputs::Upload;

/// What start-up found on this machine, and what runs are started with.
pub struct Machine {
    /// The Claude Code executable (as configured, unresolved, where runs never start).
    pub claude_bin: PathBuf,
    /// What `claude --version` said, when it answered.
    pub claude_version: Option<String>,
    /// The `ccgate` executable each run starts under (`ccgate supervise`).
    pub supervisor: PathBuf,
    /// The gateway's variables runs inherit (`runner::passthrough_env`).
    pub passthrough: Vec<(String, String)>,
    pub sandbox: Arc<Sandbox>,
}

/// The gateway, assembled and not yet working.
pub struct App {
    pub state: AppState,
    pub store: Store,
    pub queue: Arc<Queue>,
    /// This gateway in the node registry.
    pub node: Arc<Node>,
    pub plugins: Arc<Plugins>,
    data_dir: PathBuf,
}

impl App {
    /// Assembles the gateway over `store` (migrated by the caller). Starts no worker
    /// and no background task; `data_dir` must be absolute.
    pub async fn build(
        config: Config,
        store: Store,
        hasher: KeyHasher,
        machine: Machine,
        data_dir: PathBuf,
    ) -> Result<Self, ServeError> {
        let plugins = Arc::new(load_plugins(&config, &data_dir).await?);
        let schema_checker = SchemaChecker::new(machine.supervisor.clone(), config.tasks.output_schema.clone());
        let desk = Arc::new(Desk::new(store.clone()));
        let runner = Runner::new(
            config.claude.clone(),
            machine.claude_bin.clone(),
            machine.supervisor,
            machine.passthrough,
            data_dir.join("runs"),
            machine.sandbox.clone(),
            desk.clone(),
        )
        .with_test_model(start_test_model().await?)
        .with_pool(
            pool_size(&config),
            std::time::Duration::from_secs(config.pool.idle_seconds),
            pool_options(&config.tasks),
            &data_dir.join("pool"),
        );
        let hub = Arc::new(Hub::default());
        let (storage, artifact_store) = open_artifacts(&config, &data_dir).await?;
        let snapshots = if config.storage.snapshots.enabled(store.is_shared()) {
            let limits = SnapshotLimits {
                max_files: config.storage.snapshot_max_files,
                max_bytes: config.storage.snapshot_max_mb.saturating_mul(1 << 20),
            };
            Snapshots::new(storage, data_dir.clone(), limits)
        } else {
            Snapshots::off()
        };
        let queue = Queue::new(QueueParts {
            store: store.clone(),
            hub: hub.clone(),
            runner,
            config: config.queue.clone(),
            data_dir: data_dir.clone(),
            plugins: plugins.clone(),
            schema_checker: schema_checker.clone(),
            artifacts: ArtifactCollection {
                store: artifact_store.clone(),
                limits: CollectLimits { max_files: config.artifacts.max_files, max_bytes: config.artifacts.max_bytes },
                max_collect_seconds: config.artifacts.max_collect_seconds,
            },
            snapshots,
        });
        let node = Node::new(store.clone(), queue.clone(), &config);
        let tasks = TaskService::new(
            store.clone(),
            queue.clone(),
            hub,
            plugins.clone(),
            data_dir.clone(),
            TaskRules {
                limits: config.tasks.clone(),
                default_artifacts: config.artifacts.default_patterns.clone(),
                schema_checker,
            },
            desk,
        );
        let sessions = crate::dashboard::Sessions::new(Duration::from_secs(config.dashboard.session_minutes * 60));
        let readiness = Readiness {
            claude_bin: machine.claude_bin,
            claude_version: machine.claude_version,
            sandbox: machine.sandbox.status(),
            live: Some(machine.sandbox),
        };
        let authenticator = Authenticator::new(store.clone(), hasher.clone());
        let state = AppState {
            config: Arc::new(config),
            tasks,
            keys: KeyService::new(store.clone(), hasher, Some(authenticator.clone())),
            auth: authenticator,
            audit: AuditLog::new(store.clone()),
            stats: crate::telemetry::Stats::new(store.clone()),
            limiter: Arc::new(RateLimiter::default()),
            queue: queue.clone(),
            node: node.clone(),
            readiness: Arc::new(readiness),
            plugins: plugins.clone(),
            metrics: crate::telemetry::metrics::install(),
            artifacts: artifact_store,
            denials: Arc::new(DenialBudget::default()),
            uploads: Arc::default(),
            streams: Arc::default(),
            sessions: Arc::new(sessions),
        };
        Ok(Self { state, store, queue, node, plugins, data_dir })
    }

    /// The whole HTTP surface over this gateway's state.
    pub fn router(&self) -> axum::Router {
        crate::api::router(self.state.clone())
    }

    /// Starts the work: the node's registration and heartbeat, wake-ups shared
    /// with the other nodes (PostgreSQL), the queue's workers (after recovering
    /// lost runs), webhook delivery, retention, plugin reloads and the audit of
    /// refusal counts.
    pub async fn start_work(&self) -> Result<(), ServeError> {
        let config = &self.state.config;
        if let Err(e) = Upload::clean_up_leftovers(&self.state.tasks.uploads_dir()) {
            tracing::warn!(error = %e, "cannot clear abandoned uploads");
        }
        tokio::spawn(flush_denial_counts(self.state.denials.clone(), self.state.audit.clone()));
        // Registered before recovery: a node starting beside it sees it alive.
        self.node.register().await?;
        if let Some(pool) = self.store.postgres_pool() {
            crate::queue::cluster::join(&self.queue.hub, pool.clone(), self.queue.node_id().to_string());
        }
        self.queue.start().await;
        tokio::spawn(self.node.clone().heartbeat_forever());
        // Prompts that waited when a gateway died: their runs are gone (recovered above,
        // or failed), and nothing will ever answer them.
        match self.store.expire_orphaned_approvals().await {
            Ok(0) => {}
            Ok(expired) => tracing::info!(expired, "expired permission prompts left by an earlier gateway"),
            Err(e) => tracing::warn!(error = %e, "could not expire permission prompts left by an earlier gateway"),
        }
        let webhooks = &config.webhooks;
        let deliverer = Deliverer::new(
            self.store.clone(),
            DelivererConfig {
                allowlist: Allowlist::new(&webhooks.allowed_hosts),
                schedule: webhooks.retry_schedule_seconds.iter().map(|s| Duration::from_secs(*s)).collect(),
                timeout: Duration::from_secs(webhooks.timeout_seconds),
                poll_interval: Duration::from_millis(webhooks.poll_interval_ms.max(50)),
                max_in_flight: webhooks.max_in_flight,
            },
            self.queue.node_id().to_string(),
            self.plugins.clone(),
        )
        .map_err(ServeError::Setup)?;
        if webhooks.enabled {
            tokio::spawn(deliverer.run_forever());
        }
        tokio::spawn(
            Sweeper {
                store: self.store.clone(),
                artifacts: self.state.artifacts.clone(),
                snapshots: self.queue.snapshots.clone(),
                data_dir: self.data_dir.clone(),
                config: config.retention.clone(),
                leadership: crate::store::Leadership::retention(&self.store),
            }
            .run_forever(),
        );
        tokio::spawn(self.plugins.clone().watch_files());
        tokio::spawn(reload_on_sighup(self.plugins.clone()));
        Ok(())
    }
}

/// Opens shared storage (`storage.url`), checks that it answers, and moves in the
/// artifacts an earlier version kept in `<data_dir>/artifacts`.
async fn open_artifacts(
    config: &Config,
    data_dir: &std::path::Path,
) -> Result<(crate::storage::Storage, ArtifactStore), ServeError> {
    let location = config.storage_url().map_err(|e| ServeError::Setup(e.to_string()))?;
    let storage = crate::storage::Storage::open(location).map_err(|e| ServeError::Setup(e.to_string()))?;
    storage.check().await.map_err(|e| {
        ServeError::Setup(format!("{e} (check storage.url, and for S3 the bucket and the AWS_* variables)"))
    })?;
    tracing::info!(storage = %storage.location(), "storage");
    let artifacts = ArtifactStore::new(storage.clone());
    match artifacts.adopt_legacy(&data_dir.join("artifacts")).await {
        Ok(0) => {}
        Ok(tasks) => tracing::info!(tasks, "moved artifacts from the data directory into storage"),
        Err(e) => return Err(ServeError::Setup(format!("cannot move artifacts into storage: {e}"))),
    }
    Ok((storage, artifacts))
}

/// Loads the configured plugins; a plugin that does not load stops the start,
/// with every problem listed. Reloads read the configuration again.
async fn load_plugins(config: &Config, data_dir: &std::path::Path) -> Result<Plugins, ServeError> {
    let source = Box::new(|| Config::load().map(|c| c.plugins).map_err(|e| e.to_string()));
    Plugins::start(config.plugins.clone(), data_dir, Some(source))
        .await
        .map_err(|e| ServeError::Setup(format!("plugins could not be loaded: {e}")))
}

/// `SIGHUP` reloads the plugins (the old set stays if any plugin fails to load).
async fn reload_on_sighup(plugins: Arc<Plugins>) {
    let Ok(mut hangups) = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::hangup()) else { return };
    while hangups.recv().await.is_some() {
        match plugins.reload().await {
            Ok(count) => tracing::info!(plugins = count, "SIGHUP: plugins reloaded"),
            Err(e) => tracing::error!(error = %e, "SIGHUP: plugins not reloaded; the loaded set stays"),
        }
    }
}

/// Warm processes this node keeps: `pool.size`, else one per worker; none on a node
/// that runs nothing.
fn pool_size(config: &Config) -> usize {
    if config.queue.workers == 0 { 0 } else { config.pool.size.unwrap_or(config.queue.workers) }
}

/// What the warm pool's processes start with: the options of a task that sets none
/// (`None` only when the task limits refuse such a task: then there is no pool).
fn pool_options(limits: &crate::config::TaskLimits) -> Option<crate::task::TaskOptions> {
    crate::task::parse_new_task(&serde_json::json!({"prompt": "-"}), limits, false).ok().map(|task| task.options)
}

/// The built-in scripted model that test keys' runs talk to, on a loopback port of
/// its own (sandboxed runs reach it through the model proxy). Returns its URL.
async fn start_test_model() -> Result<String, ServeError> {
    let listener = super::bind("127.0.0.1:0").await?;
    let url = listener
        .local_addr()
        .map(|a| format!("http://{a}"))
        .map_err(|source| ServeError::Listen { addr: "127.0.0.1:0".into(), source })?;
    tokio::spawn(async move {
        if let Err(e) = crate::scripted_model::serve(listener, None).await {
            tracing::error!(error = %e, "the test keys' scripted model stopped");
        }
    });
    Ok(url)
}
