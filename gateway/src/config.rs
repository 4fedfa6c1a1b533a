//! Gateway configuration: built-in defaults, then an optional TOML file
//! (`CCGATE_CONFIG`, else `ccgate.toml` when present), then environment variables,
//! which win. Every setting has a file key and a variable (`env`).

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

mod env;
#[cfg(test)]
mod reference;

/// Why the configuration could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read config file {path}: {source}")]
    Read { path: PathBuf, source: std::io::Error },
    #[error("invalid config file {path}: {source}")]
    Parse { path: PathBuf, source: toml::de::Error },
    #[error("invalid value for {name}: {value:?} ({reason})")]
    Env { name: String, value: String, reason: String },
    #[error("invalid setting {key}: {reason}")]
    Invalid { key: &'static str, reason: String },
}

/// The whole configuration.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    /// HTTP listen address.
    pub listen: String,
    /// Database URL: empty means SQLite in the data directory
    /// (`sqlite://<data_dir>/ccgate.db`); `postgres://user:password@host/db` for PostgreSQL.
    pub database_url: String,
    /// PostgreSQL: how long a request waits for a connection (the database away, or
    /// every connection busy) before it is answered 503.
    pub database_wait_seconds: u64,
    /// Workspaces, per-task state, the SQLite database and the key pepper live here.
    pub data_dir: PathBuf,
    /// Log format on stderr: `json` or `pretty` (filter with `RUST_LOG`).
    pub log_format: String,
    pub claude: ClaudeConfig,
    pub queue: QueueConfig,
    pub pool: PoolConfig,
    pub node: NodeConfig,
    pub tasks: TaskLimits,
    pub keys: KeyDefaults,
    pub http: HttpConfig,
    pub artifacts: ArtifactsConfig,
    pub storage: StorageConfig,
    pub retention: RetentionConfig,
    pub webhooks: WebhooksConfig,
    pub sandbox: crate::sandbox::SandboxConfig,
    pub plugins: crate::plugins::PluginsConfig,
    pub metrics: MetricsConfig,
    pub dashboard: DashboardConfig,
    /// What model use costs, per model (budgets and spend count this, not what a run prints).
    pub pricing: crate::pricing::Pricing,
}

/// The most warm processes one node keeps.
const MAX_POOL_SIZE: usize = 64;

/// Claude Code processes this node starts ahead of work, each in its own sandbox and
/// empty workspace, waiting for a task's first prompt.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct PoolConfig {
    /// Warm processes kept ready, at most 64; 0 turns the pool off; unset: one per
    /// worker (`queue.workers`). Only with the `bwrap` sandbox, where every run sees
    /// the same paths.
    pub size: Option<usize>,
    /// A warm process no task took within this many seconds (at least 1) is
    /// replaced by a fresh one.
    pub idle_seconds: u64,
}

impl Default for PoolConfig {
    fn default() -> Self {
        Self { size: None, idle_seconds: 600 }
    }
}

/// How this node names itself in the node registry (`GET /v1/nodes`).
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct NodeConfig {
    /// The node's name; empty means the machine's hostname.
    pub name: String,
    /// Where other nodes and operators can reach this node (`https://gw-3.internal:8080`);
    /// empty: not advertised.
    pub advertise_url: String,
    /// A secret shared by the nodes (at least 32 bytes): with it, a node asked for the
    /// files of a task running on another node relays the request there (to its
    /// `advertise_url`) and serves the live workspace; empty: it serves the task's last
    /// snapshot instead.
    pub cluster_secret: String,
}

/// Who may read `/metrics` (its series name key ids).
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct MetricsConfig {
    /// When set, `/metrics` asks for `Authorization: Bearer <token>`.
    pub token: String,
    /// When set (`host:port`), `/metrics` is served only there, not on `listen`.
    pub listen: String,
}

/// The operator's web pages at `/dashboard`.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct DashboardConfig {
    /// `false`: no `/dashboard` routes at all.
    pub enabled: bool,
    /// Minutes a sign-in lasts (sessions live in memory: a restart signs everyone out).
    pub session_minutes: u64,
    /// Always mark the session cookie `Secure` (it is marked so anyway when the
    /// request says `X-Forwarded-Proto: https`).
    pub secure_cookies: bool,
}

