//! A task's events: typed, cut from a Server-Sent Events byte stream, and the resume
//! state that makes a dropped connection continue after the last event seen.

use std::time::{Duration, Instant};

use serde_json::Value;

use crate::error::Error;
use crate::types::TaskStatus;

/// What an event tells (its `type`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum EventKind {
    /// The task's status changed (`data.status`).
    Status,
    /// The session started (model, tools).
    System,
    /// The model's text.
    Assistant,
    /// A tool call (`data.tool`, `data.input`).
    ToolUse,
    ToolResult,
    ApprovalRequested,
    ApprovalResolved,
    Log,
    /// The turn's result (text, usage, cost).
    Result,
    Error,
    /// A type this SDK does not know yet.
    Other(String),
}

impl EventKind {
    pub fn parse(kind: &str) -> Self {
        match kind {
            "status" => Self::Status,
            "system" => Self::System,
            "assistant" => Self::Assistant,
            "tool_use" => Self::ToolUse,
            "tool_result" => Self::ToolResult,
            "approval_requested" => Self::ApprovalRequested,
            "approval_resolved" => Self::ApprovalResolved,
            "log" => Self::Log,
            "result" => Self::Result,
            "error" => Self::Error,
            other => Self::Other(other.to_string()),
        }
    }
}

/// One event of a task's log: `seq` orders them; `data` is the whole event as the
/// gateway sent it (its other fields depend on `kind`).
#[derive(Clone, Debug, PartialEq)]
pub struct TaskEvent {
    pub seq: u64,
    pub kind: EventKind,
    pub at: String,
    pub task_id: String,
    pub data: Value,
}

impl TaskEvent {
    /// An event's `data` line(s).
    pub fn parse(text: &str) -> Result<Self, Error> {
        let invalid = || Error::Decode(format!("an event that is not one: {:?}", &text[..text.len().min(200)]));
        let data: Value = serde_json::from_str(text).map_err(|_| invalid())?;
        let seq = data["seq"].as_u64().ok_or_else(invalid)?;
        let kind = EventKind::parse(data["type"].as_str().ok_or_else(invalid)?);
        let at = data["at"].as_str().ok_or_else(invalid)?.to_string();
        let task_id = data["task_id"].as_str().ok_or_else(invalid)?.to_string();
        Ok(Self { seq, kind, at, task_id, data })
    }

    /// The task's new status, on `status` events.
    pub fn status(&self) -> Option<TaskStatus> {
        if self.kind != EventKind::Status {
            return None;
        }
        self.data["status"].as_str()?.parse().ok()
    }

    /// A `status` event saying the task finished (completed, failed or cancelled).
    pub fn is_terminal(&self) -> bool {
        self.status().is_some_and(is_terminal)
    }
}

/// Whether a task in `status` has finished.
pub fn is_terminal(status: TaskStatus) -> bool {
    matches!(status, TaskStatus::Completed | TaskStatus::Failed | TaskStatus::Cancelled)
}

/// The `data` of Server-Sent Events as bytes arrive in chunks: `id`, `event` and
/// `retry` lines and comments (keep-alives) carry nothing the event's JSON lacks.
#[derive(Default)]
pub(crate) struct SseParser {
    line: Vec<u8>,
    data: Vec<String>,
    /// The previous chunk ended with `\r`: a `\n` starting this one belongs to it.
    after_cr: bool,
}

/// The most one line may hold (a gateway event is far smaller; this bounds a
/// hostile stream).
const MAX_LINE: usize = 16 * 1024 * 1024;

impl SseParser {
    /// The events `chunk` completes, in order.
    pub(crate) fn feed(&mut self, chunk: &[u8]) -> Result<Vec<TaskEvent>, Error> {
        let mut events = Vec::new();
        for &byte in chunk {
            let after_cr = std::mem::replace(&mut self.after_cr, byte == b'\r');
            match byte {
                b'\n' if after_cr => {}
                b'\n' | b'\r' => {
                    let line = std::mem::take(&mut self.line);
                    if let Some(event) = self.line_done(&String::from_utf8_lossy(&line))? {
                        events.push(event);
                    }
                }
                _ if self.line.len() < MAX_LINE => self.line.push(byte),
                _ => return Err(Error::Decode("an event stream line longer than 16 MiB".into())),
            }
        }
        Ok(events)
    }

    fn line_done(&mut self, line: &str) -> Result<Option<TaskEvent>, Error> {
        if line.is_empty() {
            if self.data.is_empty() {
                return Ok(None);
            }
            let text = std::mem::take(&mut self.data).join("\n");
            return TaskEvent::parse(&text).map(Some);
        }
        let (name, value) = line.split_once(':').unwrap_or((line, ""));
        if name == "data" {
            self.data.push(value.strip_prefix(' ').unwrap_or(value).to_string());
        }
        Ok(None)
    }
}

/// Where an event stream is, so that a dropped connection resumes after the last event
/// seen (`Last-Event-ID`) and no event is yielded twice.
pub(crate) struct Resume {
    pub(crate) last_seq: Option<u64>,
    failures: u32,
    new_on_connection: bool,
    last_terminal: bool,
    deadline: Option<(Instant, Duration)>,
}

/// Broken connections in a row before the stream gives up.
const MAX_FAILURES: u32 = 5;

impl Resume {
    pub(crate) fn new(after: Option<u64>, timeout: Option<Duration>) -> Self {
        Self {
            last_seq: after,
            failures: 0,
            new_on_connection: false,
            last_terminal: false,
            deadline: timeout.map(|t| (Instant::now() + t, t)),
        }
    }

