//! # ccgate plugin SDK
//!
//! Write a ccgate WebAssembly plugin as a trait impl and one
//! macro. A plugin is a Rust `cdylib` built for `wasm32-wasip2`; the gateway loads
//! the component and calls its hook. `ccgate plugins new NAME --hook HOOK` writes a
//! crate that builds, with an example of the hook and its tests.
//!
//! ## Versions
//!
//! | SDK | builds against WIT | loaded by gateways speaking |
//! | --- | --- | --- |
//! | 0.1.2 | `ccgate:plugin@0.1.2` ([`WIT_VERSION`]; the WIT files ship in the crate) | 0.1.2 (older gateways refuse the component: it names 0.1.2) |
//! | 0.1.1 | `ccgate:plugin@0.1.1` | 0.1.1 and 0.1.2 |
//! | 0.1.0 | `ccgate:plugin@0.1.0` | 0.1.0, 0.1.1 and 0.1.2 |
//!
//! The gateway keeps every released WIT version (`wit/v0.1.0/`, `wit/v0.1.1/`,
//! frozen) beside the current one and calls a component through the bindings of
//! the version it declares: plugins built with an older SDK keep loading and get
//! what they always got. 0.1.1 added the tool-approval hook; 0.1.2 makes
//! [`TaskInfo::status`] a [`TaskStatus`] and [`WebhookEvent::kind`] an [`EventKind`]
//! (strings before), and gives a [`ToolRequest`] the run's workspace and home. A
//! version the gateway does not know (0.2, a newer 0.1.x) is refused with a message
//! naming both. `ccgate plugins check FILE.wasm` says whether a given gateway loads
//! a plugin.
//!
//! | hook | trait | macro | world |
//! | --- | --- | --- | --- |
//! | validate / rewrite a request | [`Policy`] | [`export_policy!`] | `policy-plugin` |
//! | post-process a result | [`ResultProcessor`] | [`export_result_processor!`] | `result-plugin` |
//! | choose artifacts | [`ArtifactCollector`] | [`export_artifact_collector!`] | `artifact-plugin` |
//! | shape a webhook body | [`WebhookFormatter`] | [`export_webhook_formatter!`] | `webhook-plugin` |
//! | decide a run's permission prompts | [`ToolApproval`] | [`export_tool_approval!`] | `tool-approval-plugin` |
//!
//! Every plugin also implements [`Plugin`]: its name, version, configuration type
//! (deserialized from the gateway's JSON configuration for the plugin), an optional
//! JSON Schema and extra configuration checks.
//!
//! ## Example
//!
//! `Cargo.toml`:
//!
//! ```toml
//! [package]
//! name = "my-policy"
//! version = "0.1.0"
//! edition = "2024"
//!
//! [lib]
//! crate-type = ["cdylib", "rlib"]   # rlib: lets `cargo test` build it natively
//!
//! [dependencies]
//! ccgate-plugin-sdk = "0.1"
//! serde = { version = "1", features = ["derive"] }
//! ```
//!
//! `src/lib.rs`:
//!
//! ```
//! use ccgate_plugin_sdk::prelude::*;
//!
//! #[derive(serde::Deserialize, Default)]
//! #[serde(default, deny_unknown_fields)]
//! pub struct Config {
//!     /// Requests whose prompt contains this word are refused.
//!     forbidden_word: Option<String>,
//!     /// Every request runs at most this many turns.
//!     max_turns: Option<u64>,
//! }
//!
//! pub struct MyPolicy;
//!
//! impl Plugin for MyPolicy {
//!     type Config = Config;
//!     const NAME: &'static str = "my-policy";
//!     const VERSION: &'static str = env!("CARGO_PKG_VERSION");
//!
//!     fn check_config(config: &Config) -> Vec<Violation> {
//!         match &config.forbidden_word {
//!             Some(word) if word.is_empty() => vec![Violation::new("/forbidden_word", "must not be empty")],
//!             _ => Vec::new(),
//!         }
//!     }
//! }
//!
//! impl Policy for MyPolicy {
//!     fn validate(config: &Config, request: TaskRequest) -> Decision {
//!         // Keep the logic free of host calls (logging aside) so that plain
//!         // `cargo test` can exercise it.
//!         if let Some(word) = &config.forbidden_word {
//!             if request.prompt.contains(word.as_str()) {
//!                 log::info_with("refused a request", &[("rule", "forbidden_word")]);
//!                 return Decision::deny_one("/prompt", format!("the prompt must not mention {word:?}"));
//!             }
//!         }
//!         let mut options = request.options();
//!         match (config.max_turns, options.get("max_turns").and_then(|v| v.as_u64())) {
//!             (Some(cap), Some(turns)) if turns <= cap => Decision::Allow,
//!             (Some(cap), _) => {
//!                 options.insert("max_turns".into(), cap.into());
//!                 Decision::rewrite_from(&request, &options)
//!             }
//!             (None, _) => Decision::Allow,
//!         }
//!     }
//! }
//!
//! ccgate_plugin_sdk::export_policy!(MyPolicy);
//! # fn main() {}
//! ```
//!
//! `build.rs` (with the SDK also under `[build-dependencies]`), so that a missing
//! `cdylib` or export macro fails the build with the fix (see [`build`]):
//!
//! ```ignore
//! fn main() {
//!     ccgate_plugin_sdk::build::check();
//! }
//! ```
//!
//! Build and check it:
//!
//! ```sh
//! cargo build --target wasm32-wasip2 --release
//! ccgate plugins check target/wasm32-wasip2/release/my_policy.wasm --config '{"max_turns": 10}'
//! ```
//!
//! ## What the SDK does for you
//!
//! * `meta.info` returns [`Plugin::NAME`], [`Plugin::VERSION`] and [`Plugin::config_schema`].
//! * `meta.check-config` deserializes the JSON text into [`Plugin::Config`] (a serde
//!   error becomes one violation with pointer `""`), then calls [`Plugin::check_config`].
//! * Each hook call reads the configuration from the host (`host.config`) and hands the
//!   deserialized value to your hook.
//! * The first call installs a panic hook that logs the panic's message and location at
//!   error level through the host before the instance traps.
//! * [`log`] writes structured lines to the gateway's log (on a native build, e.g. in
//!   unit tests, they go to stderr instead).
//!
//! The configuration type must implement [`serde::de::DeserializeOwned`]; the gateway
//! passes `{}` when the plugin has no configuration, so give fields defaults.

