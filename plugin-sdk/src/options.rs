//! Reading and changing a request's `options` (JSON text in the WIT).

/// A request's `options` object, as a JSON map (`serde_json::Map<String, Value>`).
///
/// ```
/// # use ccgate_plugin_sdk::prelude::*;
/// # fn f(request: &TaskRequest) -> Decision {
/// let mut options = request.options();
/// options.insert("max_turns".into(), 5.into());
/// Decision::rewrite_from(request, &options)
/// # }
/// ```
pub type Options = serde_json::Map<String, serde_json::Value>;

pub(crate) fn parse(text: &str) -> Options {
    match serde_json::from_str(text) {
        Ok(serde_json::Value::Object(map)) => map,
        _ => Options::new(),
    }
}

/// Escapes a key for use as one JSON Pointer token (`~` → `~0`, `/` → `~1`), e.g.
/// `format!("/metadata/{}", pointer_escape(key))`.
pub fn pointer_escape(token: &str) -> String {
    token.replace('~', "~0").replace('/', "~1")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_objects_only() {
        assert_eq!(parse(r#"{"a":1}"#).get("a"), Some(&serde_json::json!(1)));
        assert!(parse("[1]").is_empty());
        assert!(parse("nonsense").is_empty());
    }

    #[test]
    fn escapes_pointer_tokens() {
        assert_eq!(pointer_escape("a/b~c"), "a~1b~0c");
    }
}
