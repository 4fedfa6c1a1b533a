//! Loading one plugin: the file is read and hashed, compiled (or its compiled
//! form taken from the on-disk cache, keyed by the file's sha256 and the engine's
//! compatibility hash), checked against the WIT worlds — a component, not a core
//! module; a `ccgate:plugin` version this gateway speaks; `meta` and the configured
//! hooks exported; no sockets imported — pre-linked, and its configuration
//! validated against the schema it declares and by its `check-config`. Every
//! problem is an error here, at load time, never one per request.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use sha2::Digest;
use wasmtime::component::{Component, InstancePre};

use super::bindings::{self, ArtifactsPre, Contract, PolicyPre, ResultPre, ToolApprovalPre, WebhookPre, current};
use super::call::{self, CallError, CallLimits, CallSite, CallState, MAX_HANDLES, MAX_TABLE_ELEMENTS};
use super::config::{Hook, PluginSpec, valid_name};
use super::engine::PluginEngine;

/// Why a plugin was not loaded.
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    #[error("cannot read {path}: {source}")]
    Read { path: PathBuf, source: std::io::Error },
    #[error("{0} is not a WebAssembly file")]
    NotWasm(PathBuf),
    #[error(
        "{0} is a core WebAssembly module, not a component; build it for `wasm32-wasip2` (or wrap it with `wasm-tools component new`)"
    )]
    CoreModule(PathBuf),
    #[error("{path} does not compile: {message}")]
    Compile { path: PathBuf, message: String },
    #[error("{path} was built for {found}; this gateway speaks {package}@{}", supported.join(", "))]
    WrongVersion { path: PathBuf, found: String, package: &'static str, supported: &'static [&'static str] },
    #[error(
        "{0} exports no `{package}/meta` interface: it is not a ccgate plugin (built with the Rust SDK, it lacks \
         the export macro: add `ccgate_plugin_sdk::export_policy!(MyPlugin);`, or the one for its hook, at the \
         crate root)",
        package = bindings::PACKAGE
    )]
    NotAPlugin(PathBuf),
    #[error(
        "{0} exports none of the hook interfaces (policy, result-processor, artifact-collector, webhook-formatter, tool-approval)"
    )]
    NoHooks(PathBuf),
    #[error("{path} does not export the `{}` interface its configuration asks for (hook `{}`)", hook.interface(), hook.as_str())]
    HookNotExported { path: PathBuf, hook: Hook },
    #[error("{path} imports network interfaces, which plugins may not use: {}", imports.join(", "))]
    ImportsNetwork { path: PathBuf, imports: Vec<String> },
    #[error("{path} needs imports the gateway does not provide: {message}")]
    UnknownImport { path: PathBuf, message: String },
    #[error("the metadata call of {path} failed: {error}")]
    Meta { path: PathBuf, error: CallError },
    #[error("the configuration of plugin `{name}` is invalid: {}", violations.join("; "))]
    Config { name: String, violations: Vec<String> },
}

/// A plugin ready to be called.
pub struct LoadedPlugin {
    pub spec: PluginSpec,
    /// What the plugin says of itself.
    pub declared_name: String,
    pub version: String,
    /// The `ccgate:plugin` version it was built against, and the bindings that
    /// version is called through.
    pub wit_version: String,
    pub contract: Contract,
    /// `sha256:<hex>` of the `.wasm` file.
    pub digest: String,
    /// The hooks it exports, and of those the ones it is used for.
    pub exported: Vec<Hook>,
    pub hooks: Vec<Hook>,
    pub config: Arc<str>,
    pub limits: CallLimits,
    pub from_cache: bool,
    pub load_time: Duration,
    /// Pre-linked instances per world: each call instantiates one afresh. `meta`
    /// has not changed since 0.1.0, so the current bindings call it for all.
    pub meta: current::plugin::PluginPre<CallState>,
    pub policy: Option<PolicyPre>,
    pub result: Option<ResultPre>,
    pub artifacts: Option<ArtifactsPre>,
    pub webhook: Option<WebhookPre>,
    pub tool_approval: Option<ToolApprovalPre>,
}

impl LoadedPlugin {
    pub fn serves(&self, hook: Hook) -> bool {
        self.hooks.contains(&hook)
    }
}

