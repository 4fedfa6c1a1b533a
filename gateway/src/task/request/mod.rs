//! Validation of what clients send to create or continue a task.
//!
//! The body is read as untyped JSON and checked field by field so that one
//! response can name every invalid field (JSON Pointer + message), which a serde
//! derive would not do: it stops at the first error.
//!
//! `options` (the run's options), `inputs` (metadata, files, webhook, artifacts)
//! and `json` (numbers, pointers, unknown fields) hold the checks of each part.

mod inputs;
mod json;
mod options;

use std::collections::BTreeMap;

use serde_json::Value;

use super::{Delivery, TaskOptions};
use crate::config::TaskLimits;
use crate::webhooks::TaskWebhook;
use crate::workspace::inputs::InputFile;
use inputs::{parse_artifacts, parse_files, parse_metadata, parse_webhook};
pub use json::{pointer_token, unknown_fields, whole_number, whole_u64};
use options::parse_options;

/// One invalid field of a request.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, utoipa::ToSchema)]
pub struct FieldError {
    pub pointer: String,
    pub message: String,
}

impl FieldError {
    pub fn new(pointer: impl Into<String>, message: impl Into<String>) -> Self {
        Self { pointer: pointer.into(), message: message.into() }
    }
}

/// A validated request to create a task.
#[derive(Debug, Clone)]
pub struct NewTask {
    pub prompt: String,
    pub priority: i32,
    pub options: TaskOptions,
    pub metadata: BTreeMap<String, String>,
    pub files: Vec<InputFile>,
    /// Workspace globs to collect after each turn; `None` means the server's default.
    pub artifacts: Option<Vec<String>>,
    /// Where to report; its URL is checked against SSRF when the task is created.
    pub webhook: Option<TaskWebhook>,
    /// `POST /v1/execute` only.
    pub wait_seconds: Option<u64>,
}

const TASK_FIELDS: [&str; 8] =
    ["prompt", "priority", "options", "metadata", "files", "artifacts", "webhook", "wait_seconds"];

/// Validates a create request (`execute` allows `wait_seconds`).
pub fn parse_new_task(body: &Value, limits: &TaskLimits, execute: bool) -> Result<NewTask, Vec<FieldError>> {
    let mut errors = Vec::new();
    let Some(object) = body.as_object() else {
        return Err(vec![FieldError::new("", "the request body must be a JSON object")]);
    };
    if !execute && object.contains_key("wait_seconds") {
        errors.push(FieldError::new("/wait_seconds", "only POST /v1/execute takes wait_seconds"));
    }
    unknown_fields(object, &TASK_FIELDS, "", &mut errors);

    let prompt = prompt_field(object.get("prompt"), "/prompt", limits, &mut errors);
    let priority = match object.get("priority") {
        None | Some(Value::Null) => 0,
        Some(v) => match whole_number(v) {
            Some(p) if (-10..=10).contains(&p) => p as i32,
            _ => {
                errors.push(FieldError::new("/priority", "must be a whole number from -10 to 10"));
                0
            }
        },
    };
    let options = parse_options(object.get("options"), limits, &mut errors);
    let metadata = parse_metadata(object.get("metadata"), &mut errors);
    let files = parse_files(object.get("files"), limits, &mut errors);
    let artifacts = parse_artifacts(object.get("artifacts"), limits, &mut errors);
    let webhook = parse_webhook(object.get("webhook"), &mut errors);
    let wait_seconds = match object.get("wait_seconds") {
        None | Some(Value::Null) => None,
        Some(_) if !execute => None,
        // A longer wait than the server allows is cut to its cap (`tasks.max_wait_seconds`).
        Some(v) => match whole_u64(v) {
            Some(w) => Some(w.min(limits.max_wait_seconds)),
            None => {
                errors.push(FieldError::new("/wait_seconds", "must be a whole number of seconds, 0 or more"));
                None
            }
        },
    };

    if errors.is_empty() {
        Ok(NewTask { prompt, priority, options, metadata, files, artifacts, webhook, wait_seconds })
    } else {
        Err(errors)
    }
}

/// Validates a follow-up message: `{"prompt": "..."}`.
pub fn parse_follow_up(body: &Value, limits: &TaskLimits) -> Result<FollowUp, Vec<FieldError>> {
    let mut errors = Vec::new();
    let Some(object) = body.as_object() else {
        return Err(vec![FieldError::new("", "the request body must be a JSON object")]);
    };
    unknown_fields(object, &["prompt", "delivery"], "", &mut errors);
    let prompt = prompt_field(object.get("prompt"), "/prompt", limits, &mut errors);
    let delivery = match object.get("delivery") {
        None | Some(Value::Null) => Delivery::default(),
        Some(value) => value.as_str().and_then(Delivery::parse).unwrap_or_else(|| {
            errors.push(FieldError::new("/delivery", "must be one of \"next_turn\", \"queue\", \"interrupt\""));
            Delivery::default()
        }),
    };
    if errors.is_empty() { Ok(FollowUp { prompt, delivery }) } else { Err(errors) }
}

