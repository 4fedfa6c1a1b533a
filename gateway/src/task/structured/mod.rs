//! `options.output_schema`: the schema is held to static caps when the request is
//! parsed (`caps`), compiled when the task is submitted (an invalid one is refused
//! then), and the agent's final answer — the `StructuredOutput` tool call Claude
//! Code reports, else the text parsed as JSON — must match it for the task to
//! complete. The gateway compiles and validates only in a child process with a
//! budget (`isolated`); the functions here are what that child runs.

mod caps;
mod isolated;

use serde_json::{Value, json};

pub use caps::{OutputSchemaLimits, check_caps};
pub use isolated::{CheckError, SUBCOMMAND as CHECK_SUBCOMMAND, SchemaChecker, child_main};

/// At most this many validation errors are kept in `error.details`.
const MAX_ERRORS: usize = 20;

/// Whether `schema` is a usable JSON Schema; the error says why not.
pub fn check_schema(schema: &Value) -> Result<(), String> {
    jsonschema::validator_for(schema).map(|_| ()).map_err(|e| format!("is not a valid JSON Schema: {e}"))
}

/// Why an answer does not satisfy the schema.
#[derive(Debug, Clone, PartialEq)]
pub struct Mismatch {
    pub message: String,
    /// `{"errors": [{"instance_path", "message"}]}` or `{"parse_error"}`.
    pub details: Value,
}

/// The structured answer: `structured` if the CLI reported one, else `text` as
/// JSON (a single fenced code block around it is accepted), checked against `schema`.
pub fn check_answer(schema: &Value, structured: Option<&Value>, text: Option<&str>) -> Result<Value, Mismatch> {
    let validator = jsonschema::validator_for(schema)
        .map_err(|e| Mismatch { message: format!("output_schema cannot be compiled: {e}"), details: json!({}) })?;
    let answer = match structured {
        Some(value) => value.clone(),
        None => {
            let text = unfence(text.unwrap_or_default());
            serde_json::from_str(text).map_err(|e| Mismatch {
                message: "the agent's answer is not JSON, and it did not call the StructuredOutput tool".into(),
                details: json!({"parse_error": e.to_string()}),
            })?
        }
    };
    let errors: Vec<Value> = validator
        .iter_errors(&answer)
        .take(MAX_ERRORS)
        .map(|e| json!({"instance_path": e.instance_path().to_string(), "message": e.to_string()}))
        .collect();
    if errors.is_empty() {
        Ok(answer)
    } else {
        Err(Mismatch {
            message: format!("the agent's answer does not match output_schema ({} errors)", errors.len()),
            details: json!({"errors": errors, "answer": answer}),
        })
    }
}

/// The inside of a text that is one fenced code block (```json … ```), else the text.
fn unfence(text: &str) -> &str {
    let trimmed = text.trim();
    let Some(rest) = trimmed.strip_prefix("```") else { return trimmed };
    let Some(body) = rest.strip_suffix("```") else { return trimmed };
    match body.split_once('\n') {
        Some((info, inside)) if !info.contains('`') => inside.trim(),
        _ => trimmed,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn schema() -> Value {
        json!({"type": "object", "required": ["n"], "properties": {"n": {"type": "integer", "minimum": 1}}})
    }

    #[test]
    fn schemas_are_checked_when_submitted() {
        assert!(check_schema(&schema()).is_ok());
        let refused = check_schema(&json!({"type": "nope"})).unwrap_err();
        assert!(refused.contains("not a valid JSON Schema"), "{refused}");
    }

    #[test]
    fn the_tool_answer_wins_then_the_text_is_parsed() {
        let tool = json!({"n": 2});
        assert_eq!(check_answer(&schema(), Some(&tool), Some("not json")).unwrap(), tool);
        assert_eq!(check_answer(&schema(), None, Some("```json\n{\"n\": 3}\n```")).unwrap(), json!({"n": 3}));
        let invalid = check_answer(&schema(), None, Some(r#"{"n": 0}"#)).unwrap_err();
        assert_eq!(invalid.details["errors"][0]["instance_path"], "/n");
        let prose = check_answer(&schema(), None, Some("The answer is two.")).unwrap_err();
        assert!(prose.details["parse_error"].is_string(), "{prose:?}");
    }
}
