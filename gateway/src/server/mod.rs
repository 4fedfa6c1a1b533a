//! `ccgate serve`: wires the store, queue, runner and API together (`app`), serves
//! HTTP (`http`) on the listener it is given, and shuts down gracefully when the
//! shutdown future it is given completes (SIGTERM or Ctrl-C for the command).

pub mod app;
pub mod database;
pub mod http;

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use tokio::net::TcpListener;

pub use self::app::{App, Machine};
pub use self::database::DatabaseLocation;
use self::http::HttpLimits;
use crate::auth::{KeyHasher, load_or_create_pepper};
use crate::config::Config;
use crate::runner::{passthrough_env, resolve_program};
use crate::sandbox::Sandbox;
use crate::store::Store;

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
    let wait = std::time::Duration::from_secs(config.database_wait_seconds);
    let store =
        Store::connect_waiting(&config.database_url(), wait).await?.with_webhooks(Arc::new(crate::webhooks::Rules));
    let pepper = load_or_create_pepper(&config.keys.pepper, &config.data_dir)
        .map_err(|e| ServeError::Setup(format!("cannot read or create the key pepper: {e}")))?;
    Ok((store, KeyHasher::new(&pepper)))
}

/// A TCP listener on `addr`.
pub async fn bind(addr: &str) -> Result<TcpListener, ServeError> {
    TcpListener::bind(addr).await.map_err(|source| ServeError::Listen { addr: addr.into(), source })
}

/// Runs the gateway on `listener` until `shutdown` completes, then drains: no new
/// work, running tasks get `queue.shutdown_grace_seconds` (less when a drain that
/// began earlier ends sooner), and the node is marked stopped. `supervisor` is the
/// `ccgate` executable every run starts under (`ccgate supervise`).
pub async fn serve(
    config: Config,
    migrate: bool,
    listener: TcpListener,
    shutdown: impl std::future::Future<Output = ()>,
    supervisor: PathBuf,
) -> Result<(), ServeError> {
    // TLS for webhooks to https receivers: rustls with ring (no C toolchain needed).
    let _ = rustls::crypto::ring::default_provider().install_default();
    crate::sandbox::protect_gateway_process();
    let (store, hasher) = open(&config).await?;
    if migrate {
        store.migrate().await?;
    }
    let data_dir = absolute(&config.data_dir);
    // Before the queue recovers their tasks: kill what runs of a dead gateway left.
    let reaped = tokio::task::spawn_blocking({
        let runs_dir = data_dir.join("runs");
        move || crate::runner::orphans::reap(&runs_dir)
    })
    .await
    .unwrap_or_default();
    if !reaped.tasks.is_empty() {
        tracing::warn!(tasks = ?reaped.tasks, "killed processes left by runs of an earlier gateway");
    }
    let machine = discover(&config, &data_dir, supervisor).await?;
    tokio::task::spawn_blocking({
        let (sandbox, runs) = (machine.sandbox.clone(), reaped.runs);
        move || sandbox.remove_cgroups_of(&runs)
    })
    .await
    .unwrap_or_default();
    let local = listener.local_addr().map_err(|source| ServeError::Listen { addr: config.listen.clone(), source })?;
    let app = App::build(config, store, hasher, machine, data_dir).await?;
    app.start_work().await?;
    let config = app.state.config.clone();
    // Tests and scripts wait for this exact line.
    tracing::info!(addr = %local, node = app.queue.node_id(), "ccgate listening on http://{local}");

    if !config.metrics.listen.is_empty() {
        let metrics = bind(&config.metrics.listen).await?;
        let local = metrics
            .local_addr()
            .map_err(|source| ServeError::Listen { addr: config.metrics.listen.clone(), source })?;
        tracing::info!(addr = %local, "metrics on http://{local}/metrics");
        let router = crate::api::metrics_router(app.state.clone());
        let limits = HttpLimits::from(&config.http);
        tokio::spawn(async move { http::serve(metrics, router, limits, std::future::pending()).await });
    }
    let grace = Duration::from_secs(config.queue.shutdown_grace_seconds);
    let node = app.node.clone();
    http::serve(listener, app.router(), HttpLimits::from(&config.http), async move {
        shutdown.await;
        node.shutdown(grace).await;
    })
    .await
    .map_err(|source| ServeError::Listen { addr: local.to_string(), source })?;
    tracing::info!("stopped");
    Ok(())
}

/// Finds Claude Code (it must be there) and its version, and starts the sandbox.
async fn discover(config: &Config, data_dir: &std::path::Path, supervisor: PathBuf) -> Result<Machine, ServeError> {
    let found = resolve_program(&config.claude.bin, std::env::var_os("PATH").as_deref());
    let claude_bin = match found {
        Some(bin) => bin,
        // A node that runs nothing (API only) does without.
        None if config.queue.workers == 0 => PathBuf::from(&config.claude.bin),
        None => {
            return Err(ServeError::Setup(format!(
                "the Claude Code executable {:?} was not found (set CCGATE_CLAUDE_BIN, or run scripts/setup.sh)",
                config.claude.bin
            )));
        }
    };
    let claude_version = claude_version(&claude_bin).await;
    tracing::info!(path = %claude_bin.display(), version = ?claude_version, "Claude Code found");
    let passthrough = passthrough_env(std::env::vars());
    let run_env: Vec<(String, String)> =
        passthrough.iter().cloned().chain(config.claude.env.iter().map(|(k, v)| (k.clone(), v.clone()))).collect();
    let sandbox = Sandbox::start(&config.sandbox, data_dir, supervisor.clone(), &run_env, &config.pricing)
        .await
        .map_err(ServeError::Setup)?;
    let status = sandbox.status();
    match &status.warning {
        Some(warning) => tracing::warn!(%warning, "sandbox"),
        None => tracing::info!(confinement = %status.confinement, layers = ?status.layers, "sandbox"),
    }
    Ok(Machine { claude_bin, claude_version, supervisor, passthrough, sandbox: Arc::new(sandbox) })
}

/// SIGTERM or Ctrl-C.
pub async fn shutdown_signal() {
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

fn absolute(path: &std::path::Path) -> PathBuf {
    std::path::absolute(path).unwrap_or_else(|_| path.to_path_buf())
}
