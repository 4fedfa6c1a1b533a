//! `GET /v1/tasks/{id}/events`: the stored event log as Server-Sent Events, then
//! live events as they are written, until the task is finished. `Last-Event-ID`
//! (or `?after=`) resumes after an event the client already has. Open streams are
//! capped per key and per node, and a stream ends when its key is revoked.

use std::collections::VecDeque;
use std::convert::Infallible;
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::sse::{Event, KeepAlive, Sse};
use futures_util::Stream;
use serde::Deserialize;
use tokio::sync::broadcast::error::RecvError;
use tokio::sync::{broadcast, watch};

use super::AppState;
use super::extract::{Caller, Path, Query};
use super::problem::ApiError;
use super::schema::SseEvent;
use crate::auth::Scope;
use crate::in_flight::{InFlight, Slot};
use crate::queue::{Feed, FeedEvent, FeedItem};
use crate::task::FieldError;

#[derive(Deserialize)]
pub struct EventsQuery {
    after: Option<String>,
}

#[utoipa::path(get, path = "/tasks/{id}/events", operation_id = "streamEvents", tag = "tasks",
    summary = "Stream a task's events",
    description = "Server-Sent Events: the task's stored events from the start (or after `Last-Event-ID` / \
        `after`), then live ones, until the task is finished. Event types: `status`, `system`, `assistant`, \
        `tool_use`, `tool_result`, `approval_requested`, `approval_resolved`, `log`, `result`, `error`. Example: \
        `GET /v1/tasks/tsk_…/events` with `Last-Event-ID: 5` → `id: 6` `event: assistant` `data: \
        {\"seq\":6,\"type\":\"assistant\",…}`.",
    params(
        ("id" = String, Path, description = "Task id"),
        ("after" = Option<i64>, Query, minimum = 0, nullable = false,
            description = "Resume after this event sequence number"),
        ("Last-Event-ID" = Option<String>, Header, pattern = "^[0-9]{1,18}$", nullable = false,
            description = "Resume after this event sequence number (SSE reconnects send it); wins over `after`"),
    ),
    responses((status = 200, description = "The task's events as Server-Sent Events: the log so far, then live \
        events until the task finishes. Each `data` is JSON with `seq`, `type`, `at`, `task_id`.",
        content_type = "text/event-stream", body = SseEvent)))]
pub async fn stream(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    Query(query): Query<EventsQuery>,
    headers: HeaderMap,
) -> Result<Sse<impl Stream<Item = Result<Event, Infallible>>>, ApiError> {
    let principal = caller.require(Scope::Tasks)?;
    state.tasks.owned(principal, &id).await?;
    let slots = StreamSlots::take(&state, &principal.key_id)?;
    // Both are checked; the header, which reconnects send, wins.
    let header = headers.get("last-event-id").map(|v| v.to_str().unwrap_or("\0"));
    let header = sequence_number(header, "/headers/last-event-id")?;
    let after = header.or(sequence_number(query.after.as_deref(), "/query/after")?).unwrap_or(0);
    Ok(Sse::new(follow(state, id, after, slots)).keep_alive(KeepAlive::new().interval(Duration::from_secs(15))))
}

/// An event sequence number given to resume after, if any.
fn sequence_number(text: Option<&str>, pointer: &str) -> Result<Option<i64>, ApiError> {
    let Some(text) = text else { return Ok(None) };
    match text.trim().parse::<i64>() {
        Ok(n) if n >= 0 => Ok(Some(n)),
        _ => Err(ApiError::validation(vec![FieldError::new(pointer, "must be an event sequence number")])),
    }
}

/// How often a stream checks that its key still exists and is not revoked, when no
/// revocation on this node told it sooner.
const KEY_RECHECK: Duration = Duration::from_secs(30);

/// A stream's places in the caps of open streams, per key and for the node; given
/// back when the stream ends or its client goes away.
pub struct StreamSlots {
    key_id: String,
    _key: Slot<String>,
    _node: Slot<()>,
}

impl StreamSlots {
    /// Places for one more stream of `key_id`, or 429 naming the cap that is full.
    pub fn take(state: &AppState, key_id: &str) -> Result<Self, ApiError> {
        let http = &state.config.http;
        let full = |detail: String| {
            ApiError::new(StatusCode::TOO_MANY_REQUESTS, "rate-limited", "Too many event streams", detail)
                .with_retry_after(5)
        };
        let node = state.streams.node.take(&(), http.max_streams).ok_or_else(|| {
            full(format!(
                "this gateway has {} event streams open (the server's cap http.max_streams)",
                http.max_streams
            ))
        })?;
        let key = state.streams.per_key.take(&key_id.to_string(), http.max_streams_per_key).ok_or_else(|| {
            full(format!(
                "this key has {} event streams open (the server's cap http.max_streams_per_key)",
                http.max_streams_per_key
            ))
        })?;
        Ok(Self { key_id: key_id.to_string(), _key: key, _node: node })
    }
}

