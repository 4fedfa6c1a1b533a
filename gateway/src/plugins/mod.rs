//! The WebAssembly plugin host: WASI preview-2 components built against the WIT
//! contract in `wit/`, run by wasmtime at five points of a task's life — policy
//! before it is stored, tool approval of each permission prompt of a run,
//! post-processing of each result, artifact selection, and webhook formatting. Each call gets a fresh instance with its own limits; a
//! plugin that traps, loops or eats memory costs only its own call, and what that
//! means for the task follows the plugin's `on_error`.
//!
//! The set of loaded plugins is swapped atomically on reload (`SIGHUP`,
//! `POST /v1/plugins/reload`): calls in flight finish on the version they started.

pub mod bindings;
pub mod call;
pub mod check;
pub mod config;
mod engine;
mod hooks;
mod load;
pub mod scaffold;
mod stats;
pub mod trial;

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant};

use serde_json::json;
use tokio::sync::Semaphore;
use wasmtime::Store;

pub use call::{CallError, CallState};
pub use config::{Hook, OnError, PluginSpec, PluginsConfig};
pub use engine::PluginEngine;
pub use hooks::{
    ArtifactChoice, FormattedWebhook, PolicyRefusal, Processed, Selection, TaskFacts, ToolApproval, ToolApprovers,
    WebhookEvent,
};
pub use load::{LoadError, LoadedPlugin, load};
pub use stats::{PluginState, StatsView};

use crate::store::EventRecord;
use stats::{Admission, PluginStats};

/// A loaded plugin with its counters.
pub struct Entry {
    pub plugin: LoadedPlugin,
    stats: PluginStats,
}

/// The plugins in use, in chain order.
#[derive(Default)]
pub struct PluginSet {
    pub entries: Vec<Arc<Entry>>,
}

/// What `GET /v1/plugins` shows of one plugin.
#[derive(Debug, Clone, serde::Serialize, utoipa::ToSchema)]
pub struct PluginView {
    /// The name in the gateway config.
    #[schema(example = "policy")]
    pub name: String,
    /// The name and version the plugin declares.
    #[schema(example = "ccgate-policy")]
    pub declared_name: String,
    #[schema(example = "0.1.0")]
    pub version: String,
    /// Its (first) hook: what kind of plugin it is.
    pub kind: Hook,
    /// The hooks it is used for (of those it exports).
    pub hooks: Vec<Hook>,
    /// `sha256:<hex>` of the component file.
    pub digest: String,
    /// `sha256:<hex>` of the plugin's configuration in effect (the JSON it gets).
    pub config_digest: String,
    pub path: String,
    /// Key names or ids it applies to; empty: every key.
    pub keys: Vec<String>,
    #[serde(flatten)]
    pub stats: StatsView,
}

/// Why plugins could not be (re)loaded: every plugin's problem.
#[derive(Debug, thiserror::Error)]
#[error("{}", .0.iter().map(|e| e.to_string()).collect::<Vec<_>>().join("; "))]
pub struct LoadErrors(pub Vec<LoadError>);

type ConfigSource = Box<dyn Fn() -> Result<PluginsConfig, String> + Send + Sync>;

/// The plugin host of this gateway.
pub struct Plugins {
    settings: PluginsConfig,
    cache_dir: PathBuf,
    engine: Mutex<Option<Arc<PluginEngine>>>,
    set: RwLock<Arc<PluginSet>>,
    permits: Arc<Semaphore>,
    source: Option<ConfigSource>,
    reloading: tokio::sync::Mutex<()>,
}

impl Plugins {
    /// No plugins: every hook keeps the built-in behaviour.
    pub fn none() -> Self {
        Self::unloaded(PluginsConfig::default(), PathBuf::from("plugin-cache"), None)
    }

    fn unloaded(settings: PluginsConfig, cache_dir: PathBuf, source: Option<ConfigSource>) -> Self {
        Self {
            permits: Arc::new(Semaphore::new(settings.max_concurrent_calls.max(1) as usize)),
            settings,
            cache_dir,
            engine: Mutex::new(None),
            set: RwLock::new(Arc::new(PluginSet::default())),
            source,
            reloading: tokio::sync::Mutex::new(()),
        }
    }

