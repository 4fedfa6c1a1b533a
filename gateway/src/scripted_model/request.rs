//! The part of a Messages API request the scripted model reads, and where in the
//! conversation the request stands (which prompt, which step of that prompt's script).
//!
//! Everything is derived from the request alone, so any number of CLI processes and
//! sessions can share one server without server-side session state.

use serde::Deserialize;
use serde::de::IgnoredAny;
use serde_json::Value;

#[derive(Debug, Deserialize)]
pub(crate) struct MessagesRequest {
    #[serde(default)]
    pub model: String,
    #[serde(default)]
    pub messages: Vec<Message>,
    #[serde(default)]
    pub stream: bool,
    /// Only the count matters: the agent loop offers tools, side requests don't.
    #[serde(default)]
    pub tools: Vec<IgnoredAny>,
    /// Side requests such as the session title ask for JSON output this way.
    #[serde(default)]
    pub output_config: Option<Value>,
}

#[derive(Debug, Deserialize)]
pub(crate) struct Message {
    pub role: String,
    pub content: Content,
}

#[derive(Debug, Deserialize)]
#[serde(untagged)]
pub(crate) enum Content {
    Text(String),
    Blocks(Vec<ContentBlock>),
}

#[derive(Debug, Deserialize)]
pub(crate) struct ContentBlock {
    #[serde(rename = "type")]
    pub kind: String,
    #[serde(default)]
    pub text: Option<String>,
}

/// The most recent real prompt and how many assistant answers followed it.
#[derive(Debug, PartialEq)]
pub(crate) struct Turn {
    /// The prompt's text blocks, joined by newlines, without the CLI's reminder blocks.
    pub prompt: String,
    /// Index of the step to answer now: assistant messages after the prompt.
    pub step: usize,
}

impl MessagesRequest {
    /// Whether this is the agent loop (it offers tools) rather than a side request
    /// (title, summary, quota probe...), which must only ever get plain text.
    pub fn is_agent_loop(&self) -> bool {
        !self.tools.is_empty()
    }

    /// The JSON schema the answer must follow (`output_config.format`), if any.
    pub fn output_schema(&self) -> Option<&Value> {
        let format = self.output_config.as_ref()?.get("format")?;
        (format.get("type")? == "json_schema").then(|| format.get("schema"))?
    }

    /// The last user message carrying a real prompt, and the step to answer.
    pub fn turn(&self) -> Option<Turn> {
        let (index, message) = self.messages.iter().enumerate().rev().find(|(_, m)| m.carries_prompt())?;
        // The script's steps count the model's answers, not the assistant messages
        // the CLI writes itself for a failed request.
        let step = self.messages[index + 1..]
            .iter()
            .filter(|m| m.role == "assistant" && !is_cli_filler(&m.content.text()))
            .count();
        Some(Turn { prompt: message.content.text(), step })
    }
}

impl Message {
    /// A user message with a prompt, or the message in which the CLI passes on a
    /// prompt the user sent while it was working (`queue` delivery).
    fn carries_prompt(&self) -> bool {
        match self.role.as_str() {
            "user" => self.content.is_prompt(),
            // CLI 2.1.197 sends a steering message as a `system` message of its own.
            "system" => match &self.content {
                Content::Text(text) => is_steered(text),
                Content::Blocks(blocks) => blocks.iter().filter_map(|b| b.text.as_deref()).any(is_steered),
            },
            _ => false,
        }
    }
}

impl Content {
    /// A prompt has text of its own. Text the CLI adds by itself (reminders next to
    /// tool results, the structured-output nudge, the interruption marker) continues
    /// the current turn; text the user sent beside a tool result (a message delivered
    /// into a running turn) is a prompt.
    fn is_prompt(&self) -> bool {
        match self {
            Content::Text(text) => is_user_text(text),
            Content::Blocks(blocks) => {
                blocks.iter().filter(|b| b.kind == "text").filter_map(|b| b.text.as_deref()).any(is_user_text)
            }
        }
    }

    /// The prompt's text: the user's own text blocks, a steering message unwrapped.
    fn text(&self) -> String {
        let texts: Vec<&str> = match self {
            Content::Text(text) => vec![text],
            Content::Blocks(blocks) => blocks
                .iter()
                .filter(|b| b.kind == "text")
                .filter_map(|b| b.text.as_deref())
                .filter(|text| !is_reminder(text))
                .collect(),
        };
        let user: Vec<&str> = texts.iter().copied().filter(|t| is_user_text(t)).collect();
        let texts = if user.is_empty() { texts } else { user };
        texts.iter().map(|t| unwrap_steered(t)).collect::<Vec<_>>().join("\n")
    }
}

/// How the CLI introduces a message the user sent while it was working (CLI 2.1.197
/// and 2.1.332); the message follows on the next line.
const STEERED_MARKER: &str = "The user sent a new message while you were working:";

fn is_steered(text: &str) -> bool {
    text.trim_start().starts_with(STEERED_MARKER)
}

/// The user's message out of the CLI's steering wrapper (what follows the marker);
/// other text as it is.
fn unwrap_steered(text: &str) -> &str {
    match text.trim_start().strip_prefix(STEERED_MARKER) {
        Some(rest) => rest.trim_start_matches(['\r', '\n']),
        None => text,
    }
}

