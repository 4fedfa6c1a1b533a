//! The tool-approval hook: each permission prompt of a run goes through the key's
//! tool-approval plugins in chain order before the task's own rules and mode. The
//! first plugin that allows or denies decides; one without an opinion (`ask`)
//! passes the prompt on. A failed call denies the tool call (`fail_closed`, the
//! default) or passes the prompt on (`fail_open`).
//!
//! The prompt is tenant input (the agent wrote the call): the plugin sees it
//! bounded, and what it answers is checked before it reaches the CLI.

use std::sync::Arc;

use serde_json::Value;

use super::super::bindings::current::tool_approval::exports::ccgate::plugin::tool_approval as wit;
use super::super::{CallError, Hook, OnError, Outcome, Plugins, call_event};
use crate::approvals::rules::Place;
use crate::approvals::{Decision, PermissionPrompt};
use crate::store::EventRecord;
use crate::text::clip;

/// The largest tool input a plugin is shown (and may answer), as JSON text.
const MAX_INPUT_BYTES: usize = 64 * 1024;

/// Longest denial message kept from a plugin.
const MAX_MESSAGE_BYTES: usize = 2000;

/// The tool-approval plugins of one task's key, for its runs.
#[derive(Clone)]
pub struct ToolApprovers {
    plugins: Arc<Plugins>,
    task_id: String,
    key_id: String,
    key_name: String,
}

/// What the plugins made of a prompt.
#[derive(Debug, Clone, PartialEq)]
pub enum ToolApproval {
    /// A plugin decided; an allowed call runs with `updated_input` when given.
    Decided { plugin: String, decision: Decision, updated_input: Option<Value> },
    /// No plugin had an opinion: the task's rules and mode decide.
    NoOpinion,
}

/// One plugin's answer, once the gateway has checked it.
#[derive(Debug, Clone, PartialEq)]
enum Answer {
    Allow(Option<Value>),
    Deny(String),
    Ask,
}

impl Outcome for Answer {
    fn outcome(&self) -> &'static str {
        match self {
            Answer::Allow(None) => "allowed",
            Answer::Allow(Some(_)) => "rewritten",
            Answer::Deny(_) => "denied",
            Answer::Ask => "no_opinion",
        }
    }
}

impl ToolApprovers {
    /// The approvers of a task of this key (the chain is chosen per prompt, so a
    /// reload during a run takes effect at its next prompt).
    pub fn for_task(plugins: &Arc<Plugins>, task_id: &str, key_id: &str, key_name: &str) -> Self {
        Self {
            plugins: plugins.clone(),
            task_id: task_id.to_string(),
            key_id: key_id.to_string(),
            key_name: key_name.to_string(),
        }
    }

    /// Runs the chain on `prompt` of a run that sees its workspace and home at
    /// `place`; the `plugin` events of its calls.
    pub async fn decide(&self, prompt: &PermissionPrompt, place: &Place) -> (ToolApproval, Vec<EventRecord>) {
        let plugins = &self.plugins;
        let mut events = Vec::new();
        for entry in plugins.chain_for(Hook::ToolApproval, &self.key_id, &self.key_name) {
            let request = self.to_wit(prompt, place);
            let pre = entry.plugin.tool_approval.clone();
            let (answer, took) = plugins
                .invoke(
                    &entry,
                    Hook::ToolApproval,
                    Some(&self.task_id),
                    Vec::new(),
                    move |store| {
                        Box::pin(async move {
                            let pre = pre.ok_or_else(|| wasmtime::format_err!("not a tool-approval plugin"))?;
                            pre.decide(store, &request).await
                        })
                    },
                    checked,
                )
                .await;
            let plugin = entry.plugin.spec.name.clone();
            let (decision, updated_input) = match answer {
                Ok(Answer::Ask) => {
                    events.push(call_event(&entry, Hook::ToolApproval, "no_opinion", took, None));
                    continue;
                }
                Ok(Answer::Allow(updated_input)) => {
                    let changed = updated_input.is_some().then(|| "input changed".to_string());
                    events.push(call_event(&entry, Hook::ToolApproval, "allowed", took, changed));
                    (Decision::Allow, updated_input)
                }
                Ok(Answer::Deny(message)) => {
                    events.push(call_event(&entry, Hook::ToolApproval, "denied", took, Some(message.clone())));
                    (Decision::Deny { message }, None)
                }
                Err(error) => match entry.plugin.spec.on_error(Hook::ToolApproval) {
                    OnError::FailClosed => {
                        events.push(call_event(&entry, Hook::ToolApproval, "failed", took, Some(error.to_string())));
                        (Decision::Deny { message: failed_message(&plugin, &error) }, None)
                    }
                    OnError::FailOpen => {
                        events.push(call_event(&entry, Hook::ToolApproval, "skipped", took, Some(error.to_string())));
                        continue;
                    }
                },
            };
            return (ToolApproval::Decided { plugin, decision, updated_input }, events);
        }
        (ToolApproval::NoOpinion, events)
    }

