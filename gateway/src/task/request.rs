//! Validation of what clients send to create or continue a task.
//!
//! The body is read as untyped JSON and checked field by field so that one
//! response can name every invalid field (JSON Pointer + message), which a serde
//! derive would not do: it stops at the first error.

use std::collections::BTreeMap;

use base64::Engine as _;
use serde_json::{Map, Value};

use super::{Delivery, TaskOptions};
use crate::config::TaskLimits;
use crate::webhooks::{DEFAULT_EVENTS, EVENTS, TaskWebhook};
use crate::workspace::inputs::InputFile;
use crate::workspace::inputs::paths::check_relative_path;

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

const MAX_METADATA_KEYS: usize = 32;
const MAX_METADATA_KEY_BYTES: usize = 64;
const MAX_METADATA_VALUE_BYTES: usize = 512;
const MAX_TOOL_NAME_BYTES: usize = 256;
/// Entries of `allowed_tools` or `disallowed_tools`.
const MAX_TOOLS: usize = 128;
const TASK_FIELDS: [&str; 8] =
    ["prompt", "priority", "options", "metadata", "files", "artifacts", "webhook", "wait_seconds"];
const OPTION_FIELDS: [&str; 11] = [
    "approvals",
    "model",
    "max_turns",
    "timeout_seconds",
    "allowed_tools",
    "disallowed_tools",
    "append_system_prompt",
    "network",
    "output_schema",
    "project_context",
    "max_budget_usd",
];

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

fn parse_options(value: Option<&Value>, limits: &TaskLimits, errors: &mut Vec<FieldError>) -> TaskOptions {
    let mut options = TaskOptions {
        model: limits.default_model.clone(),
        max_turns: limits.default_max_turns,
        timeout_seconds: limits.default_timeout_seconds,
        allowed_tools: limits.default_allowed_tools.clone(),
        disallowed_tools: Vec::new(),
        append_system_prompt: None,
        network: "none".into(),
        output_schema: None,
        max_budget_usd: None,
        project_context: false,
        approvals: crate::approvals::ApprovalOptions {
            mode: crate::approvals::ApprovalMode::Auto,
            timeout_seconds: limits.default_approval_timeout_seconds,
            ..Default::default()
        },
    };
    let object = match value {
        None | Some(Value::Null) => return options,
        Some(Value::Object(object)) => object,
        Some(_) => {
            errors.push(FieldError::new("/options", "must be an object"));
            return options;
        }
    };
    unknown_fields(object, &OPTION_FIELDS, "/options", errors);
    for (name, value) in object.iter().filter(|(name, _)| OPTION_FIELDS.contains(&name.as_str())) {
        let pointer = format!("/options/{}", pointer_token(name));
        if value.is_null() {
            continue; // null means "the server's default"
        }
        match name.as_str() {
            "model" => match value.as_str() {
                Some(m) if is_model_name(m) => options.model = Some(m.to_string()),
                _ => {
                    errors.push(FieldError::new(pointer, "must be a model name: 1-128 letters, digits or . _ - : / @"))
                }
            },
            "max_turns" => match whole_u64(value) {
                Some(n) if n >= 1 && n <= u64::from(limits.max_max_turns) => options.max_turns = n as u32,
                Some(n) if n >= 1 => errors.push(FieldError::new(
                    pointer,
                    format!("must be at most {} (the server's cap tasks.max_max_turns)", limits.max_max_turns),
                )),
                _ => errors.push(FieldError::new(pointer, "must be a whole number, 1 or more")),
            },
            "timeout_seconds" => match whole_u64(value) {
                Some(n) if n >= 1 && n <= limits.max_timeout_seconds => options.timeout_seconds = n,
                Some(n) if n >= 1 => errors.push(FieldError::new(
                    pointer,
                    format!(
                        "must be at most {} (the server's cap tasks.max_timeout_seconds)",
                        limits.max_timeout_seconds
                    ),
                )),
                _ => errors.push(FieldError::new(pointer, "must be a whole number of seconds, 1 or more")),
            },
            "allowed_tools" => {
                if let Some(tools) = tool_list(value, &pointer, errors) {
                    options.allowed_tools = tools;
                }
            }
            "disallowed_tools" => {
                if let Some(tools) = tool_list(value, &pointer, errors) {
                    options.disallowed_tools = tools;
                }
            }
            "append_system_prompt" => match value.as_str() {
                Some(s) if s.len() > limits.max_append_system_prompt_bytes => errors.push(FieldError::new(
                    pointer,
                    format!(
                        "must be at most {} bytes (the server's cap tasks.max_append_system_prompt_bytes)",
                        limits.max_append_system_prompt_bytes
                    ),
                )),
                Some(s) if s.contains('\0') => errors.push(FieldError::new(pointer, "must not contain NUL characters")),
                Some(s) => options.append_system_prompt = Some(s.to_string()),
                None => errors.push(FieldError::new(pointer, "must be a string or null")),
            },
            "network" => match value.as_str() {
                Some(n @ ("none" | "allowlist" | "full")) => options.network = n.to_string(),
                _ => errors.push(FieldError::new(pointer, "must be one of \"none\", \"allowlist\", \"full\"")),
            },
            "output_schema" => match value {
                Value::Object(_) => match super::structured::check_caps(value, &limits.output_schema) {
                    Ok(()) => options.output_schema = Some(value.clone()),
                    Err(why) => errors.push(FieldError::new(pointer, why)),
                },
                _ => errors.push(FieldError::new(pointer, "must be a JSON Schema object or null")),
            },
            "project_context" => match value.as_bool() {
                Some(on) => options.project_context = on,
                None => errors.push(FieldError::new(pointer, "must be true or false")),
            },
            "approvals" => parse_approvals(value, &pointer, limits, &mut options.approvals, errors),
            "max_budget_usd" => match value.as_f64() {
                Some(b) if b > 0.0 && b.is_finite() => options.max_budget_usd = Some(b),
                _ => errors.push(FieldError::new(pointer, "must be a positive number of US dollars")),
            },
            _ => {}
        }
    }
    check_auto_allow(&options, errors);
    options
}

