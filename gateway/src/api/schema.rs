//! The bodies of the API that have no domain type of their own: pages, keys,
//! audit events, problems, and the documented shapes of requests. What is sent
//! and what `/openapi.json` says come from these same definitions.

use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::ToSchema;

use crate::store::entities::{api_key, audit_event};
use crate::task::{FieldError, TaskView};
use crate::timestamp::format_ms;
use crate::workspace::WorkspaceFile;

/// An error, as RFC 9457 `application/problem+json`.
#[derive(Debug, Serialize, ToSchema)]
pub struct Problem {
    /// `https://ccgate.dev/errors/<slug>`: the stable identifier of the error.
    #[serde(rename = "type")]
    #[schema(example = "https://ccgate.dev/errors/validation-error")]
    pub kind: String,
    #[schema(example = "Invalid request")]
    pub title: String,
    #[schema(example = 422)]
    pub status: u16,
    #[schema(example = "/prompt must not be empty")]
    pub detail: String,
    /// Every invalid field, by JSON Pointer (validation errors only).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub errors: Vec<FieldError>,
}

/// One Server-Sent Event of a task's stream.
#[derive(Debug, Serialize, ToSchema)]
pub struct SseEvent {
    /// The event's sequence number (send it back as `Last-Event-ID` to resume).
    pub id: Option<String>,
    /// The event type: `status`, `assistant`, `tool_use`, `tool_result`, `log`,
    /// `result`, `error`, … and `task` (the finished task) at the end of `/v1/execute`.
    #[schema(example = "status")]
    pub event: Option<String>,
    /// JSON with at least `seq`, `type`, `at` and `task_id`.
    #[schema(content_media_type = "application/json")]
    pub data: String,
}

/// The artifacts of a task, by name.
#[derive(Debug, Serialize, ToSchema)]
pub struct ArtifactList {
    pub data: Vec<crate::artifacts::Artifact>,
}

/// A task's permission prompts, oldest first.
#[derive(Debug, Serialize, ToSchema)]
pub struct ApprovalList {
    pub data: Vec<crate::approvals::desk::ApprovalView>,
}

/// The body of `POST /v1/tasks/{id}/approvals/{approval_id}`.
#[derive(ToSchema, Deserialize)]
#[serde(deny_unknown_fields)]
#[allow(dead_code)]
pub struct ApprovalDecisionRequest {
    #[schema(example = "allow")]
    decision: ApprovalVerdict,
    /// With `allow`: the tool input to run instead (an object).
    #[schema(value_type = Option<Object>)]
    updated_input: Option<Value>,
    /// With `deny`: what the model is told (at most 4096 bytes).
    #[schema(max_length = 4096)]
    message: Option<String>,
    /// With `allow`, for an `AskUserQuestion` prompt only: the answers, keyed by each
    /// question's text — a label, free text, or (multi-select) a list of labels.
    #[schema(value_type = Option<Object>, example = json!({"Which database?": "PostgreSQL"}))]
    answers: Option<Value>,
}

#[derive(ToSchema, Deserialize)]
#[serde(rename_all = "snake_case")]
#[allow(dead_code)]
enum ApprovalVerdict {
    Allow,
    Deny,
}

/// A page of the key's tasks, newest first.
#[derive(Debug, Serialize, ToSchema)]
pub struct TaskPage {
    pub data: Vec<TaskView>,
    /// Pass as `cursor` for the next page; null on the last page.
    pub next_cursor: Option<String>,
}

/// The workspace's regular files, sorted by path.
#[derive(Debug, Serialize, ToSchema)]
pub struct FileListing {
    pub data: Vec<WorkspaceFile>,
    /// Always null: a listing is one page.
    pub next_cursor: Option<String>,
    /// The workspace had more entries than a listing walks.
    pub truncated: bool,
}

