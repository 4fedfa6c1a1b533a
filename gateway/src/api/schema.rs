//! The bodies of the API that have no domain type of their own: pages, keys,
//! audit events, problems, and the documented shapes of requests. What is sent
//! and what `/openapi.json` says come from these same definitions.

use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::ToSchema;

use crate::store::entities::webhook_delivery::DeliveryStatus;
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

/// A page of a task's artifacts, by name.
#[derive(Debug, Serialize, ToSchema)]
pub struct ArtifactList {
    pub data: Vec<crate::artifacts::Artifact>,
    /// The `cursor` of the next page; `null` on the last.
    pub next_cursor: Option<String>,
}

/// A page of a task's permission prompts, newest first.
#[derive(Debug, Serialize, ToSchema)]
pub struct ApprovalList {
    pub data: Vec<crate::approvals::desk::ApprovalView>,
    /// The `cursor` of the next page; `null` on the last.
    pub next_cursor: Option<String>,
}

/// The body of `POST /v1/tasks/{id}/approvals/{approval_id}`: allow, answer, or deny.
#[derive(ToSchema, Deserialize)]
#[serde(untagged)]
#[allow(dead_code)]
pub enum ApprovalDecisionRequest {
    Allow(AllowDecision),
    Answer(AnswerDecision),
    Deny(DenyDecision),
}

/// Run the tool call, with `updated_input` instead of its input when given.
#[derive(ToSchema, Deserialize)]
#[serde(deny_unknown_fields)]
#[allow(dead_code)]
pub struct AllowDecision {
    decision: AllowVerdict,
    /// The tool input to run instead (at most 256 KiB of JSON).
    #[schema(value_type = Option<Object>)]
    updated_input: Option<Value>,
    message: Option<DecisionMessage>,
}

/// Answer an `AskUserQuestion` prompt: the answers become the tool's input.
#[derive(ToSchema, Deserialize)]
#[serde(deny_unknown_fields)]
#[allow(dead_code)]
pub struct AnswerDecision {
    decision: AllowVerdict,
    /// Keyed by each question's text: a label, free text, or (multi-select) a list
    /// of labels; at most 16.
    #[schema(value_type = Object, example = json!({"Which database?": "PostgreSQL"}))]
    answers: Value,
    message: Option<DecisionMessage>,
}

/// Make the tool call fail; the model sees `message`.
#[derive(ToSchema, Deserialize)]
#[serde(deny_unknown_fields)]
#[allow(dead_code)]
pub struct DenyDecision {
    decision: DenyVerdict,
    message: Option<DecisionMessage>,
}

#[derive(ToSchema, Deserialize)]
#[allow(dead_code)]
enum AllowVerdict {
    #[serde(rename = "allow")]
    Allow,
}

#[derive(ToSchema, Deserialize)]
#[allow(dead_code)]
enum DenyVerdict {
    #[serde(rename = "deny")]
    Deny,
}

/// What the model is told: no NUL, at most 4096 bytes (here 1024 characters, which
/// always fit).
#[derive(ToSchema, Deserialize)]
#[schema(max_length = 1024, pattern = r"^[^\x00]*$", example = "not on a Friday")]
#[allow(dead_code)]
struct DecisionMessage(String);

/// A page of the key's tasks, newest first.
#[derive(Debug, Serialize, ToSchema)]
pub struct TaskPage {
    pub data: Vec<TaskView>,
    /// Pass as `cursor` for the next page; null on the last page.
    pub next_cursor: Option<String>,
}

