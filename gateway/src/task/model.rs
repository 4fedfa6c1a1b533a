//! Task states, options, results and errors as stored and as shown by the API.

use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::ToSchema;

pub use crate::store::entities::TaskStatus;

/// The network a run gets (`options.network`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Network {
    /// Only the model, through the model proxy.
    #[default]
    None,
    /// The model and `sandbox.allowed_hosts`, through the egress proxy.
    Allowlist,
    /// The host's network (keys with the `network:full` scope).
    Full,
}

impl Network {
    pub const ALL: [Network; 3] = [Self::None, Self::Allowlist, Self::Full];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::None => "none",
            Self::Allowlist => "allowlist",
            Self::Full => "full",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|n| n.as_str() == text)
    }
}

/// How a message reaches the task (`POST /v1/tasks/{id}/messages`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Delivery {
    /// The next turn of a finished task.
    #[default]
    NextTurn,
    /// Into the running session: the CLI takes it when its current step ends.
    Queue,
    /// Interrupts the running turn; the message continues the same session.
    Interrupt,
}

impl Delivery {
    pub const ALL: [Delivery; 3] = [Self::NextTurn, Self::Queue, Self::Interrupt];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::NextTurn => "next_turn",
            Self::Queue => "queue",
            Self::Interrupt => "interrupt",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|d| d.as_str() == text)
    }
}

/// Resolved options of a task: every field has its value (defaults applied).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct TaskOptions {
    pub model: Option<String>,
    pub max_turns: u32,
    pub timeout_seconds: u64,
    pub allowed_tools: Vec<String>,
    pub disallowed_tools: Vec<String>,
    pub append_system_prompt: Option<String>,
    #[schema(value_type = String)]
    pub network: Network,
    pub output_schema: Option<Value>,
    pub max_budget_usd: Option<f64>,
    /// Load the workspace's own Claude Code context: `CLAUDE.md`, project settings
    /// and hooks, `.mcp.json`. Off by default, so uploaded files never configure
    /// or run anything by accident.
    #[serde(default)]
    pub project_context: bool,
    /// How the CLI's permission prompts are answered.
    #[serde(default)]
    pub approvals: crate::approvals::ApprovalOptions,
}

/// Token usage of a run, as the model proxy counted it (as Claude Code reported it
/// only for unconfined runs, which hold the real credential).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Usage {
    pub input_tokens: u64,
    pub output_tokens: u64,
    pub cache_read_input_tokens: u64,
    pub cache_creation_input_tokens: u64,
}

impl Usage {
    /// Adds `more`, saturating: the figures come from outside (the upstream's answers,
    /// a run's output) and must not overflow.
    pub fn add(&mut self, more: &Usage) {
        self.input_tokens = self.input_tokens.saturating_add(more.input_tokens);
        self.output_tokens = self.output_tokens.saturating_add(more.output_tokens);
        self.cache_read_input_tokens = self.cache_read_input_tokens.saturating_add(more.cache_read_input_tokens);
        self.cache_creation_input_tokens =
            self.cache_creation_input_tokens.saturating_add(more.cache_creation_input_tokens);
    }

    /// Input (with the cache's) and output tokens together, as token budgets count them.
    pub fn total(&self) -> u64 {
        [self.output_tokens, self.cache_read_input_tokens, self.cache_creation_input_tokens]
            .into_iter()
            .fold(self.input_tokens, u64::saturating_add)
    }
}

/// What the agent produced in its last turn.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct TaskResult {
    pub text: Option<String>,
    pub structured: Option<Value>,
    pub session_id: Option<String>,
    pub num_turns: u32,
    pub usage: Usage,
    /// What the run cost: its metered tokens at the gateway's `[pricing]` (what
    /// budgets and spend count).
    pub cost_usd: f64,
    /// The cost Claude Code itself printed, kept as information only.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reported_cost_usd: Option<f64>,
    pub duration_ms: u64,
    /// True when the run was interrupted (timeout, cancel, crash): what is here is
    /// what the agent produced until then.
    pub partial: bool,
}

/// Why a task failed or was cancelled.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ErrorKind {
    Timeout,
    Cancelled,
    MaxTurns,
    AgentError,
    AgentCrashed,
    RejectedByPlugin,
    ResourceLimit,
    OutputSchemaMismatch,
    Internal,
}

/// The `error` object of a failed or cancelled task.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct TaskError {
    pub kind: ErrorKind,
    pub message: String,
    #[serde(default)]
    pub details: Value,
}

impl TaskError {
    pub fn new(kind: ErrorKind, message: impl Into<String>) -> Self {
        Self { kind, message: message.into(), details: Value::Object(Default::default()) }
    }

    pub fn with_details(mut self, details: Value) -> Self {
        self.details = details;
        self
    }
}

/// A task's `webhook`, as stored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct TaskWebhook {
    #[schema(example = "https://hooks.example.com/ccgate")]
    pub url: String,
    /// Defaults to `task.completed`, `task.failed`, `task.cancelled`.
    #[schema(example = json!(["task.completed", "task.failed"]))]
    pub events: Vec<String>,
    /// Set when the receiver answered 410 Gone: nothing more is sent.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub disabled: bool,
}
