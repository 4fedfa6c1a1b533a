//! A claimed task of a key whose budget is spent goes back to the queue until the
//! budget resets.

use serde_json::json;

use super::workers::Queue;
use crate::store::{EventRecord, Fence};
use crate::task::TaskStatus;

impl Queue {
    /// Puts a claimed task back until its key's budget resets, if the key has spent
    /// it (tasks queued before it ran out wait instead of spending more); says
    /// whether it did.
    pub(super) async fn wait_for_budget(&self, task: &crate::store::entities::task::Model, fence: &Fence) -> bool {
        let Ok(Some(key)) = self.store.key(&task.key_id).await else { return false };
        let budgets = crate::budget::Budgets::of_key(&key);
        if budgets.is_empty() {
            return false;
        }
        let now = crate::timestamp::now_ms();
        let Ok(spend) = self.store.spend(&key.id, now).await else { return false };
        // What the key's live runs hold, on every node, counts too.
        let held = self.store.tokens_held(&key.id).await.unwrap_or(0);
        let live_spent = held > 0 && spend.tokens_left(&budgets).is_some_and(|left| left <= held);
        let Some(until) = crate::budget::deferred_until(&spend, &budgets, live_spent, now) else { return false };
        let notice = format!(
            "the key's budget is spent; the task waits until {} when it resets",
            crate::timestamp::format_ms(until)
        );
        let events = [
            crate::runner::gateway_notice(&notice),
            EventRecord::new("status", json!({"status": TaskStatus::Queued, "attempt": fence.attempt - 1})),
        ];
        match self.store.requeue_run(&task.id, fence, task.current_turn, Some(until), None, &events).await {
            Ok(changed) => {
                tracing::info!(task_id = %task.id, until, "key over budget; task deferred");
                self.hub.task_changed(&task.id);
                changed
            }
            Err(e) => {
                tracing::error!(task_id = %task.id, error = %e, "could not defer a task of a key over budget");
                false
            }
        }
    }
}
