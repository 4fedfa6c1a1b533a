//! The script a prompt carries: what the scripted model answers at each assistant step.
//!
//! Tests build a [`Script`] in Rust, [`embed`] it into a prompt, and the scripted model
//! parses it back out of the request. The JSON forms are strict (unknown fields are
//! rejected) so a typo in a test fails loudly instead of silently changing the run.

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// Info string of the fenced block that holds a script inside a prompt.
pub const FENCE_TAG: &str = "ccgate-script";

/// The steps of one prompt's turn; step `i` answers the `i`-th model request of that turn.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Script {
    pub steps: Vec<Step>,
}

/// One assistant response (one HTTP request to `/v1/messages`).
///
/// JSON: exactly one of `{"text": ..}`, `{"tool": .., "input": ..}` or `{"blocks": [..]}`
/// (the content may be left out when `big_text_bytes` is set), plus the optional
/// `delay_ms`, `stall_ms`, `big_text_bytes` and `http_error`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(try_from = "RawStep", into = "RawStep")]
pub struct Step {
    /// Content blocks of the answer, in order.
    pub blocks: Vec<Block>,
    /// Sleep this long before answering (before any `http_error` answer too).
    pub delay_ms: Option<u64>,
    /// Streaming only: after `message_start` and the first content delta, sleep this
    /// long before sending the rest. Non-streaming answers sleep it before answering.
    pub stall_ms: Option<u64>,
    /// Make the first text block this many bytes long (padding it, or adding one).
    pub big_text_bytes: Option<usize>,
    /// Answer the first `times` requests of this step with an HTTP error.
    pub http_error: Option<HttpError>,
}

/// One content block of an assistant answer. JSON: `{"text": ..}` or `{"tool": .., "input": ..}`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(try_from = "RawBlock", into = "RawBlock")]
pub enum Block {
    Text(String),
    Tool { name: String, input: Value },
}

/// An HTTP error to answer instead of the step's reply, a given number of times.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HttpError {
    pub status: u16,
    /// Seconds, sent as the `retry-after` header.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retry_after: Option<u64>,
    /// How many requests of this step get the error before the normal answer.
    #[serde(default = "one")]
    pub times: u32,
    /// Anthropic error type; derived from `status` when absent.
    #[serde(rename = "type", default, skip_serializing_if = "Option::is_none")]
    pub error_type: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
}

fn one() -> u32 {
    1
}

impl Script {
    pub fn new(steps: Vec<Step>) -> Self {
        Self { steps }
    }
}

impl Step {
    fn with_blocks(blocks: Vec<Block>) -> Self {
        Self { blocks, delay_ms: None, stall_ms: None, big_text_bytes: None, http_error: None }
    }

    /// A text answer (`stop_reason: end_turn`).
    pub fn text(text: impl Into<String>) -> Self {
        Self::with_blocks(vec![Block::text(text)])
    }

    /// A single tool call (`stop_reason: tool_use`).
    pub fn tool(name: impl Into<String>, input: Value) -> Self {
        Self::with_blocks(vec![Block::tool(name, input)])
    }

    /// Several blocks in one message.
    pub fn blocks(blocks: Vec<Block>) -> Self {
        Self::with_blocks(blocks)
    }

    pub fn delay_ms(mut self, ms: u64) -> Self {
        self.delay_ms = Some(ms);
        self
    }

    pub fn stall_ms(mut self, ms: u64) -> Self {
        self.stall_ms = Some(ms);
        self
    }

    pub fn big_text_bytes(mut self, bytes: usize) -> Self {
        self.big_text_bytes = Some(bytes);
        self
    }

    pub fn http_error(mut self, error: HttpError) -> Self {
        self.http_error = Some(error);
        self
    }
}

impl Block {
    pub fn text(text: impl Into<String>) -> Self {
        Self::Text(text.into())
    }

    pub fn tool(name: impl Into<String>, input: Value) -> Self {
        Self::Tool { name: name.into(), input }
    }
}

impl HttpError {
    /// `status` for the first `times` requests of the step.
    pub fn new(status: u16, times: u32) -> Self {
        Self { status, retry_after: None, times, error_type: None, message: None }
    }

    pub fn retry_after(mut self, seconds: u64) -> Self {
        self.retry_after = Some(seconds);
        self
    }

    /// The Anthropic error type: the explicit one, or the one the API uses for `status`.
    pub fn error_type(&self) -> &str {
        if let Some(kind) = &self.error_type {
            return kind;
        }
        match self.status {
            400 => "invalid_request_error",
            401 => "authentication_error",
            403 => "permission_error",
            404 => "not_found_error",
            413 => "request_too_large",
            429 => "rate_limit_error",
            529 => "overloaded_error",
            _ => "api_error",
        }
    }
}

/// A prompt text holding `script` in a fenced `ccgate-script` block after `preamble`.
pub fn embed(script: &Script, preamble: &str) -> String {
    // Serializing these types cannot fail: every map key is a string.
    let json = serde_json::to_string(script).unwrap_or_else(|_| String::from("{\"steps\":[]}"));
    format!("{preamble}\n\n```{FENCE_TAG}\n{json}\n```\n")
}

/// The script inside `prompt`, if it has a `ccgate-script` block.
pub fn extract(prompt: &str) -> Result<Option<Script>, String> {
    let Some(json) = fenced_block(prompt)? else {
        return Ok(None);
    };
    let script: Script = serde_json::from_str(json).map_err(|e| format!("invalid {FENCE_TAG} block: {e}"))?;
    Ok(Some(script))
}

