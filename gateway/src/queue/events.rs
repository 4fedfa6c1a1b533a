//! Writing a run's events: batched, through the result plugins' filter, fenced.

use std::sync::Arc;
use std::time::Duration;

use serde_json::json;
use tokio::sync::{mpsc, watch};

use super::hub::Hub;
use crate::plugins::{Plugins, TaskFacts};
use crate::runner::{RunnerMessage, Stop};
use crate::store::{EventRecord, Fence, Store};
use crate::task::TaskStatus;

/// Writes a run's events in batches, fenced; a fenced-out write means the lease is
/// lost. Returns the last turn a message sent into the run began, if any.
pub(super) async fn write_events(
    store: Store,
    hub: Arc<Hub>,
    task_id: String,
    fence: Fence,
    mut messages: mpsc::UnboundedReceiver<RunnerMessage>,
    stop: watch::Sender<Option<Stop>>,
    filter: Option<(Arc<Plugins>, TaskFacts)>,
) -> Option<i32> {
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
        let mut lost = false;
        for attempt in 0..5u32 {
            match store.append_events(&task_id, Some(&fence), &batch).await {
                Ok(Some(_)) => break,
                Ok(None) => {
                    lost = true;
                    break;
                }
                Err(e) => {
                    tracing::error!(task_id = %task_id, error = %e, attempt, "could not store events; retrying");
                    tokio::time::sleep(Duration::from_millis(100 << attempt)).await;
                }
            }
        }
        if let Some(session) = session
            && let Err(e) = store.set_session(&task_id, &fence, &session).await
        {
            tracing::error!(task_id = %task_id, error = %e, "could not store the session id");
        }
        if let Some(turn) = started.filter(|_| !lost) {
            match store.begin_turn(&task_id, &fence, turn).await {
                Ok(_) => last_turn = Some(turn),
                Err(e) => tracing::error!(task_id = %task_id, error = %e, turn, "could not record a turn's start"),
            }
        }
        batch.clear();
        hub.task_changed(&task_id);
        if lost {
            stop.send_replace(Some(Stop::LeaseLost));
        }
    }
    last_turn
}
