//! Live event feeds: one per task followed on this node, shared by all its
//! followers (SSE streams). A single pump reads the task's new events from the
//! database when a run writes some (a `Hub` wake-up, from this node or another
//! one on PostgreSQL), or every `queue.poll_interval_ms` in case a wake-up was
//! missed, and broadcasts them already rendered; a follower reads the database
//! itself only to replay what came before it joined, or after it fell behind. A
//! thousand followers of one quiet task cost one query a poll, not two thousand.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Weak};
use std::time::Duration;

use tokio::sync::broadcast;

use super::Hub;
use super::by_task::ByTask;
use crate::store::{Store, StoredEvent};

/// Batches of events a follower may fall behind by before it replays from the
/// database instead.
const CAPACITY: usize = 64;
/// Events read at once.
const PAGE: u64 = 500;

/// One event, rendered once for every follower.
#[derive(Debug, Clone, PartialEq)]
pub struct FeedEvent {
    pub seq: i64,
    pub event_type: String,
    /// `StoredEvent::to_json`, as text.
    pub data: String,
}

impl From<&StoredEvent> for FeedEvent {
    fn from(event: &StoredEvent) -> Self {
        Self { seq: event.seq, event_type: event.event_type.clone(), data: event.to_json().to_string() }
    }
}

/// What a feed broadcasts.
#[derive(Debug, Clone)]
pub enum FeedItem {
    /// New events, in order.
    Events(Arc<[FeedEvent]>),
    /// The task is finished and every one of its events was sent.
    Finished,
}

/// A task's live feed; followers hold it, and its pump stops when none does.
pub struct Feed {
    sender: broadcast::Sender<FeedItem>,
    finished: AtomicBool,
}

impl Feed {
    /// Items from now on. Subscribe before replaying from the database, so that
    /// nothing falls between the two.
    pub fn subscribe(&self) -> broadcast::Receiver<FeedItem> {
        self.sender.subscribe()
    }

    /// Whether the task was seen finished with all its events sent: a follower
    /// that joined after the `Finished` item ends once it has replayed.
    pub fn is_finished(&self) -> bool {
        self.finished.load(Ordering::Acquire)
    }
}

/// This node's feeds, by task.
pub struct Feeds {
    store: Store,
    hub: Arc<Hub>,
    /// How often a pump looks for events written by another node.
    poll: Duration,
    feeds: ByTask<Feed>,
}

impl Feeds {
    pub fn new(store: Store, hub: Arc<Hub>, poll: Duration) -> Self {
        Self { store, hub, poll, feeds: ByTask::default() }
    }

    /// The task's feed, started if no one follows the task yet: it carries every
    /// event stored after it is returned.
    pub async fn follow(&self, task_id: &str) -> Arc<Feed> {
        if let Some(feed) = self.feeds.get(task_id) {
            return feed;
        }
        // Followers replay what is stored; a new feed starts after it.
        let last = match self.store.task(task_id).await {
            Ok(task) => task.map(|task| task.event_seq),
            Err(e) => {
                tracing::warn!(error = %e, task = %task_id, "cannot start an event feed where the task is");
                Some(0) // followers skip what they replayed
            }
        };
        let (feed, made) = self.feeds.get_or_insert(task_id, || {
            Arc::new(Feed { sender: broadcast::channel(CAPACITY).0, finished: AtomicBool::new(false) })
        });
        if !made {
            return feed; // another follower started one meanwhile
        }
        let pump =
            Pump { store: self.store.clone(), hub: self.hub.clone(), task_id: task_id.to_string(), poll: self.poll };
        match last {
            Some(last) => drop(tokio::spawn(pump.run(Arc::downgrade(&feed), last))),
            None => Pump::finish(&Arc::downgrade(&feed)), // no such task: nothing will come
        }
        feed
    }
}

struct Pump {
    store: Store,
    hub: Arc<Hub>,
    task_id: String,
    poll: Duration,
}

impl Pump {
    async fn run(self, feed: Weak<Feed>, mut last: i64) {
        let wake = self.hub.follow(&self.task_id);
        loop {
            let woken = wake.notified();
            tokio::pin!(woken);
            woken.as_mut().enable();
            let Some(live) = feed.upgrade() else { return };
            match self.send_new(&live, &mut last).await {
                Ok(true) => continue,
                Ok(false) => {}
                Err(e) => tracing::warn!(error = %e, task = %self.task_id, "reading events for a feed failed"),
            }
            // Nothing new. A task's final events are written with its final status,
            // so once it reads finished, one more read gets whatever came with it.
            match self.store.task(&self.task_id).await {
                Ok(Some(task)) if task.status.is_terminal() => {
                    while let Ok(true) = self.send_new(&live, &mut last).await {}
                    return Self::finish(&feed);
                }
                Ok(None) => return Self::finish(&feed),
                Ok(Some(_)) | Err(_) => {}
            }
            drop(live);
            tokio::select! {
                () = woken => {}
                () = tokio::time::sleep(self.poll) => {}
            }
        }
    }