impl Default for DashboardConfig {
    fn default() -> Self {
        Self { enabled: true, session_minutes: 60, secure_cookies: false }
    }
}

/// Webhook delivery.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct WebhooksConfig {
    /// `false` refuses every webhook (air-gapped gateways): tasks and keys that
    /// name one get 422, and nothing is ever sent.
    pub enabled: bool,
    /// Hosts (`host` or `host:port`) webhooks may reach even at private or loopback
    /// addresses (on-prem receivers, tests).
    pub allowed_hosts: Vec<String>,
    /// Seconds to wait before each retry; after the last, the delivery gives up.
    pub retry_schedule_seconds: Vec<u64>,
    /// Seconds a receiver has to answer.
    pub timeout_seconds: u64,
    /// How often the outbox is polled, in milliseconds.
    pub poll_interval_ms: u64,
    /// Deliveries sent at once by this node.
    pub max_in_flight: usize,
}

impl Default for WebhooksConfig {
    fn default() -> Self {
        Self {
            enabled: true,
            allowed_hosts: Vec::new(),
            retry_schedule_seconds: vec![5, 30, 120, 600, 3600, 6 * 3600],
            timeout_seconds: 10,
            poll_interval_ms: 500,
            max_in_flight: 16,
        }
    }
}

/// What is collected from workspaces after each turn.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct ArtifactsConfig {
    /// Globs used when a task names none.
    pub default_patterns: Vec<String>,
    /// Most files, and bytes, collected from one task.
    pub max_files: usize,
    pub max_bytes: u64,
    /// Seconds one turn's collection may spend matching globs (never more than
    /// what is left of the task's timeout); files not reached are reported skipped.
    pub max_collect_seconds: u64,
}

/// Shared storage: where artifacts, and for clusters workspace snapshots, are kept.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct StorageConfig {
    /// `file:///path` or `s3://bucket/prefix` (endpoint, region and credentials
    /// from the `AWS_*` variables); empty means `file://<data_dir>/storage`.
    pub url: String,
    /// Whether a task's workspace and Claude session are saved to storage after each
    /// turn (and its input files when it is created), so that any node can run its
    /// next turn or serve its files: `auto` (when the database is PostgreSQL, that
    /// is when nodes may share it), `on` or `off`.
    pub snapshots: SnapshotMode,
    /// The most a snapshot may hold, in MiB; a larger workspace is not saved (its
    /// task's next turn can then only run where its files are).
    pub snapshot_max_mb: u64,
    /// The most files a snapshot may hold.
    pub snapshot_max_files: usize,
}

impl Default for StorageConfig {
    fn default() -> Self {
        Self { url: String::new(), snapshots: SnapshotMode::Auto, snapshot_max_mb: 1024, snapshot_max_files: 100_000 }
    }
}

/// When workspace snapshots are saved.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum SnapshotMode {
    /// When the database is PostgreSQL.
    Auto,
    On,
    Off,
}

impl SnapshotMode {
    /// Whether snapshots are saved, on a database other nodes may share or not.
    pub fn enabled(self, shared_database: bool) -> bool {
        match self {
            Self::On => true,
            Self::Off => false,
            Self::Auto => shared_database,
        }
    }
}

/// How long the files of finished tasks are kept.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct RetentionConfig {
    /// How long after a task finishes its workspace (and Claude's session) is
    /// kept: `"7d"`, `"12h"`, `"30m"`, `"45s"`; `"off"` keeps it forever.
    pub workspace_ttl: Ttl,
    /// The same for its artifacts.
    pub artifact_ttl: Ttl,
    /// How long audit log entries are kept.
    pub audit_ttl: Ttl,
    /// How long the usage rollup of the dashboard is kept (at least a day).
    pub usage_ttl: Ttl,
    /// Seconds between sweeps.
    pub sweep_interval_seconds: u64,
}

/// A retention time: a number and a unit (`s`, `m`, `h`, `d`), or `off`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(try_from = "String", into = "String")]
pub struct Ttl(pub Option<std::time::Duration>);

