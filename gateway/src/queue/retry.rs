//! A transient failure: the task back in the queue after a backoff, while
//! attempts remain.

use serde_json::json;

use super::workers::Queue;
use crate::store::{EventRecord, Fence, RetryRun, RunCost};

impl Queue {
    /// Re-queues the task after a transient failure if attempts are left; says
    /// whether it did.
    pub(super) async fn retry_later(
        &self,
        task: &crate::store::entities::task::Model,
        fence: &Fence,
        reason: &str,
        not_before: Option<i64>,
        continue_turn: bool,
        cost: Option<RunCost>,
    ) -> bool {
        let max_attempts = self.config.max_attempts as i32;
        if fence.attempt >= max_attempts || self.shutdown.is_triggered() || self.cancel_was_requested(&task.id).await {
            return false;
        }
        let schedule = &self.config.retry_backoff_seconds;
        let backoff = schedule.get(fence.attempt as usize - 1).or(schedule.last()).copied().unwrap_or(5);
        let now = crate::timestamp::now_ms();
        let at = retry_at(now, backoff, not_before, self.config.max_retry_wait_seconds);
        let seconds = (at - now + 999) / 1000;
        let notice = format!(
            "transient failure: {reason}; retrying in {seconds} s (attempt {} of {max_attempts})",
            fence.attempt + 1
        );
        let events = [
            crate::runner::gateway_notice(&notice),
            EventRecord::new("status", json!({"status": "queued", "attempt": fence.attempt, "retry": reason})),
        ];
        let retry =
            RetryRun { turn: task.current_turn, not_before: at, continue_turn, cost: cost.as_ref(), events: &events };
        match self.store.retry_run(&task.id, fence, retry).await {
            Ok(changed) => {
                tracing::info!(task_id = %task.id, reason, seconds, "transient failure; task re-queued");
                changed
            }
            Err(e) => {
                tracing::error!(task_id = %task.id, error = %e, "could not re-queue a task for a retry");
                false
            }
        }
    }
}

/// When a retry runs: the later of the backoff and what the API asked for (as
/// the run reported it: a rate limit's reset, `Retry-After`), but never more than
/// `max_wait_seconds` away (a run cannot push its own retry out for good).
pub(super) fn retry_at(now: i64, backoff_seconds: u64, not_before: Option<i64>, max_wait_seconds: u64) -> i64 {
    let seconds = |s: u64| i64::try_from(s.saturating_mul(1000)).unwrap_or(i64::MAX);
    let latest = now.saturating_add(seconds(max_wait_seconds));
    now.saturating_add(seconds(backoff_seconds)).max(not_before.unwrap_or(0)).min(latest)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_retry_waits_what_the_api_asked_but_no_longer_than_the_cap() {
        let now = 1_000_000;
        assert_eq!(retry_at(now, 5, None, 3600), now + 5_000, "the backoff");
        assert_eq!(retry_at(now, 5, Some(now + 60_000), 3600), now + 60_000, "the API's own word");
        assert_eq!(retry_at(now, 5, Some(now + 100 * 3_600_000), 3600), now + 3_600_000, "a forged reset is capped");
        assert_eq!(retry_at(now, 5, Some(i64::MAX), u64::MAX), i64::MAX, "no overflow");
    }
}
