//! Wake-ups inside one gateway node: what follows a task (its event feed, its run's
//! lease keeper, a wait for it to finish) and idle workers. On PostgreSQL the hub
//! also tells the other nodes (`cluster`); without that, followers and workers poll
//! the database, so a change written by another node is still seen within a poll.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock, Weak};

use tokio::sync::Notify;

use super::cluster::{Change, Publisher};

#[derive(Default)]
pub struct Hub {
    tasks: Mutex<HashMap<String, Weak<Notify>>>,
    queue: Notify,
    /// The other nodes, once joined.
    cluster: OnceLock<Arc<Publisher>>,
}

impl Hub {
    /// A handle that is notified whenever the task changes; keep it while following.
    pub fn follow(&self, task_id: &str) -> Arc<Notify> {
        let mut tasks = self.tasks.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(existing) = tasks.get(task_id).and_then(Weak::upgrade) {
            return existing;
        }
        if tasks.len() > 1024 {
            tasks.retain(|_, weak| weak.strong_count() > 0);
        }
        let notify = Arc::new(Notify::new());
        tasks.insert(task_id.to_string(), Arc::downgrade(&notify));
        notify
    }

    /// A task changed (new events, new status, a cancel request): wakes what
    /// follows it here and on the other nodes.
    pub fn task_changed(&self, task_id: &str) {
        self.wake_task(task_id);
        self.publish(Change::Task(task_id.to_string()));
    }

    /// There is something to claim: wakes one idle worker here and one on each
    /// other node.
    pub fn work_queued(&self) {
        self.wake_worker();
        self.publish(Change::WorkQueued);
    }

    /// A worker that claimed something passes its wake-up on to another worker
    /// of this node, in case there is more.
    pub(crate) fn pass_work_on(&self) {
        self.wake_worker();
    }

    pub(crate) async fn wait_for_work(&self) {
        self.queue.notified().await;
    }

    /// Joins the other nodes; `false` if it had already.
    pub(super) fn connect(&self, publisher: Arc<Publisher>) -> bool {
        self.cluster.set(publisher).is_ok()
    }

    pub(super) fn wake_task(&self, task_id: &str) {
        let tasks = self.tasks.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(notify) = tasks.get(task_id).and_then(Weak::upgrade) {
            notify.notify_waiters();
        }
    }

    pub(super) fn wake_worker(&self) {
        self.queue.notify_one();
    }

    /// Wakes every follower and idle worker: changes may have been missed.
    pub(super) fn wake_everything(&self) {
        let tasks = self.tasks.lock().unwrap_or_else(|p| p.into_inner());
        for notify in tasks.values().filter_map(Weak::upgrade) {
            notify.notify_waiters();
        }
        self.queue.notify_waiters();
        self.queue.notify_one();
    }

    fn publish(&self, change: Change) {
        if let Some(cluster) = self.cluster.get() {
            cluster.publish(change);
        }
    }
}
