//! The result hook: each turn's result passes through the key's result plugins in
//! chain order before it is stored and sent. A plugin changes `text` and
//! `structured`; usage, cost, session, turns and timing stay as Claude Code
//! reported them (budgets and accounting must not depend on a plugin), also when
//! the result is refused.

use serde_json::{Value, json};

use wasmtime::Store;

use super::super::bindings::ResultPre;
use super::super::bindings::current::types;
use super::super::call::CallFuture;
use super::super::{CallError, CallState, Hook, OnError, Outcome, Plugins, call_event};
use super::{TaskFacts, result_to_wit};
use crate::store::EventRecord;
use crate::task::{ErrorKind, TaskError, TaskResult};
use crate::text::clip;

/// Time the event filter may take for one batch of a run's events.
const EVENT_FILTER_BUDGET: std::time::Duration = std::time::Duration::from_secs(10);

/// Longest refusal message kept from a plugin.
const MAX_REFUSAL_BYTES: usize = 2000;

/// What result processing came to.
pub struct Processed {
    /// The result to store: the plugins' text and structured answer, or — when
    /// the result was refused or a plugin failed closed — none of either.
    pub result: TaskResult,
    /// Why the task fails instead of completing, if it does.
    pub error: Option<TaskError>,
    pub events: Vec<EventRecord>,
}

impl Plugins {
    /// Runs the key's result plugins over `result`.
    pub async fn process_result(&self, task: &TaskFacts, mut result: TaskResult) -> Processed {
        let mut events = Vec::new();
        for entry in self.chain_for(Hook::Result, &task.key_id, &task.key_name) {
            let (info, given) = (task.to_wit(), result_to_wit(&result));
            let before = (result.text.clone(), result.structured.clone());
            let (answer, took) = self
                .invoke(
                    &entry,
                    Hook::Result,
                    Some(&task.id),
                    Vec::new(),
                    process_call(entry.plugin.result.clone(), info, given),
                    move |answer| match answer {
                        Ok(processed) => {
                            let structured = processed
                                .structured
                                .as_deref()
                                .map(serde_json::from_str::<Value>)
                                .transpose()
                                .map_err(|e| CallError::Invalid(format!("`structured` is not JSON: {e}")))?;
                            let changed = (&processed.text, &structured) != (&before.0, &before.1);
                            Ok(Returned::Kept { text: processed.text, structured, changed })
                        }
                        Err(refusal) => Ok(Returned::Refused(clip(&refusal, MAX_REFUSAL_BYTES).to_string())),
                    },
                )
                .await;
            let plugin = entry.plugin.spec.name.clone();
            let failure = match answer {
                Ok(Returned::Kept { text, structured, changed }) => {
                    result.text = text;
                    result.structured = structured;
                    let outcome = if changed { "changed" } else { "unchanged" };
                    events.push(call_event(&entry, Hook::Result, outcome, took, None));
                    continue;
                }
                Ok(Returned::Refused(refusal)) => {
                    events.push(call_event(&entry, Hook::Result, "refused", took, Some(refusal.clone())));
                    TaskError::new(
                        ErrorKind::RejectedByPlugin,
                        format!("plugin `{plugin}` refused the result: {refusal}"),
                    )
                    .with_details(json!({"plugin": plugin}))
                }
                Err(error) => {
                    events.push(call_event(&entry, Hook::Result, "failed", took, Some(error.to_string())));
                    if entry.plugin.spec.on_error(Hook::Result) == OnError::FailOpen {
                        continue;
                    }
                    TaskError::new(ErrorKind::Internal, format!("result plugin `{plugin}` failed: {error}"))
                        .with_details(json!({"plugin": plugin, "reason": error.kind()}))
                }
            };
            // What the agent said is not kept unprocessed; what it cost is.
            result.text = None;
            result.structured = None;
            return Processed { result, error: Some(failure), events };
        }
        Processed { result, error: None, events }
    }
}