/// A page of the workspace's regular files, sorted by path.
#[derive(Debug, Serialize, ToSchema)]
pub struct FileListing {
    pub data: Vec<WorkspaceFile>,
    /// The `cursor` of the next page; `null` on the last (always, without `limit`).
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
    /// `live`, or `test`: tasks against the built-in scripted model, cost 0.
    #[schema(value_type = crate::auth::Environment)]
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
    /// The events the default webhook receives.
    #[schema(example = json!(["task.completed", "task.failed", "task.cancelled"]))]
    pub webhook_events: Vec<String>,
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

impl From<crate::budget::SpendTotals> for SpendView {
    fn from(t: crate::budget::SpendTotals) -> Self {
        Self {
            cost_usd: t.cost_micros as f64 / 1e6,
            input_tokens: t.input_tokens,
            output_tokens: t.output_tokens,
            runs: t.runs,
        }
    }
}

impl From<crate::budget::Spend> for KeySpend {
    fn from(s: crate::budget::Spend) -> Self {
        Self { today: s.today.into(), this_month: s.this_month.into() }
    }
}

impl From<&api_key::Model> for KeyView {
    fn from(key: &api_key::Model) -> Self {
        Self {
            id: key.id.clone(),
            name: key.name.clone(),
            prefix: key.prefix.clone(),
            environment: key.environment.as_str().into(),
            scopes: key.scopes.split(',').filter(|s| !s.is_empty()).map(String::from).collect(),
            rate_limit_per_minute: key.rate_limit_per_minute.into(),
            max_concurrent_tasks: key.max_concurrent_tasks.into(),
            max_queued_tasks: key.max_queued_tasks.into(),
            created_at: format_ms(key.created_at),
            last_used_at: key.last_used_at.map(format_ms),
            revoked_at: key.revoked_at.map(format_ms),
            webhook_url: key.webhook_url.clone(),
            webhook_events: crate::webhooks::key_events(key.webhook_events.as_deref()),
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
            next_attempt_at: (d.status == DeliveryStatus::Pending).then(|| format_ms(d.next_attempt_at)),
            id: d.id,
            event_type: d.event_type,
            url: d.url,
            status: d.status.as_str().into(),
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

/// A page of a task's webhook deliveries, newest first.
#[derive(Debug, Serialize, ToSchema)]
pub struct DeliveryList {
    pub data: Vec<WebhookDelivery>,
    /// The `cursor` of the next page; `null` on the last.
    pub next_cursor: Option<String>,
}

/// A page of keys, newest first.
#[derive(Debug, Serialize, ToSchema)]
pub struct KeyPage {
    pub data: Vec<KeyView>,
    /// The `cursor` of the next page; `null` on the last.
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

/// The documented body of a task-creating request, once for `POST /v1/tasks` and
/// once, with `wait_seconds`, for `POST /v1/execute` (which alone accepts it).
macro_rules! task_request_schema {
    ($(#[$doc:meta])* $name:ident { $($extra:tt)* }) => {
        $(#[$doc])*
        #[derive(ToSchema, Deserialize)]
        #[serde(deny_unknown_fields)]
        #[allow(dead_code)] // documents a body that is validated field by field (`task::request`)
        pub struct $name {
            /// What the agent should do: not blank, no NUL, at most `tasks.max_prompt_bytes`.
            #[schema(min_length = 1, pattern = r"^[^\x00]*[^\s\x00][^\x00]*$", example = "Add a test for parse_date and make it pass")]
            prompt: String,
            /// Higher runs first; FIFO within a priority.
            #[schema(minimum = -10, maximum = 10, default = 0)]
            priority: Option<i32>,
            options: Option<TaskOptionsRequest>,
            metadata: Option<Metadata>,
            #[schema(max_items = 1000)]
            files: Option<Vec<InputFileRequest>>,
            /// Workspace globs collected as artifacts after each turn (default: the server's;
            /// at most `tasks.max_artifact_patterns`, 32 by default).
            #[schema(max_items = 32, example = json!(["out/**", "*.patch"]))]
            artifacts: Option<Vec<ArtifactGlob>>,
            /// Where to POST the task when it reaches the subscribed states.
            webhook: Option<WebhookRequest>,
            $($extra)*
        }
    };
}

task_request_schema! {
    /// The body of `POST /v1/tasks`. Unknown fields are refused.
    TaskRequest {}
}

task_request_schema! {
    /// The body of `POST /v1/execute`: a task, and how long to wait for it.
    ExecuteRequest {
        /// How long to wait for the task to finish (default `tasks.default_wait_seconds`,
        /// at most `tasks.max_wait_seconds`).
        #[schema(minimum = 0, nullable = false)]
        wait_seconds: Option<u64>,
    }
}

/// Labels of a task, to filter lists by (`metadata.<key>=<value>`): at most 32 keys
/// of 1-64 bytes and values of at most 512 bytes (here: 16 and 128 characters, which
/// always fit).
#[derive(Deserialize)]
pub struct Metadata;

impl utoipa::PartialSchema for Metadata {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::Schema> {
        use utoipa::openapi::schema::{ObjectBuilder, Type};
        let text = |min: usize, max: usize| {
            ObjectBuilder::new().schema_type(Type::String).min_length(Some(min)).max_length(Some(max))
        };
        ObjectBuilder::new()
            .schema_type(Type::Object)
            .description(Some("Labels to filter lists by: at most 32 keys of 1-64 bytes, values of at most 512 bytes"))
            .max_properties(Some(32))
            .property_names(Some(text(1, 16)))
            .additional_properties(Some(text(0, 128)))
            .examples([serde_json::json!({"ticket": "ENG-42"})])
            .into()
    }
}

impl ToSchema for Metadata {}

/// A workspace glob: `*` and `?` within a segment, `**` as a whole segment; no `..`.
/// (The gateway also takes `{a,b}` alternatives and any characters but `\`, NUL and `[]`.)
#[derive(ToSchema, Deserialize)]
#[schema(
    pattern = r"^(\*\*|(?!\.\.(/|$))([A-Za-z0-9._?-]|\*(?!\*)){1,64})(/(\*\*|(?!\.\.(/|$))([A-Za-z0-9._?-]|\*(?!\*)){1,64}))*$",
    max_length = 256,
    example = "out/**"
)]
#[allow(dead_code)]
struct ArtifactGlob(String);

/// A task's webhook.
#[derive(ToSchema, Deserialize)]
#[serde(deny_unknown_fields)]
#[allow(dead_code)]
struct WebhookRequest {
    /// An http(s) URL of at most 2048 bytes.
    #[schema(format = Uri, pattern = "^[Hh][Tt][Tt][Pp][Ss]?://", max_length = 512,
        example = "https://hooks.example.com/ccgate")]
    url: String,
    /// The events to send (default: `task.completed`, `task.failed`, `task.cancelled`);
    /// `task.approval_requested` tells of each permission prompt that waits for a
    /// client (the payload's `data.approval` is the prompt).
    #[schema(min_items = 1, max_items = 5)]
    events: Option<Vec<WebhookEventName>>,
}

/// A webhook event a task can subscribe to (`webhooks::EVENTS`; a test holds them together).
#[derive(ToSchema, Deserialize)]
#[allow(dead_code)]
enum WebhookEventName {
    #[serde(rename = "task.started")]
    Started,
    #[serde(rename = "task.completed")]
    Completed,
    #[serde(rename = "task.failed")]
    Failed,
    #[serde(rename = "task.cancelled")]
    Cancelled,
    #[serde(rename = "task.approval_requested")]
    ApprovalRequested,
}

/// Options of a task; each is optional, with defaults and caps from the server.
/// (The same names as `TaskOptions`; a test in `openapi` holds them together.)
#[derive(ToSchema, Deserialize)]
#[serde(deny_unknown_fields)]
#[allow(dead_code)]
pub struct TaskOptionsRequest {
    #[schema(example = "claude-sonnet-4-5", pattern = "^[A-Za-z0-9._:/@-]{1,128}$")]
    model: Option<String>,
    /// At most `tasks.max_max_turns` (200 by default).
    #[schema(minimum = 1, maximum = 200)]
    max_turns: Option<u32>,
    /// At most `tasks.max_timeout_seconds` (21600 by default).
    #[schema(minimum = 1, maximum = 21600)]
    timeout_seconds: Option<u64>,
    #[schema(max_items = 128)]
    allowed_tools: Option<Vec<ToolRule>>,
    #[schema(max_items = 128)]
    disallowed_tools: Option<Vec<ToolRule>>,
    /// No NUL; at most `tasks.max_append_system_prompt_bytes` (32768 by default; here
    /// in characters that always fit).
    #[schema(max_length = 8192, pattern = "^[^\\x00]*$")]
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

/// A tool name or permission rule (`Bash`, `Bash(git status:*)`): not blank, no
/// NUL, newline or comma, at most 256 bytes (here 64 characters, which always fit).
#[derive(ToSchema, Deserialize)]
#[schema(pattern = r"^[^\x00\n,]*[^\s\x00,][^\x00\n,]*$", max_length = 64, example = "Bash(git status:*)")]
#[allow(dead_code)]
struct ToolRule(String);

/// `options.approvals` of a request.
#[derive(ToSchema, Deserialize)]
#[serde(deny_unknown_fields)]
#[allow(dead_code)]
pub struct ApprovalsRequest {
    mode: Option<crate::approvals::ApprovalMode>,
    /// At most `tasks.max_approval_timeout_seconds` (3600 by default).
    #[schema(minimum = 1, maximum = 3600)]
    timeout_seconds: Option<u64>,
    /// Rules in Claude Code's syntax whose prompts are allowed without asking:
    /// `Tool`, `Bash(prefix:*)` or `Bash(command with *)` (one plain command only, never
    /// a compound line), `Edit(src/**)` and the other file tools (globs from the
    /// workspace; `~/` the home, `//` the root), `WebFetch(domain:HOST)`. Each must name
    /// a tool of `allowed_tools`.
    #[schema(max_items = 128, example = json!(["Read", "Bash(git status:*)", "Edit(src/**)"]))]
    auto_allow: Option<Vec<ApprovalRule>>,
    /// Rules whose prompts are denied, before `auto_allow`; a Bash rule matches when
    /// any command of a compound line does.
    #[schema(max_items = 128, example = json!(["Bash(curl:*)", "Edit(.github/**)"]))]
    auto_deny: Option<Vec<ApprovalRule>>,
}

/// A rule of `options.approvals`: a tool name, or a pattern the gateway reads for
/// Bash, the file tools and WebFetch (`domain:HOST`); at most 64 characters here.
#[derive(ToSchema, Deserialize)]
#[schema(
    pattern = r"^(?:[A-Za-z][A-Za-z0-9_-]*|(?:Bash|Read|Write|Edit|MultiEdit|NotebookEdit|Glob|Grep|LS)\([^)\x00\n,]*[^\s)\x00,][^)\x00\n,]*\)|WebFetch\(domain:[^)\x00\n,]*[^\s)\x00,][^)\x00\n,]*\))$",
    max_length = 64,
    example = "Bash(git status:*)"
)]
#[allow(dead_code)]
struct ApprovalRule(String);

/// A path relative to the workspace: segments of 1-63 characters (no control
/// characters, `/` or `\`), none `..`, not only `.` segments; at most 256 characters.
/// (The gateway counts bytes — 255 a segment, 1024 in all — so these always fit.)
#[derive(ToSchema, Deserialize)]
#[schema(
    pattern = r"^(?!(\.(/|$))+$)(?!\.\.(/|$))[^/\\\x00-\x1f\x7f-\x9f]{1,63}(/(?!\.\.(/|$))[^/\\\x00-\x1f\x7f-\x9f]{1,63})*$",
    max_length = 256,
    example = "src/app.py"
)]
#[allow(dead_code)]
struct WorkspacePath(String);