#![warn(missing_docs)]

#[allow(missing_docs, clippy::all)]
mod bindings;
pub mod build;
pub mod log;
mod options;

#[doc(hidden)]
pub mod __private;

use serde::de::DeserializeOwned;

include!(concat!(env!("OUT_DIR"), "/wit_path.rs"));

/// The version of the WIT package (`ccgate:plugin@…`) this SDK implements.
pub const WIT_VERSION: &str = "0.1.2";

/// The values every hook shares (WIT interface `ccgate:plugin/types`).
pub mod types {
    pub use crate::bindings::ccgate::plugin::types::{
        EventKind, InputFile, TaskInfo, TaskRequest, TaskResult, TaskStatus, Usage, Violation,
    };

    impl TaskStatus {
        /// The status as the API spells it (`completed`).
        pub fn as_str(self) -> &'static str {
            match self {
                TaskStatus::Queued => "queued",
                TaskStatus::Running => "running",
                TaskStatus::Completed => "completed",
                TaskStatus::Failed => "failed",
                TaskStatus::Cancelled => "cancelled",
            }
        }
    }

    impl EventKind {
        /// The event's name, as the built-in payload's `type` spells it (`task.completed`).
        pub fn name(self) -> &'static str {
            match self {
                EventKind::TaskStarted => "task.started",
                EventKind::TaskCompleted => "task.completed",
                EventKind::TaskFailed => "task.failed",
                EventKind::TaskCancelled => "task.cancelled",
                EventKind::TaskApprovalRequested => "task.approval_requested",
            }
        }
    }

    impl std::fmt::Display for TaskStatus {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str(self.as_str())
        }
    }

    impl std::fmt::Display for EventKind {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str(self.name())
        }
    }
}

