//! The result hook: each turn's result passes through the key's result plugins in
//! chain order before it is stored and sent. A plugin changes `text` and
//! `structured`; usage, cost, session, turns and timing stay as Claude Code
//! reported them (budgets and accounting must not depend on a plugin).

use serde_json::json;

use super::super::{CallError, Hook, OnError, Plugins, call_event};
use super::{TaskFacts, result_to_wit};
use crate::store::EventRecord;
use crate::task::{ErrorKind, TaskError, TaskResult};

impl Plugins {
    /// The result to store, or the error that fails the task instead (its result
    /// is then dropped: a result that could not be redacted is not kept); and the
    /// `plugin` events.
    pub async fn process_result(
        &self,
        task: &TaskFacts,
        mut result: TaskResult,
    ) -> (Result<TaskResult, TaskError>, Vec<EventRecord>) {
        let mut events = Vec::new();
        for entry in self.chain_for(Hook::Result, &task.key_id, &task.key_name) {
            let (info, given) = (task.to_wit(), result_to_wit(&result));
            let (answer, took) = self
                .invoke(&entry, Hook::Result, Some(&task.id), Vec::new(), move |plugin, store| {
                    let pre = plugin.result.as_ref().ok_or_else(|| wasmtime::format_err!("not a result plugin"))?;
                    let instance = pre.instantiate(&mut *store)?;
                    instance.ccgate_plugin_result_processor().call_process(&mut *store, &info, &given)
                })
                .await;
            let plugin = entry.plugin.spec.name.clone();
            let answer = answer.and_then(|answer| match answer {
                Ok(processed) => {
                    let structured = match processed.structured.as_deref().map(serde_json::from_str) {
                        None => None,
                        Some(Ok(value)) => Some(value),
                        Some(Err(e)) => return Err(CallError::Invalid(format!("`structured` is not JSON: {e}"))),
                    };
                    Ok(Ok((processed.text, structured)))
                }
                Err(refusal) => Ok(Err(refusal)),
            });
            match answer {
                Ok(Ok((text, structured))) => {
                    let changed = text != result.text || structured != result.structured;
                    result.text = text;
                    result.structured = structured;
                    let outcome = if changed { "changed" } else { "unchanged" };
                    events.push(call_event(&entry, Hook::Result, outcome, took, None));
                }
                Ok(Err(refusal)) => {
                    events.push(call_event(&entry, Hook::Result, "refused", took, Some(refusal.clone())));
                    let error = TaskError::new(
                        ErrorKind::RejectedByPlugin,
                        format!("plugin `{plugin}` refused the result: {refusal}"),
                    )
                    .with_details(json!({"plugin": plugin}));
                    return (Err(error), events);
                }
                Err(error) => {
                    events.push(call_event(&entry, Hook::Result, "failed", took, Some(error.to_string())));
                    if entry.plugin.spec.on_error(Hook::Result) == OnError::FailClosed {
                        let failed =
                            TaskError::new(ErrorKind::Internal, format!("result plugin `{plugin}` failed: {error}"))
                                .with_details(json!({"plugin": plugin, "reason": error.kind()}));
                        return (Err(failed), events);
                    }
                }
            }
        }
        (Ok(result), events)
    }
}