    /// Loads the configured chain; `source` re-reads the configuration on reload.
    pub async fn start(
        settings: PluginsConfig,
        data_dir: &Path,
        source: Option<ConfigSource>,
    ) -> Result<Self, LoadErrors> {
        let cache_dir = settings.cache_dir.clone().unwrap_or_else(|| data_dir.join("plugin-cache"));
        let chain = settings.chain.clone();
        let plugins = Self::unloaded(settings, cache_dir, source);
        let set = plugins.load_set(&chain).await?;
        plugins.install(set);
        Ok(plugins)
    }

    fn engine(&self) -> Result<Arc<PluginEngine>, LoadError> {
        let mut engine = self.engine.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(engine) = engine.as_ref() {
            return Ok(engine.clone());
        }
        let created = Arc::new(PluginEngine::new(self.settings.max_concurrent_calls).map_err(|e| {
            LoadError::Compile { path: PathBuf::from("<engine>"), message: format!("cannot create the engine: {e:#}") }
        })?);
        *engine = Some(created.clone());
        Ok(created)
    }

    /// Loads every plugin of `chain`; all or nothing.
    async fn load_set(&self, chain: &[PluginSpec]) -> Result<PluginSet, LoadErrors> {
        if chain.is_empty() {
            return Ok(PluginSet::default());
        }
        let engine = self.engine().map_err(|e| LoadErrors(vec![e]))?;
        let mut errors = Vec::new();
        let mut entries = Vec::new();
        let mut names = std::collections::HashSet::new();
        for spec in chain {
            match load(&engine, spec, Some(&self.cache_dir)).await {
                // Names are known only once loaded: an unset one is the declared name.
                Ok(plugin) if !names.insert(plugin.spec.name.clone()) => errors.push(LoadError::Config {
                    name: plugin.spec.name.clone(),
                    violations: vec![
                        "another plugin in the chain has the same name (set `name` to tell them apart)".into(),
                    ],
                }),
                Ok(plugin) => {
                    tracing::info!(plugin = %plugin.spec.name, version = %plugin.version, digest = %plugin.digest,
                        hooks = ?plugin.hooks, from_cache = plugin.from_cache,
                        load_ms = plugin.load_time.as_secs_f64() * 1e3, "plugin loaded");
                    let stats = PluginStats::new(
                        self.settings.quarantine_after_failures,
                        Duration::from_secs(self.settings.quarantine_seconds),
                    );
                    entries.push(Arc::new(Entry { plugin, stats }));
                }
                Err(e) => errors.push(e),
            }
        }
        if errors.is_empty() { Ok(PluginSet { entries }) } else { Err(LoadErrors(errors)) }
    }

    fn install(&self, set: PluginSet) {
        for entry in &set.entries {
            crate::telemetry::metrics::plugin_quarantined(&entry.plugin.spec.name, false);
        }
        *self.set.write().unwrap_or_else(|p| p.into_inner()) = Arc::new(set);
    }

    /// The plugins in use now.
    pub fn current(&self) -> Arc<PluginSet> {
        self.set.read().unwrap_or_else(|p| p.into_inner()).clone()
    }

    pub fn is_empty(&self) -> bool {
        self.current().entries.is_empty()
    }

    /// Whether any plugin in use serves `hook`.
    pub fn serves(&self, hook: Hook) -> bool {
        self.current().entries.iter().any(|e| e.plugin.serves(hook))
    }

    /// Re-reads the configuration and loads the chain again; the new set replaces
    /// the old one only if every plugin loaded. Runs to the end even if the caller
    /// goes away.
    pub async fn reload(self: &Arc<Self>) -> Result<usize, LoadErrors> {
        let host = self.clone();
        tokio::spawn(async move { host.reload_now().await }).await.unwrap_or_else(|e| {
            Err(LoadErrors(vec![LoadError::Compile { path: PathBuf::new(), message: e.to_string() }]))
        })
    }

    async fn reload_now(&self) -> Result<usize, LoadErrors> {
        let _one_at_a_time = self.reloading.lock().await;
        let chain = match &self.source {
            Some(source) => source().map_err(|why| {
                LoadErrors(vec![LoadError::Config { name: "(configuration)".into(), violations: vec![why] }])
            })?,
            None => PluginsConfig { chain: self.current_specs(), ..PluginsConfig::default() },
        }
        .chain;
        let set = self.load_set(&chain).await?;
        let count = set.entries.len();
        self.install(set);
        tracing::info!(plugins = count, "plugins reloaded");
        Ok(count)
    }