    /// The time left before the deadline (`None`: no deadline).
    pub(crate) fn remaining(&self) -> Option<Duration> {
        self.deadline.map(|(at, _)| at.saturating_duration_since(Instant::now()))
    }

    /// `Error::Timeout` once the deadline has passed.
    pub(crate) fn check_deadline(&self) -> Result<(), Error> {
        match self.deadline {
            Some((at, timeout)) if Instant::now() >= at => Err(Error::Timeout(timeout)),
            _ => Ok(()),
        }
    }

    /// True for an event not yielded before.
    pub(crate) fn accept(&mut self, event: &TaskEvent) -> bool {
        if self.last_seq.is_some_and(|last| event.seq <= last) {
            return false;
        }
        self.last_seq = Some(event.seq);
        self.new_on_connection = true;
        self.last_terminal = event.is_terminal();
        self.failures = 0;
        true
    }

    /// The gateway closed the stream: true to connect again. It closes once the task is
    /// finished; a close after anything else is checked with one more connection, which
    /// ends at once, with nothing new, when the task is indeed done.
    pub(crate) fn ended(&mut self) -> bool {
        let again = self.new_on_connection && !self.last_terminal;
        self.new_on_connection = false;
        again
    }

    /// The connection broke: how long to wait before resuming, or `Error::Stream`.
    pub(crate) fn failed(&mut self, error: &Error) -> Result<Duration, Error> {
        self.failures += 1;
        if self.failures > MAX_FAILURES {
            return Err(Error::Stream { failures: self.failures, last: error.to_string() });
        }
        self.new_on_connection = false;
        Ok(Duration::from_millis(200 * 2u64.pow(self.failures)).min(Duration::from_secs(5)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event(seq: u64, kind: &str, extra: &str) -> String {
        format!(r#"{{"seq":{seq},"type":"{kind}","at":"2026-01-01T00:00:00Z","task_id":"tsk_1"{extra}}}"#)
    }

    #[test]
    fn events_are_cut_from_chunks_wherever_they_split() {
        let stream = format!(
            ": keep-alive\n\nid: 1\nevent: status\ndata: {}\n\nid: 2\r\nevent: log\r\ndata:{}\r\n\r\nid: 3\rdata: {}\r\r",
            event(1, "status", r#","status":"running""#),
            event(2, "log", ""),
            event(3, "status", r#","status":"completed""#),
        );
        let stream = stream.as_bytes();
        for split in 0..stream.len() {
            let mut parser = SseParser::default();
            let mut seen = parser.feed(&stream[..split]).unwrap();
            seen.extend(parser.feed(&stream[split..]).unwrap());
            let summary: Vec<_> = seen.iter().map(|e| (e.seq, e.kind.clone(), e.status())).collect();
            assert_eq!(
                summary,
                [
                    (1, EventKind::Status, Some(TaskStatus::Running)),
                    (2, EventKind::Log, None),
                    (3, EventKind::Status, Some(TaskStatus::Completed)),
                ],
                "split at {split}"
            );
            assert!(seen[2].is_terminal() && !seen[0].is_terminal());
        }
    }

    #[test]
    fn data_that_is_no_event_is_an_error() {
        let mut parser = SseParser::default();
        assert!(matches!(parser.feed(b"data: {\"seq\":1}\n\n"), Err(Error::Decode(_))));
        assert_eq!(EventKind::parse("tool_use"), EventKind::ToolUse);
        assert_eq!(EventKind::parse("novel"), EventKind::Other("novel".into()));
    }

    #[test]
    fn a_resumed_stream_skips_what_it_yielded_and_stops_after_the_end() {
        let parse = |seq, kind, extra| TaskEvent::parse(&event(seq, kind, extra)).unwrap();
        let mut resume = Resume::new(None, None);
        assert!(resume.accept(&parse(1, "status", r#","status":"running""#)));
        assert!(resume.accept(&parse(2, "log", "")));
        assert!(!resume.accept(&parse(2, "log", "")), "seen before");
        assert_eq!(resume.last_seq, Some(2));
        // Closed after a non-terminal event: look again; nothing new then: done.
        assert!(resume.ended());
        assert!(!resume.ended());
        assert!(resume.accept(&parse(3, "status", r#","status":"completed""#)));
        assert!(!resume.ended(), "the task finished");
    }

    #[test]
    fn failures_back_off_and_give_up_and_an_event_resets_them() {
        let mut resume = Resume::new(Some(4), None);
        let error = Error::Decode("broken".into());
        let waits: Vec<_> = (0..MAX_FAILURES).map(|_| resume.failed(&error).unwrap().as_millis()).collect();
        assert_eq!(waits, [400, 800, 1600, 3200, 5000]);
        assert!(matches!(resume.failed(&error), Err(Error::Stream { failures: 6, .. })));
        let mut resume = Resume::new(Some(4), None);
        resume.failed(&error).unwrap();
        resume.accept(&TaskEvent::parse(&event(5, "log", "")).unwrap());
        assert_eq!(resume.failed(&error).unwrap().as_millis(), 400);
    }

    #[test]
    fn a_deadline_passes() {
        let resume = Resume::new(None, Some(Duration::ZERO));
        assert!(matches!(resume.check_deadline(), Err(Error::Timeout(_))));
        assert!(Resume::new(None, None).check_deadline().is_ok());
        assert_eq!(Resume::new(None, None).remaining(), None);
    }
}