/// Starts of user-role texts the CLI writes by itself (seen with CLI 2.1.197).
const CLI_MARKERS: &[&str] = &["[structured-output-enforce]", "[Request interrupted by user"];

/// Assistant texts the CLI writes in place of a model answer (seen with CLI
/// 2.1.197): the error of a failed request, and the placeholder for a turn that
/// got no answer before it was resumed.
fn is_cli_filler(text: &str) -> bool {
    let text = text.trim();
    text.starts_with("API Error") || text == "No response requested."
}

/// Whether `text` was written by the user rather than added by the CLI.
fn is_user_text(text: &str) -> bool {
    let trimmed = text.trim_start();
    // The gateway's prompt for a retried turn continues the turn too.
    !trimmed.is_empty()
        && !is_reminder(text)
        && !CLI_MARKERS.iter().any(|m| trimmed.starts_with(m))
        && !trimmed.starts_with(crate::runner::CONTINUE_PROMPT)
}

/// The CLI puts context (date, CLAUDE.md...) in its own text block before the prompt.
fn is_reminder(text: &str) -> bool {
    let text = text.trim();
    text.starts_with("<system-reminder>") && text.ends_with("</system-reminder>")
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn request(messages: serde_json::Value) -> MessagesRequest {
        serde_json::from_value(json!({"model": "m", "messages": messages, "tools": [{}]}))
            .unwrap_or_else(|e| panic!("bad fixture: {e}"))
    }

    #[test]
    fn counts_assistant_messages_after_the_last_prompt() {
        let req = request(json!([
            {"role": "user", "content": "first"},
            {"role": "assistant", "content": [{"type": "text", "text": "a"}]},
            {"role": "user", "content": [
                {"type": "text", "text": "<system-reminder>\ndate\n</system-reminder>\n\n"},
                {"type": "text", "text": "second"}
            ]},
            {"role": "assistant", "content": [{"type": "tool_use", "id": "t", "name": "Bash", "input": {}}]},
            {"role": "user", "content": [
                {"type": "tool_result", "tool_use_id": "t", "content": "x"},
                {"type": "text", "text": "<system-reminder>r</system-reminder>"}
            ]},
        ]));
        let turn = Turn { prompt: "second".into(), step: 1 };
        assert_eq!(req.turn(), Some(turn));
    }

    #[test]
    fn the_structured_output_nudge_continues_the_turn() {
        let req = request(json!([
            {"role": "user", "content": [{"type": "text", "text": "prompt"}]},
            {"role": "assistant", "content": [{"type": "text", "text": "a"}]},
            {"role": "user", "content": [{"type": "text",
                "text": "[structured-output-enforce] You MUST call the StructuredOutput tool"}]},
        ]));
        let turn = Turn { prompt: "prompt".into(), step: 1 };
        assert_eq!(req.turn(), Some(turn));
    }

    #[test]
    fn a_message_sent_beside_a_tool_result_is_the_prompt() {
        // CLI 2.1.197 after an interrupt, and 2.1.332 for a queued message.
        let req = request(json!([
            {"role": "user", "content": "first"},
            {"role": "assistant", "content": [{"type": "tool_use", "id": "t", "name": "Bash", "input": {}}]},
            {"role": "user", "content": [
                {"type": "tool_result", "tool_use_id": "t", "content": "rejected"},
                {"type": "text", "text": "[Request interrupted by user for tool use]\n"},
                {"type": "text", "text": "second\nmore"}
            ]},
        ]));
        assert_eq!(req.turn(), Some(Turn { prompt: "second\nmore".into(), step: 0 }));
        let queued = request(json!([
            {"role": "user", "content": "first"},
            {"role": "assistant", "content": [{"type": "tool_use", "id": "t", "name": "Bash", "input": {}}]},
            {"role": "user", "content": [
                {"type": "tool_result", "tool_use_id": "t", "content": "slept"},
                {"type": "text", "text": "The user sent a new message while you were working:\nsteer\n\nAddress it."}
            ]},
        ]));
        assert_eq!(queued.turn(), Some(Turn { prompt: "steer\n\nAddress it.".into(), step: 0 }));
    }

    #[test]
    fn a_steering_system_message_is_the_prompt() {
        // CLI 2.1.197 passes a queued message on as a `system` message after the tool result.
        let req = request(json!([
            {"role": "user", "content": "first"},
            {"role": "assistant", "content": [{"type": "tool_use", "id": "t", "name": "Bash", "input": {}}]},
            {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "t", "content": "slept"}]},
            {"role": "system", "content": "The user sent a new message while you were working:\nsteer\n\nIMPORTANT: do it"},
        ]));
        assert_eq!(req.turn(), Some(Turn { prompt: "steer\n\nIMPORTANT: do it".into(), step: 0 }));
        let other = request(json!([{"role": "user", "content": "first"}, {"role": "system", "content": "other"}]));
        assert_eq!(other.turn(), Some(Turn { prompt: "first".into(), step: 0 }));
    }

    #[test]
    fn no_prompt_means_no_turn() {
        let req = request(json!([]));
        assert_eq!(req.turn(), None);
        assert!(req.is_agent_loop());
    }
}