/// The raw host interface (WIT interface `ccgate:plugin/host`). Prefer [`crate::log`]
/// for logging; the SDK reads the configuration for you.
///
/// These functions exist only inside a WebAssembly instance: on a native build they
/// panic.
pub mod host {
    pub use crate::bindings::ccgate::plugin::host::{Level, config, log};
}

pub use options::{Options, pointer_escape};
/// The `serde` the SDK uses (for `serde::de::IgnoredAny` and the like).
pub use serde;
/// The `serde_json` the SDK uses.
pub use serde_json;
pub use types::*;

/// Everything a plugin usually needs: `use ccgate_plugin_sdk::prelude::*;`.
pub mod prelude {
    pub use crate::log;
    pub use crate::types::*;
    pub use crate::{
        Approval, Artifact, ArtifactCollector, Decision, Formatted, Options, Plugin, Policy, ResultProcessor, Rewrite,
        ToolApproval, ToolRequest, WebhookEvent, WebhookFormatter, WorkspaceFile, pointer_escape,
    };
}

/// What every plugin says about itself, and its configuration.
pub trait Plugin {
    /// The plugin's configuration, deserialized from the JSON the gateway holds for it
    /// (`{}` when none is set).
    type Config: DeserializeOwned;
    /// The plugin's name (`meta.info`).
    const NAME: &'static str;
    /// The plugin's version (`meta.info`); usually `env!("CARGO_PKG_VERSION")`.
    const VERSION: &'static str;

    /// A JSON Schema (as JSON text) the configuration must match; the gateway validates
    /// the configuration against it when it loads the plugin. None by default.
    fn config_schema() -> Option<&'static str> {
        None
    }

    /// Checks a configuration beyond what its type and schema say (regexes compile, …);
    /// every problem found, as violations whose pointers name the field. None by default.
    fn check_config(config: &Self::Config) -> Vec<Violation> {
        let _ = config;
        Vec::new()
    }
}

/// A validation / policy plugin (world `policy-plugin`): runs before a task is stored.
pub trait Policy: Plugin {
    /// Allows, denies or rewrites a request.
    fn validate(config: &Self::Config, request: TaskRequest) -> Decision;
}

/// A result post-processing plugin (world `result-plugin`).
pub trait ResultProcessor: Plugin {
    /// The result to store and send in place of `result`, or an error, which fails the task.
    fn process(config: &Self::Config, task: TaskInfo, result: TaskResult) -> Result<TaskResult, String>;
}

/// An artifact collection plugin (world `artifact-plugin`). The workspace is readable
/// at `/workspace`, the task's original input files (if any) at `/baseline`.
pub trait ArtifactCollector: Plugin {
    /// The artifacts of this turn.
    fn collect(
        config: &Self::Config,
        task: TaskInfo,
        result: TaskResult,
        files: Vec<WorkspaceFile>,
    ) -> Result<Vec<Artifact>, String>;
}

/// A webhook formatting plugin (world `webhook-plugin`).
pub trait WebhookFormatter: Plugin {
    /// The body (and content type, extra headers) to send to `url` for `event`.
    fn format(config: &Self::Config, event: WebhookEvent, url: String) -> Result<Formatted, String>;
}

/// A tool approval plugin (world `tool-approval-plugin`, since WIT 0.1.1): sees each
/// permission prompt of a run before the task's own rules and approval mode.
pub trait ToolApproval: Plugin {
    /// Allows or denies the call, or has no opinion ([`Approval::Ask`]).
    fn decide(config: &Self::Config, request: ToolRequest) -> Approval;
}

/// One permission prompt of a run (WIT `tool-approval.tool-request`).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ToolRequest {
    /// The task the run belongs to.
    pub task_id: String,
    /// The id of the API key that sent the task.
    pub key_id: String,
    /// The name of that key.
    pub key_name: String,
    /// The tool the agent wants to call (`Bash`, `Write`, `WebFetch`, …).
    pub tool_name: String,
    /// The call's input as JSON text; `None` when larger than 64 KiB.
    pub input: Option<String>,
    /// The size of the input as JSON text.
    pub input_bytes: u64,
    /// Why Claude Code asks, when it says.
    pub reason: Option<String>,
    /// Where the run sees its workspace (an absolute path): relative paths in the
    /// input start there.
    pub workspace: String,
    /// Where the run sees its home directory.
    pub home: String,
}

