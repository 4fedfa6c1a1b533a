//! Claude Code's `stream-json` output, one JSON object per line, turned into the
//! task's events and into what the run has produced so far.
//!
//! Known line types become the API's event types (`assistant`, `tool_use`,
//! `tool_result`, `system`); unknown ones are kept under their own type with all
//! their fields; a line that is not JSON becomes a `log` event. Nothing is dropped
//! but the CLI's answer to the gateway's own `initialize` request.

use std::collections::HashSet;

use serde_json::{Map, Value, json};

use crate::store::EventRecord;
use crate::task::Usage;

/// Whether a `control_response` is the CLI's success answer to the gateway's
/// `initialize` request (a refusal stays an event, so it can be seen).
fn is_initialize_answer(object: &Map<String, Value>) -> bool {
    let response = object.get("response");
    let field = |name: &str| response.and_then(|r| r.get(name)).and_then(Value::as_str);
    field("request_id") == Some(super::command::INITIALIZE_REQUEST_ID) && field("subtype") == Some("success")
}

/// What the run has produced so far.
#[derive(Debug, Default, Clone)]
pub struct RunState {
    pub session_id: Option<String>,
    pub claude_code_version: Option<String>,
    pub saw_init: bool,
    pub stdout_lines: u64,
    /// Text of the latest assistant message.
    pub last_text: Option<String>,
    /// Usage summed over the assistant messages seen (for partial results).
    pub usage: Usage,
    pub assistant_messages: u32,
    pub result: Option<Map<String, Value>>,
    seen_messages: HashSet<String>,
    /// Tool calls that have not returned yet.
    open_tools: HashSet<String>,
    /// A `rate_limit_event` said requests are rejected until then (ms since the epoch).
    pub rate_limited_until: Option<i64>,
    /// The wait the CLI's last `api_retry` announced (the API's `Retry-After`, or
    /// its own backoff), in milliseconds.
    pub last_retry_delay_ms: Option<u64>,
    /// Permission prompts read and not yet answered (the runner answers them).
    pub prompts: Vec<crate::approvals::PermissionPrompt>,
}

impl RunState {
    /// Parses one stdout line; returns the events to record.
    pub fn parse_line(&mut self, line: &[u8], max_tool_output: usize) -> Vec<EventRecord> {
        self.stdout_lines += 1;
        let text = String::from_utf8_lossy(line);
        let text = text.trim_end_matches(['\r', '\n']);
        if text.trim().is_empty() {
            return Vec::new();
        }
        let object = match serde_json::from_str::<Value>(text) {
            Ok(Value::Object(object)) => object,
            _ => return vec![log_event("stdout", truncate(text, max_tool_output).0)],
        };
        if let Some(session) = object.get("session_id").and_then(Value::as_str) {
            self.session_id = Some(session.to_string());
        }
        match object.get("type").and_then(Value::as_str).unwrap_or("") {
            "system" => self.system(object),
            "assistant" => self.assistant(&object, max_tool_output),
            "user" => {
                let events = tool_results(&object, max_tool_output);
                for event in &events {
                    if let Some(id) = event.data.get("tool_use_id").and_then(Value::as_str) {
                        self.open_tools.remove(id);
                    }
                }
                events
            }
            "result" => {
                self.result = Some(object);
                Vec::new() // the gateway writes the `result` event when the run is finished
            }
            "control_response" if is_initialize_answer(&object) => Vec::new(),
            "control_request" if crate::approvals::PermissionPrompt::parse(&object).is_some() => {
                self.prompts.extend(crate::approvals::PermissionPrompt::parse(&object));
                Vec::new() // the runner records the prompt with its answer
            }
            "rate_limit_event" => {
                self.note_rate_limit(&object);
                vec![EventRecord::new("rate_limit_event", Value::Object(without_type(object)))]
            }
            other => {
                let event_type = if other.is_empty() { "unknown" } else { other };
                vec![EventRecord::new(event_type.to_string(), Value::Object(without_type(object)))]
            }
        }
    }