    /// Broadcasts the events after `last`; whether there were any.
    async fn send_new(&self, feed: &Feed, last: &mut i64) -> Result<bool, crate::store::StoreError> {
        let events = self.store.events_after(&self.task_id, *last, PAGE).await?;
        let Some(newest) = events.last() else { return Ok(false) };
        *last = newest.seq;
        let rendered: Arc<[FeedEvent]> = events.iter().map(FeedEvent::from).collect();
        // No receiver is not an error: a follower may be between replays.
        let _ = feed.sender.send(FeedItem::Events(rendered));
        Ok(true)
    }

    fn finish(feed: &Weak<Feed>) {
        if let Some(feed) = feed.upgrade() {
            feed.finished.store(true, Ordering::Release);
            let _ = feed.sender.send(FeedItem::Finished);
        }
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use serde_json::json;
    use tokio::time::timeout;

    use super::*;
    use crate::store::tests::{key, store, task};
    use crate::store::{AuditEntry, EventRecord};
    use crate::task::{ErrorKind, TaskError};

    async fn next(items: &mut broadcast::Receiver<FeedItem>) -> FeedItem {
        timeout(Duration::from_secs(10), items.recv()).await.expect("an item in time").expect("an item")
    }

    fn seqs(item: &FeedItem) -> Vec<i64> {
        match item {
            FeedItem::Events(events) => events.iter().map(|e| e.seq).collect(),
            FeedItem::Finished => Vec::new(),
        }
    }

    #[tokio::test]
    async fn followers_share_one_feed_that_carries_new_events_rendered_then_the_end() {
        let (store, _db) = store().await;
        let key = key(&store, 1).await;
        let id = task(&store, &key, 0).await;
        let hub = Arc::new(Hub::default());
        let feeds = Feeds::new(store.clone(), hub.clone(), Duration::from_secs(1));
        let feed = feeds.follow(&id).await;
        assert!(Arc::ptr_eq(&feed, &feeds.follow(&id).await), "one feed per task on a node");
        let (mut first, mut second) = (feed.subscribe(), feed.subscribe());
        let before = store.task(&id).await.unwrap().unwrap().event_seq;

        store.append_events(&id, None, &[EventRecord::new("log", json!({"line": "hi"}))]).await.unwrap();
        hub.task_changed(&id);
        let item = next(&mut first).await;
        assert_eq!(seqs(&item), [before + 1], "only what came after the feed started");
        let FeedItem::Events(events) = &item else { unreachable!() };
        assert_eq!(events[0].event_type, "log");
        let data: serde_json::Value = serde_json::from_str(&events[0].data).unwrap();
        assert_eq!((data["seq"].as_i64(), data["line"].as_str()), (Some(before + 1), Some("hi")));
        assert_eq!(seqs(&next(&mut second).await), [before + 1], "the same batch for every follower");

        // The final status and its events are written together: sent, then the end.
        let error = TaskError::new(ErrorKind::Cancelled, "cancelled");
        let events = [EventRecord::new("status", json!({"status": "cancelled"}))];
        assert!(store.cancel_queued(&id, error, &events, AuditEntry::new("task.cancel", "ok")).await.unwrap());
        hub.task_changed(&id);
        assert_eq!(seqs(&next(&mut first).await), [before + 2]);
        assert!(matches!(next(&mut first).await, FeedItem::Finished));
        assert!(feed.is_finished());
    }

    #[tokio::test]
    async fn events_written_elsewhere_arrive_without_a_wake_up_and_a_finished_task_ends_at_once() {
        let (store, _db) = store().await;
        let key = key(&store, 1).await;
        let id = task(&store, &key, 0).await;
        let feeds = Feeds::new(store.clone(), Arc::new(Hub::default()), Duration::from_secs(1));
        let feed = feeds.follow(&id).await;
        let mut items = feed.subscribe();
        // Another node's run: no wake-up on this node's hub.
        let seq = store.append_events(&id, None, &[EventRecord::new("log", json!({}))]).await.unwrap().unwrap();
        assert_eq!(seqs(&next(&mut items).await), [seq], "seen by the pump's poll");

        let error = TaskError::new(ErrorKind::Cancelled, "cancelled");
        store.cancel_queued(&id, error, &[], AuditEntry::new("task.cancel", "ok")).await.unwrap();
        assert!(matches!(next(&mut items).await, FeedItem::Finished));
        drop((feed, items));
        // A follower of the finished task gets a feed that has ended already.
        let late = feeds.follow(&id).await;
        timeout(Duration::from_secs(10), async {
            while !late.is_finished() {
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
        })
        .await
        .expect("ended");
        assert!(feeds.follow("tsk_missing").await.is_finished(), "no such task: nothing will come");
    }
}
