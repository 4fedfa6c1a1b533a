//! Wake-ups inside one gateway node: what follows a task (its event feed, a wait
//! for it to finish) and idle workers. Followers also poll the database, so a
//! change written by another node is seen within a second even without a wake-up.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, Weak};

use tokio::sync::Notify;

#[derive(Default)]
pub struct Hub {
    tasks: Mutex<HashMap<String, Weak<Notify>>>,
    queue: Notify,
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

    /// Wakes the followers of a task (new events, new status).
    pub fn task_changed(&self, task_id: &str) {
        let tasks = self.tasks.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(notify) = tasks.get(task_id).and_then(Weak::upgrade) {
            notify.notify_waiters();
        }
    }

    /// Wakes one idle worker: there is something to claim.
    pub fn work_queued(&self) {
        self.queue.notify_one();
    }

    pub(crate) async fn wait_for_work(&self) {
        self.queue.notified().await;
    }
}
