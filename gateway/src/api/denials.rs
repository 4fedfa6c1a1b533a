//! Auditing refused requests without letting a flood blind the log or fill the
//! disk. Each source of refusals has its own budget per minute: a valid key its own
//! (so nobody else's flood can use it up), an unauthenticated client its address's.
//! Refusals past a budget are counted, and the count is written as one
//! `request.denied.unrecorded` entry when the source's minute is over: every refusal
//! is in the log, one by one or in a count.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use crate::audit::AuditLog;
use crate::store::AuditEntry;

/// Refusals of one key recorded one by one per minute.
pub const PER_KEY_PER_MINUTE: u32 = 600;
/// Refusals of one unauthenticated client address recorded one by one per minute.
pub const PER_ADDRESS_PER_MINUTE: u32 = 30;
/// Sources tracked at once; past this, unauthenticated addresses share one budget.
const MAX_SOURCES: usize = 10_000;
const WINDOW: Duration = Duration::from_secs(60);

/// Who was refused: a valid key, or a client without one.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Source {
    Key(String),
    Address(String),
    /// Addresses past [`MAX_SOURCES`].
    OtherAddresses,
}

#[derive(Debug)]
struct Window {
    started: Instant,
    recorded: u32,
    unrecorded: u64,
}

/// What to do with one refusal.
#[derive(Debug, PartialEq, Eq)]
pub enum Admission {
    Record,
    Count,
}

/// The budgets of every source seen in the last minute.
#[derive(Default)]
pub struct DenialBudget {
    inner: Mutex<Inner>,
}

#[derive(Default)]
struct Inner {
    windows: HashMap<Source, Window>,
    /// When a full table was last swept: at most once a second, so a flood does not
    /// walk the whole table per request.
    swept: Option<Instant>,
}

impl DenialBudget {
    /// Whether this refusal of `source` is recorded, and the summaries of windows
    /// that ended with refusals left unrecorded.
    pub fn admit(&self, source: Source, now: Instant) -> (Admission, Vec<(Source, u64)>) {
        let mut inner = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        let Inner { windows, swept } = &mut *inner;
        let mut ended = Vec::new();
        if let Some(window) = windows.get(&source)
            && now - window.started >= WINDOW
        {
            if window.unrecorded > 0 {
                ended.push((source.clone(), window.unrecorded));
            }
            windows.remove(&source);
        }
        if windows.len() >= MAX_SOURCES && swept.is_none_or(|at| now - at >= Duration::from_secs(1)) {
            *swept = Some(now);
            ended.extend(take_ended(windows, now));
        }
        let source = match source {
            Source::Address(_) if windows.len() >= MAX_SOURCES && !windows.contains_key(&source) => {
                Source::OtherAddresses
            }
            source => source,
        };
        let budget = match source {
            Source::Key(_) => PER_KEY_PER_MINUTE,
            Source::Address(_) | Source::OtherAddresses => PER_ADDRESS_PER_MINUTE,
        };
        let window = windows.entry(source).or_insert(Window { started: now, recorded: 0, unrecorded: 0 });
        let admission = if window.recorded < budget {
            window.recorded += 1;
            Admission::Record
        } else {
            window.unrecorded += 1;
            Admission::Count
        };
        (admission, ended)
    }

    /// Summaries of every window that has ended (called once a minute, so a count
    /// is written even when its source goes quiet).
    pub fn ended(&self, now: Instant) -> Vec<(Source, u64)> {
        take_ended(&mut self.inner.lock().unwrap_or_else(|p| p.into_inner()).windows, now)
    }
}

fn take_ended(windows: &mut HashMap<Source, Window>, now: Instant) -> Vec<(Source, u64)> {
    let mut ended = Vec::new();
    windows.retain(|source, window| {
        let over = now - window.started >= WINDOW;
        if over && window.unrecorded > 0 {
            ended.push((source.clone(), window.unrecorded));
        }
        !over
    });
    ended
}

/// The audit entry that counts a source's unrecorded refusals.
pub fn summary_entry(source: &Source, unrecorded: u64) -> AuditEntry {
    let (key_id, client_addr) = match source {
        Source::Key(id) => (Some(id.clone()), None),
        Source::Address(addr) => (None, Some(addr.clone())),
        Source::OtherAddresses => (None, None),
    };
    AuditEntry {
        key_id,
        client_addr,
        details: Some(serde_json::json!({
            "unrecorded": unrecorded,
            "reason": "refusals past this source's audit budget in one minute",
        })),
        ..AuditEntry::new("request.denied.unrecorded", "denied")
    }
}

/// Writes the summaries of ended windows every minute.
pub async fn flush_forever(budget: std::sync::Arc<DenialBudget>, audit: AuditLog) {
    let mut tick = tokio::time::interval(WINDOW);
    loop {
        tick.tick().await;
        write_summaries(&audit, budget.ended(Instant::now())).await;
    }
}

pub async fn write_summaries(audit: &AuditLog, ended: Vec<(Source, u64)>) {
    for (source, unrecorded) in ended {
        audit.record_or_warn(summary_entry(&source, unrecorded), "a count of refused requests").await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_flood_without_a_key_leaves_a_keys_budget_alone() {
        let budget = DenialBudget::default();
        let start = Instant::now();
        for _ in 0..10_000 {
            budget.admit(Source::Address("203.0.113.9".into()), start);
        }
        for _ in 0..20 {
            assert_eq!(budget.admit(Source::Key("key_a".into()), start).0, Admission::Record);
        }
    }

    #[test]
    fn refusals_past_the_budget_are_counted_and_summarised_when_the_minute_ends() {
        let budget = DenialBudget::default();
        let start = Instant::now();
        let addr = || Source::Address("198.51.100.1".into());
        for i in 0..(PER_ADDRESS_PER_MINUTE + 7) {
            let expected = if i < PER_ADDRESS_PER_MINUTE { Admission::Record } else { Admission::Count };
            assert_eq!(budget.admit(addr(), start).0, expected);
        }
        assert!(budget.ended(start + Duration::from_secs(59)).is_empty());
        assert_eq!(budget.ended(start + WINDOW), vec![(addr(), 7)]);
        // A new minute, a new budget.
        assert_eq!(budget.admit(addr(), start + WINDOW).0, Admission::Record);
    }

    #[test]
    fn a_returning_source_flushes_its_last_minute() {
        let budget = DenialBudget::default();
        let start = Instant::now();
        let key = || Source::Key("key_b".into());
        for _ in 0..(PER_KEY_PER_MINUTE + 2) {
            budget.admit(key(), start);
        }
        let (admission, ended) = budget.admit(key(), start + WINDOW + Duration::from_secs(1));
        assert_eq!((admission, ended), (Admission::Record, vec![(key(), 2)]));
    }

    #[test]
    fn many_addresses_share_one_budget_past_the_cap() {
        let budget = DenialBudget::default();
        let start = Instant::now();
        for i in 0..MAX_SOURCES {
            budget.admit(Source::Address(format!("a{i}")), start);
        }
        let mut counted = 0;
        for i in 0..1000 {
            if budget.admit(Source::Address(format!("b{i}")), start).0 == Admission::Count {
                counted += 1;
            }
        }
        assert_eq!(counted, 1000 - PER_ADDRESS_PER_MINUTE);
        assert!(budget.inner.lock().unwrap().windows.len() <= MAX_SOURCES + 1);
    }
}
