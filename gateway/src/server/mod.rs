//! `ccgate serve`: wires the store, queue, runner and API together, serves HTTP
//! (`http`), and shuts down gracefully on SIGTERM or Ctrl-C.

pub mod database;
pub mod http;

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

pub use self::database::DatabaseLocation;
use self::http::HttpLimits;
use crate::api::{AppState, DenialBudget, Readiness, flush_denial_counts};
use crate::approvals::desk::Desk;
use crate::artifacts::{ArtifactStore, CollectLimits, LocalArtifacts};
use crate::auth::{Authenticator, KeyHasher, RateLimiter, load_or_create_pepper};
use crate::config::Config;
use crate::plugins::Plugins;
use crate::queue::{ArtifactCollection, Hub, Queue, QueueParts};
use crate::retention::Sweeper;
use crate::runner::{Runner, passthrough_env, resolve_program};
use crate::sandbox::Sandbox;
use crate::store::Store;
use crate::task::structured::SchemaChecker;
use crate::task::{TaskRules, TaskService};
use crate::webhooks::guard::Allowlist;
use crate::webhooks::{Deliverer, DelivererConfig};
use crate::workspace::inputs::Upload;

/// Why the gateway could not start.
#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    #[error(transparent)]
    Store(#[from] crate::store::StoreError),
    #[error("{0}")]
    Setup(String),
    #[error("cannot listen on {addr}: {source}")]
    Listen { addr: String, source: std::io::Error },
}

/// Opens the database (creating the data directory) and the key hasher.
pub async fn open(config: &Config) -> Result<(Store, KeyHasher), ServeError> {
    std::fs::create_dir_all(&config.data_dir).map_err(|e| {
        ServeError::Setup(format!("cannot create the data directory {}: {e}", config.data_dir.display()))
    })?;
    let store = Store::connect(&config.database_url()).await?.with_webhooks(Arc::new(crate::webhooks::Rules));
    let pepper = load_or_create_pepper(&config.keys.pepper, &config.data_dir)
        .map_err(|e| ServeError::Setup(format!("cannot read or create the key pepper: {e}")))?;
    Ok((store, KeyHasher::new(&pepper)))
}

