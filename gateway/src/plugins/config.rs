//! How plugins are configured: `[plugins]` in the gateway config, with one
//! `[[plugins.chain]]` entry per plugin, in the order they run.

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

/// The extension points a plugin can serve.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Deserialize, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Hook {
    /// Validation and policy, before a task is stored (`policy` interface).
    Policy,
    /// Post-processing of each turn's result (`result-processor`).
    Result,
    /// Choosing the artifacts of each turn (`artifact-collector`).
    Artifacts,
    /// Formatting webhook bodies (`webhook-formatter`).
    Webhook,
    /// Deciding a run's permission prompts (`tool-approval`, since WIT 0.1.1).
    ToolApproval,
}

impl Hook {
    pub const ALL: [Hook; 5] = [Hook::Policy, Hook::Result, Hook::Artifacts, Hook::Webhook, Hook::ToolApproval];

    pub fn as_str(self) -> &'static str {
        match self {
            Hook::Policy => "policy",
            Hook::Result => "result",
            Hook::Artifacts => "artifacts",
            Hook::Webhook => "webhook",
            Hook::ToolApproval => "tool_approval",
        }
    }

    /// The WIT interface a plugin exports to serve this hook.
    pub fn interface(self) -> &'static str {
        match self {
            Hook::Policy => "policy",
            Hook::Result => "result-processor",
            Hook::Artifacts => "artifact-collector",
            Hook::Webhook => "webhook-formatter",
            Hook::ToolApproval => "tool-approval",
        }
    }

    /// Policy, redaction and tool approval must not be skipped by accident (a failed
    /// tool approval denies the call); artifacts and webhooks have built-in
    /// behaviour to fall back on.
    pub fn default_on_error(self) -> OnError {
        match self {
            Hook::Policy | Hook::Result | Hook::ToolApproval => OnError::FailClosed,
            Hook::Artifacts | Hook::Webhook => OnError::FailOpen,
        }
    }
}

/// What a failed call (trap, time-out, memory, bad answer, quarantine) means.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum OnError {
    /// The task is refused (policy) or fails (result), the tool call is denied
    /// (tool approval); artifacts and webhooks fail closed by collecting nothing /
    /// not sending.
    FailClosed,
    /// The plugin is skipped: the request or result goes on unchanged, a tool call
    /// goes to the task's rules, artifacts and webhooks use the built-in behaviour.
    FailOpen,
}

/// WebAssembly plugins (`docs/plugins.md`): the chain, in the order the plugins run,
/// and what their calls may use.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct PluginsConfig {
    /// Compiled plugins are cached here; unset: `<data dir>/plugin-cache`.
    pub cache_dir: Option<PathBuf>,
    /// Plugin calls that may run at once on this node; more wait. Sizes the
    /// pooling allocator.
    pub max_concurrent_calls: u32,
    /// Consecutive failed calls after which a plugin is quarantined.
    pub quarantine_after_failures: u32,
    /// Seconds a quarantined plugin sits out before one trial call.
    pub quarantine_seconds: u64,
    /// Development only: reload the chain when a plugin's file changes (its
    /// sha256, checked every second).
    pub watch: bool,
    /// The plugins, in the order they run.
    pub chain: Vec<PluginSpec>,
}

impl Default for PluginsConfig {
    fn default() -> Self {
        Self {
            cache_dir: None,
            max_concurrent_calls: 32,
            quarantine_after_failures: 5,
            quarantine_seconds: 30,
            watch: false,
            chain: Vec::new(),
        }
    }
}