impl From<Ttl> for String {
    /// The time in its largest whole unit, as it is written in the configuration.
    fn from(ttl: Ttl) -> String {
        let Some(time) = ttl.0 else { return "off".into() };
        let seconds = time.as_secs();
        [("d", 86_400), ("h", 3600), ("m", 60)]
            .into_iter()
            .find(|(_, per)| seconds > 0 && seconds % per == 0)
            .map_or_else(|| format!("{seconds}s"), |(unit, per)| format!("{}{unit}", seconds / per))
    }
}

impl TryFrom<String> for Ttl {
    type Error = String;

    fn try_from(text: String) -> Result<Self, String> {
        let text = text.trim();
        if text == "off" {
            return Ok(Self(None));
        }
        let split = text.find(|c: char| !c.is_ascii_digit()).unwrap_or(text.len());
        let (number, unit) = text.split_at(split);
        let seconds_per = match unit {
            "s" => 1,
            "m" => 60,
            "h" => 3600,
            "d" => 86_400,
            _ => return Err(format!("{text:?} is not a time like \"7d\", \"12h\", \"30m\", \"45s\" or \"off\"")),
        };
        let number: u64 = number.parse().map_err(|_| format!("{text:?} does not start with a whole number"))?;
        Ok(Self(Some(std::time::Duration::from_secs(number.saturating_mul(seconds_per)))))
    }
}

/// How Claude Code is run.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct ClaudeConfig {
    /// The Claude Code executable; a bare name is looked up on `PATH`.
    pub bin: String,
    /// Extra environment variables given to every run (besides `ANTHROPIC_*` and
    /// `CLAUDE_CODE_*`, which are passed through from the gateway's environment).
    pub env: std::collections::BTreeMap<String, String>,
    /// `PATH` inside a run.
    pub path: String,
    /// Seconds between the polite SIGTERM and the SIGKILL of a run's processes.
    pub kill_grace_seconds: u64,
    /// Bytes of one tool output kept in the event log.
    pub max_tool_output_bytes: usize,
    /// Longest stdout line parsed; longer lines are dropped with a notice.
    pub max_line_bytes: usize,
    /// Events one turn may record (its output past that is read, not recorded).
    pub max_events_per_turn: u64,
    /// Bytes of events one turn may record.
    pub max_event_bytes_per_turn: u64,
    /// Extra arguments appended to every invocation (for operators who know the CLI).
    pub extra_args: Vec<String>,
    /// Claude Code's `--permission-mode` for runs: with `default` its permission prompts
    /// come to the gateway (`docs/api.md`, "Permission prompts"); `dontAsk` denies them in place.
    pub permission_mode: String,
    /// Seconds a run may stay alive after its result before it is closed and killed.
    pub linger_seconds: u64,
    /// Seconds a cancelled or timed-out run has to end its turn after the in-band
    /// interrupt, before its process tree is signalled.
    pub interrupt_grace_seconds: u64,
    /// Claude Code settings (a JSON object) given to every run in its `--settings`
    /// file, with the task's tool lists added as permission rules.
    pub settings: String,
    /// Seconds without any output while no tool is running after which a run is
    /// stalled (interrupted, then killed, failed as `timeout`); 0 turns it off.
    pub stall_seconds: u64,
}