/// Loads `spec`, compiling through `cache_dir` when given (on a blocking thread).
pub async fn load(
    engine: &Arc<PluginEngine>,
    spec: &PluginSpec,
    cache_dir: Option<&Path>,
) -> Result<LoadedPlugin, LoadError> {
    let started = Instant::now();
    let violations = spec.check_limits();
    if !violations.is_empty() {
        return Err(LoadError::Config { name: spec.label(), violations });
    }
    let (engine_for_compile, spec_for_compile) = (engine.clone(), spec.clone());
    let cache_dir = cache_dir.map(Path::to_path_buf);
    let mut plugin =
        tokio::task::spawn_blocking(move || prepare(&engine_for_compile, &spec_for_compile, cache_dir.as_deref()))
            .await
            .map_err(|e| LoadError::Compile { path: spec.path.clone(), message: e.to_string() })??;
    let config_json = spec.config_json();
    check_config(engine, &mut plugin, &config_json).await?;
    plugin.load_time = started.elapsed();
    Ok(plugin)
}

/// Everything of a load but the metadata call: read, hash, compile (or map the
/// cached code), check the interfaces, pre-link.
fn prepare(engine: &PluginEngine, spec: &PluginSpec, cache_dir: Option<&Path>) -> Result<LoadedPlugin, LoadError> {
    let path = spec.path.clone();
    let bytes = std::fs::read(&path).map_err(|source| LoadError::Read { path: path.clone(), source })?;
    match bytes.get(..8) {
        Some([0, b'a', b's', b'm', 1, 0, 0, 0]) => return Err(LoadError::CoreModule(path)),
        Some([0, b'a', b's', b'm', _, _, 1, 0]) => {}
        _ => return Err(LoadError::NotWasm(path)),
    }
    let digest = format!("sha256:{}", hex(&sha2::Sha256::digest(&bytes)));
    let (component, from_cache) = compile(engine, &path, &bytes, &digest, cache_dir)?;
    let (wit_version, contract, exported) = check_interfaces(engine, &path, &component)?;
    let hooks = if spec.hooks.is_empty() {
        exported.clone()
    } else {
        for &hook in &spec.hooks {
            if !exported.contains(&hook) {
                return Err(LoadError::HookNotExported { path, hook });
            }
        }
        spec.hooks.clone()
    };
    let pre: InstancePre<CallState> = engine
        .linker
        .instantiate_pre(&component)
        .map_err(|e| LoadError::UnknownImport { path: path.clone(), message: format!("{e:#}") })?;
    let typed = |e: wasmtime::Error| LoadError::Compile { path: path.clone(), message: format!("{e:#}") };
    let config_json = spec.config_json();
    let limits = CallLimits {
        memory_bytes: spec.memory_mb as usize * 1024 * 1024,
        table_elements: MAX_TABLE_ELEMENTS,
        handles: MAX_HANDLES,
        timeout: Duration::from_millis(spec.timeout_ms),
        host_calls: spec.max_host_calls,
        max_log_lines: spec.max_log_lines,
        max_output_bytes: spec.max_output_bytes,
    };
    Ok(LoadedPlugin {
        spec: spec.clone(),
        declared_name: String::new(),
        version: String::new(),
        wit_version,
        contract,
        digest,
        exported: exported.clone(),
        hooks: hooks.clone(),
        config: Arc::from(config_json.to_string()),
        limits,
        from_cache,
        load_time: Duration::ZERO,
        meta: current::plugin::PluginPre::new(pre.clone()).map_err(typed)?,
        policy: hooks
            .contains(&Hook::Policy)
            .then(|| PolicyPre::new(contract, pre.clone()))
            .transpose()
            .map_err(typed)?,
        result: hooks
            .contains(&Hook::Result)
            .then(|| ResultPre::new(contract, pre.clone()))
            .transpose()
            .map_err(typed)?,
        artifacts: hooks
            .contains(&Hook::Artifacts)
            .then(|| ArtifactsPre::new(contract, pre.clone()))
            .transpose()
            .map_err(typed)?,
        webhook: hooks
            .contains(&Hook::Webhook)
            .then(|| WebhookPre::new(contract, pre.clone()))
            .transpose()
            .map_err(typed)?,
        tool_approval: hooks
            .contains(&Hook::ToolApproval)
            .then(|| ToolApprovalPre::new(contract, pre))
            .transpose()
            .map_err(typed)?,
    })
}

