//! Writing a run's events: batched, through the result plugins' filter, fenced.

use std::sync::Arc;
use std::time::Duration;

use serde_json::json;
use tokio::sync::{mpsc, watch};

use super::hub::Hub;
use super::persist::persist;
use crate::plugins::{Plugins, TaskFacts};
use crate::runner::{RunnerMessage, Stop};
use crate::store::{EventRecord, Fence, Store};
use crate::task::TaskStatus;

/// Where a run's events go: the task, held by `fence`, in `store`; `hub` told of
/// each batch; writes retried through a database outage of up to `outage_limit`.
pub(super) struct EventTarget {
    pub(super) store: Store,
    pub(super) hub: Arc<Hub>,
    pub(super) task_id: String,
    pub(super) fence: Fence,
    pub(super) outage_limit: Duration,
}

/// Writes a run's events in batches, fenced; a fenced-out write means the lease is
/// lost. Returns the last turn a message sent into the run began, if any.
pub(super) async fn write_events(
    target: EventTarget,
    mut messages: mpsc::UnboundedReceiver<RunnerMessage>,
    stop: watch::Sender<Option<Stop>>,
    filter: Option<(Arc<Plugins>, TaskFacts)>,
) -> Option<i32> {
    let EventTarget { store, hub, task_id, fence, outage_limit } = target;
    let mut batch = Vec::new();
    let mut last_turn = None;
    while let Some(first) = messages.recv().await {
        let mut session = None;
        let mut started = None;
        let mut take = |message: RunnerMessage, batch: &mut Vec<EventRecord>| match message {
            RunnerMessage::Events(events) => batch.extend(events),
            RunnerMessage::Session(id) => session = Some(id),
            RunnerMessage::TurnStarted(turn) => {
                batch.push(EventRecord::new(
                    "status",
                    json!({"status": TaskStatus::Running, "attempt": fence.attempt, "turn": turn}),
                ));
                started = Some(turn);
            }
        };
        take(first, &mut batch);
        while batch.len() < 512 {
            match messages.try_recv() {
                Ok(message) => take(message, &mut batch),
                Err(_) => break,
            }
        }
        if let Some((plugins, facts)) = &filter {
            plugins.filter_events(facts, &mut batch).await;
        }
        // While the database is away the run goes on and its messages wait in the
        // channel; the batch is stored when it returns.
        let appended =
            persist(outage_limit, &task_id, "events", || store.append_events(&task_id, Some(&fence), &batch)).await;
        let lost = matches!(appended, Ok(None));
        if let Some(session) = session {
            // Logged by `persist` when it gives up.
            let _ = persist(outage_limit, &task_id, "the session id", || store.set_session(&task_id, &fence, &session))
                .await;
        }
        if let Some(turn) = started.filter(|_| !lost)
            && persist(outage_limit, &task_id, "a turn's start", || store.begin_turn(&task_id, &fence, turn))
                .await
                .is_ok()
        {
            last_turn = Some(turn);
        }
        batch.clear();
        hub.task_changed(&task_id);
        if lost {
            stop.send_replace(Some(Stop::LeaseLost));
        }
    }
    last_turn
}
