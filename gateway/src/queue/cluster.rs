//! Wake-ups across gateway nodes that share a PostgreSQL database. What the `Hub`
//! says on one node (work was queued; a task has new events or a new status; a
//! cancel was asked for) reaches the others through LISTEN/NOTIFY on one channel, so an idle
//! worker elsewhere claims a new task at once, a run elsewhere hears its cancel
//! at once, and followers elsewhere see new events at once. The polls stay as the
//! safety net: notifications sent while a listener reconnects are lost, and then
//! every waiter on the node is woken.

use std::collections::HashSet;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use sea_orm::sqlx::PgPool;
use sea_orm::sqlx::postgres::PgListener;
use tokio::sync::Notify;

use super::Hub;

/// The one channel every node listens on.
const CHANNEL: &str = "ccgate_changes";
/// Distinct changed tasks kept to send at once; past it a node says "everything".
const MAX_PENDING: usize = 10_000;

/// A change one node tells the others of.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Change {
    /// A task was queued (or requeued): an idle worker may claim it.
    WorkQueued,
    /// A task has new events or a new status.
    Task(String),
    /// A cancel of a running task was stored.
    Cancel(String),
    /// Too many changes to list: wake every waiter.
    Everything,
}

impl Change {
    /// The notification's payload: the sending node first, so it ignores its own.
    fn payload(&self, node: &str) -> String {
        match self {
            Self::WorkQueued => format!("{node} queued"),
            Self::Task(id) => format!("{node} task {id}"),
            Self::Cancel(id) => format!("{node} cancel {id}"),
            Self::Everything => format!("{node} everything"),
        }
    }

    /// The change a payload from another node announces; `None` for this node's
    /// own and for what it does not understand (a newer node's kinds).
    fn parse(payload: &str, this_node: &str) -> Option<Self> {
        let (node, rest) = payload.split_once(' ')?;
        if node == this_node {
            return None;
        }
        match rest.split_once(' ') {
            None if rest == "queued" => Some(Self::WorkQueued),
            None if rest == "everything" => Some(Self::Everything),
            Some(("task", id)) if !id.is_empty() => Some(Self::Task(id.to_string())),
            Some(("cancel", id)) if !id.is_empty() => Some(Self::Cancel(id.to_string())),
            _ => None,
        }
    }
}

/// Changes waiting to be sent, coalesced: a task that changed ten times before
/// the sender ran is one notification.
#[derive(Default)]
pub struct Publisher {
    pending: Mutex<Pending>,
    ready: Notify,
}

#[derive(Default)]
struct Pending {
    queued: bool,
    everything: bool,
    tasks: HashSet<String>,
    cancels: HashSet<String>,
}

impl Publisher {
    pub(super) fn publish(&self, change: Change) {
        {
            let mut pending = self.pending.lock().unwrap_or_else(|p| p.into_inner());
            match change {
                Change::WorkQueued => pending.queued = true,
                Change::Everything => pending.everything = true,
                Change::Task(_) | Change::Cancel(_) if pending.tasks.len() + pending.cancels.len() >= MAX_PENDING => {
                    pending.everything = true
                }
                Change::Task(id) => {
                    pending.tasks.insert(id);
                }
                Change::Cancel(id) => {
                    pending.cancels.insert(id);
                }
            }
        }
        self.ready.notify_one();
    }

    fn take(&self) -> Vec<Change> {
        let pending = std::mem::take(&mut *self.pending.lock().unwrap_or_else(|p| p.into_inner()));
        if pending.everything {
            return vec![Change::Everything];
        }
        let queued = pending.queued.then_some(Change::WorkQueued);
        let tasks = pending.tasks.into_iter().map(Change::Task);
        queued.into_iter().chain(tasks).chain(pending.cancels.into_iter().map(Change::Cancel)).collect()
    }