/// An `auto_allow` rule answers prompts of a tool the task already has; it does not
/// hand the task a tool its `allowed_tools` (which policies and plugins judge) leave out.
fn check_auto_allow(options: &TaskOptions, errors: &mut Vec<FieldError>) {
    let allowed = |tool: &str| options.allowed_tools.iter().any(|rule| crate::approvals::tool_of(rule) == tool);
    for (i, rule) in options.approvals.auto_allow.iter().enumerate() {
        let tool = crate::approvals::tool_of(rule);
        if !allowed(tool) {
            errors.push(FieldError::new(
                format!("/options/approvals/auto_allow/{i}"),
                format!("names {tool}, which the task does not allow: add it to options.allowed_tools first"),
            ));
        }
    }
}

/// `options.approvals`: `{"mode": "auto" | "ask", "timeout_seconds": N,
/// "auto_allow": [rule…], "auto_deny": [rule…]}`.
fn parse_approvals(
    value: &Value,
    pointer: &str,
    limits: &TaskLimits,
    approvals: &mut crate::approvals::ApprovalOptions,
    errors: &mut Vec<FieldError>,
) {
    let Some(object) = value.as_object() else {
        errors.push(FieldError::new(pointer, "must be an object {mode, timeout_seconds, auto_allow, auto_deny}"));
        return;
    };
    unknown_fields(object, &["mode", "timeout_seconds", "auto_allow", "auto_deny"], pointer, errors);
    for (field, rules) in [("auto_allow", &mut approvals.auto_allow), ("auto_deny", &mut approvals.auto_deny)] {
        let pointer = format!("{pointer}/{field}");
        match object.get(field) {
            None | Some(Value::Null) => {}
            Some(value) => {
                let Some(texts) = tool_list(value, &pointer, errors) else { continue };
                if let Err(bad) = crate::approvals::rules::parse_all(&texts) {
                    errors.extend(
                        bad.into_iter()
                            .map(|(i, why)| FieldError::new(format!("{pointer}/{i}"), format!("rule {why}"))),
                    );
                }
                // Kept even when some are bad (the request fails anyway), so every
                // problem of the list is reported at once.
                *rules = texts;
            }
        }
    }
    match object.get("mode") {
        None | Some(Value::Null) => {}
        Some(Value::String(mode)) if mode == "auto" => approvals.mode = crate::approvals::ApprovalMode::Auto,
        Some(Value::String(mode)) if mode == "ask" => approvals.mode = crate::approvals::ApprovalMode::Ask,
        Some(_) => errors.push(FieldError::new(format!("{pointer}/mode"), "must be \"auto\" or \"ask\"")),
    }
    let cap = limits.max_approval_timeout_seconds;
    match object.get("timeout_seconds") {
        None | Some(Value::Null) => {}
        Some(value) => match whole_u64(value) {
            Some(n) if (1..=cap).contains(&n) => approvals.timeout_seconds = n,
            _ => errors.push(FieldError::new(
                format!("{pointer}/timeout_seconds"),
                format!("must be a whole number of seconds from 1 to {cap} (the server's cap tasks.max_approval_timeout_seconds)"),
            )),
        },
    }
}

