//! What one turn may add to the event log: a number of events and of bytes
//! (`claude.max_events_per_turn`, `claude.max_event_bytes_per_turn`). Everything
//! the CLI prints is the tenant's to choose, so without a cap one run could grow
//! the database without bound. Past the cap the run goes on and its output is
//! still read (its result counts), but no more of it is recorded; one notice says so.

use serde_json::json;

use crate::store::EventRecord;

/// What a turn has recorded so far, against its caps.
#[derive(Debug)]
pub struct TurnQuota {
    max_events: u64,
    max_bytes: u64,
    events: u64,
    bytes: u64,
    reached: bool,
}

impl TurnQuota {
    pub fn new(max_events: u64, max_bytes: u64) -> Self {
        Self { max_events, max_bytes, events: 0, bytes: 0, reached: false }
    }

    /// The events that still fit; the first one that does not is replaced by a
    /// notice, and nothing is kept after it.
    pub fn admit(&mut self, events: Vec<EventRecord>) -> Vec<EventRecord> {
        let mut kept = Vec::with_capacity(events.len());
        for event in events {
            if self.reached {
                break;
            }
            let size = size_of(&event);
            let limit = if self.events >= self.max_events {
                Some(("events", self.max_events))
            } else if self.bytes.saturating_add(size) > self.max_bytes {
                Some(("bytes", self.max_bytes))
            } else {
                None
            };
            if let Some((limit, cap)) = limit {
                self.reached = true;
                let line = format!(
                    "the turn reached its cap of {cap} recorded {limit}; the rest of its output is not recorded"
                );
                kept.push(EventRecord::new(
                    "log",
                    json!({"stream": "gateway", "line": line, "limit": limit, "events": self.events, "bytes": self.bytes}),
                ));
                break;
            }
            self.events += 1;
            self.bytes += size;
            kept.push(event);
        }
        kept
    }
}

/// Bytes of the event as stored: its type and its JSON data.
fn size_of(event: &EventRecord) -> u64 {
    (event.event_type.len() + crate::text::json_size(&event.data)) as u64
}

#[cfg(test)]
mod tests {
    use super::*;

    fn events(n: usize, text: &str) -> Vec<EventRecord> {
        (0..n).map(|_| EventRecord::new("flood", json!({"x": text}))).collect()
    }

    #[test]
    fn a_turn_keeps_events_up_to_its_cap_then_one_notice() {
        let mut quota = TurnQuota::new(3, 1_000_000);
        assert_eq!(quota.admit(events(2, "a")).len(), 2);
        let kept = quota.admit(events(5, "a"));
        assert_eq!(kept.len(), 2, "one more event, then the notice");
        assert_eq!(kept[1].event_type, "log");
        assert_eq!(kept[1].data["limit"], "events");
        assert!(quota.admit(events(5, "a")).is_empty(), "nothing after the notice");
    }

    #[test]
    fn bytes_are_capped_too() {
        let mut quota = TurnQuota::new(1_000, 100);
        let kept = quota.admit(events(10, &"y".repeat(40)));
        assert_eq!(kept.len(), 2);
        assert_eq!(kept[1].data["limit"], "bytes");
        assert_eq!(kept[1].data["bytes"], size_of(&events(1, &"y".repeat(40))[0]));
    }
}
