//! The policy hook: before a task is stored (and before a follow-up message is
//! queued), each policy plugin for the key allows it, denies it with violations,
//! or rewrites it — and a rewrite is validated again exactly as a client's
//! request would be, so the gateway's caps, scopes and budgets still apply.

use std::collections::BTreeMap;

use serde_json::json;

use super::super::bindings::current::policy::exports::ccgate::plugin::policy;
use super::super::bindings::current::types;
use super::super::{CallError, Hook, OnError, Outcome, Plugins, call_event};
use super::pairs;
use crate::auth::Principal;
use crate::config::TaskLimits;
use crate::store::EventRecord;
use crate::task::{FieldError, NewTask, TaskOptions};
use crate::text::clip;

/// Violations kept from one denial, and the length of each part.
const MAX_VIOLATIONS: usize = 50;
const MAX_POINTER_BYTES: usize = 256;
const MAX_MESSAGE_BYTES: usize = 1000;

/// Why the policy chain refused a request.
#[derive(Debug, thiserror::Error)]
pub enum PolicyRefusal {
    #[error("plugin `{plugin}` denied the request")]
    Denied { plugin: String, violations: Vec<FieldError> },
    /// A failing plugin whose `on_error` is `fail_closed`.
    #[error("policy plugin `{plugin}` failed: {error}")]
    Failed { plugin: String, error: CallError },
}

/// The parts of a request a policy may rewrite.
#[derive(Debug, Clone, PartialEq)]
struct Rewritable {
    prompt: String,
    priority: i32,
    options: TaskOptions,
    metadata: BTreeMap<String, String>,
}

impl Rewritable {
    fn of(request: &NewTask) -> Self {
        Self {
            prompt: request.prompt.clone(),
            priority: request.priority,
            options: request.options.clone(),
            metadata: request.metadata.clone(),
        }
    }
}

/// A policy plugin's answer, once the gateway has checked it.
enum Verdict {
    Allowed,
    /// The request to go on with, and what changed.
    Rewritten(Box<Rewritable>, String),
    Denied(Vec<FieldError>),
}

impl Outcome for Verdict {
    fn outcome(&self) -> &'static str {
        match self {
            Verdict::Allowed => "allowed",
            Verdict::Rewritten(..) => "rewritten",
            Verdict::Denied(_) => "denied",
        }
    }
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
            let (current, limits) = (Rewritable::of(request), limits.clone());
            let pre = entry.plugin.policy.clone();
            let (verdict, took) = self
                .invoke(
                    &entry,
                    Hook::Policy,
                    None,
                    Vec::new(),
                    move |store| {
                        Box::pin(async move {
                            let pre = pre.ok_or_else(|| wasmtime::format_err!("not a policy plugin"))?;
                            pre.validate(store, &asked).await
                        })
                    },
                    move |decision| verdict(decision, &current, &limits),
                )
                .await;
            let plugin = entry.plugin.spec.name.clone();
            match verdict {
                Ok(Verdict::Allowed) => events.push(call_event(&entry, Hook::Policy, "allowed", took, None)),
                Ok(Verdict::Rewritten(rewritten, changed)) => {
                    let Rewritable { prompt, priority, options, metadata } = *rewritten;
                    (request.prompt, request.priority, request.options, request.metadata) =
                        (prompt, priority, options, metadata);
                    events.push(call_event(&entry, Hook::Policy, "rewritten", took, Some(changed)))
                }
                Ok(Verdict::Denied(mut violations)) => {
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

/// What a decision means for the request.
fn verdict(decision: policy::Decision, current: &Rewritable, limits: &TaskLimits) -> Result<Verdict, CallError> {
    match decision {
        policy::Decision::Allow => Ok(Verdict::Allowed),
        policy::Decision::Deny(violations) => Ok(Verdict::Denied(
            violations
                .into_iter()
                .take(MAX_VIOLATIONS)
                .map(|v| {
                    FieldError::new(
                        clip(&v.pointer, MAX_POINTER_BYTES).to_string(),
                        clip(&v.message, MAX_MESSAGE_BYTES).to_string(),
                    )
                })
                .collect(),
        )),
        policy::Decision::Rewrite(rewrite) => {
            let (rewritten, changed) = rewritten(current, rewrite, limits)?;
            Ok(Verdict::Rewritten(Box::new(rewritten), changed))
        }
    }
}

/// A rewrite validated as a client's request; what it changed.
fn rewritten(
    current: &Rewritable,
    rewrite: policy::Rewrite,
    limits: &TaskLimits,
) -> Result<(Rewritable, String), CallError> {
    let options: serde_json::Value = serde_json::from_str(&rewrite.options)
        .map_err(|e| CallError::Invalid(format!("the rewritten options are not JSON: {e}")))?;
    let metadata: BTreeMap<String, String> = rewrite.metadata.into_iter().collect();
    let body =
        json!({"prompt": rewrite.prompt, "priority": rewrite.priority, "options": options, "metadata": metadata});
    let checked = crate::task::parse_new_task(&body, limits, false).map_err(|errors| {
        let listed: Vec<String> = errors.iter().take(10).map(|e| format!("{} {}", e.pointer, e.message)).collect();
        CallError::Invalid(format!("the rewritten request is invalid: {}", listed.join("; ")))
    })?;
    let next = Rewritable::of(&checked);
    let mut changed = Vec::new();
    if next.prompt != current.prompt {
        changed.push("prompt");
    }
    if next.priority != current.priority {
        changed.push("priority");
    }
    if next.options != current.options {
        changed.push("options");
    }
    if next.metadata != current.metadata {
        changed.push("metadata");
    }
    let changed =
        if changed.is_empty() { "nothing changed".into() } else { format!("changed: {}", changed.join(", ")) };
    Ok((next, changed))
}