/// Queue, workers and leases.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct QueueConfig {
    /// Tasks run at once on this node; 0: the node only answers the API and claims nothing.
    pub workers: usize,
    /// How long a claim stays valid without a heartbeat.
    pub lease_seconds: u64,
    /// Runs of one turn before a crashed task is failed instead of re-queued.
    pub max_attempts: u32,
    /// Seconds before each retry of a transient failure (the last value repeats);
    /// when the API said to wait longer (a rate limit's reset, `Retry-After`), that.
    pub retry_backoff_seconds: Vec<u64>,
    /// The longest wait before a retry the API (as the run reports it) may ask for.
    pub max_retry_wait_seconds: u64,
    /// How often a node looks for what another node did when no notification
    /// said so: work queued, a task's new events, a cancel of a run it holds (on
    /// PostgreSQL, nodes notify each other at once and this is the safety net).
    pub poll_interval_ms: u64,
    /// How long shutdown lets running tasks finish before stopping and re-queueing them.
    pub shutdown_grace_seconds: u64,
    /// How long a drain (`POST /v1/nodes/{id}/drain`, `ccgate drain`) lets running tasks
    /// finish before handing them back to the queue.
    pub drain_grace_seconds: u64,
    /// Queued tasks of all keys together past which submissions get 503.
    pub max_depth: u64,
    /// Below this much available memory or free disk (in the data directory), in MiB,
    /// this node stops claiming work until it recovers; 0 turns a floor off.
    pub min_free_memory_mb: u64,
    pub min_free_disk_mb: u64,
    /// How long a run's writes (its events, its outcome) are retried while the
    /// database cannot be reached; the run itself goes on meanwhile.
    pub database_outage_seconds: u64,
}

/// Defaults and caps of task options.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct TaskLimits {
    /// The model of a task that names none; unset: the CLI's default.
    pub default_model: Option<String>,
    /// `options.max_turns` of a task that names none, and the most a task may ask for.
    pub default_max_turns: u32,
    pub max_max_turns: u32,
    /// `options.timeout_seconds` of a task that names none.
    pub default_timeout_seconds: u64,
    /// The most `options.timeout_seconds` a task may ask for.
    pub max_timeout_seconds: u64,
    /// `options.allowed_tools` of a task that names none.
    pub default_allowed_tools: Vec<String>,
    /// The largest prompt (of a task or a message).
    pub max_prompt_bytes: usize,
    /// The largest `options.append_system_prompt`.
    pub max_append_system_prompt_bytes: usize,
    /// Upper bound of `wait_seconds` on `POST /v1/execute`.
    pub max_wait_seconds: u64,
    /// `wait_seconds` of a `POST /v1/execute` that names none.
    pub default_wait_seconds: u64,
    /// Input files of one request (inline, uploaded or unpacked from archives):
    /// count of files and links, and their total bytes.
    pub max_input_files: usize,
    pub max_input_bytes: usize,
    /// Largest expanded-to-compressed size ratio of an uploaded archive (judged past 1 MiB).
    pub max_archive_ratio: u64,
    /// Most `artifacts` globs one task may name, and the most patterns they may
    /// expand to together (`{a,b}` alternatives).
    pub max_artifact_patterns: usize,
    pub max_artifact_alternatives: usize,
    /// What one task's `options.output_schema` may cost.
    pub output_schema: crate::task::structured::OutputSchemaLimits,
    /// How long an `ask` permission prompt waits for a decision: default and cap of
    /// `options.approvals.timeout_seconds`.
    pub default_approval_timeout_seconds: u64,
    pub max_approval_timeout_seconds: u64,
}

/// Limits given to keys that don't name their own.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct KeyDefaults {
    /// Requests per minute of a key without a limit of its own.
    pub rate_limit_per_minute: u32,
    /// Running tasks of a key without a limit of its own.
    pub max_concurrent_tasks: u32,
    /// Queued tasks of a key without a limit of its own.
    pub max_queued_tasks: u32,
    /// Secret mixed into every API key hash; empty means a file in the data directory.
    pub pepper: String,
}