impl ToolRequest {
    /// A request for `tool` with `input` (for tests: ids and key are placeholders).
    pub fn new(tool: impl Into<String>, input: &serde_json::Value) -> Self {
        let input = input.to_string();
        ToolRequest {
            task_id: "tsk_test".into(),
            key_id: "key_test".into(),
            key_name: "test".into(),
            tool_name: tool.into(),
            input_bytes: input.len() as u64,
            input: Some(input),
            reason: None,
            workspace: "/workspace".into(),
            home: "/home/agent".into(),
        }
    }

    /// The input parsed, when present and valid JSON.
    pub fn input_json(&self) -> Option<serde_json::Value> {
        self.input.as_deref().and_then(|text| serde_json::from_str(text).ok())
    }
}

/// A tool approval plugin's answer (WIT `tool-approval.approval`).
#[derive(Debug, Clone, PartialEq)]
pub enum Approval {
    /// Run the call; with `Some(input)` (a JSON object), run it with that input.
    Allow(Option<serde_json::Value>),
    /// Refuse the call; the model sees the message as the tool's error.
    Deny(String),
    /// No opinion: the next plugin, then the task's rules and mode, decide.
    Ask,
}

/// A policy plugin's answer (WIT `policy.decision`).
#[derive(Debug, Clone, PartialEq)]
pub enum Decision {
    /// Store the request as it is.
    Allow,
    /// Refuse it: the client gets 422, problem type `rejected-by-plugin`, listing the violations.
    Deny(Vec<Violation>),
    /// Queue this request instead; the gateway validates it again.
    Rewrite(Rewrite),
}

/// A request to queue instead of the one received (WIT `policy.rewrite`).
#[derive(Debug, Clone, PartialEq)]
pub struct Rewrite {
    /// The prompt.
    pub prompt: String,
    /// −10…10; higher runs first.
    pub priority: i32,
    /// The whole `options` object, as JSON text.
    pub options: String,
    /// The metadata.
    pub metadata: Vec<(String, String)>,
}

/// A file in the workspace (WIT `artifact-collector.workspace-file`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WorkspaceFile {
    /// Relative to the workspace, `/`-separated.
    pub path: String,
    /// Size in bytes.
    pub size: u64,
}

/// An artifact to store (WIT `artifact-collector.artifact`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Artifact {
    /// A workspace path, or for generated content any relative name.
    pub path: String,
    /// The bytes to store; `None` copies the workspace file at `path`.
    pub content: Option<Vec<u8>>,
    /// Media type; `None` lets the host guess it from the name.
    pub content_type: Option<String>,
}

impl Artifact {
    /// The workspace file at `path`, copied by the host.
    pub fn workspace(path: impl Into<String>) -> Self {
        Artifact { path: path.into(), content: None, content_type: None }
    }

    /// Generated content stored under the relative name `path`.
    pub fn generated(path: impl Into<String>, content: impl Into<Vec<u8>>, content_type: Option<&str>) -> Self {
        Artifact { path: path.into(), content: Some(content.into()), content_type: content_type.map(str::to_owned) }
    }
}

/// A webhook delivery to format (WIT `webhook-formatter.webhook-event`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WebhookEvent {
    /// What the delivery tells of ([`EventKind::name`] is the payload's `type`).
    pub kind: EventKind,
    /// The delivery's id (`webhook-id`).
    pub id: String,
    /// RFC 3339.
    pub timestamp: String,
    /// The gateway's built-in JSON body, as JSON text: `{"type", "timestamp", "data": <task>}`.
    pub payload: String,
}

impl WebhookEvent {
    /// An event of `kind` (`task.completed`, …) whose built-in body carries `task` as
    /// `data`, for a native test.
    pub fn new(kind: EventKind, task: serde_json::Value) -> Self {
        let timestamp = "2026-01-01T00:00:00Z".to_owned();
        let payload = serde_json::json!({"type": kind.name(), "timestamp": timestamp, "data": task}).to_string();
        WebhookEvent { kind, id: "msg_test".into(), timestamp, payload }
    }

    /// The payload parsed as JSON.
    pub fn payload_json(&self) -> Result<serde_json::Value, serde_json::Error> {
        serde_json::from_str(&self.payload)
    }
}

