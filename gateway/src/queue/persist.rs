//! A run's writes through a database outage: a run goes on while the database is
//! away (its CLI needs nothing from it), so what it records (events, its turn, its
//! outcome) is retried with a backoff until the database returns, for at most
//! `queue.database_outage_seconds`. Other errors get a few quick tries, as a lock or
//! a hiccup would.

use std::future::Future;
use std::time::Duration;

use tokio::time::Instant;

use crate::store::StoreError;

/// Tries of a write that fails for another reason than an unreachable database.
const QUICK_TRIES: u32 = 5;
/// The longest wait between two tries.
const MAX_DELAY: Duration = Duration::from_secs(5);

/// Runs `write` until it succeeds, retrying as [`next_try`] says; the last error
/// when it gives up. `what` and `task_id` name the write in the log.
pub(super) async fn persist<T, F, Fut>(
    outage_limit: Duration,
    task_id: &str,
    what: &'static str,
    mut write: F,
) -> Result<T, StoreError>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, StoreError>>,
{
    let started = Instant::now();
    let mut attempt = 0u32;
    loop {
        match write().await {
            Ok(value) => {
                if attempt > 0 {
                    tracing::info!(
                        task_id,
                        what,
                        attempt,
                        waited_ms = started.elapsed().as_millis() as u64,
                        "stored after retrying"
                    );
                }
                return Ok(value);
            }
            Err(e) => {
                let unavailable = e.is_unavailable();
                let Some(delay) = next_try(unavailable, attempt, started.elapsed(), outage_limit) else {
                    tracing::error!(task_id, what, error = %e, attempt, "could not store; giving up");
                    return Err(e);
                };
                if unavailable {
                    tracing::warn!(task_id, what, error = %e, attempt, "the database is unavailable; retrying");
                } else {
                    tracing::error!(task_id, what, error = %e, attempt, "could not store; retrying");
                }
                tokio::time::sleep(delay).await;
                attempt += 1;
            }
        }
    }
}

/// Whether a write that failed on try `attempt` (from 0), `elapsed` after its first
/// try, is tried again, and after how long: 200 ms doubling up to [`MAX_DELAY`];
/// while the database is unavailable until `outage_limit` would be passed, else
/// [`QUICK_TRIES`] times in all.
pub(super) fn next_try(unavailable: bool, attempt: u32, elapsed: Duration, outage_limit: Duration) -> Option<Duration> {
    let delay = Duration::from_millis(200u64.saturating_mul(1 << attempt.min(10))).min(MAX_DELAY);
    let more = if unavailable { elapsed + delay <= outage_limit } else { attempt + 1 < QUICK_TRIES };
    more.then_some(delay)
}

#[cfg(test)]
mod tests {
    use super::*;

    const LIMIT: Duration = Duration::from_secs(60);

    #[test]
    fn an_unreachable_database_is_waited_for_with_a_capped_backoff_until_the_limit() {
        let delays: Vec<_> =
            (0..8).map(|attempt| next_try(true, attempt, Duration::ZERO, LIMIT).map(|d| d.as_millis())).collect();
        let expected = [200, 400, 800, 1600, 3200, 5000, 5000, 5000].map(Some);
        assert_eq!(delays, expected);
        assert_eq!(next_try(true, 40, Duration::from_secs(50), LIMIT), Some(MAX_DELAY), "no overflow, still capped");
        assert_eq!(next_try(true, 40, Duration::from_secs(56), LIMIT), None, "the next try would pass the limit");
        assert_eq!(next_try(true, 0, Duration::ZERO, Duration::ZERO), None, "a limit of 0 waits for nothing");
    }

    #[test]
    fn other_errors_get_a_few_quick_tries_whatever_the_limit() {
        let tries = (0..20).take_while(|&attempt| next_try(false, attempt, Duration::ZERO, LIMIT).is_some()).count();
        assert_eq!(tries as u32, QUICK_TRIES - 1, "retries after the first try");
    }
}