    /// With `plugins.watch`, reloads the chain whenever a plugin's file no longer
    /// has the digest it was loaded with (a rebuilt plugin); a change that does
    /// not load is logged once and the loaded set stays. Runs until the process ends.
    pub async fn watch_files(self: Arc<Self>) {
        if !self.settings.watch {
            return;
        }
        tracing::warn!("plugins.watch is on: plugins reload when their files change (development only)");
        // Digests already tried, so a file that does not load is not retried every tick.
        let mut tried: std::collections::HashMap<PathBuf, String> = std::collections::HashMap::new();
        loop {
            tokio::time::sleep(WATCH_INTERVAL).await;
            let files: Vec<(PathBuf, String)> =
                self.current().entries.iter().map(|e| (e.plugin.spec.path.clone(), e.plugin.digest.clone())).collect();
            let changed = tokio::task::spawn_blocking(move || {
                files.into_iter().find_map(|(path, loaded)| {
                    let now = std::fs::read(&path).ok().map(|bytes| sha256(&bytes))?;
                    (now != loaded).then_some((path, now))
                })
            })
            .await
            .ok()
            .flatten();
            let Some((path, digest)) = changed else { continue };
            if tried.get(&path) == Some(&digest) {
                continue;
            }
            tried.insert(path.clone(), digest.clone());
            match self.reload().await {
                Ok(count) => {
                    tracing::info!(file = %path.display(), %digest, plugins = count, "plugin file changed: reloaded")
                }
                Err(e) => tracing::error!(file = %path.display(), %digest, error = %e,
                    "plugin file changed but the chain did not load; the loaded set stays"),
            }
        }
    }

    fn current_specs(&self) -> Vec<PluginSpec> {
        self.current().entries.iter().map(|e| e.plugin.spec.clone()).collect()
    }

    pub fn views(&self) -> Vec<PluginView> {
        self.current()
            .entries
            .iter()
            .map(|entry| {
                let plugin = &entry.plugin;
                PluginView {
                    name: plugin.spec.name.clone(),
                    declared_name: plugin.declared_name.clone(),
                    version: plugin.version.clone(),
                    kind: plugin.hooks.first().copied().unwrap_or(Hook::Policy),
                    hooks: plugin.hooks.clone(),
                    digest: plugin.digest.clone(),
                    config_digest: sha256(plugin.config.as_bytes()),
                    path: plugin.spec.path.display().to_string(),
                    keys: plugin.spec.keys.clone(),
                    stats: entry.stats.view(),
                }
            })
            .collect()
    }

    /// `sha256:<hex>` of the chain in effect: each plugin's name, hooks, keys,
    /// component digest and configuration, in order. Equal on two nodes (or before
    /// and after a reload) when they run the same plugins the same way.
    pub fn chain_digest(&self) -> String {
        let chain: Vec<serde_json::Value> = self
            .current()
            .entries
            .iter()
            .map(|e| {
                let (plugin, spec) = (&e.plugin, &e.plugin.spec);
                json!([spec.name, plugin.hooks, spec.keys, spec.on_error, plugin.digest, &*plugin.config])
            })
            .collect();
        sha256(serde_json::Value::Array(chain).to_string().as_bytes())
    }

    /// Quarantined plugins that fail closed for a hook they serve: while they sit
    /// out, that hook refuses for their keys (submissions get 503, results fail,
    /// tool calls are denied).
    pub fn quarantined_failing_closed(&self) -> Vec<String> {
        self.current()
            .entries
            .iter()
            .filter(|e| e.stats.view().state == PluginState::Quarantined)
            .filter(|e| e.plugin.hooks.iter().any(|&hook| e.plugin.spec.on_error(hook) == OnError::FailClosed))
            .map(|e| e.plugin.spec.name.clone())
            .collect()
    }

    /// The plugins serving `hook` for a task of this key, in chain order.
    fn chain_for(&self, hook: Hook, key_id: &str, key_name: &str) -> Vec<Arc<Entry>> {
        self.current()
            .entries
            .iter()
            .filter(|e| e.plugin.serves(hook) && e.plugin.spec.applies_to(key_id, key_name))
            .cloned()
            .collect()
    }