/// A message for a task: its prompt and how it reaches the task.
#[derive(Debug, Clone, PartialEq)]
pub struct FollowUp {
    pub prompt: String,
    pub delivery: Delivery,
}

fn prompt_field(value: Option<&Value>, pointer: &str, limits: &TaskLimits, errors: &mut Vec<FieldError>) -> String {
    match value {
        None | Some(Value::Null) => errors.push(FieldError::new(pointer, "is required")),
        Some(Value::String(s)) if s.trim().is_empty() => errors.push(FieldError::new(pointer, "must not be empty")),
        Some(Value::String(s)) if s.len() > limits.max_prompt_bytes => errors.push(FieldError::new(
            pointer,
            format!("must be at most {} bytes (the server's cap tasks.max_prompt_bytes)", limits.max_prompt_bytes),
        )),
        Some(Value::String(s)) if s.contains('\0') => {
            errors.push(FieldError::new(pointer, "must not contain NUL characters"))
        }
        Some(Value::String(s)) => return s.clone(),
        Some(_) => errors.push(FieldError::new(pointer, "must be a string")),
    }
    String::new()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn limits() -> TaskLimits {
        TaskLimits::default()
    }

    #[test]
    fn a_message_names_its_delivery_or_takes_the_next_turn() {
        let parse = |body: serde_json::Value| parse_follow_up(&body, &limits());
        assert_eq!(parse(json!({"prompt": "p"})).unwrap().delivery, Delivery::NextTurn);
        assert_eq!(parse(json!({"prompt": "p", "delivery": "queue"})).unwrap().delivery, Delivery::Queue);
        assert_eq!(parse(json!({"prompt": "p", "delivery": "interrupt"})).unwrap().delivery, Delivery::Interrupt);
        for bad in [json!("now"), json!(1), json!(["queue"])] {
            let errors = parse(json!({"prompt": "p", "delivery": bad})).unwrap_err();
            assert_eq!(errors.len(), 1);
            assert_eq!(errors[0].pointer, "/delivery");
        }
    }

    #[test]
    fn every_invalid_field_is_named() {
        let body = json!({
            "prompt": "",
            "priority": 11,
            "options": {"max_turns": 0, "timeout_seconds": 999999999, "network": "lan", "bogus": 1},
            "metadata": {"a": 1},
            "files": [{"path": "../etc/passwd", "content": "x"}, {"path": "/abs", "content_base64": "!!"}],
            "extra": true
        });
        let errors = parse_new_task(&body, &limits(), false).unwrap_err();
        let pointers: Vec<&str> = errors.iter().map(|e| e.pointer.as_str()).collect();
        for expected in [
            "/prompt",
            "/priority",
            "/options/max_turns",
            "/options/timeout_seconds",
            "/options/network",
            "/options/bogus",
            "/metadata/a",
            "/files/0/path",
            "/files/1/path",
            "/files/1/content_base64",
            "/extra",
        ] {
            assert!(pointers.contains(&expected), "{expected} missing from {pointers:?}");
        }
        let cap = errors.iter().find(|e| e.pointer == "/options/timeout_seconds").unwrap();
        assert!(cap.message.contains("tasks.max_timeout_seconds"));
    }

    #[test]
    fn defaults_apply_and_files_decode() {
        let body = json!({"prompt": "hi", "files": [{"path": "a/b.txt", "content_base64": "aGk="}]});
        let task = parse_new_task(&body, &limits(), false).unwrap();
        assert_eq!(task.priority, 0);
        assert_eq!(task.options.max_turns, 30);
        assert_eq!(task.files[0].content, b"hi");
    }

    #[test]
    fn wait_seconds_is_for_execute_only() {
        let errors = parse_new_task(&json!({"prompt": "hi", "wait_seconds": 3}), &limits(), false).unwrap_err();
        assert_eq!(errors[0].pointer, "/wait_seconds");
        assert!(parse_new_task(&json!({"prompt": "hi", "wait_seconds": 3}), &limits(), true).is_ok());
        // Past the server's cap, the wait is cut to it (what the document promises).
        let long = parse_new_task(&json!({"prompt": "hi", "wait_seconds": 1e9}), &limits(), true).unwrap();
        assert_eq!(long.wait_seconds, Some(limits().max_wait_seconds));
    }

    /// JSON Schema's integers include `3.0`; the document says "integer".
    #[test]
    fn whole_numbers_are_counted_as_json_schema_counts_them() {
        assert_eq!(whole_u64(&json!(3)), Some(3));
        assert_eq!(whole_u64(&json!(3.0)), Some(3));
        assert_eq!(whole_u64(&json!(3.5)), None);
        assert_eq!(whole_u64(&json!(-1.0)), None);
        assert_eq!(whole_u64(&json!(1e300)), None);
        assert_eq!(whole_u64(&json!("3")), None);
        let task =
            parse_new_task(&json!({"prompt": "hi", "priority": -2.0, "options": {"max_turns": 4.0}}), &limits(), false);
        let task = task.unwrap();
        assert_eq!((task.priority, task.options.max_turns), (-2, 4));
    }
}
