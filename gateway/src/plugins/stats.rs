//! Per-plugin counters, call times and the circuit breaker: after
//! `quarantine_after_failures` failed calls in a row a plugin is quarantined (its
//! calls fail at once, following its `on_error`) for `quarantine_seconds`; then
//! one trial call decides whether it is back.

use std::collections::VecDeque;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Call times kept for the percentiles.
const WINDOW: usize = 1024;

/// How a plugin stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum PluginState {
    Active,
    /// Failing; calls are not made until the quarantine ends.
    Quarantined,
}

/// A snapshot for `GET /v1/plugins`.
#[derive(Debug, Clone, serde::Serialize, utoipa::ToSchema)]
pub struct StatsView {
    pub state: PluginState,
    pub calls: u64,
    pub failures: u64,
    pub p50_ms: Option<f64>,
    pub p99_ms: Option<f64>,
    /// The most recent failure, if any.
    pub last_error: Option<String>,
}

pub struct PluginStats {
    inner: Mutex<Inner>,
    quarantine_after: u32,
    quarantine_for: Duration,
}

#[derive(Default)]
struct Inner {
    calls: u64,
    failures: u64,
    failures_in_a_row: u32,
    quarantined_until: Option<Instant>,
    trial_in_flight: bool,
    times: VecDeque<Duration>,
    last_error: Option<String>,
}

/// Whether a call may go ahead.
#[derive(Debug, PartialEq, Eq)]
pub enum Admission {
    Go,
    /// The quarantine is over: this call is the trial.
    Trial,
    Quarantined,
}

impl PluginStats {
    pub fn new(quarantine_after: u32, quarantine_for: Duration) -> Self {
        Self { inner: Mutex::new(Inner::default()), quarantine_after: quarantine_after.max(1), quarantine_for }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    pub fn admit(&self) -> Admission {
        let mut inner = self.lock();
        match inner.quarantined_until {
            None => Admission::Go,
            Some(until) if Instant::now() < until || inner.trial_in_flight => Admission::Quarantined,
            Some(_) => {
                inner.trial_in_flight = true;
                Admission::Trial
            }
        }
    }

    /// Records a call's outcome (`fault`: a failure the plugin is to blame for);
    /// says whether it put the plugin in quarantine. Only the trial call ends a
    /// quarantine; a call admitted before it began does not.
    pub fn record(&self, admission: &Admission, took: Duration, error: Option<&str>, fault: bool) -> bool {
        let mut inner = self.lock();
        let trial = *admission == Admission::Trial;
        if trial {
            inner.trial_in_flight = false;
        }
        inner.calls += 1;
        if inner.times.len() == WINDOW {
            inner.times.pop_front();
        }
        inner.times.push_back(took);
        if let Some(error) = error {
            inner.failures += 1;
            inner.last_error = Some(error.to_string());
        }
        match (error, fault) {
            (None, _) => {
                inner.failures_in_a_row = 0;
                if trial || inner.quarantined_until.is_none() {
                    inner.quarantined_until = None;
                }
                false
            }
            // Not the plugin's doing (the host could not start the call).
            (Some(_), false) => false,
            (Some(_), true) => {
                inner.failures_in_a_row += 1;
                let quarantine =
                    trial || (inner.quarantined_until.is_none() && inner.failures_in_a_row >= self.quarantine_after);
                if quarantine {
                    inner.quarantined_until = Some(Instant::now() + self.quarantine_for);
                }
                quarantine
            }
        }
    }

    /// Counts a call refused by the quarantine.
    pub fn record_refused(&self) {
        let mut inner = self.lock();
        inner.failures += 1;
    }

    pub fn view(&self) -> StatsView {
        let inner = self.lock();
        let mut times: Vec<Duration> = inner.times.iter().copied().collect();
        times.sort_unstable();
        let percentile = |p: f64| {
            (!times.is_empty()).then(|| {
                let index = ((times.len() as f64 * p).ceil() as usize).clamp(1, times.len()) - 1;
                (times[index].as_secs_f64() * 1e6).round() / 1e3
            })
        };
        StatsView {
            state: if inner.quarantined_until.is_some() { PluginState::Quarantined } else { PluginState::Active },
            calls: inner.calls,
            failures: inner.failures,
            p50_ms: percentile(0.5),
            p99_ms: percentile(0.99),
            last_error: inner.last_error.clone(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn failures_in_a_row_quarantine_then_a_trial_decides() {
        let stats = PluginStats::new(2, Duration::ZERO);
        let ms = Duration::from_millis(1);
        assert_eq!(stats.admit(), Admission::Go);
        assert!(!stats.record(&Admission::Go, ms, Some("could not start"), false), "the host's failure is not counted");
        assert!(!stats.record(&Admission::Go, ms, Some("trap"), true));
        // A call admitted before the quarantine: its success does not hide the failures.
        let late = stats.admit();
        assert!(stats.record(&Admission::Go, ms, Some("trap"), true), "the second failure in a row quarantines");
        assert_eq!(stats.view().state, PluginState::Quarantined);
        assert!(!stats.record(&late, ms, None, false));
        assert_eq!(stats.view().state, PluginState::Quarantined, "only the trial ends a quarantine");
        // The quarantine (zero seconds here) is over: one trial, others wait for it.
        let trial = stats.admit();
        assert_eq!(trial, Admission::Trial);
        assert_eq!(stats.admit(), Admission::Quarantined);
        assert!(stats.record(&trial, ms, Some("trap"), true), "a failed trial quarantines again");
        let trial = stats.admit();
        assert_eq!(trial, Admission::Trial);
        assert!(!stats.record(&trial, ms, None, false));
        assert_eq!(stats.view().state, PluginState::Active);
        assert_eq!(stats.admit(), Admission::Go);
        let view = stats.view();
        assert_eq!((view.calls, view.failures), (6, 4));
    }

    #[test]
    fn percentiles_come_from_recent_calls() {
        let stats = PluginStats::new(5, Duration::from_secs(30));
        for ms in 1..=100 {
            stats.record(&Admission::Go, Duration::from_millis(ms), None, false);
        }
        let view = stats.view();
        assert_eq!((view.p50_ms, view.p99_ms), (Some(50.0), Some(99.0)));
    }
}