    /// Sends what is pending, whenever something is.
    async fn send_forever(self: Arc<Self>, pool: PgPool, node: String) {
        loop {
            self.ready.notified().await;
            let payloads: Vec<String> = self.take().iter().map(|change| change.payload(&node)).collect();
            if payloads.is_empty() {
                continue;
            }
            let sent = sea_orm::sqlx::query("SELECT pg_notify($1, payload) FROM unnest($2::text[]) AS payload")
                .bind(CHANNEL)
                .bind(&payloads)
                .execute(&pool)
                .await;
            if let Err(e) = sent {
                // The other nodes' polls find the change a little later.
                tracing::warn!(error = %e, "could not notify the other nodes");
            }
        }
    }
}

/// Connects `hub` to the other nodes on `pool`'s database: what it says is sent,
/// what they say wakes its waiters.
pub fn join(hub: &Arc<Hub>, pool: PgPool, node: String) {
    let publisher = Arc::new(Publisher::default());
    if !hub.connect(publisher.clone()) {
        return; // joined already
    }
    tokio::spawn(publisher.send_forever(pool.clone(), node.clone()));
    tokio::spawn(listen_forever(hub.clone(), pool, node));
}

async fn listen_forever(hub: Arc<Hub>, pool: PgPool, node: String) {
    loop {
        let mut listener = match PgListener::connect_with(&pool).await {
            Ok(listener) => listener,
            Err(e) => {
                tracing::warn!(error = %e, "cannot listen for the other nodes' changes; retrying");
                tokio::time::sleep(Duration::from_secs(1)).await;
                continue;
            }
        };
        if let Err(e) = listener.listen(CHANNEL).await {
            tracing::warn!(error = %e, "cannot listen for the other nodes' changes; retrying");
            tokio::time::sleep(Duration::from_secs(1)).await;
            continue;
        }
        // What was sent before this point is not heard: look at everything again.
        hub.wake_everything();
        loop {
            match listener.try_recv().await {
                Ok(Some(notification)) => match Change::parse(notification.payload(), &node) {
                    Some(Change::WorkQueued) => hub.wake_worker(),
                    Some(Change::Task(id)) => hub.wake_task(&id),
                    Some(Change::Cancel(id)) => hub.wake_cancel(&id),
                    Some(Change::Everything) => hub.wake_everything(),
                    None => {}
                },
                // The connection was lost; the next call reconnects.
                Ok(None) => hub.wake_everything(),
                Err(e) => {
                    tracing::warn!(error = %e, "lost the other nodes' changes; reconnecting");
                    tokio::time::sleep(Duration::from_secs(1)).await;
                    break;
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn payloads_name_their_node_and_a_node_ignores_its_own() {
        for change in
            [Change::WorkQueued, Change::Task("tsk_1".into()), Change::Cancel("tsk_1".into()), Change::Everything]
        {
            let payload = change.payload("node_a");
            assert_eq!(Change::parse(&payload, "node_b"), Some(change.clone()), "{payload}");
            assert_eq!(Change::parse(&payload, "node_a"), None, "{payload}");
        }
        for unknown in ["", "node_a", "node_a task", "node_a task ", "node_a drained now"] {
            assert_eq!(Change::parse(unknown, "node_b"), None, "{unknown:?}");
        }
    }

    #[test]
    fn pending_changes_are_sent_once_each_and_too_many_become_everything() {
        let publisher = Publisher::default();
        for _ in 0..3 {
            publisher.publish(Change::Task("tsk_1".into()));
            publisher.publish(Change::Cancel("tsk_1".into()));
            publisher.publish(Change::WorkQueued);
        }
        let sent = publisher.take();
        assert_eq!(sent.len(), 3, "{sent:?}");
        assert!(sent.contains(&Change::WorkQueued) && sent.contains(&Change::Task("tsk_1".into())));
        assert!(sent.contains(&Change::Cancel("tsk_1".into())), "a cancel is not folded into a change");
        assert!(publisher.take().is_empty(), "nothing twice");
        for n in 0..=MAX_PENDING {
            publisher.publish(Change::Task(format!("tsk_{n}")));
        }
        assert_eq!(publisher.take(), [Change::Everything]);
    }
}