    fn to_wit(&self, prompt: &PermissionPrompt, place: &Place) -> wit::ToolRequest {
        let input = prompt.input.to_string();
        let input_bytes = input.len() as u64;
        wit::ToolRequest {
            task_id: self.task_id.clone(),
            key_id: self.key_id.clone(),
            key_name: self.key_name.clone(),
            tool_name: prompt.tool.clone(),
            input: (input.len() <= MAX_INPUT_BYTES).then_some(input),
            input_bytes,
            reason: prompt.reason.clone(),
            workspace: place.workspace.clone(),
            home: place.home.clone(),
        }
    }
}

/// What the model sees when a plugin that must decide could not.
fn failed_message(plugin: &str, error: &CallError) -> String {
    format!("the tool-approval plugin `{plugin}` failed ({error}), so the call is denied")
}

/// A plugin's answer, checked: a replacement input must be a JSON object within bounds.
fn checked(approval: wit::Approval) -> Result<Answer, CallError> {
    match approval {
        wit::Approval::Allow(None) => Ok(Answer::Allow(None)),
        wit::Approval::Allow(Some(text)) => {
            if text.len() > MAX_INPUT_BYTES {
                return Err(CallError::Invalid(format!("the new input is larger than {MAX_INPUT_BYTES} bytes")));
            }
            match serde_json::from_str::<Value>(&text) {
                Ok(input @ Value::Object(_)) => Ok(Answer::Allow(Some(input))),
                Ok(_) => Err(CallError::Invalid("the new input is not a JSON object".into())),
                Err(e) => Err(CallError::Invalid(format!("the new input is not JSON: {e}"))),
            }
        }
        wit::Approval::Deny(message) if message.trim().is_empty() => {
            Ok(Answer::Deny("a tool-approval plugin denied this call".into()))
        }
        wit::Approval::Deny(message) => Ok(Answer::Deny(clip(&message, MAX_MESSAGE_BYTES).to_string())),
        wit::Approval::Ask => Ok(Answer::Ask),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn answers_are_checked_before_they_reach_the_cli() {
        assert_eq!(checked(wit::Approval::Ask).unwrap(), Answer::Ask);
        assert_eq!(checked(wit::Approval::Allow(None)).unwrap(), Answer::Allow(None));
        let rewritten = checked(wit::Approval::Allow(Some(r#"{"command":"ls"}"#.into()))).unwrap();
        assert_eq!(rewritten, Answer::Allow(Some(serde_json::json!({"command": "ls"}))));
        for bad in ["[1]", "not json", &format!("{{\"a\":\"{}\"}}", "x".repeat(MAX_INPUT_BYTES))] {
            assert!(matches!(checked(wit::Approval::Allow(Some(bad.into()))), Err(CallError::Invalid(_))), "{bad}");
        }
        let Answer::Deny(message) = checked(wit::Approval::Deny(" ".into())).unwrap() else { panic!() };
        assert!(message.contains("denied"), "{message}");
        let Answer::Deny(message) = checked(wit::Approval::Deny("y".repeat(10_000))).unwrap() else { panic!() };
        assert_eq!(message.len(), MAX_MESSAGE_BYTES);
    }

    #[test]
    fn large_inputs_are_withheld_from_the_plugin() {
        let approvers = ToolApprovers {
            plugins: Arc::new(Plugins::none()),
            task_id: "tsk_1".into(),
            key_id: "key_1".into(),
            key_name: "dev".into(),
        };
        let prompt =
            |input: Value| PermissionPrompt { request_id: "r".into(), tool: "Write".into(), input, reason: None };
        let place = Place { workspace: "/workspace".into(), home: "/home/agent".into() };
        let small = approvers.to_wit(&prompt(serde_json::json!({"file_path": "a"})), &place);
        assert_eq!(small.input.as_deref(), Some(r#"{"file_path":"a"}"#));
        assert_eq!((small.workspace.as_str(), small.home.as_str()), ("/workspace", "/home/agent"));
        let big = approvers.to_wit(&prompt(serde_json::json!({"content": "x".repeat(MAX_INPUT_BYTES)})), &place);
        assert_eq!((big.input, big.input_bytes > MAX_INPUT_BYTES as u64), (None, true));
        assert_eq!((big.task_id.as_str(), big.key_name.as_str(), big.tool_name.as_str()), ("tsk_1", "dev", "Write"));
    }
}