/// An API key, without its secret.
#[derive(Debug, Serialize, ToSchema)]
pub struct KeyView {
    #[schema(example = "key_01JDX3N8Q6W2V0M1R5T7Y9B4C2")]
    pub id: String,
    pub name: String,
    /// The first characters of the secret, to recognise it.
    #[schema(example = "ccg_live_a4b1")]
    pub prefix: String,
    pub environment: String,
    #[schema(example = json!(["tasks"]))]
    pub scopes: Vec<String>,
    pub rate_limit_per_minute: i64,
    pub max_concurrent_tasks: i64,
    pub max_queued_tasks: i64,
    pub created_at: String,
    pub last_used_at: Option<String>,
    pub revoked_at: Option<String>,
    /// The default webhook of this key's tasks.
    pub webhook_url: Option<String>,
    pub webhook_secret_rotated_at: Option<String>,
    /// Spending caps: past one, submits get 402 (running tasks finish).
    pub budget_usd_per_day: Option<f64>,
    pub budget_usd_per_month: Option<f64>,
    /// Token caps (input, cache and output together): past one, submits get 402 and
    /// the model proxy refuses the key's running tasks more model requests.
    pub token_budget_per_day: Option<i64>,
    pub token_budget_per_month: Option<i64>,
    /// What the key's runs cost today and this month (UTC); on `GET /v1/keys/{id}`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub spend: Option<KeySpend>,
}

/// Spending over a period: tokens as the model proxy counted them, and their cost
/// at the gateway's `[pricing]`.
#[derive(Debug, Serialize, ToSchema)]
pub struct SpendView {
    pub cost_usd: f64,
    pub input_tokens: i64,
    pub output_tokens: i64,
    pub runs: i64,
}

/// A key's spending today and this month (UTC).
#[derive(Debug, Serialize, ToSchema)]
pub struct KeySpend {
    pub today: SpendView,
    pub this_month: SpendView,
}

impl From<crate::store::SpendTotals> for SpendView {
    fn from(t: crate::store::SpendTotals) -> Self {
        Self {
            cost_usd: t.cost_micros as f64 / 1e6,
            input_tokens: t.input_tokens,
            output_tokens: t.output_tokens,
            runs: t.runs,
        }
    }
}

impl From<crate::store::Spend> for KeySpend {
    fn from(s: crate::store::Spend) -> Self {
        Self { today: s.today.into(), this_month: s.this_month.into() }
    }
}

impl From<&api_key::Model> for KeyView {
    fn from(key: &api_key::Model) -> Self {
        Self {
            id: key.id.clone(),
            name: key.name.clone(),
            prefix: key.prefix.clone(),
            environment: key.environment.clone(),
            scopes: key.scopes.split(',').filter(|s| !s.is_empty()).map(String::from).collect(),
            rate_limit_per_minute: key.rate_limit_per_minute.into(),
            max_concurrent_tasks: key.max_concurrent_tasks.into(),
            max_queued_tasks: key.max_queued_tasks.into(),
            created_at: format_ms(key.created_at),
            last_used_at: key.last_used_at.map(format_ms),
            revoked_at: key.revoked_at.map(format_ms),
            webhook_url: key.webhook_url.clone(),
            webhook_secret_rotated_at: key.webhook_secret_rotated_at.map(format_ms),
            budget_usd_per_day: key.budget_micros_per_day.map(|m| m as f64 / 1e6),
            budget_usd_per_month: key.budget_micros_per_month.map(|m| m as f64 / 1e6),
            token_budget_per_day: key.token_budget_per_day,
            token_budget_per_month: key.token_budget_per_month,
            spend: None,
        }
    }
}

/// A new key and its secret, shown this once.
#[derive(Debug, Serialize, ToSchema)]
pub struct KeyCreated {
    #[serde(flatten)]
    pub key: KeyView,
    #[schema(example = "ccg_live_a4b1d7d1b1d850088ee41c5e3c5d7e4261c600f5e7ffd572")]
    pub secret: String,
    /// Signs this key's webhooks (Standard Webhooks); shown this once.
    #[schema(example = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw")]
    pub webhook_secret: String,
}