/// A formatted webhook body (WIT `webhook-formatter.formatted`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Formatted {
    /// The `content-type` header.
    pub content_type: String,
    /// Extra headers; the host refuses hop-by-hop and `webhook-*` names.
    pub headers: Vec<(String, String)>,
    /// The body.
    pub body: Vec<u8>,
}

impl Formatted {
    /// A JSON body (`application/json`) without extra headers.
    pub fn json(value: &serde_json::Value) -> Self {
        Formatted {
            content_type: "application/json".to_owned(),
            headers: Vec::new(),
            body: serde_json::to_vec(value).expect("a JSON value serializes"),
        }
    }
}

impl Violation {
    /// A violation of the field at JSON Pointer `pointer`.
    pub fn new(pointer: impl Into<String>, message: impl Into<String>) -> Self {
        Violation { pointer: pointer.into(), message: message.into() }
    }
}

impl Decision {
    /// Denies with one violation.
    pub fn deny_one(pointer: impl Into<String>, message: impl Into<String>) -> Self {
        Decision::Deny(vec![Violation::new(pointer, message)])
    }

    /// Rewrites `request` with new `options` (prompt, priority and metadata unchanged).
    /// Change those on the returned value's [`Rewrite`] when needed, or build one with
    /// [`Rewrite::from_request`].
    pub fn rewrite_from(request: &TaskRequest, options: &Options) -> Self {
        let mut rewrite = Rewrite::from_request(request);
        rewrite.set_options(options);
        Decision::Rewrite(rewrite)
    }
}

impl Rewrite {
    /// A rewrite that changes nothing yet: `request`'s prompt, priority, options and metadata.
    pub fn from_request(request: &TaskRequest) -> Self {
        Rewrite {
            prompt: request.prompt.clone(),
            priority: request.priority,
            options: request.options.clone(),
            metadata: request.metadata.clone(),
        }
    }

    /// Replaces the options.
    pub fn set_options(&mut self, options: &Options) {
        self.options = serde_json::Value::Object(options.clone()).to_string();
    }

    /// The options, parsed (see [`TaskRequest::options`]).
    pub fn options(&self) -> Options {
        options::parse(&self.options)
    }
}

impl TaskRequest {
    /// A request with `prompt` for a native test: priority 0, no options (the gateway
    /// sends them with its defaults filled in: set the ones your plugin reads with
    /// [`TaskRequest::with_options`]), no metadata or files, key `test` (`key_test`).
    pub fn new(prompt: impl Into<String>) -> Self {
        TaskRequest {
            prompt: prompt.into(),
            priority: 0,
            options: "{}".into(),
            metadata: Vec::new(),
            files: Vec::new(),
            key_name: "test".into(),
            key_id: "key_test".into(),
            follow_up_of: None,
        }
    }

    /// With this `options` object.
    pub fn with_options(mut self, options: serde_json::Value) -> Self {
        self.options = options.to_string();
        self
    }

    /// With one more metadata entry.
    pub fn with_metadata(mut self, key: impl Into<String>, value: impl Into<String>) -> Self {
        self.metadata.push((key.into(), value.into()));
        self
    }

    /// Sent by the key named `name`.
    pub fn with_key_name(mut self, name: impl Into<String>) -> Self {
        self.key_name = name.into();
        self
    }

    /// The request's `options` object, parsed. An options text that is not a JSON
    /// object (which the gateway never sends) gives an empty map.
    pub fn options(&self) -> Options {
        options::parse(&self.options)
    }

    /// The value of metadata key `key`, if present.
    pub fn metadata_value(&self, key: &str) -> Option<&str> {
        metadata_value(&self.metadata, key)
    }
}

impl TaskInfo {
    /// A completed task `tsk_test` with `prompt` for a native test: no metadata, key `test`.
    pub fn new(prompt: impl Into<String>) -> Self {
        TaskInfo {
            id: "tsk_test".into(),
            status: TaskStatus::Completed,
            prompt: prompt.into(),
            metadata: Vec::new(),
            key_name: "test".into(),
        }
    }