/// A file placed in the workspace before the first turn: its text, or its bytes in base64.
#[derive(ToSchema, Deserialize)]
#[serde(untagged)]
#[allow(dead_code)]
enum InputFileRequest {
    Text(TextFileRequest),
    Base64(Base64FileRequest),
}

/// A file given as UTF-8 text.
#[derive(ToSchema, Deserialize)]
#[serde(deny_unknown_fields)]
#[allow(dead_code)]
struct TextFileRequest {
    path: WorkspacePath,
    content: String,
}

/// A file given as base64.
#[derive(ToSchema, Deserialize)]
#[serde(deny_unknown_fields)]
#[allow(dead_code)]
struct Base64FileRequest {
    path: WorkspacePath,
    /// Standard base64, padded, without stray bits.
    #[schema(
        content_encoding = "base64",
        pattern = "^([A-Za-z0-9+/]{4})*([A-Za-z0-9+/][AQgw]==|[A-Za-z0-9+/]{2}[AEIMQUYcgkosw048]=)?$",
        example = "aGVsbG8K"
    )]
    content_base64: String,
}

/// The multipart form of `POST /v1/tasks`: a `task` part with the JSON body, an
/// `archive` part unpacked into the workspace, and file parts (any other name, with a
/// `filename`: the file's path in the workspace).
pub struct TaskUpload;