/// A rotated webhook secret.
#[derive(Debug, Serialize, ToSchema)]
pub struct WebhookSecret {
    pub webhook_secret: String,
}

/// One webhook delivery of a task and each attempt to make it.
#[derive(Debug, Serialize, ToSchema)]
pub struct WebhookDelivery {
    /// The `webhook-id` header, the same on every attempt.
    pub id: String,
    #[schema(example = "task.completed")]
    pub event_type: String,
    pub url: String,
    /// `pending`, `delivered`, `failed` (gave up) or `disabled` (the receiver said 410).
    pub status: String,
    pub created_at: String,
    /// When the next attempt is due, while pending.
    pub next_attempt_at: Option<String>,
    pub finished_at: Option<String>,
    pub attempts: Vec<WebhookAttempt>,
}

/// One attempt: the receiver's status code, or the error.
#[derive(Debug, Serialize, ToSchema)]
pub struct WebhookAttempt {
    pub at: String,
    pub status_code: Option<i32>,
    pub error: Option<String>,
    pub duration_ms: i64,
}

impl From<crate::store::DeliveryLog> for WebhookDelivery {
    fn from(log: crate::store::DeliveryLog) -> Self {
        let d = log.delivery;
        Self {
            next_attempt_at: (d.status == "pending").then(|| format_ms(d.next_attempt_at)),
            id: d.id,
            event_type: d.event_type,
            url: d.url,
            status: d.status,
            created_at: format_ms(d.created_at),
            finished_at: d.finished_at.map(format_ms),
            attempts: log
                .attempts
                .into_iter()
                .map(|a| WebhookAttempt {
                    at: format_ms(a.at),
                    status_code: a.status_code,
                    error: a.error,
                    duration_ms: a.duration_ms,
                })
                .collect(),
        }
    }
}

/// A task's webhook deliveries, oldest first.
#[derive(Debug, Serialize, ToSchema)]
pub struct DeliveryList {
    pub data: Vec<WebhookDelivery>,
}

/// All keys, newest first.
#[derive(Debug, Serialize, ToSchema)]
pub struct KeyPage {
    pub data: Vec<KeyView>,
    /// Always null: every key is on one page.
    pub next_cursor: Option<String>,
}

/// One audit event.
#[derive(Debug, Serialize, ToSchema)]
pub struct AuditEvent {
    pub id: String,
    pub at: String,
    pub key_id: Option<String>,
    #[schema(example = "task.create")]
    pub action: String,
    pub target: Option<String>,
    #[schema(example = "ok")]
    pub outcome: String,
    /// The gateway's own id of the request.
    pub request_id: Option<String>,
    /// The `X-Request-Id` the client sent, as sent.
    pub client_request_id: Option<String>,
    pub client_addr: Option<String>,
    pub details: Option<Value>,
}

impl From<&audit_event::Model> for AuditEvent {
    fn from(row: &audit_event::Model) -> Self {
        Self {
            id: row.id.to_string(),
            at: format_ms(row.at),
            key_id: row.key_id.clone(),
            action: row.action.clone(),
            target: row.target.clone(),
            outcome: row.outcome.clone(),
            request_id: row.request_id.clone(),
            client_request_id: row.client_request_id.clone(),
            client_addr: row.client_addr.clone(),
            details: row.details.as_deref().and_then(|d| serde_json::from_str(d).ok()),
        }
    }
}

/// A page of the audit log, newest first.
#[derive(Debug, Serialize, ToSchema)]
pub struct AuditPage {
    pub data: Vec<AuditEvent>,
    pub next_cursor: Option<String>,
}