/// The body of the first fenced block tagged [`FENCE_TAG`].
fn fenced_block(prompt: &str) -> Result<Option<&str>, String> {
    let opening = format!("```{FENCE_TAG}");
    let Some(start) = prompt.find(&opening) else {
        return Ok(None);
    };
    let after_tag = &prompt[start + opening.len()..];
    let Some(line_end) = after_tag.find('\n') else {
        return Err(format!("{FENCE_TAG} block has no body"));
    };
    let body = &after_tag[line_end + 1..];
    let end = closing_fence(body).ok_or_else(|| format!("{FENCE_TAG} block is not closed"))?;
    Ok(Some(&body[..end]))
}

/// Byte offset of the line that closes a fenced block (a line starting with ```).
fn closing_fence(body: &str) -> Option<usize> {
    if body.starts_with("```") {
        return Some(0);
    }
    body.find("\n```").map(|i| i + 1)
}

// ---- strict JSON forms ----

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawStep {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    text: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    tool: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    input: Option<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    blocks: Option<Vec<Block>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    delay_ms: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    stall_ms: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    big_text_bytes: Option<usize>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    http_error: Option<HttpError>,
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawBlock {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    text: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    tool: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    input: Option<Value>,
}

impl TryFrom<RawBlock> for Block {
    type Error = String;

    fn try_from(raw: RawBlock) -> Result<Self, String> {
        match (raw.text, raw.tool, raw.input) {
            (Some(text), None, None) => Ok(Block::Text(text)),
            (None, Some(name), input) => {
                Ok(Block::Tool { name, input: input.unwrap_or_else(|| Value::Object(Default::default())) })
            }
            (None, None, _) => Err("a block needs \"text\" or \"tool\"".into()),
            _ => Err("a block has either \"text\" or \"tool\" (with \"input\")".into()),
        }
    }
}

impl From<Block> for RawBlock {
    fn from(block: Block) -> Self {
        match block {
            Block::Text(text) => RawBlock { text: Some(text), tool: None, input: None },
            Block::Tool { name, input } => RawBlock { text: None, tool: Some(name), input: Some(input) },
        }
    }
}

impl TryFrom<RawStep> for Step {
    type Error = String;

    fn try_from(raw: RawStep) -> Result<Self, String> {
        let inline = RawBlock { text: raw.text, tool: raw.tool, input: raw.input };
        let has_inline = inline.text.is_some() || inline.tool.is_some() || inline.input.is_some();
        let blocks = match (has_inline, raw.blocks) {
            (true, Some(_)) => {
                return Err("a step has \"blocks\" or inline content, not both".into());
            }
            (true, None) => vec![Block::try_from(inline)?],
            (false, Some(blocks)) => blocks,
            (false, None) => Vec::new(),
        };
        if blocks.is_empty() && raw.big_text_bytes.is_none() {
            return Err("a step needs \"text\", \"tool\", \"blocks\" or \"big_text_bytes\"".into());
        }
        if let Some(error) = &raw.http_error
            && !(400..=599).contains(&error.status)
        {
            return Err(format!("http_error status {} is not 4xx/5xx", error.status));
        }
        Ok(Step {
            blocks,
            delay_ms: raw.delay_ms,
            stall_ms: raw.stall_ms,
            big_text_bytes: raw.big_text_bytes,
            http_error: raw.http_error,
        })
    }
}

impl From<Step> for RawStep {
    fn from(step: Step) -> Self {
        let mut raw = RawStep {
            text: None,
            tool: None,
            input: None,
            blocks: None,
            delay_ms: step.delay_ms,
            stall_ms: step.stall_ms,
            big_text_bytes: step.big_text_bytes,
            http_error: step.http_error,
        };
        match <[Block; 1]>::try_from(step.blocks) {
            Ok([Block::Text(text)]) => raw.text = Some(text),
            Ok([Block::Tool { name, input }]) => {
                raw.tool = Some(name);
                raw.input = Some(input);
            }
            Err(blocks) if blocks.is_empty() => {}
            Err(blocks) => raw.blocks = Some(blocks),
        }
        raw
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn round_trips_through_a_prompt() {
        let script = Script::new(vec![
            Step::tool("Bash", json!({"command": "echo hi"})),
            Step::blocks(vec![Block::text("a"), Block::tool("Read", json!({}))]).delay_ms(5),
            Step::text("bye").http_error(HttpError::new(529, 2).retry_after(1)),
            Step::blocks(vec![]).big_text_bytes(10),
        ]);
        let prompt = embed(&script, "do it");
        assert_eq!(extract(&prompt), Ok(Some(script)));
    }

    #[test]
    fn parses_the_documented_forms() {
        let prompt = "x\n```ccgate-script\n{\"steps\":[{\"text\":\"t\"},{\"tool\":\"Bash\",\"input\":{\"command\":\"ls\"}},\
            {\"blocks\":[{\"text\":\"a\"},{\"tool\":\"Write\"}]},{\"big_text_bytes\":3}]}\n```";
        let script = extract(prompt).ok().flatten().map(|s| s.steps.len());
        assert_eq!(script, Some(4));
    }

    #[test]
    fn rejects_typos_and_mixed_content() {
        for bad in [
            r#"{"steps":[{"txt":"t"}]}"#,
            r#"{"steps":[{"text":"t","tool":"Bash"}]}"#,
            r#"{"steps":[{"text":"t","blocks":[]}]}"#,
            r#"{"steps":[{}]}"#,
            r#"{"steps":[{"text":"t","http_error":{"status":200}}]}"#,
        ] {
            let prompt = format!("```ccgate-script\n{bad}\n```");
            assert!(extract(&prompt).is_err(), "{bad}");
        }
        assert!(extract("```ccgate-script\n{\"steps\":[]}").is_err());
    }

    #[test]
    fn no_block_means_no_script() {
        assert_eq!(extract("hello ```json\n{}\n```"), Ok(None));
    }
}