fn tool_list(value: &Value, pointer: &str, errors: &mut Vec<FieldError>) -> Option<Vec<String>> {
    let Some(items) = value.as_array() else {
        errors.push(FieldError::new(pointer, "must be an array of tool names"));
        return None;
    };
    if items.len() > MAX_TOOLS {
        errors.push(FieldError::new(pointer, format!("must have at most {MAX_TOOLS} entries")));
        return None;
    }
    let mut tools = Vec::with_capacity(items.len());
    let before = errors.len();
    for (i, item) in items.iter().enumerate() {
        match item.as_str() {
            Some(t) if !t.trim().is_empty() && t.len() <= MAX_TOOL_NAME_BYTES && !t.contains(['\0', '\n', ',']) => {
                tools.push(t.to_string())
            }
            _ => errors.push(FieldError::new(
                format!("{pointer}/{i}"),
                format!("must be a tool name or pattern (1-{MAX_TOOL_NAME_BYTES} bytes, no commas or newlines)"),
            )),
        }
    }
    (errors.len() == before).then_some(tools)
}

fn parse_metadata(value: Option<&Value>, errors: &mut Vec<FieldError>) -> BTreeMap<String, String> {
    let mut metadata = BTreeMap::new();
    let object: &Map<String, Value> = match value {
        None | Some(Value::Null) => return metadata,
        Some(Value::Object(object)) => object,
        Some(_) => {
            errors.push(FieldError::new("/metadata", "must be an object of string values"));
            return metadata;
        }
    };
    if object.len() > MAX_METADATA_KEYS {
        errors.push(FieldError::new("/metadata", format!("must have at most {MAX_METADATA_KEYS} keys")));
        return metadata;
    }
    for (key, value) in object {
        let pointer = format!("/metadata/{}", pointer_token(key));
        if key.is_empty() || key.len() > MAX_METADATA_KEY_BYTES {
            errors.push(FieldError::new(&pointer, format!("keys must be 1-{MAX_METADATA_KEY_BYTES} bytes")));
        }
        match value.as_str() {
            Some(v) if v.len() <= MAX_METADATA_VALUE_BYTES => {
                metadata.insert(key.clone(), v.to_string());
            }
            Some(_) => {
                errors.push(FieldError::new(pointer, format!("must be at most {MAX_METADATA_VALUE_BYTES} bytes")))
            }
            None => errors.push(FieldError::new(pointer, "must be a string")),
        }
    }
    metadata
}