/// HTTP server limits.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct HttpConfig {
    /// The largest request body (413 above).
    pub max_body_bytes: usize,
    /// Connections open at once; one more is answered 503 and closed.
    pub max_connections: usize,
    /// Connections open at once from one client address.
    pub max_connections_per_address: usize,
    /// Seconds a client has to send a request's headers (also how long an idle
    /// keep-alive connection stays open).
    pub header_read_timeout_seconds: u64,
    /// Seconds a request body may go without sending a byte before the request fails.
    pub body_idle_timeout_seconds: u64,
    /// Multipart uploads one key may have in flight at once.
    pub max_uploads_per_key: u32,
    /// Failed authentications one client address may make per minute; past it,
    /// its requests are answered 429 without looking at the key.
    pub max_auth_failures_per_minute: u32,
    /// Event streams open at once on this node, and for one key.
    pub max_streams: usize,
    pub max_streams_per_key: usize,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            listen: "127.0.0.1:8080".into(),
            database_url: String::new(),
            database_wait_seconds: 10,
            data_dir: PathBuf::from("./data"),
            log_format: "pretty".into(),
            claude: ClaudeConfig::default(),
            queue: QueueConfig::default(),
            pool: PoolConfig::default(),
            node: NodeConfig::default(),
            tasks: TaskLimits::default(),
            keys: KeyDefaults::default(),
            http: HttpConfig::default(),
            artifacts: ArtifactsConfig::default(),
            storage: StorageConfig::default(),
            retention: RetentionConfig::default(),
            webhooks: WebhooksConfig::default(),
            sandbox: Default::default(),
            plugins: Default::default(),
            metrics: MetricsConfig::default(),
            dashboard: DashboardConfig::default(),
            pricing: Default::default(),
        }
    }
}

impl Default for ArtifactsConfig {
    fn default() -> Self {
        Self { default_patterns: Vec::new(), max_files: 1000, max_bytes: 256 * 1024 * 1024, max_collect_seconds: 20 }
    }
}

impl Default for RetentionConfig {
    fn default() -> Self {
        let days = |n: u64| Ttl(Some(std::time::Duration::from_secs(n * 86_400)));
        Self {
            workspace_ttl: days(7),
            artifact_ttl: days(30),
            audit_ttl: days(365),
            usage_ttl: days(30),
            sweep_interval_seconds: 600,
        }
    }
}

impl Default for ClaudeConfig {
    fn default() -> Self {
        Self {
            bin: "claude".into(),
            env: Default::default(),
            path: "/usr/local/bin:/usr/bin:/bin".into(),
            kill_grace_seconds: 3,
            max_tool_output_bytes: 64 * 1024,
            max_line_bytes: 64 * 1024 * 1024,
            max_events_per_turn: 20_000,
            max_event_bytes_per_turn: 64 * 1024 * 1024,
            extra_args: Vec::new(),
            permission_mode: "default".into(),
            linger_seconds: 5,
            interrupt_grace_seconds: 5,
            settings: String::new(),
            stall_seconds: 600,
        }
    }
}

impl Default for QueueConfig {
    fn default() -> Self {
        Self {
            workers: std::thread::available_parallelism().map_or(2, |n| n.get()),
            lease_seconds: 30,
            max_attempts: 3,
            retry_backoff_seconds: vec![5, 30, 120],
            max_retry_wait_seconds: 3600,
            poll_interval_ms: 1000,
            shutdown_grace_seconds: 20,
            drain_grace_seconds: 900,
            max_depth: 100_000,
            min_free_memory_mb: 256,
            min_free_disk_mb: 1024,
            database_outage_seconds: 600,
        }
    }
}

impl Default for TaskLimits {
    fn default() -> Self {
        Self {
            default_model: None,
            default_max_turns: 30,
            max_max_turns: 200,
            default_timeout_seconds: 900,
            max_timeout_seconds: 6 * 3600,
            default_allowed_tools: ["Read", "Edit", "Write", "Bash", "Glob", "Grep"].map(String::from).to_vec(),
            max_prompt_bytes: 256 * 1024,
            max_append_system_prompt_bytes: 32 * 1024,
            max_wait_seconds: 600,
            default_wait_seconds: 120,
            max_input_files: 1000,
            max_input_bytes: 32 * 1024 * 1024,
            max_archive_ratio: 100,
            max_artifact_patterns: 32,
            max_artifact_alternatives: 128,
            output_schema: Default::default(),
            default_approval_timeout_seconds: 600,
            max_approval_timeout_seconds: 3600,
        }
    }
}

impl Default for KeyDefaults {
    fn default() -> Self {
        Self { rate_limit_per_minute: 600, max_concurrent_tasks: 4, max_queued_tasks: 1000, pepper: String::new() }
    }
}

