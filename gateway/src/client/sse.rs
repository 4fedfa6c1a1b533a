//! Server-Sent Events as they arrive in chunks: complete events out, the rest kept.

/// One event: its `id`, `event` type and `data`.
#[derive(Debug, PartialEq, Eq)]
pub struct Event {
    pub id: String,
    pub kind: String,
    pub data: String,
}

/// The text of an event stream not yet made into events.
#[derive(Default)]
pub struct Events {
    pending: Vec<u8>,
}

/// The most an unfinished event may hold before it is dropped (a gateway event is
/// far smaller; this bounds a hostile stream).
const MAX_PENDING: usize = 64 * 1024 * 1024;

impl Events {
    /// Adds `chunk`; returns the events it completed (comments and keep-alives skipped).
    pub fn feed(&mut self, chunk: &[u8]) -> Vec<Event> {
        self.pending.extend_from_slice(chunk);
        let mut events = Vec::new();
        while let Some(end) = find_blank_line(&self.pending) {
            let block: Vec<u8> = self.pending.drain(..end.0).collect();
            self.pending.drain(..end.1 - end.0);
            if let Some(event) = parse(&String::from_utf8_lossy(&block)) {
                events.push(event);
            }
        }
        if self.pending.len() > MAX_PENDING {
            self.pending.clear();
        }
        events
    }
}

/// Where the first blank line starts and ends.
fn find_blank_line(text: &[u8]) -> Option<(usize, usize)> {
    let lf = text.windows(2).position(|w| w == b"\n\n").map(|i| (i, i + 2));
    let crlf = text.windows(4).position(|w| w == b"\r\n\r\n").map(|i| (i, i + 4));
    match (lf, crlf) {
        (Some(a), Some(b)) => Some(if a.0 <= b.0 { a } else { b }),
        (a, b) => a.or(b),
    }
}

fn parse(block: &str) -> Option<Event> {
    let mut event = Event { id: String::new(), kind: "message".into(), data: String::new() };
    let mut has_data = false;
    for line in block.lines() {
        let (field, value) = line.split_once(':').map_or((line, ""), |(f, v)| (f, v.strip_prefix(' ').unwrap_or(v)));
        match field {
            "id" => event.id = value.to_string(),
            "event" => event.kind = value.to_string(),
            "data" => {
                if has_data {
                    event.data.push('\n');
                }
                event.data.push_str(value);
                has_data = true;
            }
            _ => {}
        }
    }
    has_data.then_some(event)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn events_are_cut_from_chunks_wherever_they_split() {
        let stream = b": keep-alive\n\nid: 1\nevent: status\ndata: {\"a\":1}\n\nid: 2\r\nevent: log\r\ndata: x\r\ndata: y\r\n\r\n";
        for split in 0..stream.len() {
            let mut events = Events::default();
            let mut seen = events.feed(&stream[..split]);
            seen.extend(events.feed(&stream[split..]));
            assert_eq!(
                seen,
                [
                    Event { id: "1".into(), kind: "status".into(), data: "{\"a\":1}".into() },
                    Event { id: "2".into(), kind: "log".into(), data: "x\ny".into() },
                ],
                "split at {split}"
            );
        }
    }
}