    /// With one more metadata entry.
    pub fn with_metadata(mut self, key: impl Into<String>, value: impl Into<String>) -> Self {
        self.metadata.push((key.into(), value.into()));
        self
    }

    /// The value of metadata key `key`, if present.
    pub fn metadata_value(&self, key: &str) -> Option<&str> {
        metadata_value(&self.metadata, key)
    }
}

impl TaskResult {
    /// A one-turn result whose final answer is `text`, for a native test: no
    /// structured output, no usage or cost.
    pub fn new(text: impl Into<String>) -> Self {
        TaskResult {
            text: Some(text.into()),
            structured: None,
            session_id: None,
            num_turns: 1,
            usage: Usage {
                input_tokens: 0,
                output_tokens: 0,
                cache_read_input_tokens: 0,
                cache_creation_input_tokens: 0,
            },
            cost_usd: 0.0,
            duration_ms: 0,
            partial: false,
        }
    }

    /// `structured`, parsed, when present and valid JSON.
    pub fn structured_json(&self) -> Option<serde_json::Value> {
        self.structured.as_deref().and_then(|text| serde_json::from_str(text).ok())
    }
}

fn metadata_value<'a>(metadata: &'a [(String, String)], key: &str) -> Option<&'a str> {
    metadata.iter().find(|(k, _)| k == key).map(|(_, v)| v.as_str())
}

/// Parses configuration JSON text for `meta.check-config`: a serde error becomes one
/// violation with pointer `""`; otherwise [`Plugin::check_config`]'s violations.
///
/// The gateway calls `check-config` only with a configuration the plugin's schema
/// accepted: when the plugin has a schema, a serde error there means the schema and
/// the config type disagree, which the violation says (it is the plugin's fault, not
/// the operator's).
pub fn check_config_text<P: Plugin>(text: &str) -> Vec<Violation> {
    match serde_json::from_str::<P::Config>(text) {
        Ok(config) => P::check_config(&config),
        Err(e) if P::config_schema().is_some() => vec![Violation::new(
            "",
            format!(
                "the plugin's schema and its config type disagree: the schema accepts this configuration, \
                 the type does not ({e}); the plugin needs fixing, not the configuration"
            ),
        )],
        Err(e) => vec![Violation::new("", e.to_string())],
    }
}

/// A plugin's JSON Schema from a file, checked when the plugin is compiled: a
/// `schema.json` that is not JSON fails the build (naming the file) instead of the
/// plugin's load. Use it in [`Plugin::config_schema`]:
///
/// ```ignore
/// fn config_schema() -> Option<&'static str> {
///     Some(ccgate_plugin_sdk::schema!("../schema.json"))
/// }
/// ```
#[macro_export]
macro_rules! schema {
    ($path:literal) => {{
        const SCHEMA: &str = include_str!($path);
        const _: () = assert!($crate::__private::is_json(SCHEMA), concat!($path, " is not valid JSON"));
        SCHEMA
    }};
}

/// Deserializes a configuration from JSON text (what the hooks receive).
pub fn parse_config<P: Plugin>(text: &str) -> Result<P::Config, serde_json::Error> {
    serde_json::from_str(text)
}

/// Implements the `policy-plugin` world's exports for a type implementing [`Policy`].
///
/// ```ignore
/// ccgate_plugin_sdk::export_policy!(MyPolicy);
/// ```
///
/// Use it once, at the root of a `cdylib` crate that depends on this SDK under the
/// name `ccgate_plugin_sdk`.
#[macro_export]
macro_rules! export_policy {
    ($plugin:ident) => {
        $crate::__ccgate_with_wit_path!(__ccgate_export_world, "policy-plugin", $plugin, policy);
        impl __ccgate_plugin_bindings::exports::ccgate::plugin::policy::Guest for $plugin {
            fn validate(
                request: $crate::types::TaskRequest,
            ) -> __ccgate_plugin_bindings::exports::ccgate::plugin::policy::Decision {
                use __ccgate_plugin_bindings::exports::ccgate::plugin::policy as wit;
                match $crate::__private::validate::<$plugin>(request) {
                    $crate::Decision::Allow => wit::Decision::Allow,
                    $crate::Decision::Deny(violations) => wit::Decision::Deny(violations),
                    $crate::Decision::Rewrite(r) => wit::Decision::Rewrite(wit::Rewrite {
                        prompt: r.prompt,
                        priority: r.priority,
                        options: r.options,
                        metadata: r.metadata,
                    }),
                }
            }
        }
    };
}