impl Default for HttpConfig {
    fn default() -> Self {
        Self {
            max_body_bytes: 48 * 1024 * 1024,
            max_connections: 4096,
            max_connections_per_address: 512,
            header_read_timeout_seconds: 30,
            body_idle_timeout_seconds: 30,
            max_uploads_per_key: 4,
            max_auth_failures_per_minute: 60,
            max_streams: 2048,
            max_streams_per_key: 64,
        }
    }
}

impl Config {
    /// Loads defaults, the config file and the environment, in that order.
    pub fn load() -> Result<Self, ConfigError> {
        Self::load_with(None)
    }

    /// [`Config::load`], from `file` when given (instead of `CCGATE_CONFIG`).
    pub fn load_with(file: Option<&Path>) -> Result<Self, ConfigError> {
        let explicit = file.map(Path::to_path_buf).or_else(|| std::env::var_os("CCGATE_CONFIG").map(PathBuf::from));
        let path = explicit.clone().or_else(|| {
            let default = PathBuf::from("ccgate.toml");
            default.exists().then_some(default)
        });
        let mut config = match path {
            Some(path) => Self::from_file(&path)?,
            None => Self::default(),
        };
        config.apply_env(|name| std::env::var(name).ok())?;
        config.check()?;
        Ok(config)
    }

    fn from_file(path: &Path) -> Result<Self, ConfigError> {
        let text =
            std::fs::read_to_string(path).map_err(|source| ConfigError::Read { path: path.to_owned(), source })?;
        toml::from_str(&text).map_err(|source| ConfigError::Parse { path: path.to_owned(), source })
    }