    /// Runs one call of `entry` within the concurrency cap, the circuit breaker
    /// and the call's limits; `check` turns the plugin's answer into what the hook
    /// uses (an unusable answer is the plugin's failure). The call runs as its own
    /// task: if the caller goes away, it still ends on time and is recorded.
    async fn invoke<R, S>(
        &self,
        entry: &Arc<Entry>,
        hook: Hook,
        task_id: Option<&str>,
        preopens: Vec<(PathBuf, &'static str)>,
        body: impl for<'a> FnOnce(&'a mut Store<CallState>) -> call::CallFuture<'a, R> + Send + 'static,
        check: impl FnOnce(R) -> Result<S, CallError> + Send + 'static,
    ) -> (Result<S, CallError>, Duration)
    where
        R: Send + 'static,
        S: Outcome + Send + 'static,
    {
        let name = entry.plugin.spec.name.clone();
        let admission = entry.stats.admit();
        if admission == Admission::Quarantined {
            entry.stats.record_refused();
            crate::telemetry::metrics::plugin_call(&name, hook.as_str(), "failed", "quarantined", Duration::ZERO);
            return (Err(CallError::Quarantined), Duration::ZERO);
        }
        let engine = self.engine();
        let permits = self.permits.clone();
        let quarantine_seconds = self.settings.quarantine_seconds;
        let held = entry.clone();
        let site = call::CallSite {
            plugin: Arc::from(name.as_str()),
            hook: hook.as_str(),
            task_id: task_id.map(str::to_string),
        };
        let work = tokio::spawn(async move {
            let started = Instant::now();
            let outcome = match (engine, permits.acquire_owned().await) {
                (Ok(engine), Ok(_permit)) => {
                    let plugin = &held.plugin;
                    call::run(&engine, site.clone(), plugin.config.clone(), &plugin.limits, &preopens, body)
                        .await
                        .and_then(check)
                }
                (Err(e), _) => Err(CallError::Setup(e.to_string())),
                (_, Err(_)) => Err(CallError::Setup("the plugin host is shutting down".into())),
            };
            let took = started.elapsed();
            let error = outcome.as_ref().err();
            let fault = error.is_some_and(CallError::is_plugins_fault);
            let name = &*site.plugin;
            if held.stats.record(&admission, took, error.map(|e| e.to_string()).as_deref(), fault) {
                tracing::warn!(plugin = name, hook = hook.as_str(), error = %error.map(|e| e.to_string()).unwrap_or_default(),
                    quarantine_seconds, "plugin quarantined after repeated failures");
                crate::telemetry::metrics::plugin_quarantined(name, true);
            } else if error.is_none() && admission == Admission::Trial {
                crate::telemetry::metrics::plugin_quarantined(name, false);
            }
            let (decided, error_kind) = match &outcome {
                Ok(answer) => (answer.outcome(), ""),
                Err(error) => ("failed", error.kind()),
            };
            crate::telemetry::metrics::plugin_call(name, hook.as_str(), decided, error_kind, took);
            if let Some(error) = error {
                tracing::warn!(plugin = name, hook = hook.as_str(), task_id = site.task_id.as_deref(), error = %error,
                    "plugin call failed");
            }
            (outcome, took)
        });
        work.await.unwrap_or_else(|e| (Err(CallError::Setup(format!("the call's task failed: {e}"))), Duration::ZERO))
    }
}

/// How often `plugins.watch` looks at the plugin files.
const WATCH_INTERVAL: Duration = Duration::from_secs(1);

fn sha256(bytes: &[u8]) -> String {
    use sha2::Digest;
    format!("sha256:{}", crate::hashing::hex(&sha2::Sha256::digest(bytes)))
}

/// What a call's checked answer decided: the `outcome` label of
/// `ccgate_plugin_calls_total` (a failed call is `failed`).
trait Outcome {
    fn outcome(&self) -> &'static str;
}

/// The `plugin` event recorded on a task's log for one call.
fn call_event(entry: &Entry, hook: Hook, outcome: &str, took: Duration, message: Option<String>) -> EventRecord {
    let mut data = json!({
        "plugin": entry.plugin.spec.name,
        "hook": hook.as_str(),
        "outcome": outcome,
        "duration_ms": (took.as_secs_f64() * 1e3 * 1000.0).round() / 1000.0,
    });
    if let Some(message) = message {
        data["message"] = json!(message);
    }
    EventRecord::new("plugin", data)
}