/// A result plugin's answer, checked.
enum Returned {
    /// The text and structured answer to keep, and whether they differ from before.
    Kept {
        text: Option<String>,
        structured: Option<Value>,
        changed: bool,
    },
    Refused(String),
}

impl Outcome for Returned {
    fn outcome(&self) -> &'static str {
        match self {
            Returned::Kept { changed: false, .. } => "allowed",
            Returned::Kept { changed: true, .. } => "rewritten",
            Returned::Refused(_) => "denied",
        }
    }
}

/// An event's data from the event filter (none: withheld).
impl Outcome for Option<Value> {
    fn outcome(&self) -> &'static str {
        "filtered"
    }
}

impl Plugins {
    /// Whether the key's runs have their events filtered by a result plugin.
    pub fn filters_events(&self, key_id: &str, key_name: &str) -> bool {
        self.chain_for(Hook::Result, key_id, key_name).iter().any(|e| e.plugin.spec.filter_events)
    }

    /// Runs the key's event-filtering result plugins over each event's data (all
    /// events but `status` and `plugin`). An event a plugin fails on is withheld
    /// when the plugin fails closed, and so is every event left when the batch
    /// runs out of time (`EVENT_FILTER_BUDGET`): a slow filter cannot hold up the
    /// run's outcome.
    pub async fn filter_events(&self, task: &TaskFacts, events: &mut [EventRecord]) {
        let deadline = std::time::Instant::now() + EVENT_FILTER_BUDGET;
        let chain: Vec<_> = self
            .chain_for(Hook::Result, &task.key_id, &task.key_name)
            .into_iter()
            .filter(|e| e.plugin.spec.filter_events)
            .collect();
        if chain.is_empty() {
            return;
        }
        for event in events.iter_mut().filter(|e| !matches!(e.event_type.as_str(), "status" | "plugin")) {
            if std::time::Instant::now() >= deadline {
                event.data = json!({"withheld": "the event filter ran out of time for this batch"});
                continue;
            }
            for entry in &chain {
                let info = task.to_wit();
                let given =
                    result_to_wit(&TaskResult { structured: Some(event.data.clone()), ..TaskResult::default() });
                let (answer, _took) = self
                    .invoke(
                        entry,
                        Hook::Result,
                        Some(&task.id),
                        Vec::new(),
                        process_call(entry.plugin.result.clone(), info, given),
                        |answer| match answer {
                            Ok(processed) => processed
                                .structured
                                .as_deref()
                                .map(serde_json::from_str::<Value>)
                                .transpose()
                                .map_err(|e| CallError::Invalid(format!("`structured` is not JSON: {e}"))),
                            Err(refusal) => {
                                Ok(Some(json!({"withheld": clip(&refusal, MAX_REFUSAL_BYTES).to_string()})))
                            }
                        },
                    )
                    .await;
                let plugin = &entry.plugin.spec.name;
                match answer {
                    Ok(Some(data)) => event.data = data,
                    Ok(None) => event.data = json!({"withheld": format!("plugin `{plugin}` returned nothing for it")}),
                    Err(error) if entry.plugin.spec.on_error(Hook::Result) == OnError::FailClosed => {
                        event.data = json!({"withheld": format!("plugin `{plugin}` failed on it: {error}")});
                        break;
                    }
                    Err(_) => {}
                }
            }
        }
    }
}

/// The call of a result plugin's `process` on a fresh instance.
fn process_call(
    pre: Option<ResultPre>,
    info: types::TaskInfo,
    given: types::TaskResult,
) -> impl for<'a> FnOnce(&'a mut Store<CallState>) -> CallFuture<'a, Result<types::TaskResult, String>> + Send + 'static
{
    move |store| {
        Box::pin(async move {
            let pre = pre.ok_or_else(|| wasmtime::format_err!("not a result plugin"))?;
            pre.process(store, &info, &given).await
        })
    }
}
