//! How a run draws on its key's token budget.

use super::workers::Queue;
use crate::store::{Fence, RunTokens};

impl Queue {
    /// The run's hold on its key's token budget, if the key has one (or cannot be
    /// read: each request then asks the database, and the budget fails closed).
    pub(super) async fn run_tokens(&self, task_id: &str, key_id: &str, fence: &Fence) -> Option<RunTokens> {
        let budgeted = match self.store.key(key_id).await {
            Ok(Some(key)) => crate::budget::Budgets::of_key(&key).has_tokens(),
            Ok(None) => false,
            Err(e) => {
                tracing::warn!(key_id, error = %e, "cannot read the key's token budget; each model request will ask");
                true
            }
        };
        budgeted.then(|| RunTokens::new(self.store.clone(), task_id, fence, key_id))
    }
}