/// The body of `POST /v1/tasks` and `POST /v1/execute`. Unknown fields are refused.
#[derive(ToSchema, Deserialize)]
#[serde(deny_unknown_fields)]
#[allow(dead_code)] // documents a body that is validated field by field (`task::request`)
pub struct TaskRequest {
    /// What the agent should do.
    #[schema(min_length = 1, example = "Add a test for parse_date and make it pass")]
    prompt: String,
    /// Higher runs first; FIFO within a priority.
    #[schema(minimum = -10, maximum = 10, default = 0)]
    priority: Option<i32>,
    options: Option<TaskOptionsRequest>,
    /// At most 32 string values.
    #[schema(value_type = Option<std::collections::BTreeMap<String, String>>)]
    metadata: Option<Value>,
    files: Option<Vec<InputFileRequest>>,
    /// Workspace globs collected as artifacts after each turn (default: the server's).
    #[schema(example = json!(["out/**", "*.patch"]))]
    artifacts: Option<Vec<String>>,
    /// Where to POST the task when it reaches the subscribed states.
    webhook: Option<WebhookRequest>,
    /// `POST /v1/execute` only: how long to wait for the task to finish.
    #[schema(minimum = 0)]
    wait_seconds: Option<u64>,
}

/// A task's webhook.
#[derive(ToSchema, Deserialize)]
#[serde(deny_unknown_fields)]
#[allow(dead_code)]
struct WebhookRequest {
    #[schema(example = "https://hooks.example.com/ccgate")]
    url: String,
    /// Any of `task.started`, `task.completed`, `task.failed`, `task.cancelled`
    /// (default: these three), and `task.approval_requested` (a permission prompt
    /// waits for a client; the payload's `data.approval` is the prompt).
    events: Option<Vec<String>>,
}

/// Options of a task; each is optional, with defaults and caps from the server.
/// (The same names as `TaskOptions`; a test in `openapi` holds them together.)
#[derive(ToSchema, Deserialize)]
#[serde(deny_unknown_fields)]
#[allow(dead_code)]
pub struct TaskOptionsRequest {
    #[schema(example = "claude-sonnet-4-5", pattern = "^[A-Za-z0-9._:/@-]{1,128}$")]
    model: Option<String>,
    #[schema(minimum = 1)]
    max_turns: Option<u32>,
    #[schema(minimum = 1)]
    timeout_seconds: Option<u64>,
    allowed_tools: Option<Vec<String>>,
    disallowed_tools: Option<Vec<String>>,
    append_system_prompt: Option<String>,
    #[schema(pattern = "^(none|allowlist|full)$")]
    network: Option<String>,
    /// A JSON Schema the final answer must match.
    #[schema(value_type = Option<Object>)]
    output_schema: Option<Value>,
    #[schema(exclusive_minimum = 0)]
    max_budget_usd: Option<f64>,
    /// Load the workspace's `CLAUDE.md`, project settings and hooks, and `.mcp.json`
    /// (default false: uploaded files configure and run nothing).
    project_context: Option<bool>,
    /// How the CLI's permission prompts are answered: `auto_deny` rules first, then
    /// `auto_allow` rules, then the mode — `auto` (default) allows a tool the task
    /// allows by name; `ask` waits for a client's decision for up to
    /// `timeout_seconds` (default `tasks.default_approval_timeout_seconds`).
    #[schema(example = json!({"mode": "ask", "timeout_seconds": 300, "auto_allow": ["Read", "Bash(git status:*)"],
                              "auto_deny": ["Bash(curl:*)"]}))]
    approvals: Option<ApprovalsRequest>,
}

