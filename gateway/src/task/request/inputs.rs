//! What a task brings and where it reports: `metadata`, `files`, `webhook`,
//! `artifacts`.

use std::collections::BTreeMap;

use base64::Engine as _;
use serde_json::{Map, Value};

use super::FieldError;
use super::json::{pointer_token, unknown_fields};
use crate::config::TaskLimits;
use crate::webhooks::{DEFAULT_EVENTS, EVENTS, TaskWebhook};
use crate::workspace::inputs::InputFile;
use crate::workspace::inputs::paths::check_relative_path;

pub(super) const MAX_METADATA_KEYS: usize = 32;
pub(super) const MAX_METADATA_KEY_BYTES: usize = 64;
pub(super) const MAX_METADATA_VALUE_BYTES: usize = 512;

pub(super) fn parse_metadata(value: Option<&Value>, errors: &mut Vec<FieldError>) -> BTreeMap<String, String> {
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

pub(super) fn parse_files(value: Option<&Value>, limits: &TaskLimits, errors: &mut Vec<FieldError>) -> Vec<InputFile> {
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

pub(super) fn parse_webhook(value: Option<&Value>, errors: &mut Vec<FieldError>) -> Option<TaskWebhook> {
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

pub(super) fn parse_artifacts(
    value: Option<&Value>,
    limits: &TaskLimits,
    errors: &mut Vec<FieldError>,
) -> Option<Vec<String>> {
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
