//! `options`: the model, turns, timeout, tools, network, output schema, budget
//! and approvals of a task's runs.

use serde_json::Value;

use super::FieldError;
use super::json::{pointer_token, unknown_fields, whole_u64};
use crate::config::TaskLimits;
use crate::task::{Network, TaskOptions};

pub(super) const MAX_TOOL_NAME_BYTES: usize = 256;
/// Entries of `allowed_tools` or `disallowed_tools`.
pub(super) const MAX_TOOLS: usize = 128;
pub(super) const OPTION_FIELDS: [&str; 11] = [
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

pub(super) fn parse_options(value: Option<&Value>, limits: &TaskLimits, errors: &mut Vec<FieldError>) -> TaskOptions {
    let mut options = TaskOptions {
        model: limits.default_model.clone(),
        max_turns: limits.default_max_turns,
        timeout_seconds: limits.default_timeout_seconds,
        allowed_tools: limits.default_allowed_tools.clone(),
        disallowed_tools: Vec::new(),
        append_system_prompt: None,
        network: Network::None,
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
            "network" => match value.as_str().and_then(Network::parse) {
                Some(network) => options.network = network,
                _ => errors.push(FieldError::new(pointer, "must be one of \"none\", \"allowlist\", \"full\"")),
            },
            "output_schema" => match value {
                Value::Object(_) => match crate::task::structured::check_caps(value, &limits.output_schema) {
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
pub(super) fn check_auto_allow(options: &TaskOptions, errors: &mut Vec<FieldError>) {
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
pub(super) fn parse_approvals(
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

pub(super) fn tool_list(value: &Value, pointer: &str, errors: &mut Vec<FieldError>) -> Option<Vec<String>> {
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

pub(super) fn is_model_name(name: &str) -> bool {
    (1..=128).contains(&name.len()) && name.bytes().all(|b| b.is_ascii_alphanumeric() || b".-_:/@".contains(&b))
}