/// Runs the gateway until a shutdown signal.
pub async fn serve(config: Config, migrate: bool) -> Result<(), ServeError> {
    // TLS for webhooks to https receivers: rustls with ring (no C toolchain needed).
    let _ = rustls::crypto::ring::default_provider().install_default();
    crate::sandbox::protect_gateway_process();
    let (store, hasher) = open(&config).await?;
    if migrate {
        store.migrate().await?;
    }
    let claude_bin = resolve_program(&config.claude.bin, std::env::var_os("PATH").as_deref()).ok_or_else(|| {
        ServeError::Setup(format!(
            "the Claude Code executable {:?} was not found (set CCGATE_CLAUDE_BIN, or run scripts/setup.sh)",
            config.claude.bin
        ))
    })?;
    let claude_version = claude_version(&claude_bin).await;
    tracing::info!(path = %claude_bin.display(), version = ?claude_version, "Claude Code found");
    let supervisor =
        std::env::current_exe().map_err(|e| ServeError::Setup(format!("cannot find the ccgate executable: {e}")))?;
    let data_dir = absolute(&config.data_dir);
    let runs_dir = data_dir.join("runs");
    // Before the queue recovers their tasks: kill what runs of a dead gateway left.
    let reaped = tokio::task::spawn_blocking({
        let runs_dir = runs_dir.clone();
        move || crate::runner::orphans::reap(&runs_dir)
    })
    .await
    .unwrap_or_default();
    if !reaped.tasks.is_empty() {
        tracing::warn!(tasks = ?reaped.tasks, "killed processes left by runs of an earlier gateway");
    }
    let passthrough = passthrough_env(std::env::vars());
    let run_env: Vec<(String, String)> =
        passthrough.iter().cloned().chain(config.claude.env.iter().map(|(k, v)| (k.clone(), v.clone()))).collect();
    let sandbox = Arc::new(
        Sandbox::start(&config.sandbox, &data_dir, supervisor.clone(), &run_env, &config.pricing)
            .await
            .map_err(ServeError::Setup)?,
    );
    tokio::task::spawn_blocking({
        let (sandbox, runs) = (sandbox.clone(), reaped.runs);
        move || sandbox.remove_cgroups_of(&runs)
    })
    .await
    .unwrap_or_default();
    let sandbox_status = sandbox.status();
    match &sandbox_status.warning {
        Some(warning) => tracing::warn!(%warning, "sandbox"),
        None => tracing::info!(confinement = %sandbox_status.confinement, layers = ?sandbox_status.layers, "sandbox"),
    }
    let plugins = Arc::new(load_plugins(&config, &data_dir).await?);
    let schema_checker = SchemaChecker::new(supervisor.clone(), config.tasks.output_schema.clone());
    let desk = Arc::new(Desk::new(store.clone()));
    let runner = Runner::new(
        config.claude.clone(),
        claude_bin.clone(),
        supervisor,
        passthrough,
        runs_dir,
        sandbox.clone(),
        desk.clone(),
    )
    .with_test_model(start_test_model().await?);
    let hub = Arc::new(Hub::default());
    let artifact_store: Arc<dyn ArtifactStore> = Arc::new(LocalArtifacts::new(data_dir.join("artifacts")));
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
    });
    let tasks = TaskService::new(
        store.clone(),
        queue.clone(),
        hub,
        plugins.clone(),
        data_dir.clone(),
        TaskRules {
            limits: config.tasks.clone(),
            default_artifacts: config.artifacts.default_patterns.clone(),
            schema_checker: schema_checker.clone(),
        },
        desk,
    );
    if let Err(e) = Upload::clean_up_leftovers(&tasks.uploads_dir()) {
        tracing::warn!(error = %e, "cannot clear abandoned uploads");
    }
    let config = Arc::new(config);
    let state = AppState {
        config: config.clone(),
        tasks,
        auth: Authenticator::new(store.clone(), hasher.clone()),
        hasher,
        limiter: Arc::new(RateLimiter::default()),
        queue: queue.clone(),
        readiness: Arc::new(Readiness { claude_bin, claude_version, sandbox: sandbox_status, live: Some(sandbox) }),
        plugins: plugins.clone(),
        metrics: crate::telemetry::metrics::install(),
        artifacts: artifact_store,
        denials: Arc::new(DenialBudget::default()),
        uploads: Arc::default(),
        streams: Arc::default(),
        sessions: Arc::new(crate::dashboard::Sessions::new(Duration::from_secs(config.dashboard.session_minutes * 60))),
    };
    tokio::spawn(flush_denial_counts(state.denials.clone(), store.clone()));
    let listener = tokio::net::TcpListener::bind(&config.listen)
        .await
        .map_err(|source| ServeError::Listen { addr: config.listen.clone(), source })?;
    let local = listener.local_addr().map_err(|source| ServeError::Listen { addr: config.listen.clone(), source })?;
    queue.start().await;
    // Prompts that waited when a gateway died: their runs are gone (recovered above,
    // or failed), and nothing will ever answer them.
    match store.expire_orphaned_approvals().await {
        Ok(0) => {}
        Ok(expired) => tracing::info!(expired, "expired permission prompts left by an earlier gateway"),
        Err(e) => tracing::warn!(error = %e, "could not expire permission prompts left by an earlier gateway"),
    }
    let webhooks = &config.webhooks;
    let deliverer = Deliverer::new(
        store.clone(),
        DelivererConfig {
            allowlist: Allowlist::new(&webhooks.allowed_hosts),
            schedule: webhooks.retry_schedule_seconds.iter().map(|s| Duration::from_secs(*s)).collect(),
            timeout: Duration::from_secs(webhooks.timeout_seconds),
            poll_interval: Duration::from_millis(webhooks.poll_interval_ms.max(50)),
            max_in_flight: webhooks.max_in_flight,
        },
        queue.node_id().to_string(),
        plugins.clone(),
    )
    .map_err(ServeError::Setup)?;
    if webhooks.enabled {
        tokio::spawn(deliverer.run_forever());
    }
    tokio::spawn(
        Sweeper {
            store: store.clone(),
            artifacts: state.artifacts.clone(),
            data_dir: data_dir.clone(),
            config: config.retention.clone(),
        }
        .run_forever(),
    );
    tokio::spawn(plugins.clone().watch_files());
    tokio::spawn(reload_on_sighup(plugins));
    // Tests and scripts wait for this exact line.
    tracing::info!(addr = %local, node = queue.node_id(), "ccgate listening on http://{local}");

    if !config.metrics.listen.is_empty() {
        let metrics = tokio::net::TcpListener::bind(&config.metrics.listen)
            .await
            .map_err(|source| ServeError::Listen { addr: config.metrics.listen.clone(), source })?;
        let local = metrics
            .local_addr()
            .map_err(|source| ServeError::Listen { addr: config.metrics.listen.clone(), source })?;
        tracing::info!(addr = %local, "metrics on http://{local}/metrics");
        let router = crate::api::metrics_router(state.clone());
        let limits = HttpLimits::from(&config.http);
        tokio::spawn(async move { http::serve(metrics, router, limits, std::future::pending()).await });
    }
    let app = crate::api::router(state);
    let grace = Duration::from_secs(config.queue.shutdown_grace_seconds);
    let draining = queue.clone();
    http::serve(listener, app, HttpLimits::from(&config.http), async move {
        shutdown_signal().await;
        tracing::info!(
            grace_seconds = grace.as_secs(),
            "shutting down: no new work; running tasks get the grace period"
        );
        draining.shutdown(grace).await;
    })
    .await
    .map_err(|source| ServeError::Listen { addr: local.to_string(), source })?;
    tracing::info!("stopped");
    Ok(())
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