/// `options.approvals` of a request.
#[derive(ToSchema, Deserialize)]
#[serde(deny_unknown_fields)]
#[allow(dead_code)]
pub struct ApprovalsRequest {
    mode: Option<crate::approvals::ApprovalMode>,
    /// At most `tasks.max_approval_timeout_seconds`.
    #[schema(minimum = 1)]
    timeout_seconds: Option<u64>,
    /// Rules in Claude Code's syntax whose prompts are allowed without asking:
    /// `Tool`, `Bash(prefix:*)` or `Bash(command with *)` (one plain command only, never
    /// a compound line), `Edit(src/**)` and the other file tools (globs from the
    /// workspace; `~/` the home, `//` the root), `WebFetch(domain:HOST)`. Each must name
    /// a tool of `allowed_tools`.
    #[schema(max_items = 128, example = json!(["Read", "Bash(git status:*)", "Edit(src/**)"]))]
    auto_allow: Option<Vec<String>>,
    /// Rules whose prompts are denied, before `auto_allow`; a Bash rule matches when
    /// any command of a compound line does.
    #[schema(max_items = 128, example = json!(["Bash(curl:*)", "Edit(.github/**)"]))]
    auto_deny: Option<Vec<String>>,
}

/// A file placed in the workspace before the first turn: `content` (UTF-8) or
/// `content_base64`.
#[derive(ToSchema, Deserialize)]
#[serde(deny_unknown_fields)]
#[allow(dead_code)]
struct InputFileRequest {
    /// Relative to the workspace; no `..`.
    #[schema(example = "src/app.py")]
    path: String,
    content: Option<String>,
    #[schema(content_encoding = "base64")]
    content_base64: Option<String>,
}

/// The multipart form of a task: a `task` part with the JSON body, file parts
/// placed at their filename, and an `archive` part unpacked into the workspace.
#[derive(ToSchema)]
#[allow(dead_code)]
pub struct TaskUpload {
    /// The task's JSON (as in `TaskRequest`).
    task: String,
    /// A `.tar.gz`, `.tgz` or `.zip` to unpack into the workspace.
    #[schema(value_type = Option<String>, format = Binary, content_media_type = "application/octet-stream")]
    archive: Option<Vec<u8>>,
}

/// The body of `POST /v1/tasks/{id}/messages`.
#[derive(ToSchema, Deserialize)]
#[serde(deny_unknown_fields)]
#[allow(dead_code)]
pub struct FollowUpRequest {
    #[schema(min_length = 1, example = "Now also handle time zones")]
    prompt: String,
    /// `next_turn` (default): the next turn of a finished task. `queue`: into the
    /// running session, which takes it when its current step ends. `interrupt`: the
    /// running turn is interrupted, then this message continues the same session.
    #[schema(value_type = Option<crate::task::Delivery>)]
    delivery: Option<String>,
}

/// The body of `POST /v1/keys`.
#[derive(ToSchema, Deserialize)]
#[serde(deny_unknown_fields)]
#[allow(dead_code)]
pub struct KeyRequest {
    #[schema(min_length = 1, max_length = 200, example = "ci-pipeline")]
    name: String,
    /// Defaults to `["tasks"]`.
    #[schema(value_type = Option<Vec<String>>, example = json!(["tasks"]))]
    scopes: Option<Vec<String>>,
    #[schema(minimum = 1, maximum = 1000000)]
    rate_limit_per_minute: Option<u32>,
    #[schema(minimum = 1, maximum = 1000000)]
    max_concurrent_tasks: Option<u32>,
    #[schema(minimum = 1, maximum = 1000000)]
    max_queued_tasks: Option<u32>,
    /// The default webhook of the key's tasks (`task.completed`, `task.failed`, `task.cancelled`).
    webhook_url: Option<String>,
    /// Spending caps in US dollars (UTC day and month); past one, submits get 402.
    #[schema(exclusive_minimum = 0)]
    budget_usd_per_day: Option<f64>,
    #[schema(exclusive_minimum = 0)]
    budget_usd_per_month: Option<f64>,
    /// Token caps (input, cache and output together; UTC day and month): past one,
    /// submits get 402, and the model proxy refuses the key's running tasks more.
    #[schema(minimum = 1, maximum = 1000000000000_u64)]
    token_budget_per_day: Option<u64>,
    #[schema(minimum = 1, maximum = 1000000000000_u64)]
    token_budget_per_month: Option<u64>,
}
