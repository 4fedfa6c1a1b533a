//! The policy hook: before a task is stored, each policy plugin for the key
//! allows it, denies it with violations, or rewrites it — and a rewrite is
//! validated again exactly as a client's request would be.

use std::collections::BTreeMap;

use serde_json::json;

use super::super::bindings::v0::policy::exports::ccgate::plugin::policy;
use super::super::bindings::v0::types;
use super::super::{CallError, Hook, OnError, Plugins, call_event};
use super::pairs;
use crate::auth::Principal;
use crate::config::TaskLimits;
use crate::store::EventRecord;
use crate::task::{FieldError, NewTask};

/// Why the policy chain refused a request.
#[derive(Debug, thiserror::Error)]
pub enum PolicyRefusal {
    #[error("plugin `{plugin}` denied the request")]
    Denied { plugin: String, violations: Vec<FieldError> },
    /// A failing plugin whose `on_error` is `fail_closed`.
    #[error("policy plugin `{plugin}` failed: {error}")]
    Failed { plugin: String, error: CallError },
}

impl Plugins {
    /// Runs the policy chain on `request` (rewriting it in place); the `plugin`
    /// events to record with the task. `follow_up_of` names the task when the
    /// request is a follow-up message.
    pub async fn check_request(
        &self,
        request: &mut NewTask,
        principal: &Principal,
        limits: &TaskLimits,
        upload_files: &[(String, u64)],
        follow_up_of: Option<&str>,
    ) -> Result<Vec<EventRecord>, PolicyRefusal> {
        let mut events = Vec::new();
        for entry in self.chain_for(Hook::Policy, &principal.key_id, &principal.name) {
            let mut asked = to_wit(request, principal, upload_files);
            asked.follow_up_of = follow_up_of.map(str::to_string);
            let (answer, took) = self
                .invoke(&entry, Hook::Policy, None, Vec::new(), move |plugin, store| {
                    let pre = plugin.policy.as_ref().ok_or_else(|| wasmtime::format_err!("not a policy plugin"))?;
                    let instance = pre.instantiate(&mut *store)?;
                    instance.ccgate_plugin_policy().call_validate(&mut *store, &asked)
                })
                .await;
            let plugin = entry.plugin.spec.name.clone();
            let verdict = answer.and_then(|decision| match decision {
                policy::Decision::Allow => Ok(Verdict::Allowed),
                policy::Decision::Deny(violations) => Ok(Verdict::Denied(violations)),
                policy::Decision::Rewrite(rewrite) => apply_rewrite(request, rewrite, limits).map(Verdict::Rewritten),
            });
            match verdict {
                Ok(Verdict::Allowed) => events.push(call_event(&entry, Hook::Policy, "allowed", took, None)),
                Ok(Verdict::Rewritten(changed)) => {
                    events.push(call_event(&entry, Hook::Policy, "rewritten", took, Some(changed)))
                }
                Ok(Verdict::Denied(violations)) => {
                    let mut violations: Vec<FieldError> =
                        violations.into_iter().map(|v| FieldError::new(v.pointer, v.message)).collect();
                    if violations.is_empty() {
                        violations.push(FieldError::new("", format!("denied by plugin `{plugin}`")));
                    }
                    return Err(PolicyRefusal::Denied { plugin, violations });
                }
                Err(error) => match entry.plugin.spec.on_error(Hook::Policy) {
                    OnError::FailClosed => return Err(PolicyRefusal::Failed { plugin, error }),
                    OnError::FailOpen => {
                        events.push(call_event(&entry, Hook::Policy, "skipped", took, Some(error.to_string())))
                    }
                },
            }
        }
        Ok(events)
    }
}

/// A policy plugin's answer, once the gateway has checked it.
enum Verdict {
    Allowed,
    /// What changed.
    Rewritten(String),
    Denied(Vec<types::Violation>),
}

fn to_wit(request: &NewTask, principal: &Principal, upload_files: &[(String, u64)]) -> types::TaskRequest {
    let mut files: Vec<types::InputFile> =
        request.files.iter().map(|f| types::InputFile { path: f.path.clone(), size: f.content.len() as u64 }).collect();
    files.extend(upload_files.iter().map(|(path, size)| types::InputFile { path: path.clone(), size: *size }));
    types::TaskRequest {
        prompt: request.prompt.clone(),
        priority: request.priority,
        options: serde_json::to_string(&request.options).unwrap_or_else(|_| "{}".into()),
        metadata: pairs(&request.metadata),
        files,
        key_name: principal.name.clone(),
        key_id: principal.key_id.clone(),
        follow_up_of: None,
    }
}

/// Validates a rewritten request as a client's and takes its prompt, priority,
/// options and metadata; says which of them changed.
fn apply_rewrite(request: &mut NewTask, rewrite: policy::Rewrite, limits: &TaskLimits) -> Result<String, CallError> {
    let options: serde_json::Value = serde_json::from_str(&rewrite.options)
        .map_err(|e| CallError::Invalid(format!("the rewritten options are not JSON: {e}")))?;
    let metadata: BTreeMap<String, String> = rewrite.metadata.into_iter().collect();
    let body =
        json!({"prompt": rewrite.prompt, "priority": rewrite.priority, "options": options, "metadata": metadata});
    let checked = crate::task::parse_new_task(&body, limits, false).map_err(|errors| {
        let listed: Vec<String> = errors.iter().map(|e| format!("{} {}", e.pointer, e.message)).collect();
        CallError::Invalid(format!("the rewritten request is invalid: {}", listed.join("; ")))
    })?;
    let mut changed = Vec::new();
    if checked.prompt != request.prompt {
        changed.push("prompt");
    }
    if checked.priority != request.priority {
        changed.push("priority");
    }
    if serde_json::to_value(&checked.options).ok() != serde_json::to_value(&request.options).ok() {
        changed.push("options");
    }
    if checked.metadata != request.metadata {
        changed.push("metadata");
    }
    request.prompt = checked.prompt;
    request.priority = checked.priority;
    request.options = checked.options;
    request.metadata = checked.metadata;
    Ok(if changed.is_empty() { "nothing changed".into() } else { format!("changed: {}", changed.join(", ")) })
}