/// The multipart form of `POST /v1/execute`, as `TaskUpload` with `ExecuteRequest`.
pub struct ExecuteUpload;

/// The form of a multipart create whose `task` part is the schema `task`.
fn upload_schema(task: &str, description: &str) -> utoipa::openapi::RefOr<utoipa::openapi::Schema> {
    use utoipa::openapi::schema::{KnownFormat, ObjectBuilder, SchemaFormat, Type};
    let binary = || {
        ObjectBuilder::new()
            .schema_type(Type::String)
            .format(Some(SchemaFormat::KnownFormat(KnownFormat::Binary)))
            .content_media_type("application/octet-stream")
    };
    ObjectBuilder::new()
        .description(Some(description))
        .property("task", utoipa::openapi::Ref::from_schema_name(task))
        .required("task")
        .property("archive", binary().description(Some("A `.tar.gz`, `.tgz` or `.zip` to unpack into the workspace.")))
        // File parts need a filename, which a schema cannot say: they are in the description.
        .additional_properties(Some(utoipa::openapi::schema::AdditionalProperties::FreeForm(false)))
        .into()
}

/// Documents an upload form as `upload_schema` of its task schema.
macro_rules! upload_schema_impl {
    ($upload:ident, $task:ident, $description:literal) => {
        impl utoipa::PartialSchema for $upload {
            fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::Schema> {
                upload_schema(stringify!($task), $description)
            }
        }

        impl ToSchema for $upload {
            fn schemas(schemas: &mut Vec<(String, utoipa::openapi::RefOr<utoipa::openapi::Schema>)>) {
                schemas.push(($task::name().into(), <$task as utoipa::PartialSchema>::schema()));
                $task::schemas(schemas);
            }
        }
    };
}