fn parse_files(value: Option<&Value>, limits: &TaskLimits, errors: &mut Vec<FieldError>) -> Vec<InputFile> {
    let items = match value {
        None | Some(Value::Null) => return Vec::new(),
        Some(Value::Array(items)) => items,
        Some(_) => {
            errors.push(FieldError::new("/files", "must be an array of {path, content | content_base64}"));
            return Vec::new();
        }
    };
    if items.len() > limits.max_input_files {
        errors.push(FieldError::new(
            "/files",
            format!("must have at most {} entries (the server's cap tasks.max_input_files)", limits.max_input_files),
        ));
        return Vec::new();
    }
    let mut files = Vec::with_capacity(items.len());
    for (i, item) in items.iter().enumerate() {
        let pointer = format!("/files/{i}");
        let Some(entry) = item.as_object() else {
            errors.push(FieldError::new(pointer, "must be an object {path, content | content_base64}"));
            continue;
        };
        unknown_fields(entry, &["path", "content", "content_base64"], &pointer, errors);
        let path = match entry.get("path").and_then(Value::as_str) {
            Some(p) => match check_relative_path(p) {
                Ok(()) => Some(p.to_string()),
                Err(why) => {
                    errors.push(FieldError::new(format!("{pointer}/path"), why));
                    None
                }
            },
            None => {
                errors.push(FieldError::new(format!("{pointer}/path"), "is required and must be a string"));
                None
            }
        };
        let content = match (entry.get("content"), entry.get("content_base64")) {
            (Some(Value::String(text)), None) => Some(text.clone().into_bytes()),
            (None, Some(Value::String(encoded))) => match base64::engine::general_purpose::STANDARD.decode(encoded) {
                Ok(bytes) => Some(bytes),
                Err(e) => {
                    errors.push(FieldError::new(
                        format!("{pointer}/content_base64"),
                        format!("is not valid base64: {e}"),
                    ));
                    None
                }
            },
            (Some(_), Some(_)) => {
                errors.push(FieldError::new(pointer.clone(), "give either content or content_base64, not both"));
                None
            }
            (None, None) => {
                errors.push(FieldError::new(format!("{pointer}/content"), "content or content_base64 is required"));
                None
            }
            (Some(_), None) => {
                errors.push(FieldError::new(format!("{pointer}/content"), "must be a string"));
                None
            }
            (None, Some(_)) => {
                errors.push(FieldError::new(format!("{pointer}/content_base64"), "must be a string"));
                None
            }
        };
        if let (Some(path), Some(content)) = (path, content) {
            files.push(InputFile { path, content });
        }
    }
    // Duplicates, sizes and the rest are checked with the other inputs when the
    // workspace is built (`workspace::inputs`).
    files
}

fn parse_webhook(value: Option<&Value>, errors: &mut Vec<FieldError>) -> Option<TaskWebhook> {
    let object = match value {
        None | Some(Value::Null) => return None,
        Some(Value::Object(object)) => object,
        Some(_) => {
            errors.push(FieldError::new("/webhook", "must be an object {url, events}"));
            return None;
        }
    };
    let before = errors.len();
    unknown_fields(object, &["url", "events"], "/webhook", errors);
    let url = match object.get("url").and_then(Value::as_str) {
        Some(url) if url.len() <= 2048 => url.to_string(),
        _ => {
            errors.push(FieldError::new("/webhook/url", "is required: an http(s) URL of at most 2048 bytes"));
            String::new()
        }
    };
    let events = match object.get("events") {
        None | Some(Value::Null) => DEFAULT_EVENTS.map(String::from).to_vec(),
        Some(Value::Array(items)) if items.len() > EVENTS.len() => {
            errors.push(FieldError::new("/webhook/events", format!("must have at most {} entries", EVENTS.len())));
            Vec::new()
        }
        Some(Value::Array(items)) if !items.is_empty() => {
            let mut events = Vec::new();
            for (i, item) in items.iter().enumerate() {
                match item.as_str() {
                    Some(e) if EVENTS.contains(&e) => events.push(e.to_string()),
                    _ => errors.push(FieldError::new(
                        format!("/webhook/events/{i}"),
                        format!("must be one of {}", EVENTS.join(", ")),
                    )),
                }
            }
            events
        }
        Some(_) => {
            errors.push(FieldError::new("/webhook/events", "must be a non-empty array of event types"));
            Vec::new()
        }
    };
    (errors.len() == before).then_some(TaskWebhook { url, events, disabled: false })
}

