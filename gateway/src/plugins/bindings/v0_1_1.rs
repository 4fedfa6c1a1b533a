//! Bindings for `ccgate:plugin@0.1.1`, frozen, and the conversions between its
//! records and the current ones. They serve 0.1.0 components too: 0.1.1 only
//! added the `tool-approval` interface, and wasmtime finds a 0.1.0 export under
//! its 0.1.1 name (semver matching). Only the hook exports are bound here:
//! `meta` and `host` have not changed since 0.1.0, so the current bindings call
//! and link them for every version.
//!
//! What differs from 0.1.2: `task-info.status` and `webhook-event.kind` are
//! strings (the same text the enums stand for), and a tool request carries no
//! workspace or home.

use super::current;

pub mod policy {
    wasmtime::component::bindgen!({
        path: "../wit/v0.1.1",
        world: "policy-plugin",
        with: { "ccgate:plugin/host": super::current::host },
        exports: { default: async },
    });
}

pub use policy::ccgate::plugin::types;

pub mod result {
    wasmtime::component::bindgen!({
        path: "../wit/v0.1.1",
        world: "result-plugin",
        with: { "ccgate:plugin/host": super::current::host, "ccgate:plugin/types": super::types },
        exports: { default: async },
    });
}

pub mod artifacts {
    wasmtime::component::bindgen!({
        path: "../wit/v0.1.1",
        world: "artifact-plugin",
        with: { "ccgate:plugin/host": super::current::host, "ccgate:plugin/types": super::types },
        exports: { default: async },
    });
}

pub mod webhook {
    wasmtime::component::bindgen!({
        path: "../wit/v0.1.1",
        world: "webhook-plugin",
        with: { "ccgate:plugin/host": super::current::host, "ccgate:plugin/types": super::types },
        exports: { default: async },
    });
}

pub mod tool_approval {
    wasmtime::component::bindgen!({
        path: "../wit/v0.1.1",
        world: "tool-approval-plugin",
        with: { "ccgate:plugin/host": super::current::host, "ccgate:plugin/types": super::types },
        exports: { default: async },
    });
}

use artifacts::exports::ccgate::plugin::artifact_collector as old_artifacts;
use current::artifacts::exports::ccgate::plugin::artifact_collector as new_artifacts;
use current::policy::exports::ccgate::plugin::policy as new_policy;
use current::tool_approval::exports::ccgate::plugin::tool_approval as new_approval;
use current::types as new;
use current::webhook::exports::ccgate::plugin::webhook_formatter as new_webhook;
use policy::exports::ccgate::plugin::policy as old_policy;
use tool_approval::exports::ccgate::plugin::tool_approval as old_approval;
use webhook::exports::ccgate::plugin::webhook_formatter as old_webhook;

impl From<&new::TaskRequest> for types::TaskRequest {
    fn from(request: &new::TaskRequest) -> Self {
        Self {
            prompt: request.prompt.clone(),
            priority: request.priority,
            options: request.options.clone(),
            metadata: request.metadata.clone(),
            files: request.files.iter().map(|f| types::InputFile { path: f.path.clone(), size: f.size }).collect(),
            key_name: request.key_name.clone(),
            key_id: request.key_id.clone(),
            follow_up_of: request.follow_up_of.clone(),
        }
    }
}

impl From<old_policy::Decision> for new_policy::Decision {
    fn from(decision: old_policy::Decision) -> Self {
        match decision {
            old_policy::Decision::Allow => Self::Allow,
            old_policy::Decision::Deny(violations) => Self::Deny(
                violations.into_iter().map(|v| new::Violation { pointer: v.pointer, message: v.message }).collect(),
            ),
            old_policy::Decision::Rewrite(r) => Self::Rewrite(new_policy::Rewrite {
                prompt: r.prompt,
                priority: r.priority,
                options: r.options,
                metadata: r.metadata,
            }),
        }
    }
}

impl From<&new::TaskInfo> for types::TaskInfo {
    fn from(task: &new::TaskInfo) -> Self {
        Self {
            id: task.id.clone(),
            status: super::status_name(task.status).to_string(),
            prompt: task.prompt.clone(),
            metadata: task.metadata.clone(),
            key_name: task.key_name.clone(),
        }
    }
}

impl From<&new::TaskResult> for types::TaskResult {
    fn from(r: &new::TaskResult) -> Self {
        let u = &r.usage;
        Self {
            text: r.text.clone(),
            structured: r.structured.clone(),
            session_id: r.session_id.clone(),
            num_turns: r.num_turns,
            usage: types::Usage {
                input_tokens: u.input_tokens,
                output_tokens: u.output_tokens,
                cache_read_input_tokens: u.cache_read_input_tokens,
                cache_creation_input_tokens: u.cache_creation_input_tokens,
            },
            cost_usd: r.cost_usd,
            duration_ms: r.duration_ms,
            partial: r.partial,
        }
    }
}

impl From<types::TaskResult> for new::TaskResult {
    fn from(r: types::TaskResult) -> Self {
        let u = r.usage;
        Self {
            text: r.text,
            structured: r.structured,
            session_id: r.session_id,
            num_turns: r.num_turns,
            usage: new::Usage {
                input_tokens: u.input_tokens,
                output_tokens: u.output_tokens,
                cache_read_input_tokens: u.cache_read_input_tokens,
                cache_creation_input_tokens: u.cache_creation_input_tokens,
            },
            cost_usd: r.cost_usd,
            duration_ms: r.duration_ms,
            partial: r.partial,
        }
    }
}

impl From<&new_artifacts::WorkspaceFile> for old_artifacts::WorkspaceFile {
    fn from(file: &new_artifacts::WorkspaceFile) -> Self {
        Self { path: file.path.clone(), size: file.size }
    }
}

impl From<old_artifacts::Artifact> for new_artifacts::Artifact {
    fn from(a: old_artifacts::Artifact) -> Self {
        Self { path: a.path, content: a.content, content_type: a.content_type }
    }
}

impl From<&new_webhook::WebhookEvent> for old_webhook::WebhookEvent {
    fn from(event: &new_webhook::WebhookEvent) -> Self {
        Self {
            kind: super::event_name(event.kind).to_string(),
            id: event.id.clone(),
            timestamp: event.timestamp.clone(),
            payload: event.payload.clone(),
        }
    }
}

impl From<old_webhook::Formatted> for new_webhook::Formatted {
    fn from(f: old_webhook::Formatted) -> Self {
        Self { content_type: f.content_type, headers: f.headers, body: f.body }
    }
}

impl From<&new_approval::ToolRequest> for old_approval::ToolRequest {
    fn from(r: &new_approval::ToolRequest) -> Self {
        Self {
            task_id: r.task_id.clone(),
            key_id: r.key_id.clone(),
            key_name: r.key_name.clone(),
            tool_name: r.tool_name.clone(),
            input: r.input.clone(),
            input_bytes: r.input_bytes,
            reason: r.reason.clone(),
        }
    }
}

impl From<old_approval::Approval> for new_approval::Approval {
    fn from(approval: old_approval::Approval) -> Self {
        match approval {
            old_approval::Approval::Allow(input) => Self::Allow(input),
            old_approval::Approval::Deny(message) => Self::Deny(message),
            old_approval::Approval::Ask => Self::Ask,
        }
    }
}
