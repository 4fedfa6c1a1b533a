//! The token allowance a run gets from its key's token budget.

use super::workers::Queue;
use crate::sandbox::KeyTokens;

impl Queue {
    /// What the key's token budget leaves for this run, if it has one. When the
    /// database cannot say, nothing is left (the budget fails closed).
    pub(super) async fn tokens_left(&self, key_id: &str) -> Option<KeyTokens> {
        let now = crate::timestamp::now_ms();
        let (key, spend) = match self.store.key(key_id).await {
            Ok(Some(key)) => {
                let spend = self.store.spend(key_id, now).await;
                (key, spend)
            }
            Ok(None) => return None,
            Err(e) => {
                tracing::error!(key_id, error = %e, "cannot read the key's token budget; its run gets none");
                let stamp = format!("unknown {now}");
                return Some(KeyTokens { key_id: key_id.to_string(), left: 0, stamp });
            }
        };
        let budgets = crate::budget::Budgets::of_key(&key);
        if !budgets.has_tokens() {
            return None;
        }
        let stamp =
            format!("{} {:?} {:?}", crate::budget::day_of(now), budgets.tokens_per_day, budgets.tokens_per_month);
        let left = match spend {
            Ok(spend) => spend.tokens_left(&budgets)?,
            Err(e) => {
                tracing::error!(key_id, error = %e, "cannot read the key's spending; its run gets no tokens");
                0
            }
        };
        Some(KeyTokens { key_id: key_id.to_string(), left, stamp })
    }
}