fn parse_artifacts(value: Option<&Value>, limits: &TaskLimits, errors: &mut Vec<FieldError>) -> Option<Vec<String>> {
    let items = match value {
        None | Some(Value::Null) => return None,
        Some(Value::Array(items)) => items,
        Some(_) => {
            errors.push(FieldError::new("/artifacts", "must be an array of glob patterns"));
            return None;
        }
    };
    if items.len() > limits.max_artifact_patterns {
        errors.push(FieldError::new(
            "/artifacts",
            format!(
                "must have at most {} patterns (the server's cap tasks.max_artifact_patterns)",
                limits.max_artifact_patterns
            ),
        ));
        return None;
    }
    let mut patterns = Vec::with_capacity(items.len());
    let mut alternatives = 0;
    for (i, item) in items.iter().enumerate() {
        match item.as_str().map(|p| (p, crate::artifacts::glob(p))) {
            Some((pattern, Ok(glob))) => {
                alternatives += glob.alternatives();
                patterns.push(pattern.to_string());
            }
            Some((_, Err(why))) => errors.push(FieldError::new(format!("/artifacts/{i}"), why.to_string())),
            None => errors.push(FieldError::new(format!("/artifacts/{i}"), "must be a string")),
        }
    }
    if alternatives > limits.max_artifact_alternatives {
        errors.push(FieldError::new(
            "/artifacts",
            format!(
                "expands to {alternatives} patterns with its {{…}} alternatives; at most {} are accepted \
                 (the server's cap tasks.max_artifact_alternatives)",
                limits.max_artifact_alternatives
            ),
        ));
        return None;
    }
    Some(patterns)
}

/// A whole number as JSON Schema counts them: `3` and `3.0` alike.
pub fn whole_number(value: &Value) -> Option<i64> {
    value.as_i64().or_else(|| {
        let n = value.as_f64()?;
        // Within ±2^53 every whole float is exact.
        (n.fract() == 0.0 && n.abs() <= 9_007_199_254_740_992.0).then_some(n as i64)
    })
}

/// A whole number of 0 or more (`3` or `3.0`).
pub fn whole_u64(value: &Value) -> Option<u64> {
    value.as_u64().or_else(|| whole_number(value).and_then(|n| u64::try_from(n).ok()))
}

/// Names the fields of `object` (at `prefix`) that are not `known`: the first few
/// one by one, the rest in one error, so a body of many bogus keys costs little.
pub fn unknown_fields(object: &Map<String, Value>, known: &[&str], prefix: &str, errors: &mut Vec<FieldError>) {
    const LISTED: usize = 10;
    let mut unknown = object.keys().filter(|name| !known.contains(&name.as_str()));
    for name in unknown.by_ref().take(LISTED) {
        errors.push(FieldError::new(format!("{prefix}/{}", pointer_token(name)), "unknown field"));
    }
    let more = unknown.count();
    if more > 0 {
        let known = known.join(", ");
        errors.push(FieldError::new(prefix, format!("has {more} more unknown fields; the known ones are {known}")));
    }
}

/// JSON Pointer escaping of one reference token (RFC 6901).
pub fn pointer_token(token: &str) -> String {
    token.replace('~', "~0").replace('/', "~1")
}

fn is_model_name(name: &str) -> bool {
    (1..=128).contains(&name.len()) && name.bytes().all(|b| b.is_ascii_alphanumeric() || b".-_:/@".contains(&b))
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