/// One `[[plugins.chain]]` entry.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct PluginSpec {
    /// Unique label in logs, metrics, events and `GET /v1/plugins`; empty (unset):
    /// the name the plugin declares (`meta.info`), as `ccgate plugins check` shows it.
    #[serde(default)]
    pub name: String,
    /// The component (`.wasm`).
    pub path: PathBuf,
    /// Hooks to use it for; empty: every hook it exports.
    #[serde(default)]
    pub hooks: Vec<Hook>,
    /// Key names (or key ids) whose tasks it applies to; empty: every key.
    #[serde(default)]
    pub keys: Vec<String>,
    /// Unset: `fail_closed` for policy, result and tool approval, `fail_open` for
    /// artifacts and webhook.
    #[serde(default)]
    pub on_error: Option<OnError>,
    /// Linear memory one call may grow to.
    #[serde(default = "default_memory_mb")]
    pub memory_mb: u32,
    /// Wall-clock budget of one call.
    #[serde(default = "default_timeout_ms")]
    pub timeout_ms: u64,
    /// Calls of the `host` interface (log, config) one call may make; past it the
    /// call fails.
    #[serde(default = "default_max_host_calls")]
    pub max_host_calls: u32,
    /// Log lines (`host.log`) one call may write; the rest are dropped and counted.
    #[serde(default = "default_max_log_lines")]
    pub max_log_lines: u32,
    /// Bytes of stdout and of stderr kept from one call (for the log).
    #[serde(default = "default_max_output_bytes")]
    pub max_output_bytes: usize,
    /// The plugin's own configuration, checked against the schema it declares.
    #[serde(default)]
    pub config: Option<toml::Value>,
    /// A result plugin also filters every event a run records (all but `status`
    /// and `plugin`): it gets the event's data as `structured`, and what it returns
    /// as `structured` is stored and streamed instead (e.g. redaction of what the
    /// agent printed, not just of its final answer).
    #[serde(default)]
    pub filter_events: bool,
}

fn default_memory_mb() -> u32 {
    32
}

fn default_timeout_ms() -> u64 {
    250
}

fn default_max_host_calls() -> u32 {
    10_000
}

fn default_max_log_lines() -> u32 {
    100
}

fn default_max_output_bytes() -> usize {
    16 * 1024
}

impl PluginSpec {
    /// A spec for `ccgate plugins check`: defaults, every hook, the given config.
    pub fn for_file(path: PathBuf, config: Option<serde_json::Value>) -> Result<Self, String> {
        let config = match config {
            None => None,
            Some(value) => Some(toml::Value::try_from(value).map_err(|e| format!("--config: {e}"))?),
        };
        Ok(Self {
            name: String::new(),
            path,
            hooks: Vec::new(),
            keys: Vec::new(),
            on_error: None,
            memory_mb: default_memory_mb(),
            timeout_ms: default_timeout_ms(),
            max_host_calls: default_max_host_calls(),
            max_log_lines: default_max_log_lines(),
            max_output_bytes: default_max_output_bytes(),
            config,
            filter_events: false,
        })
    }

    /// What is wrong with the limits, each naming its setting.
    pub fn check_limits(&self) -> Vec<String> {
        let mut wrong = Vec::new();
        if !(1..=4096).contains(&self.memory_mb) {
            wrong.push(format!("memory_mb must be 1 to 4096, not {}", self.memory_mb));
        }
        if !(1..=60_000).contains(&self.timeout_ms) {
            wrong.push(format!("timeout_ms must be 1 to 60000, not {}", self.timeout_ms));
        }
        if self.max_host_calls == 0 {
            wrong.push("max_host_calls must be at least 1".into());
        }
        if self.max_output_bytes > 1024 * 1024 {
            wrong.push(format!("max_output_bytes must be at most 1048576, not {}", self.max_output_bytes));
        }
        if self.filter_events && !self.hooks.is_empty() && !self.hooks.contains(&Hook::Result) {
            wrong.push("filter_events needs the result hook".into());
        }
        if !self.name.is_empty() && !valid_name(&self.name) {
            wrong.push("name must be 1 to 64 printable characters".into());
        }
        wrong
    }

    /// What to call the plugin before its declared name is known: its `name`, else
    /// its file's stem.
    pub fn label(&self) -> String {
        if !self.name.is_empty() {
            return self.name.clone();
        }
        self.path.file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_else(|| "plugin".into())
    }

    /// The plugin's configuration as JSON (`{}` when none).
    pub fn config_json(&self) -> serde_json::Value {
        self.config
            .as_ref()
            .and_then(|c| serde_json::to_value(c).ok())
            .unwrap_or_else(|| serde_json::Value::Object(Default::default()))
    }

    pub fn on_error(&self, hook: Hook) -> OnError {
        self.on_error.unwrap_or(hook.default_on_error())
    }

    /// Whether a task of this key runs through the plugin.
    pub fn applies_to(&self, key_id: &str, key_name: &str) -> bool {
        self.keys.is_empty() || self.keys.iter().any(|k| k == key_id || k == key_name)
    }
}

/// Whether `name` can label a plugin: 1 to 64 characters, none a control character.
pub fn valid_name(name: &str) -> bool {
    !name.is_empty() && name.len() <= 64 && !name.chars().any(char::is_control)
}