    fn check(&self) -> Result<(), ConfigError> {
        let invalid = |key, reason: &str| Err(ConfigError::Invalid { key, reason: reason.into() });
        if self.node.name.len() > 200 {
            return invalid("node.name", "must be at most 200 bytes");
        }
        if self.pool.size.is_some_and(|size| size > MAX_POOL_SIZE) {
            return invalid("pool.size", "must be at most 64");
        }
        if self.pool.idle_seconds == 0 {
            return invalid("pool.idle_seconds", "must be at least 1");
        }
        let advertised = self.node.advertise_url.trim();
        if !advertised.is_empty()
            && !url::Url::parse(advertised).is_ok_and(|u| matches!(u.scheme(), "http" | "https") && u.has_host())
        {
            return invalid("node.advertise_url", "must be an http:// or https:// URL (or empty)");
        }
        let secret = self.node.cluster_secret.trim();
        if !secret.is_empty() && secret.len() < 32 {
            return invalid("node.cluster_secret", "must be at least 32 bytes (or empty)");
        }
        let backends = ["sqlite:", "postgres://", "postgresql://"];
        if !self.database_url.is_empty() && !backends.iter().any(|scheme| self.database_url.starts_with(scheme)) {
            return invalid("database_url", "must be a sqlite: or postgres:// URL (or empty: SQLite in data_dir)");
        }
        if self.database_wait_seconds == 0 {
            return invalid("database_wait_seconds", "must be at least 1");
        }
        if self.storage.snapshot_max_mb == 0 || self.storage.snapshot_max_files == 0 {
            return invalid("storage.snapshot_max_mb", "snapshot_max_mb and snapshot_max_files must be at least 1");
        }
        if self.queue.lease_seconds < 3 {
            return invalid("queue.lease_seconds", "must be at least 3");
        }
        if self.queue.max_depth == 0 {
            return invalid("queue.max_depth", "must be at least 1");
        }
        if self.queue.max_attempts == 0 {
            return invalid("queue.max_attempts", "must be at least 1");
        }
        if !(1..=7 * 86_400).contains(&self.queue.max_retry_wait_seconds) {
            return invalid("queue.max_retry_wait_seconds", "must be from 1 to 604800 (a week)");
        }
        if !(100..=10_000_000).contains(&self.claude.max_events_per_turn) {
            return invalid("claude.max_events_per_turn", "must be from 100 to 10000000");
        }
        if !(1 << 20..=16 << 30).contains(&self.claude.max_event_bytes_per_turn) {
            return invalid("claude.max_event_bytes_per_turn", "must be from 1 MiB to 16 GiB");
        }
        if !matches!(self.log_format.as_str(), "json" | "pretty") {
            return invalid("log_format", "must be \"json\" or \"pretty\"");
        }
        if self.tasks.default_timeout_seconds > self.tasks.max_timeout_seconds {
            return invalid("tasks.default_timeout_seconds", "exceeds tasks.max_timeout_seconds");
        }
        let approvals = (self.tasks.default_approval_timeout_seconds, self.tasks.max_approval_timeout_seconds);
        if approvals.0 == 0 || approvals.0 > approvals.1 {
            return invalid(
                "tasks.default_approval_timeout_seconds",
                "must be from 1 to tasks.max_approval_timeout_seconds",
            );
        }
        if self.tasks.default_max_turns > self.tasks.max_max_turns {
            return invalid("tasks.default_max_turns", "exceeds tasks.max_max_turns");
        }
        for pattern in &self.artifacts.default_patterns {
            if let Err(why) = crate::artifacts::glob(pattern) {
                return invalid("artifacts.default_patterns", &format!("{pattern:?} {why}"));
            }
        }
        if self.webhooks.timeout_seconds == 0 || self.webhooks.max_in_flight == 0 {
            return invalid("webhooks", "timeout_seconds and max_in_flight must be at least 1");
        }
        if !self.claude.settings.trim().is_empty()
            && !serde_json::from_str::<serde_json::Value>(&self.claude.settings).is_ok_and(|v| v.is_object())
        {
            return invalid("claude.settings", "must be a JSON object");
        }
        if let Some(why) = self.sandbox.problem() {
            return Err(ConfigError::Invalid { key: "sandbox", reason: why });
        }
        let http = &self.http;
        if http.max_connections == 0 || http.max_connections_per_address == 0 {
            return invalid("http", "max_connections and max_connections_per_address must be at least 1");
        }
        if http.header_read_timeout_seconds == 0 || http.body_idle_timeout_seconds == 0 {
            return invalid("http", "header_read_timeout_seconds and body_idle_timeout_seconds must be at least 1");
        }
        if http.max_uploads_per_key == 0 || http.max_auth_failures_per_minute == 0 {
            return invalid("http", "max_uploads_per_key and max_auth_failures_per_minute must be at least 1");
        }
        if http.max_streams == 0 || http.max_streams_per_key == 0 {
            return invalid("http", "max_streams and max_streams_per_key must be at least 1");
        }
        if self.artifacts.max_collect_seconds == 0 {
            return invalid("artifacts.max_collect_seconds", "must be at least 1");
        }
        let schema = &self.tasks.output_schema;
        if !(100..=60_000).contains(&schema.check_timeout_ms) {
            return invalid("tasks.output_schema.check_timeout_ms", "must be from 100 to 60000");
        }
        if !(32..=16_384).contains(&schema.check_memory_mb) {
            return invalid("tasks.output_schema.check_memory_mb", "must be from 32 to 16384");
        }
        if !(1..=256).contains(&schema.max_concurrent_checks) {
            return invalid("tasks.output_schema.max_concurrent_checks", "must be from 1 to 256");
        }
        if let Some(why) = self.pricing.problem() {
            return Err(ConfigError::Invalid { key: "pricing", reason: why });
        }
        if self.retention.usage_ttl.0.is_some_and(|ttl| ttl.as_secs() < 86_400) {
            return invalid("retention.usage_ttl", "must be at least \"1d\" or \"off\"");
        }
        if !(1..=7 * 24 * 60).contains(&self.dashboard.session_minutes) {
            return invalid("dashboard.session_minutes", "must be from 1 to 10080 (a week)");
        }
        if self.retention.sweep_interval_seconds == 0 {
            return invalid("retention.sweep_interval_seconds", "must be at least 1");
        }
        if let Err(e) = self.storage_url() {
            return invalid("storage.url", &format!("{:?}: {}", e.url, e.reason));
        }
        Ok(())
    }

    /// Where shared storage is: `storage.url`, else a directory in the data directory.
    pub fn storage_url(&self) -> Result<crate::storage::StorageUrl, crate::storage::UrlError> {
        if self.storage.url.trim().is_empty() {
            Ok(crate::storage::StorageUrl::default_for(&self.data_dir))
        } else {
            crate::storage::StorageUrl::parse(self.storage.url.trim())
        }
    }