    /// `{"status": "rejected", "resetsAt": <seconds>}`, at the top level or under
    /// `rate_limit_info`.
    fn note_rate_limit(&mut self, object: &Map<String, Value>) {
        let info = object.get("rate_limit_info").and_then(Value::as_object).unwrap_or(object);
        match info.get("status").and_then(Value::as_str) {
            Some("rejected") => {
                self.rate_limited_until = info.get("resetsAt").and_then(Value::as_i64).map(|s| s.saturating_mul(1000));
            }
            Some(_) => self.rate_limited_until = None,
            None => {}
        }
    }

    /// A tool call is in progress (a long Bash command is not a stall).
    pub fn tool_running(&self) -> bool {
        !self.open_tools.is_empty()
    }

    fn system(&mut self, object: Map<String, Value>) -> Vec<EventRecord> {
        if object.get("subtype").and_then(Value::as_str) == Some("api_retry") {
            self.last_retry_delay_ms =
                object.get("retry_delay_ms").and_then(Value::as_f64).map(|ms| ms.max(0.0) as u64);
        }
        if object.get("subtype").and_then(Value::as_str) == Some("init") {
            self.saw_init = true;
            self.claude_code_version = object.get("claude_code_version").and_then(Value::as_str).map(String::from);
        }
        vec![EventRecord::new("system", Value::Object(without_type(object)))]
    }

    fn assistant(&mut self, object: &Map<String, Value>, max_output: usize) -> Vec<EventRecord> {
        let message = object.get("message").cloned().unwrap_or(Value::Null);
        let message_id = message.get("id").and_then(Value::as_str).unwrap_or("").to_string();
        // One API message can arrive as several lines (one per content block), each
        // repeating the message's usage: count it once.
        if message_id.is_empty() || self.seen_messages.insert(message_id.clone()) {
            self.assistant_messages += 1;
            if let Some(usage) = message.get("usage") {
                add_usage(&mut self.usage, usage);
            }
            self.last_text = None;
        }
        let mut events = Vec::new();
        for block in message.get("content").and_then(Value::as_array).into_iter().flatten() {
            match block.get("type").and_then(Value::as_str) {
                Some("text") => {
                    let text = block.get("text").and_then(Value::as_str).unwrap_or("");
                    match &mut self.last_text {
                        Some(last) => {
                            last.push('\n');
                            last.push_str(text);
                        }
                        None => self.last_text = Some(text.to_string()),
                    }
                    // The task's result keeps the whole text; the event log keeps a capped copy.
                    let (kept, truncated) = truncate(text, max_output);
                    let mut data = json!({"text": kept, "message_id": message_id});
                    if truncated {
                        data["truncated"] = json!(true);
                        data["text_bytes"] = json!(text.len());
                    }
                    events.push(EventRecord::new("assistant", data));
                }
                Some("tool_use") => {
                    if let Some(id) = block.get("id").and_then(Value::as_str) {
                        self.open_tools.insert(id.to_string());
                    }
                    events.push(EventRecord::new(
                        "tool_use",
                        json!({
                            "tool": block.get("name").cloned().unwrap_or(Value::Null),
                            "input": block.get("input").cloned().unwrap_or(Value::Null),
                            "tool_use_id": block.get("id").cloned().unwrap_or(Value::Null),
                        }),
                    ))
                }
                Some("thinking") => events.push(EventRecord::new(
                    "thinking",
                    json!({"text": block.get("thinking").cloned().unwrap_or(Value::Null)}),
                )),
                _ => events.push(EventRecord::new("assistant_block", json!({"block": block}))),
            }
        }
        events
    }
}

fn tool_results(object: &Map<String, Value>, max_output: usize) -> Vec<EventRecord> {
    let content = object.get("message").and_then(|m| m.get("content"));
    let Some(blocks) = content.and_then(Value::as_array) else {
        // A plain user message (e.g. an interruption notice): keep it as it is.
        return vec![EventRecord::new("user", Value::Object(without_type(object.clone())))];
    };
    let mut events = Vec::new();
    for block in blocks {
        if block.get("type").and_then(Value::as_str) != Some("tool_result") {
            events.push(EventRecord::new("user", json!({"block": block})));
            continue;
        }
        let output = flatten_output(block.get("content"));
        let (kept, truncated) = truncate(&output, max_output);
        let mut data = json!({
            "tool_use_id": block.get("tool_use_id").cloned().unwrap_or(Value::Null),
            "output": kept,
            "is_error": block.get("is_error").and_then(Value::as_bool).unwrap_or(false),
        });
        if truncated {
            data["truncated"] = json!(true);
            data["output_bytes"] = json!(output.len());
        }
        events.push(EventRecord::new("tool_result", data));
    }
    events
}

