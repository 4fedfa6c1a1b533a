//! Wake-ups inside one gateway node: what follows a task (its event feed, a wait
//! for it to finish), a run's lease keeper waiting for a cancel, and idle workers.
//! On PostgreSQL the hub also tells the other nodes (`cluster`); without that,
//! followers, lease keepers and workers poll the database, so a change written by
//! another node is still seen within a poll.

use std::sync::{Arc, OnceLock};

use tokio::sync::Notify;

use super::by_task::ByTask;
use super::cluster::{Change, Publisher};

#[derive(Default)]
pub struct Hub {
    /// New events, a new status.
    tasks: Waiters,
    /// A cancel request: kept apart so that a run's lease keeper is not woken by
    /// every batch of its own events.
    cancels: Waiters,
    queue: Notify,
    /// The other nodes, once joined.
    cluster: OnceLock<Arc<Publisher>>,
}

impl Hub {
    /// A handle that is notified whenever the task changes; keep it while following.
    pub fn follow(&self, task_id: &str) -> Arc<Notify> {
        self.tasks.follow(task_id)
    }

    /// A handle that is notified when a cancel of the task is asked for.
    pub fn follow_cancel(&self, task_id: &str) -> Arc<Notify> {
        self.cancels.follow(task_id)
    }

    /// A task changed (new events, new status): wakes what follows it here and on
    /// the other nodes.
    pub fn task_changed(&self, task_id: &str) {
        self.wake_task(task_id);
        self.publish(Change::Task(task_id.to_string()));
    }

    /// A cancel of a running task was stored: wakes its lease keeper, here or on
    /// the node that runs it.
    pub fn cancel_requested(&self, task_id: &str) {
        self.wake_cancel(task_id);
        self.publish(Change::Cancel(task_id.to_string()));
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
        self.tasks.wake(task_id);
    }

    pub(super) fn wake_cancel(&self, task_id: &str) {
        self.cancels.wake(task_id);
    }

    pub(super) fn wake_worker(&self) {
        self.queue.notify_one();
    }

    /// Wakes every follower, lease keeper and idle worker: changes may have been missed.
    pub(super) fn wake_everything(&self) {
        self.tasks.wake_all();
        self.cancels.wake_all();
        self.queue.notify_waiters();
        self.queue.notify_one();
    }

    fn publish(&self, change: Change) {
        if let Some(cluster) = self.cluster.get() {
            cluster.publish(change);
        }
    }
}

/// Wake-ups by task id.
#[derive(Default)]
struct Waiters(ByTask<Notify>);

impl Waiters {
    fn follow(&self, task_id: &str) -> Arc<Notify> {
        self.0.get_or_insert(task_id, || Arc::new(Notify::new())).0
    }

    fn wake(&self, task_id: &str) {
        if let Some(notify) = self.0.get(task_id) {
            notify.notify_waiters();
        }
    }

    fn wake_all(&self) {
        for notify in self.0.live() {
            notify.notify_waiters();
        }
    }
}