/// The component, from the cache when it holds this file compiled by this engine.
fn compile(
    engine: &PluginEngine,
    path: &Path,
    bytes: &[u8],
    digest: &str,
    cache_dir: Option<&Path>,
) -> Result<(Component, bool), LoadError> {
    let cached = cache_dir.map(|dir| {
        let hex = digest.trim_start_matches("sha256:");
        dir.join(format!("{hex}-{:016x}.cwasm", engine.compatibility_hash()))
    });
    if let Some(file) = cached.as_deref().filter(|f| f.is_file()) {
        match trusted(file).and_then(|()| deserialize_cached(engine, file).map_err(|e| e.to_string())) {
            Ok(component) => return Ok((component, true)),
            Err(e) => {
                tracing::warn!(file = %file.display(), error = %e, "ignoring an unusable compiled plugin in the cache")
            }
        }
    }
    let component = Component::new(&engine.engine, bytes)
        .map_err(|e| LoadError::Compile { path: path.to_path_buf(), message: format!("{e:#}") })?;
    if let Some(file) = cached
        && let Err(e) = store_cached(&component, &file)
    {
        tracing::warn!(file = %file.display(), error = %e, "could not cache a compiled plugin");
    }
    Ok((component, false))
}

/// Whether a cached file can only have come from this gateway's user: the file
/// and its directory belong to the effective user and nobody else may write them.
fn trusted(file: &Path) -> Result<(), String> {
    use std::os::unix::fs::MetadataExt;
    // /proc/self belongs to the process's effective user.
    let me = std::fs::metadata("/proc/self").map_err(|e| e.to_string())?.uid();
    for path in [Some(file), file.parent()].into_iter().flatten() {
        let meta = std::fs::symlink_metadata(path).map_err(|e| e.to_string())?;
        if meta.uid() != me || meta.mode() & 0o022 != 0 || meta.file_type().is_symlink() {
            return Err(format!("{} is not owned and writable only by the gateway's user", path.display()));
        }
    }
    Ok(())
}

/// Maps a compiled component the gateway itself wrote into its cache.
#[allow(unsafe_code)]
fn deserialize_cached(engine: &PluginEngine, file: &Path) -> wasmtime::Result<Component> {
    // SAFETY: wasmtime requires the file to be its own output for this engine
    // configuration. `trusted` has checked that only the gateway's user can have
    // written the file and its directory (created mode 700 by `store_cached`),
    // files land there by rename only once fully written, and the name carries the
    // engine's compatibility hash, which wasmtime checks again in the header.
    unsafe { Component::deserialize_file(&engine.engine, file) }
}

fn store_cached(component: &Component, file: &Path) -> std::io::Result<()> {
    let dir = file.parent().unwrap_or(Path::new("."));
    std::fs::create_dir_all(dir)?;
    std::fs::set_permissions(dir, std::os::unix::fs::PermissionsExt::from_mode(0o700))?;
    let serialized = component.serialize().map_err(std::io::Error::other)?;
    let partial = dir.join(format!(".{}.partial", crate::ids::new_id("tmp")));
    std::fs::write(&partial, serialized)?;
    std::fs::rename(&partial, file).inspect_err(|_| {
        let _ = std::fs::remove_file(&partial);
    })
}

