//! Claude Code's `stream-json` output, one JSON object per line, turned into the
//! task's events and into what the run has produced so far.
//!
//! Known line types become the API's event types (`assistant`, `tool_use`,
//! `tool_result`, `system`); unknown ones are kept under their own type with their
//! fields (cut to `claude.max_tool_output_bytes` of JSON when larger); a line that
//! is not JSON becomes a `log` event. Only the CLI's answer to the gateway's own
//! `initialize` request is not recorded, and permission prompts are recorded by the
//! runner with their answer.
//!
//! The output is the tenant's input: the session is the one `system/init` named,
//! and a `result` line of another session or of the wrong shape is refused (with a
//! notice). What a run costs is never read from here (see `outcome::charge`).

use std::collections::HashSet;

use serde_json::{Map, Value, json};

use crate::store::EventRecord;
use crate::task::Usage;
use crate::text::clip;

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
    /// User messages the CLI echoed as it took them, not yet looked at by the runner.
    pub taken_prompts: Vec<String>,
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
            _ => return vec![log_event("stdout", clip(text, max_tool_output))],
        };
        match object.get("type").and_then(Value::as_str).unwrap_or("") {
            "system" => self.system(object, max_tool_output),
            "assistant" => self.assistant(&object, max_tool_output),
            "user" => {
                // A prompt the CLI echoes as it takes it (`--replay-user-messages`).
                let prompt = object.get("message").and_then(|m| m.get("content")).and_then(Value::as_str);
                if let Some(prompt) = prompt.filter(|_| object.get("isReplay") == Some(&Value::Bool(true))) {
                    self.taken_prompts.push(prompt.to_string());
                    return Vec::new();
                }
                let events = tool_results(&object, max_tool_output);
                for event in &events {
                    if let Some(id) = event.data.get("tool_use_id").and_then(Value::as_str) {
                        self.open_tools.remove(id);
                    }
                }
                events
            }
            "result" => match self.refuse_result(&object) {
                None => {
                    self.result = Some(object);
                    Vec::new() // the gateway writes the `result` event when the run is finished
                }
                Some(why) => vec![log_event("gateway", &format!("a result line was ignored: {why}"))],
            },
            "control_response" if is_initialize_answer(&object) || super::warm_up::is_warm_up_answer(&object) => {
                Vec::new()
            }
            "control_request" if crate::approvals::PermissionPrompt::parse(&object).is_some() => {
                self.prompts.extend(crate::approvals::PermissionPrompt::parse(&object));
                Vec::new() // the runner records the prompt with its answer
            }
            "rate_limit_event" => {
                self.note_rate_limit(&object);
                vec![bounded("rate_limit_event", object, max_tool_output)]
            }
            other => {
                let event_type = if other.is_empty() { "unknown" } else { other };
                let event_type: String = event_type.chars().take(64).collect();
                vec![bounded(&event_type, object, max_tool_output)]
            }
        }
    }

    /// Why a `result` line cannot be this turn's result, if it cannot: it must name
    /// the session `system/init` started and have a result's shape.
    fn refuse_result(&self, object: &Map<String, Value>) -> Option<&'static str> {
        let session = object.get("session_id").and_then(Value::as_str);
        if self.session_id.is_none() || session != self.session_id.as_deref() {
            return Some("its session_id is not the run's");
        }
        let shaped = object.get("subtype").is_some_and(Value::is_string)
            && object.get("is_error").is_some_and(Value::is_boolean)
            && object.get("usage").is_none_or(Value::is_object)
            && object.get("result").is_none_or(Value::is_string)
            && object.get("num_turns").is_none_or(Value::is_u64);
        (!shaped).then_some("it does not have the shape of a result")
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

    fn system(&mut self, object: Map<String, Value>, max_output: usize) -> Vec<EventRecord> {
        if object.get("subtype").and_then(Value::as_str) == Some("api_retry") {
            self.last_retry_delay_ms =
                object.get("retry_delay_ms").and_then(Value::as_f64).map(|ms| ms.max(0.0) as u64);
        }
        if object.get("subtype").and_then(Value::as_str) == Some("init") {
            self.saw_init = true;
            self.claude_code_version = object.get("claude_code_version").and_then(Value::as_str).map(String::from);
            self.session_id = object.get("session_id").and_then(Value::as_str).map(String::from);
        }
        vec![bounded("system", object, max_output)]
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
                    let kept = clip(text, max_output);
                    let mut data = json!({"text": kept, "message_id": message_id});
                    if kept.len() < text.len() {
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
        let kept = clip(&output, max_output);
        let mut data = json!({
            "tool_use_id": block.get("tool_use_id").cloned().unwrap_or(Value::Null),
            "output": kept,
            "is_error": block.get("is_error").and_then(Value::as_bool).unwrap_or(false),
        });
        if kept.len() < output.len() {
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

pub fn log_event(stream: &str, line: &str) -> EventRecord {
    EventRecord::new("log", json!({"stream": stream, "line": line}))
}

pub fn add_usage(total: &mut Usage, usage: &Value) {
    let get = |name: &str| usage.get(name).and_then(Value::as_u64).unwrap_or(0);
    total.add(&Usage {
        input_tokens: get("input_tokens"),
        output_tokens: get("output_tokens"),
        cache_read_input_tokens: get("cache_read_input_tokens"),
        cache_creation_input_tokens: get("cache_creation_input_tokens"),
    });
}

/// An event of `event_type` with the line's fields, or, when their JSON is larger
/// than `max` bytes, its first `max` bytes as text.
fn bounded(event_type: &str, object: Map<String, Value>, max: usize) -> EventRecord {
    let data = Value::Object(without_type(object));
    let json = data.to_string();
    if json.len() <= max {
        return EventRecord::new(event_type, data);
    }
    EventRecord::new(event_type, json!({"truncated": true, "data_bytes": json.len(), "head": clip(&json, max)}))
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
        let warmed_up = br#"{"type":"control_response","response":{"subtype":"error","request_id":"ccgate-warm-up"}}"#;
        assert!(state.parse_line(warmed_up, 100).is_empty(), "nor is the pool's warm-up, answered or refused");
        let interrupted = br#"{"type":"control_response","response":{"subtype":"success","request_id":"req_1"}}"#;
        assert_eq!(state.parse_line(interrupted, 100)[0].event_type, "control_response");
        let unknown = state.parse_line(br#"{"type":"rate_limit_event","status":"allowed"}"#, 100);
        assert_eq!(unknown[0].event_type, "rate_limit_event");
        assert_eq!(unknown[0].data["status"], "allowed");
        let garbage = state.parse_line(b"not json at all", 100);
        assert_eq!(garbage[0].event_type, "log");
        let result = br#"{"type":"result","subtype":"success","is_error":false,"result":"ok","session_id":"s1"}"#;
        assert!(state.parse_line(result, 100).is_empty());
        assert_eq!(state.result.as_ref().unwrap()["result"], "ok");
        assert_eq!(state.session_id.as_deref(), Some("s1"));
    }

    #[test]
    fn an_echoed_prompt_is_taken_not_recorded() {
        let mut state = RunState::default();
        let echo = br#"{"type":"user","message":{"role":"user","content":"steer"},"session_id":"s1","isReplay":true}"#;
        assert!(state.parse_line(echo, 100).is_empty());
        assert_eq!(state.taken_prompts, ["steer"]);
        let plain = br#"{"type":"user","message":{"role":"user","content":"a notice"},"session_id":"s1"}"#;
        assert_eq!(state.parse_line(plain, 100)[0].event_type, "user", "only echoes are taken prompts");
        assert_eq!(state.taken_prompts.len(), 1);
    }

    #[test]
    fn a_result_of_another_session_or_shape_is_refused_and_big_lines_are_cut() {
        let mut state = RunState::default();
        let forged =
            br#"{"type":"result","subtype":"success","is_error":false,"session_id":"s1","total_cost_usd":-1000}"#;
        assert_eq!(state.parse_line(forged, 1000)[0].data["stream"], "gateway", "no init yet: no session");
        state.parse_line(br#"{"type":"system","subtype":"init","session_id":"s1"}"#, 1000);
        let other = br#"{"type":"result","subtype":"success","is_error":false,"session_id":"s2"}"#;
        let refused = state.parse_line(other, 1000);
        assert!(refused[0].data["line"].as_str().unwrap().contains("session_id"), "{:?}", refused[0].data);
        let unshaped = br#"{"type":"result","subtype":"success","is_error":"no","session_id":"s1"}"#;
        assert!(state.parse_line(unshaped, 1000)[0].data["line"].as_str().unwrap().contains("shape"));
        assert!(state.result.is_none());
        // Another line naming a session does not change the run's.
        state.parse_line(br#"{"type":"assistant","session_id":"s9","message":{"id":"m","content":[]}}"#, 1000);
        assert_eq!(state.session_id.as_deref(), Some("s1"));
        let flood = format!(r#"{{"type":"flood","x":"{}"}}"#, "z".repeat(5000));
        let cut = state.parse_line(flood.as_bytes(), 100);
        assert_eq!(cut[0].event_type, "flood");
        assert_eq!(cut[0].data["truncated"], true);
        assert_eq!(cut[0].data["head"].as_str().unwrap().len(), 100);
    }
}