upload_schema_impl!(
    TaskUpload,
    TaskRequest,
    "The multipart form of a task: a `task` part with its JSON and an `archive`. Any other part is a \
     file and needs a `filename`, which is its path in the workspace (as `files[].path`)."
);
upload_schema_impl!(
    ExecuteUpload,
    ExecuteRequest,
    "The multipart form of `POST /v1/execute`: as `TaskUpload`, with `wait_seconds` in the `task` part."
);

/// The body of `POST /v1/tasks/{id}/messages`.
#[derive(ToSchema, Deserialize)]
#[serde(deny_unknown_fields)]
#[allow(dead_code)]
pub struct FollowUpRequest {
    #[schema(min_length = 1, pattern = r"^[^\x00]*[^\s\x00][^\x00]*$", example = "Now also handle time zones")]
    prompt: String,
    /// `next_turn` (default): the next turn of a finished task. `queue`: into the
    /// running session, which takes it when its current step ends. `interrupt`: the
    /// running turn is interrupted, then this message continues the same session.
    #[schema(value_type = Option<crate::task::Delivery>)]
    delivery: Option<String>,
}

/// A key's permission: `tasks`, `admin` or `network:full` (tasks may use the open network).
#[derive(ToSchema, Deserialize)]
#[allow(dead_code)]
enum ScopeName {
    #[serde(rename = "tasks")]
    Tasks,
    #[serde(rename = "admin")]
    Admin,
    #[serde(rename = "network:full")]
    NetworkFull,
}

