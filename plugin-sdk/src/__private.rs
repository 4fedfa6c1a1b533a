//! What the export macros expand to. Not a public API.

use std::sync::Once;

use crate::{
    Approval, Artifact, ArtifactCollector, Decision, Formatted, Plugin, Policy, ResultProcessor, TaskInfo, TaskRequest,
    TaskResult, ToolApproval, ToolRequest, WebhookEvent, WebhookFormatter, WorkspaceFile,
};

pub use crate::bindings::ccgate::plugin::host as wit_host;
pub use crate::bindings::ccgate::plugin::types as wit_types;
pub use wit_bindgen;

static PANIC_HOOK: Once = Once::new();

/// Runs at the start of every call into the plugin: installs the panic hook once.
pub fn enter() {
    PANIC_HOOK.call_once(|| {
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            let message = if let Some(s) = info.payload().downcast_ref::<&str>() {
                (*s).to_owned()
            } else if let Some(s) = info.payload().downcast_ref::<String>() {
                s.clone()
            } else {
                "(a panic without a message)".to_owned()
            };
            let location = info.location().map(|l| format!("{}:{}:{}", l.file(), l.line(), l.column()));
            let mut fields = vec![("panic", message.as_str())];
            if let Some(location) = &location {
                fields.push(("location", location.as_str()));
            }
            crate::log::error_with(&format!("plugin panicked: {message}"), &fields);
            // The default hook prints to stderr too, which the host may capture.
            previous(info);
        }));
    });
}

/// The plugin's configuration from the host, deserialized.
fn config<P: Plugin>() -> P::Config {
    let text = crate::bindings::ccgate::plugin::host::config();
    match crate::parse_config::<P>(&text) {
        Ok(config) => config,
        Err(e) => {
            let message = format!(
                "the configuration of plugin {} does not deserialize (it passed check-config at load): {e}",
                P::NAME
            );
            crate::log::error(&message);
            panic!("{message}");
        }
    }
}

pub fn validate<P: Policy>(request: TaskRequest) -> Decision {
    enter();
    P::validate(&config::<P>(), request)
}

pub fn process<P: ResultProcessor>(task: TaskInfo, result: TaskResult) -> Result<TaskResult, String> {
    enter();
    P::process(&config::<P>(), task, result)
}

pub fn collect<P: ArtifactCollector>(
    task: TaskInfo,
    result: TaskResult,
    files: Vec<WorkspaceFile>,
) -> Result<Vec<Artifact>, String> {
    enter();
    P::collect(&config::<P>(), task, result, files)
}

pub fn format<P: WebhookFormatter>(event: WebhookEvent, url: String) -> Result<Formatted, String> {
    enter();
    P::format(&config::<P>(), event, url)
}

pub fn decide<P: ToolApproval>(request: ToolRequest) -> Approval {
    enter();
    P::decide(&config::<P>(), request)
}

/// Whether `text` is one JSON value (RFC 8259 syntax), at compile time: what
/// [`crate::schema!`] checks a schema file with.
pub const fn is_json(text: &str) -> bool {
    let bytes = text.as_bytes();
    match value(bytes, skip_space(bytes, 0), 0) {
        Some(end) => skip_space(bytes, end) == bytes.len(),
        None => false,
    }
}

/// Deeper nesting is refused (and keeps the compile-time recursion bounded).
const MAX_DEPTH: usize = 128;

const fn skip_space(b: &[u8], mut i: usize) -> usize {
    while i < b.len() && matches!(b[i], b' ' | b'\t' | b'\n' | b'\r') {
        i += 1;
    }
    i
}

/// The end of the value starting at `i`, if one does.
const fn value(b: &[u8], i: usize, depth: usize) -> Option<usize> {
    if i >= b.len() || depth > MAX_DEPTH {
        return None;
    }
    match b[i] {
        b'{' => members(b, i + 1, depth, b'}'),
        b'[' => members(b, i + 1, depth, b']'),
        b'"' => string(b, i + 1),
        b't' => literal(b, i, b"true"),
        b'f' => literal(b, i, b"false"),
        b'n' => literal(b, i, b"null"),
        b'-' | b'0'..=b'9' => number(b, i),
        _ => None,
    }
}

/// The end of an object (`close` `}`: `"key": value` members) or array (`]`).
const fn members(b: &[u8], mut i: usize, depth: usize, close: u8) -> Option<usize> {
    i = skip_space(b, i);
    if i < b.len() && b[i] == close {
        return Some(i + 1);
    }
    loop {
        if close == b'}' {
            if i >= b.len() || b[i] != b'"' {
                return None;
            }
            i = match string(b, i + 1) {
                Some(end) => skip_space(b, end),
                None => return None,
            };
            if i >= b.len() || b[i] != b':' {
                return None;
            }
            i = skip_space(b, i + 1);
        }
        i = match value(b, i, depth + 1) {
            Some(end) => skip_space(b, end),
            None => return None,
        };
        if i >= b.len() {
            return None;
        }
        if b[i] == close {
            return Some(i + 1);
        }
        if b[i] != b',' {
            return None;
        }
        i = skip_space(b, i + 1);
    }
}

/// The end of a string whose opening quote is just before `i`.
const fn string(b: &[u8], mut i: usize) -> Option<usize> {
    while i < b.len() {
        match b[i] {
            b'"' => return Some(i + 1),
            b'\\' => i += 2,
            0..=0x1f => return None,
            _ => i += 1,
        }
    }
    None
}

const fn literal(b: &[u8], i: usize, word: &[u8]) -> Option<usize> {
    let mut k = 0;
    while k < word.len() {
        if i + k >= b.len() || b[i + k] != word[k] {
            return None;
        }
        k += 1;
    }
    Some(i + word.len())
}

const fn number(b: &[u8], mut i: usize) -> Option<usize> {
    if b[i] == b'-' {
        i += 1;
    }
    let integer = i;
    i = digits(b, i);
    if i == integer || (b[integer] == b'0' && i - integer > 1) {
        return None;
    }
    if i < b.len() && b[i] == b'.' {
        let fraction = i + 1;
        i = digits(b, fraction);
        if i == fraction {
            return None;
        }
    }
    if i < b.len() && (b[i] == b'e' || b[i] == b'E') {
        i += 1;
        if i < b.len() && (b[i] == b'+' || b[i] == b'-') {
            i += 1;
        }
        let exponent = i;
        i = digits(b, exponent);
        if i == exponent {
            return None;
        }
    }
    Some(i)
}

/// The end of the run of ASCII digits starting at `i`.
const fn digits(b: &[u8], mut i: usize) -> usize {
    while i < b.len() && b[i].is_ascii_digit() {
        i += 1;
    }
    i
}

#[cfg(test)]
mod tests {
    use super::is_json;

    #[test]
    fn json_is_checked_at_compile_time() {
        const {
            assert!(is_json(
                r#"{"type": "object", "properties": {"a": {"minimum": -1.5e3, "x": [true, null, "\"q\""]}}}"#
            ))
        };
        for good in ["{}", "[]", " 0 ", "\"a\\u0041\"", "[1, [2, {}]]"] {
            assert!(is_json(good), "{good}");
        }
        for bad in ["", "{", "{\"a\" 1}", "{\"a\": 1,}", "[1 2]", "01", "1.", "{'a': 1}", "tru", "{} {}", "\"a"] {
            assert!(!is_json(bad), "{bad}");
        }
    }
}