/// Implements the `result-plugin` world's exports for a type implementing [`ResultProcessor`].
///
/// ```ignore
/// ccgate_plugin_sdk::export_result_processor!(MyProcessor);
/// ```
#[macro_export]
macro_rules! export_result_processor {
    ($plugin:ident) => {
        $crate::__ccgate_with_wit_path!(__ccgate_export_world, "result-plugin", $plugin, result_processor);
        impl __ccgate_plugin_bindings::exports::ccgate::plugin::result_processor::Guest for $plugin {
            fn process(
                task: $crate::types::TaskInfo,
                result: $crate::types::TaskResult,
            ) -> ::core::result::Result<$crate::types::TaskResult, ::std::string::String> {
                $crate::__private::process::<$plugin>(task, result)
            }
        }
    };
}

/// Implements the `artifact-plugin` world's exports for a type implementing [`ArtifactCollector`].
///
/// ```ignore
/// ccgate_plugin_sdk::export_artifact_collector!(MyCollector);
/// ```
#[macro_export]
macro_rules! export_artifact_collector {
    ($plugin:ident) => {
        $crate::__ccgate_with_wit_path!(__ccgate_export_world, "artifact-plugin", $plugin, artifact_collector);
        impl __ccgate_plugin_bindings::exports::ccgate::plugin::artifact_collector::Guest for $plugin {
            fn collect(
                task: $crate::types::TaskInfo,
                result: $crate::types::TaskResult,
                files: ::std::vec::Vec<
                    __ccgate_plugin_bindings::exports::ccgate::plugin::artifact_collector::WorkspaceFile,
                >,
            ) -> ::core::result::Result<
                ::std::vec::Vec<__ccgate_plugin_bindings::exports::ccgate::plugin::artifact_collector::Artifact>,
                ::std::string::String,
            > {
                use __ccgate_plugin_bindings::exports::ccgate::plugin::artifact_collector as wit;
                let files = files.into_iter().map(|f| $crate::WorkspaceFile { path: f.path, size: f.size }).collect();
                let artifacts = $crate::__private::collect::<$plugin>(task, result, files)?;
                Ok(artifacts
                    .into_iter()
                    .map(|a| wit::Artifact { path: a.path, content: a.content, content_type: a.content_type })
                    .collect())
            }
        }
    };
}

/// Implements the `webhook-plugin` world's exports for a type implementing [`WebhookFormatter`].
///
/// ```ignore
/// ccgate_plugin_sdk::export_webhook_formatter!(MyFormatter);
/// ```
#[macro_export]
macro_rules! export_webhook_formatter {
    ($plugin:ident) => {
        $crate::__ccgate_with_wit_path!(__ccgate_export_world, "webhook-plugin", $plugin, webhook_formatter);
        impl __ccgate_plugin_bindings::exports::ccgate::plugin::webhook_formatter::Guest for $plugin {
            fn format(
                event: __ccgate_plugin_bindings::exports::ccgate::plugin::webhook_formatter::WebhookEvent,
                url: ::std::string::String,
            ) -> ::core::result::Result<
                __ccgate_plugin_bindings::exports::ccgate::plugin::webhook_formatter::Formatted,
                ::std::string::String,
            > {
                use __ccgate_plugin_bindings::exports::ccgate::plugin::webhook_formatter as wit;
                let event = $crate::WebhookEvent {
                    kind: event.kind,
                    id: event.id,
                    timestamp: event.timestamp,
                    payload: event.payload,
                };
                let f = $crate::__private::format::<$plugin>(event, url)?;
                Ok(wit::Formatted { content_type: f.content_type, headers: f.headers, body: f.body })
            }
        }
    };
}