/// The documented body of `POST /v1/keys` and, with every field optional,
/// `PATCH /v1/keys/{id}` (both validated field by field in `api::keys`).
macro_rules! key_request_schema {
    ($(#[$doc:meta])* $name:ident, $name_type:ty { $($extra:tt)* }) => {
        $(#[$doc])*
        #[derive(ToSchema, Deserialize)]
        #[serde(deny_unknown_fields)]
        #[allow(dead_code)]
        pub struct $name {
            /// Not blank; at most 200 characters.
            #[schema(min_length = 1, max_length = 200, pattern = r"[^\s]", nullable = false, example = "ci-pipeline")]
            name: $name_type,
            /// Defaults to `["tasks"]`.
            #[schema(min_items = 1, max_items = 8, nullable = false, example = json!(["tasks"]))]
            scopes: Option<Vec<ScopeName>>,
            #[schema(minimum = 1, maximum = 1000000, nullable = false)]
            rate_limit_per_minute: Option<u32>,
            #[schema(minimum = 1, maximum = 1000000, nullable = false)]
            max_concurrent_tasks: Option<u32>,
            #[schema(minimum = 1, maximum = 1000000, nullable = false)]
            max_queued_tasks: Option<u32>,
            /// The default webhook of the key's tasks (those without a `webhook` of their own).
            #[schema(format = Uri, pattern = "^[Hh][Tt][Tt][Pp][Ss]?://", max_length = 512)]
            webhook_url: Option<String>,
            /// The events the default webhook receives (default, and with `null`:
            /// `task.completed`, `task.failed`, `task.cancelled`); add
            /// `task.approval_requested` to hear of permission prompts that wait.
            #[schema(min_items = 1, max_items = 5,
                example = json!(["task.completed", "task.failed", "task.approval_requested"]))]
            webhook_events: Option<Vec<WebhookEventName>>,
            /// Spending caps in US dollars (UTC day and month); past one, submits get 402.
            #[schema(exclusive_minimum = 0, maximum = 1000000000)]
            budget_usd_per_day: Option<f64>,
            #[schema(exclusive_minimum = 0, maximum = 1000000000)]
            budget_usd_per_month: Option<f64>,
            /// Token caps (input, cache and output together; UTC day and month): past one,
            /// submits get 402, and the model proxy refuses the key's running tasks more.
            #[schema(minimum = 1, maximum = 1000000000000_u64)]
            token_budget_per_day: Option<u64>,
            #[schema(minimum = 1, maximum = 1000000000000_u64)]
            token_budget_per_month: Option<u64>,
            $($extra)*
        }
    };
}

key_request_schema! {
    /// The body of `POST /v1/keys`.
    KeyRequest, String {
        /// `test` makes a `ccg_test_…` key, whose tasks run against the built-in
        /// scripted model (no upstream request, cost 0). Fixed once the key exists.
        #[schema(nullable = false)]
        environment: Option<crate::auth::Environment>,
    }
}

key_request_schema! {
    /// The body of `PATCH /v1/keys/{id}`: the fields to change; `null` clears
    /// `webhook_url` and the budgets, and restores the default `webhook_events`.
    KeyUpdate, Option<String> {}
}