/// A tool result's content is a string or a list of blocks; keep their text.
fn flatten_output(content: Option<&Value>) -> String {
    match content {
        Some(Value::String(s)) => s.clone(),
        Some(Value::Array(blocks)) => blocks
            .iter()
            .map(|b| match b.get("text").and_then(Value::as_str) {
                Some(text) => text.to_string(),
                None => b.to_string(),
            })
            .collect::<Vec<_>>()
            .join("\n"),
        Some(other) => other.to_string(),
        None => String::new(),
    }
}

/// At most `max` bytes of `text`, cut on a character boundary.
pub fn truncate(text: &str, max: usize) -> (&str, bool) {
    if text.len() <= max {
        return (text, false);
    }
    let mut end = max;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    (&text[..end], true)
}

pub fn log_event(stream: &str, line: &str) -> EventRecord {
    EventRecord::new("log", json!({"stream": stream, "line": line}))
}

pub fn add_usage(total: &mut Usage, usage: &Value) {
    let get = |name: &str| usage.get(name).and_then(Value::as_u64).unwrap_or(0);
    total.input_tokens += get("input_tokens");
    total.output_tokens += get("output_tokens");
    total.cache_read_input_tokens += get("cache_read_input_tokens");
    total.cache_creation_input_tokens += get("cache_creation_input_tokens");
}

fn without_type(mut object: Map<String, Value>) -> Map<String, Value> {
    object.remove("type");
    object
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn maps_lines_to_events_and_keeps_unknown_ones() {
        let mut state = RunState::default();
        let init = br#"{"type":"system","subtype":"init","session_id":"s1","claude_code_version":"2.1.197"}"#;
        assert_eq!(state.parse_line(init, 100)[0].event_type, "system");
        assert!(state.saw_init);
        let assistant = br#"{"type":"assistant","message":{"id":"m1","content":[{"type":"text","text":"hi"},{"type":"tool_use","id":"t1","name":"Bash","input":{"command":"ls"}}],"usage":{"input_tokens":5,"output_tokens":2}},"session_id":"s1"}"#;
        let events = state.parse_line(assistant, 100);
        assert_eq!(events.iter().map(|e| e.event_type.as_str()).collect::<Vec<_>>(), ["assistant", "tool_use"]);
        assert_eq!(events[1].data["tool"], "Bash");
        // The same message again (next block) does not count its usage twice.
        state.parse_line(assistant, 100);
        assert_eq!(state.usage.input_tokens, 5);
        let result = br#"{"type":"user","message":{"content":[{"type":"tool_result","tool_use_id":"t1","content":"0123456789","is_error":false}]}}"#;
        let events = state.parse_line(result, 4);
        assert_eq!(events[0].data["output"], "0123");
        assert_eq!(events[0].data["truncated"], true);
        let initialized = br#"{"type":"control_response","response":{"subtype":"success","request_id":"ccgate-initialize","response":{"commands":[]}}}"#;
        assert!(state.parse_line(initialized, 100).is_empty(), "the gateway's own exchange is no event");
        let interrupted = br#"{"type":"control_response","response":{"subtype":"success","request_id":"req_1"}}"#;
        assert_eq!(state.parse_line(interrupted, 100)[0].event_type, "control_response");
        let unknown = state.parse_line(br#"{"type":"rate_limit_event","status":"allowed"}"#, 100);
        assert_eq!(unknown[0].event_type, "rate_limit_event");
        assert_eq!(unknown[0].data["status"], "allowed");
        let garbage = state.parse_line(b"not json at all", 100);
        assert_eq!(garbage[0].event_type, "log");
        assert!(state.parse_line(br#"{"type":"result","subtype":"success","result":"ok"}"#, 100).is_empty());
        assert_eq!(state.result.as_ref().unwrap()["result"], "ok");
        assert_eq!(state.session_id.as_deref(), Some("s1"));
    }

    #[test]
    fn truncation_respects_characters() {
        assert_eq!(truncate("héllo", 2), ("h", true));
        assert_eq!(truncate("abc", 3), ("abc", false));
    }
}