/// Implements the `tool-approval-plugin` world's exports for a type implementing [`ToolApproval`].
///
/// ```ignore
/// ccgate_plugin_sdk::export_tool_approval!(MyGuard);
/// ```
#[macro_export]
macro_rules! export_tool_approval {
    ($plugin:ident) => {
        $crate::__ccgate_with_wit_path!(__ccgate_export_world, "tool-approval-plugin", $plugin, tool_approval);
        impl __ccgate_plugin_bindings::exports::ccgate::plugin::tool_approval::Guest for $plugin {
            fn decide(
                request: __ccgate_plugin_bindings::exports::ccgate::plugin::tool_approval::ToolRequest,
            ) -> __ccgate_plugin_bindings::exports::ccgate::plugin::tool_approval::Approval {
                use __ccgate_plugin_bindings::exports::ccgate::plugin::tool_approval as wit;
                let request = $crate::ToolRequest {
                    task_id: request.task_id,
                    key_id: request.key_id,
                    key_name: request.key_name,
                    tool_name: request.tool_name,
                    input: request.input,
                    input_bytes: request.input_bytes,
                    reason: request.reason,
                    workspace: request.workspace,
                    home: request.home,
                };
                match $crate::__private::decide::<$plugin>(request) {
                    $crate::Approval::Allow(input) => wit::Approval::Allow(input.map(|i| i.to_string())),
                    $crate::Approval::Deny(message) => wit::Approval::Deny(message),
                    $crate::Approval::Ask => wit::Approval::Ask,
                }
            }
        }
    };
}

/// Generates a world's bindings in the plugin's crate, implements `meta`, and exports.
#[doc(hidden)]
#[macro_export]
macro_rules! __ccgate_export_world {
    ($wit:tt, $world:tt, $plugin:ident, $hook:ident) => {
        #[doc(hidden)]
        #[allow(clippy::all, missing_docs, unsafe_op_in_unsafe_fn, dead_code, unused)]
        mod __ccgate_plugin_bindings {
            ::ccgate_plugin_sdk::__private::wit_bindgen::generate!({
                path: $wit,
                world: $world,
                with: {
                    "ccgate:plugin/types@0.1.2": ::ccgate_plugin_sdk::__private::wit_types,
                    "ccgate:plugin/host@0.1.2": ::ccgate_plugin_sdk::__private::wit_host,
                },
                runtime_path: "::ccgate_plugin_sdk::__private::wit_bindgen::rt",
            });
        }

        impl __ccgate_plugin_bindings::exports::ccgate::plugin::meta::Guest for $plugin {
            fn info() -> __ccgate_plugin_bindings::exports::ccgate::plugin::meta::PluginInfo {
                $crate::__private::enter();
                __ccgate_plugin_bindings::exports::ccgate::plugin::meta::PluginInfo {
                    name: <$plugin as $crate::Plugin>::NAME.into(),
                    version: <$plugin as $crate::Plugin>::VERSION.into(),
                    config_schema: <$plugin as $crate::Plugin>::config_schema().map(::std::string::String::from),
                }
            }

            fn check_config(config: ::std::string::String) -> ::std::vec::Vec<$crate::types::Violation> {
                $crate::__private::enter();
                $crate::check_config_text::<$plugin>(&config)
            }
        }

        // Native builds (unit tests) only type-check the impls: the component's export
        // names are not valid native symbol names.
        #[cfg(target_arch = "wasm32")]
        __ccgate_plugin_bindings::export!($plugin with_types_in __ccgate_plugin_bindings);
    };
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(serde::Deserialize)]
    #[allow(dead_code)]
    struct Required {
        max_turns: u64,
    }

    /// A plugin whose schema lets `max_turns` out while its type requires it.
    struct Disagreeing;

    impl Plugin for Disagreeing {
        type Config = Required;
        const NAME: &'static str = "disagreeing";
        const VERSION: &'static str = "0";

        fn config_schema() -> Option<&'static str> {
            Some(r#"{"type": "object"}"#)
        }
    }

    #[test]
    fn a_schema_that_disagrees_with_the_type_is_blamed_not_the_configuration() {
        let violations = check_config_text::<Disagreeing>("{}");
        assert_eq!(violations.len(), 1);
        let message = &violations[0].message;
        assert!(message.contains("schema and its config type disagree") && message.contains("max_turns"), "{message}");
        assert!(check_config_text::<Disagreeing>(r#"{"max_turns": 3}"#).is_empty());
    }
}