/// Open event streams: per key, and for the node.
#[derive(Default)]
pub struct OpenStreams {
    per_key: Arc<InFlight<String>>,
    node: Arc<InFlight<()>>,
}

/// A task's events after `after`, as SSE, until the task is finished or its key is revoked.
pub fn follow(
    state: AppState,
    task_id: String,
    after: i64,
    slots: StreamSlots,
) -> impl Stream<Item = Result<Event, Infallible>> {
    let key_changes = state.auth.key_changes();
    let follower = Follower {
        state,
        task_id,
        after,
        buffer: VecDeque::new(),
        feed: None,
        replaying: true,
        slots,
        key_changes,
        key_checked: Instant::now(),
    };
    futures_util::stream::unfold(follower, |mut f| async move {
        let event = f.next().await?;
        Some((Ok(event), f))
    })
}

struct Follower {
    state: AppState,
    task_id: String,
    /// The last event sent.
    after: i64,
    buffer: VecDeque<FeedEvent>,
    /// The task's live feed on this node, shared with its other followers, and
    /// this follower's place in it; joined before the first replay.
    feed: Option<(Arc<Feed>, broadcast::Receiver<FeedItem>)>,
    /// Reading stored events from the database: at the start, after falling
    /// behind the feed, and once the feed says the task is finished.
    replaying: bool,
    slots: StreamSlots,
    /// Bumped whenever this node revokes or changes a key.
    key_changes: watch::Receiver<u64>,
    key_checked: Instant,
}

impl Follower {
    /// The next event, waiting for it if needed; `None` once the task is finished
    /// and every event has been sent.
    async fn next(&mut self) -> Option<Event> {
        if self.feed.is_none() {
            let feed = self.state.tasks.feeds().follow(&self.task_id).await;
            let items = feed.subscribe();
            self.feed = Some((feed, items));
        }
        loop {
            if let Some(event) = self.buffer.pop_front() {
                if event.seq <= self.after {
                    continue; // replayed already
                }
                self.after = event.seq;
                return Some(to_sse(&event));
            }
            if self.replaying {
                match self.state.tasks.events_after(&self.task_id, self.after, 500).await {
                    Ok(events) if !events.is_empty() => {
                        self.buffer.extend(events.iter().map(FeedEvent::from));
                        continue;
                    }
                    Ok(_) => self.replaying = false,
                    Err(e) => {
                        tracing::error!(error = %e, "reading events for a stream failed");
                        return None;
                    }
                }
                // Caught up: the feed carries the rest, unless it has ended.
                if self.feed.as_ref().is_some_and(|(feed, _)| feed.is_finished()) {
                    return None;
                }
            }
            if self.key_checked.elapsed() >= KEY_RECHECK && !self.key_still_valid().await {
                return None;
            }
            let (_, items) = self.feed.as_mut()?;
            tokio::select! {
                item = items.recv() => match item {
                    Ok(FeedItem::Events(events)) => {
                        if events.first().is_some_and(|first| first.seq > self.after + 1) {
                            self.replaying = true; // a gap: what it missed is stored
                        } else {
                            self.buffer.extend(events.iter().cloned());
                        }
                    }
                    // Everything stored by now is all there is.
                    Ok(FeedItem::Finished) | Err(RecvError::Closed) => self.replaying = true,
                    Err(RecvError::Lagged(_)) => self.replaying = true,
                },
                () = tokio::time::sleep(KEY_RECHECK.saturating_sub(self.key_checked.elapsed())) => {}
                // Shutdown ends every stream; clients resume with Last-Event-ID.
                () = self.state.queue.shutdown.cancelled() => return None,
                Ok(()) = self.key_changes.changed() => {
                    if !self.key_still_valid().await {
                        return None;
                    }
                }
            }
        }
    }

    /// Whether the stream's key still exists and is not revoked: a revoked key's
    /// streams end (its client may not resume them).
    async fn key_still_valid(&mut self) -> bool {
        self.key_checked = Instant::now();
        match self.state.keys.active(&self.slots.key_id).await {
            Ok(active) => active.is_some(),
            // A database hiccup does not cut a stream; the next check decides.
            Err(_) => true,
        }
    }
}

fn to_sse(event: &FeedEvent) -> Event {
    Event::default().id(event.seq.to_string()).event(event.event_type.clone()).data(event.data.clone())
}
