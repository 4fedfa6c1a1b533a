//! A transient failure: the task back in the queue after a backoff, while
//! attempts remain.

use serde_json::json;

use super::persist::persist;
use super::workers::Queue;
use crate::store::{EventRecord, Fence, RetryRun, RunCost};
use crate::task::TaskStatus;

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
        if !may_retry(fence.attempt, max_attempts, self.shutdown.is_triggered())
            || self.cancel_was_requested(&task.id).await
        {
            return false;
        }
        let backoff = backoff_seconds(&self.config.retry_backoff_seconds, fence.attempt);
        let now = crate::timestamp::now_ms();
        let at = retry_at(now, backoff, not_before, self.config.max_retry_wait_seconds);
        let seconds = (at - now + 999) / 1000;
        let notice = format!(
            "transient failure: {reason}; retrying in {seconds} s (attempt {} of {max_attempts})",
            fence.attempt + 1
        );
        let events = [
            crate::runner::gateway_notice(&notice),
            EventRecord::new(
                "status",
                json!({"status": TaskStatus::Queued, "attempt": fence.attempt, "retry": reason}),
            ),
        ];
        let retry =
            RetryRun { turn: task.current_turn, not_before: at, continue_turn, cost: cost.as_ref(), events: &events };
        let stored =
            persist(self.outage_limit(), &task.id, "a retry", || self.store.retry_run(&task.id, fence, retry)).await;
        match stored {
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

/// Whether a run that failed transiently on `attempt` (counted from 1) is tried
/// again: while attempts remain, and not while the gateway drains (a cancel asked
/// meanwhile stops it too; the caller checks that last, as it costs a query).
pub(super) fn may_retry(attempt: i32, max_attempts: i32, draining: bool) -> bool {
    attempt < max_attempts && !draining
}

/// The backoff after `attempt` (counted from 1): its entry in the schedule, the
/// last entry past its end, 5 s for an empty schedule.
pub(super) fn backoff_seconds(schedule: &[u64], attempt: i32) -> u64 {
    let index = usize::try_from(attempt.saturating_sub(1)).unwrap_or(0);
    schedule.get(index).or(schedule.last()).copied().unwrap_or(5)
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
    fn transient_failures_are_retried_while_attempts_remain_and_not_while_draining() {
        let rows =
            [(1, 3, false, true), (2, 3, false, true), (3, 3, false, false), (4, 3, false, false), (1, 3, true, false)];
        for (attempt, max, draining, retried) in rows {
            assert_eq!(may_retry(attempt, max, draining), retried, "attempt {attempt} of {max}, draining {draining}");
        }
    }

    #[test]
    fn the_backoff_follows_the_schedule_then_keeps_its_last_step() {
        let schedule = [5, 30, 120];
        let backoffs: Vec<u64> = (0..=5).map(|attempt| backoff_seconds(&schedule, attempt)).collect();
        assert_eq!(backoffs, [5, 5, 30, 120, 120, 120]);
        assert_eq!(backoff_seconds(&[], 2), 5);
    }

    #[test]
    fn a_retry_waits_what_the_api_asked_but_no_longer_than_the_cap() {
        let now = 1_000_000;
        assert_eq!(retry_at(now, 5, None, 3600), now + 5_000, "the backoff");
        assert_eq!(retry_at(now, 5, Some(now + 60_000), 3600), now + 60_000, "the API's own word");
        assert_eq!(retry_at(now, 5, Some(now + 100 * 3_600_000), 3600), now + 3_600_000, "a forged reset is capped");
        assert_eq!(retry_at(now, 5, Some(i64::MAX), u64::MAX), i64::MAX, "no overflow");
    }
}