/// The version a component was built for, the bindings that calls it through and
/// the hooks it exports, after
/// checking it is a plugin of one version this gateway speaks and imports nothing
/// from the network.
fn check_interfaces(
    engine: &PluginEngine,
    path: &Path,
    component: &Component,
) -> Result<(String, Contract, Vec<Hook>), LoadError> {
    let ty = component.component_type();
    let network: Vec<String> = ty
        .imports(&engine.engine)
        .map(|(name, _)| name)
        .filter(|name| name.starts_with("wasi:sockets/") || name.starts_with("wasi:http/"))
        .map(str::to_string)
        .collect();
    if !network.is_empty() {
        return Err(LoadError::ImportsNetwork { path: path.to_path_buf(), imports: network });
    }
    let prefix = format!("{}/", bindings::PACKAGE);
    let exports: Vec<(String, String)> = ty
        .exports(&engine.engine)
        .filter_map(|(name, _)| name.strip_prefix(&prefix).map(str::to_string))
        .filter_map(|rest| rest.split_once('@').map(|(i, v)| (i.to_string(), v.to_string())))
        .collect();
    // Every export of one version, which picks the bindings.
    let Some((_, version)) = exports.iter().find(|(interface, _)| interface == "meta") else {
        return Err(LoadError::NotAPlugin(path.to_path_buf()));
    };
    let contract = Contract::of(version).filter(|_| exports.iter().all(|(_, v)| v == version));
    let Some(contract) = contract else {
        let mut found: Vec<&str> = exports.iter().map(|(_, v)| v.as_str()).collect();
        found.sort_unstable();
        found.dedup();
        return Err(LoadError::WrongVersion {
            path: path.to_path_buf(),
            found: found.iter().map(|v| format!("{}@{v}", bindings::PACKAGE)).collect::<Vec<_>>().join(" and "),
            package: bindings::PACKAGE,
            supported: &bindings::VERSIONS,
        });
    };
    let hooks: Vec<Hook> = Hook::ALL
        .into_iter()
        .filter(|hook| exports.iter().any(|(interface, _)| interface == hook.interface()))
        .collect();
    if hooks.is_empty() {
        return Err(LoadError::NoHooks(path.to_path_buf()));
    }
    Ok((version.clone(), contract, hooks))
}

/// Reads the plugin's metadata and checks its configuration: against the JSON
/// Schema it declares, then (only if the schema accepts it) by its own
/// `check-config`; every violation listed.
async fn check_config(
    engine: &PluginEngine,
    plugin: &mut LoadedPlugin,
    config: &serde_json::Value,
) -> Result<(), LoadError> {
    let name: Arc<str> = Arc::from(plugin.spec.label());
    let site = || CallSite { plugin: name.clone(), hook: "meta", task_id: None };
    let meta = plugin.meta.clone();
    let info = call::run(engine, site(), plugin.config.clone(), &plugin.limits, &[], |store| {
        Box::pin(
            async move { meta.instantiate_async(&mut *store).await?.ccgate_plugin_meta().call_info(&mut *store).await },
        )
    })
    .await
    .map_err(|error| LoadError::Meta { path: plugin.spec.path.clone(), error })?;
    plugin.declared_name = info.name;
    plugin.version = info.version;
    // One name everywhere: without a chain `name`, the plugin is called what it says.
    if plugin.spec.name.is_empty() {
        if !valid_name(&plugin.declared_name) {
            return Err(LoadError::Config {
                name: plugin.spec.label(),
                violations: vec![format!(
                    "the plugin declares the name {:?}, which is not 1 to 64 printable characters: set `name` in its \
                     [[plugins.chain]] entry",
                    plugin.declared_name
                )],
            });
        }
        plugin.spec.name = plugin.declared_name.clone();
    }
    let mut violations = Vec::new();
    if let Some(schema) = &info.config_schema {
        match serde_json::from_str::<serde_json::Value>(schema).map_err(|e| e.to_string()).and_then(|schema| {
            jsonschema::validator_for(&schema)
                .map_err(|e| format!("the plugin's config schema is not a valid JSON Schema: {e}"))
        }) {
            Ok(validator) => violations.extend(validator.iter_errors(config).map(|e| {
                let at = e.instance_path().to_string();
                format!("{}: {e}", if at.is_empty() { "/".to_string() } else { at })
            })),
            Err(e) => violations.push(format!("the plugin's config schema is unusable: {e}")),
        }
    }
    // The plugin's own check runs only on a config its schema accepts.
    if violations.is_empty() {
        let (meta, text) = (plugin.meta.clone(), config.to_string());
        let checked = call::run(engine, site(), plugin.config.clone(), &plugin.limits, &[], |store| {
            Box::pin(async move {
                let instance = meta.instantiate_async(&mut *store).await?;
                instance.ccgate_plugin_meta().call_check_config(&mut *store, &text).await
            })
        })
        .await
        .map_err(|error| LoadError::Meta { path: plugin.spec.path.clone(), error })?;
        violations.extend(checked.into_iter().map(|v| {
            let at = if v.pointer.is_empty() { "/".to_string() } else { v.pointer };
            format!("{at}: {}", v.message)
        }));
    }
    if violations.is_empty() { Ok(()) } else { Err(LoadError::Config { name: plugin.spec.name.clone(), violations }) }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}