    /// The database URL, defaulting to SQLite in the data directory.
    pub fn database_url(&self) -> String {
        if self.database_url.is_empty() {
            format!("sqlite://{}?mode=rwc", self.data_dir.join("ccgate.db").display())
        } else {
            self.database_url.clone()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `section.key` of every setting (a table value, such as `claude.env`, is one).
    fn setting_names(value: &toml::Value) -> Vec<String> {
        let mut names = Vec::new();
        for (name, value) in value.as_table().expect("a table") {
            match value.as_table() {
                Some(section) => names.extend(section.keys().map(|key| format!("{name}.{key}"))),
                None => names.push(name.clone()),
            }
        }
        names
    }

    #[test]
    fn the_example_file_gives_every_setting_its_default() {
        let example_text = include_str!("../../ccgate.example.toml");
        let example: Config = toml::from_str(example_text).expect("the example parses, with no unknown keys");
        let mut defaults = toml::Value::try_from(Config::default()).unwrap();
        let mut written = toml::Value::try_from(example).unwrap();
        // The number of workers is the machine's CPUs: not a fixed value to write.
        for config in [&mut defaults, &mut written] {
            config["queue"].as_table_mut().unwrap().remove("workers");
        }
        let as_written: toml::Value = toml::from_str(example_text).unwrap();
        let mut problems = Vec::new();
        for name in setting_names(&defaults) {
            let (section, key) = name.split_once('.').unwrap_or(("", &name));
            let pick = |config: &toml::Value| {
                if section.is_empty() { config.get(key).cloned() } else { config.get(section)?.get(key).cloned() }
            };
            // A list of tables (`[[plugins.chain]]`) is shown commented out.
            let shown = pick(&as_written).is_some() || example_text.contains(&format!("[[{name}]]"));
            if !shown {
                problems.push(format!("{name}: not written out in ccgate.example.toml"));
            } else if pick(&written) != pick(&defaults) {
                problems.push(format!(
                    "{name}: the example says {:?}, the default is {:?}",
                    pick(&written),
                    pick(&defaults)
                ));
            }
        }
        assert!(problems.is_empty(), "{}", problems.join("\n"));
    }

    #[test]
    fn retention_times_read_like_durations() {
        let config: Config = toml::from_str("[retention]\nworkspace_ttl = \"12h\"\nartifact_ttl = \"off\"").unwrap();
        assert_eq!(config.retention.workspace_ttl, Ttl(Some(std::time::Duration::from_secs(12 * 3600))));
        assert_eq!(config.retention.artifact_ttl, Ttl(None));
        let err = toml::from_str::<Config>("[retention]\nworkspace_ttl = \"7 days\"").unwrap_err();
        assert!(err.to_string().contains("is not a time like"), "{err}");
    }

    #[test]
    fn dashboard_and_usage_settings_are_bounded() {
        let config: Config = toml::from_str("[dashboard]\nsession_minutes = 0").unwrap();
        assert!(config.check().unwrap_err().to_string().contains("dashboard.session_minutes"));
        let config: Config = toml::from_str("[retention]\nusage_ttl = \"2h\"").unwrap();
        assert!(config.check().unwrap_err().to_string().contains("retention.usage_ttl"));
        assert!(Config::default().check().is_ok());
    }

    #[test]
    fn the_database_is_sqlite_or_postgres() {
        for url in ["", "sqlite::memory:", "postgres://db/ccgate", "postgresql://u:p@db:5432/ccgate"] {
            assert!(Config { database_url: url.into(), ..Config::default() }.check().is_ok(), "{url}");
        }
        let never_waits = Config { database_wait_seconds: 0, ..Config::default() };
        assert!(never_waits.check().unwrap_err().to_string().contains("database_wait_seconds"));
        let mysql = Config { database_url: "mysql://db/ccgate".into(), ..Config::default() };
        assert!(mysql.check().unwrap_err().to_string().contains("database_url"));
    }
}