async fn shutdown_signal() {
    let ctrl_c = tokio::signal::ctrl_c();
    match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
        Ok(mut term) => {
            tokio::select! {
                _ = ctrl_c => {}
                _ = term.recv() => {}
            }
        }
        Err(_) => {
            let _ = ctrl_c.await;
        }
    }
}

async fn claude_version(bin: &std::path::Path) -> Option<String> {
    let output = tokio::time::timeout(
        Duration::from_secs(20),
        tokio::process::Command::new(bin).arg("--version").env_clear().env("PATH", "/usr/bin:/bin").output(),
    )
    .await
    .ok()?
    .ok()?;
    let text = String::from_utf8_lossy(&output.stdout);
    output.status.success().then(|| text.split_whitespace().next().unwrap_or("").to_string()).filter(|v| !v.is_empty())
}

/// The built-in scripted model that test keys' runs talk to, on a loopback port of
/// its own (sandboxed runs reach it through the model proxy). Returns its URL.
async fn start_test_model() -> Result<String, ServeError> {
    let addr = "127.0.0.1:0";
    let listener =
        tokio::net::TcpListener::bind(addr).await.map_err(|source| ServeError::Listen { addr: addr.into(), source })?;
    let url = listener
        .local_addr()
        .map(|a| format!("http://{a}"))
        .map_err(|source| ServeError::Listen { addr: addr.into(), source })?;
    tokio::spawn(async move {
        if let Err(e) = crate::scripted_model::serve(listener, None).await {
            tracing::error!(error = %e, "the test keys' scripted model stopped");
        }
    });
    Ok(url)
}

fn absolute(path: &std::path::Path) -> PathBuf {
    std::path::absolute(path).unwrap_or_else(|_| path.to_path_buf())
}
