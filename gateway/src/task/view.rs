//! The task as the API shows it (`TaskView` in `openapi.json`).

use serde::Serialize;
use serde_json::{Value, json};
use utoipa::ToSchema;

use super::{TaskError, TaskOptions, TaskResult, TaskStatus};
use crate::artifacts::Artifact;
use crate::store::entities::{task, task_turn};
use crate::timestamp::format_ms;

/// One turn: the first prompt, or a follow-up message.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct TurnView {
    pub index: i32,
    pub prompt: String,
    pub status: String,
    pub created_at: String,
    pub started_at: Option<String>,
    pub finished_at: Option<String>,
    /// The Claude Code version that ran it (from its `system/init` event).
    pub claude_code_version: Option<String>,
}

/// A task: its input, state, turns, and what the agent produced.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct TaskView {
    #[schema(example = "tsk_01JDX3N8Q6W2V0M1R5T7Y9B4C2")]
    pub id: String,
    #[schema(value_type = TaskStatus)]
    pub status: TaskStatus,
    pub prompt: String,
    #[schema(minimum = -10, maximum = 10)]
    pub priority: i32,
    /// Its key's: `live`, or `test` (run against the built-in scripted model, cost 0).
    #[schema(value_type = crate::auth::Environment)]
    pub environment: String,
    /// The resolved options: the request's, with the server's defaults filled in.
    #[schema(value_type = TaskOptions)]
    pub options: Value,
    #[schema(value_type = std::collections::BTreeMap<String, String>)]
    pub metadata: Value,
    pub created_at: String,
    pub started_at: Option<String>,
    pub finished_at: Option<String>,
    pub attempts: i32,
    pub turns: Vec<TurnView>,
    pub result: Option<TaskResult>,
    pub error: Option<TaskError>,
    /// Files collected after the last turn (see `artifacts` in the request).
    pub artifacts: Vec<Artifact>,
    /// When the retention policy deleted the workspace; its file endpoints answer 410.
    pub workspace_expired_at: Option<String>,
    /// When the retention policy deleted the artifacts.
    pub artifacts_expired_at: Option<String>,
    /// Permission prompts waiting for a decision (`options.approvals.mode = "ask"`).
    pub pending_approvals: Vec<crate::approvals::desk::ApprovalView>,
    pub links: TaskLinks,
}

/// Where to go next from a task.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct TaskLinks {
    #[serde(rename = "self")]
    pub this: String,
    pub events: String,
    pub files: String,
    pub archive: String,
    pub messages: String,
    pub cancel: String,
    pub artifacts: String,
    pub approvals: String,
}

impl TaskView {
    pub fn new(
        task: &task::Model,
        turns: &[task_turn::Model],
        artifacts: Vec<Artifact>,
        pending_approvals: Vec<crate::approvals::desk::ApprovalView>,
    ) -> Self {
        // Unreadable stored options show as `null` (see `JsonText`).
        let options = task.options.parsed().and_then(|o| serde_json::to_value(o).ok()).unwrap_or(Value::Null);
        let base = format!("/v1/tasks/{}", task.id);
        Self {
            id: task.id.clone(),
            status: task.status,
            prompt: task.prompt.clone(),
            priority: task.priority,
            environment: task.environment.as_str().into(),
            options,
            metadata: task.metadata.parsed().and_then(|m| serde_json::to_value(m).ok()).unwrap_or_else(|| json!({})),
            created_at: format_ms(task.created_at),
            started_at: task.started_at.map(format_ms),
            finished_at: task.finished_at.map(format_ms),
            attempts: task.attempts,
            turns: turns
                .iter()
                .map(|t| TurnView {
                    index: t.turn_index,
                    prompt: t.prompt.clone(),
                    status: t.status.as_str().into(),
                    created_at: format_ms(t.created_at),
                    started_at: t.started_at.map(format_ms),
                    finished_at: t.finished_at.map(format_ms),
                    claude_code_version: t.claude_code_version.clone(),
                })
                .collect(),
            result: task.result.as_ref().and_then(|r| r.parsed()).cloned(),
            error: task.error.as_ref().and_then(|e| e.parsed()).cloned(),
            artifacts,
            workspace_expired_at: task.workspace_expired_at.map(format_ms),
            artifacts_expired_at: task.artifacts_expired_at.map(format_ms),
            pending_approvals,
            links: TaskLinks {
                artifacts: format!("{base}/artifacts"),
                approvals: format!("{base}/approvals"),
                events: format!("{base}/events"),
                files: format!("{base}/files"),
                archive: format!("{base}/archive"),
                messages: format!("{base}/messages"),
                cancel: format!("{base}/cancel"),
                this: base,
            },
        }
    }
}
