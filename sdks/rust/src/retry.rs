//! Which refusals are retried, and after how long: pure, so the client's loop only
//! sends and sleeps.

use std::time::Duration;

/// Retries of 429 and 503: after `Retry-After` when the gateway sends it, else with
/// exponential backoff from `base_delay`; never a wait longer than `max_wait` (a longer
/// `Retry-After` is returned as the error at once, for the caller to decide).
#[derive(Clone, Debug, PartialEq)]
pub struct RetryPolicy {
    pub max_retries: u32,
    pub max_wait: Duration,
    pub base_delay: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        Self { max_retries: 3, max_wait: Duration::from_secs(60), base_delay: Duration::from_millis(500) }
    }
}

impl RetryPolicy {
    /// No retries: every refusal is returned at once.
    pub fn none() -> Self {
        Self { max_retries: 0, ..Self::default() }
    }

    /// How long to wait before attempt `attempt + 1` (`attempt` counts from 0), or
    /// `None` to give up.
    pub fn delay(&self, status: u16, retry_after: Option<Duration>, attempt: u32) -> Option<Duration> {
        if !matches!(status, 429 | 503) || attempt >= self.max_retries {
            return None;
        }
        let wait = retry_after.unwrap_or_else(|| self.base_delay.saturating_mul(2u32.saturating_pow(attempt)));
        (wait <= self.max_wait).then_some(wait)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_429_and_503_are_retried() {
        let policy = RetryPolicy::default();
        for status in [400, 404, 409, 422, 500, 502] {
            assert_eq!(policy.delay(status, Some(Duration::from_secs(1)), 0), None, "{status}");
        }
        assert_eq!(policy.delay(429, Some(Duration::from_secs(2)), 0), Some(Duration::from_secs(2)));
        assert_eq!(policy.delay(503, None, 0), Some(Duration::from_millis(500)));
    }

    #[test]
    fn retry_after_wins_over_the_backoff_which_doubles() {
        let policy = RetryPolicy::default();
        let backoff: Vec<_> = (0..3).map(|n| policy.delay(429, None, n)).collect();
        assert_eq!(backoff, [500, 1000, 2000].map(|ms| Some(Duration::from_millis(ms))));
        assert_eq!(policy.delay(429, Some(Duration::from_secs(9)), 2), Some(Duration::from_secs(9)));
    }

    #[test]
    fn gives_up_after_max_retries_or_a_wait_past_max_wait() {
        let policy = RetryPolicy::default();
        assert_eq!(policy.delay(429, None, 3), None);
        assert_eq!(policy.delay(429, Some(Duration::from_secs(61)), 0), None);
        assert_eq!(policy.delay(429, Some(Duration::from_secs(60)), 0), Some(Duration::from_secs(60)));
        assert_eq!(RetryPolicy::none().delay(429, Some(Duration::from_secs(1)), 0), None);
    }
}
