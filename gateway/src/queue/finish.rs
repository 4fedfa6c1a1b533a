//! The last write of a run that ended: its artifacts, events, result or error and
//! cost, stored fenced (and retried: a run left unstored would run again).

use std::time::Duration;

use serde_json::json;

use super::persist::persist;
use super::workers::Queue;
use crate::plugins::TaskFacts;
use crate::store::{AuditEntry, EventRecord, Fence, FinishRun, RunCost};
use crate::task::{TaskError, TaskStatus};

impl Queue {
    /// What a task needs from its key and row for the plugin hooks.
    pub(super) async fn task_facts(&self, task: &crate::store::entities::task::Model, status: TaskStatus) -> TaskFacts {
        let key_name = match self.store.key(&task.key_id).await {
            Ok(Some(key)) => key.name,
            _ => String::new(),
        };
        TaskFacts {
            id: task.id.clone(),
            status,
            prompt: task.prompt.clone(),
            metadata: task.metadata.parsed().cloned().unwrap_or_default(),
            key_id: task.key_id.clone(),
            key_name,
        }
    }

    pub(super) async fn finish(&self, task: &crate::store::entities::task::Model, fence: &Fence, ending: Ending) {
        let Ending {
            status,
            result,
            mut error,
            claude_code_version,
            events: plugin_events,
            charge,
            facts,
            time_left,
            after_run,
        } = ending;
        // Read once per run: the result hook's facts, with the final status.
        let facts = match facts {
            Some(facts) => TaskFacts { status, ..facts },
            None => self.task_facts(task, status).await,
        };
        let (staged, mut events) = self.collect_artifacts(task, &facts, result.as_ref(), time_left).await;
        if let Some(error) = &error {
            events.push(EventRecord::new("error", json!({"error": error})));
        }
        // The error's details (stderr lines, say) pass the event filter like every
        // event of the run; what it withholds is not kept in the task either.
        if self.plugins.filters_events(&facts.key_id, &facts.key_name) {
            self.plugins.filter_events(&facts, &mut events).await;
            if let (Some(error), Some(event)) = (&mut error, events.iter().find(|e| e.event_type == "error")) {
                match serde_json::from_value::<TaskError>(event.data["error"].clone()) {
                    Ok(filtered) => *error = filtered,
                    Err(_) => error.details = json!({"withheld": true}),
                }
            }
        }
        events.splice(0..0, plugin_events);
        let session_id = result.as_ref().and_then(|r| r.session_id.clone());
        let snapshot_session = session_id.clone().or(task.session_id.clone());
        let snapshot = match after_run {
            true => self.save_snapshot(task, snapshot_session.clone()).await,
            false => Ok(None),
        };
        let snapshot = snapshot.unwrap_or_else(|notice| {
            events.push(notice);
            None
        });
        if let Some(result) = &result {
            let at = events.iter().position(|e| e.event_type == "error").unwrap_or(events.len());
            events.insert(at, EventRecord::new("result", json!({"result": result})));
        }
        events.push(EventRecord::new("status", json!({"status": status.as_str(), "attempt": fence.attempt})));
        let finish = FinishRun {
            status,
            session_id,
            result: result.clone(),
            error: error.clone(),
            events,
            artifacts: staged
                .as_ref()
                .map(|s| crate::store::ArtifactSet { set: s.set.clone(), artifacts: s.artifacts.clone() }),
            claude_code_version,
            cost: charge.map(|(usage, cost_usd)| RunCost::of(&task.key_id, cost_usd, &usage)),
            snapshot: snapshot.clone(),
            audit: AuditEntry {
                key_id: Some(task.key_id.clone()),
                details: Some(json!({"attempt": fence.attempt, "turn": task.current_turn, "status": status.as_str(),
                                      "error_kind": error.as_ref().map(|e| e.kind)})),
                ..AuditEntry::new("run.finish", if status == TaskStatus::Completed { "ok" } else { "failed" })
            },
        };
        // A failed write is retried (through a database outage too): giving up would
        // leave the task to the reaper, which would run it again. The lease is kept
        // alive meanwhile.
        let stored = persist(self.outage_limit(), &task.id, "the outcome of a run", || {
            self.store.finish_run(&task.id, fence, task.current_turn, finish.clone())
        })
        .await;
        if stored.as_ref().is_ok_and(|kept| !kept) {
            tracing::warn!(task_id = %task.id, "run finished after losing its lease; its outcome was discarded");
        }
        let stored = stored.unwrap_or(false);
        if let Some(snapshot) = snapshot {
            self.settle_snapshot(task, &snapshot, snapshot_session, stored).await;
        }
        self.settle_artifacts(&task.id, staged, stored).await;
    }
}

/// How a run ends: what `finish` stores.
pub(super) struct Ending {
    pub(super) status: TaskStatus,
    pub(super) result: Option<crate::task::TaskResult>,
    pub(super) error: Option<TaskError>,
    pub(super) claude_code_version: Option<String>,
    /// `plugin` events of the result hook, recorded before the result.
    pub(super) events: Vec<EventRecord>,
    /// What the run is charged (tokens and US dollars), from `runner::charge`.
    pub(super) charge: Option<(crate::task::Usage, f64)>,
    /// What the result hook already read of the task and its key.
    pub(super) facts: Option<TaskFacts>,
    /// What the run left of the task's timeout (artifact collection gets no more).
    pub(super) time_left: Option<Duration>,
    /// A turn ran in this node's copy of the workspace: it is saved as the task's snapshot.
    pub(super) after_run: bool,
}

impl Ending {
    pub(super) fn new(status: TaskStatus, result: Option<crate::task::TaskResult>, error: Option<TaskError>) -> Self {
        Self {
            status,
            result,
            error,
            claude_code_version: None,
            events: Vec::new(),
            charge: None,
            facts: None,
            time_left: None,
            after_run: false,
        }
    }
}
