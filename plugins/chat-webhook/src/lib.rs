//! ccgate webhook plugin: turns task events into chat messages, a Slack Block Kit
//! message or a Microsoft Teams Adaptive Card. See `README.md` for the configuration.

use ccgate_plugin_sdk::prelude::*;
use serde::Deserialize;
use serde_json::{Value, json};

/// The plugin's configuration.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// Which chat the message is for.
    pub format: ChatFormat,
    /// The message's heading (default: `ccgate task <status>`).
    #[serde(default)]
    pub title: Option<String>,
    /// A link to the task; `{task_id}` is replaced by the task's id.
    #[serde(default)]
    pub task_url: Option<String>,
    /// Include (an excerpt of) the result text (default true).
    #[serde(default = "yes")]
    pub include_text: bool,
    /// Longer result texts and error messages are cut to this many characters, ending in `…`
    /// (default 500).
    #[serde(default = "default_max_text_chars")]
    pub max_text_chars: usize,
}

fn yes() -> bool {
    true
}

fn default_max_text_chars() -> usize {
    500
}

/// The chat flavour.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ChatFormat {
    /// Slack incoming webhook: Block Kit JSON.
    Slack,
    /// Microsoft Teams (incoming webhook / workflow): a message with an Adaptive Card.
    Teams,
}

/// Slack caps a section's text at 3000 characters.
const SLACK_TEXT_LIMIT: usize = 2900;

/// What a message says, read defensively from the event's payload.
#[derive(Debug, Default, PartialEq)]
pub struct Summary {
    /// `task.completed`, …
    pub kind: String,
    /// RFC 3339.
    pub timestamp: String,
    /// The task's id (may be empty when the payload lacks it).
    pub task_id: String,
    /// `completed`, `failed`, `running`, …
    pub status: String,
    /// The result's text.
    pub text: Option<String>,
    /// `duration_ms`.
    pub duration_ms: Option<u64>,
    /// `cost_usd`.
    pub cost_usd: Option<f64>,
    /// `num_turns`.
    pub num_turns: Option<u64>,
    /// `partial`.
    pub partial: bool,
    /// The error's kind and message.
    pub error: Option<(String, String)>,
}

impl Summary {
    /// Reads an event. Missing or mistyped fields are left out; a payload that is not
    /// JSON at all still gives the event's kind and timestamp.
    pub fn from_event(event: &WebhookEvent) -> Self {
        let payload: Value = serde_json::from_str(&event.payload).unwrap_or(Value::Null);
        let data = &payload["data"];
        let result = &data["result"];
        let error = &data["error"];
        let str_of = |v: &Value| v.as_str().map(str::to_owned);
        let kind = event.kind.name().to_owned();
        let status = str_of(&data["status"]).unwrap_or_else(|| {
            match kind.strip_prefix("task.").unwrap_or(&kind) {
                "started" => "running",
                other => other,
            }
            .to_owned()
        });
        Summary {
            timestamp: if event.timestamp.is_empty() {
                str_of(&payload["timestamp"]).unwrap_or_default()
            } else {
                event.timestamp.clone()
            },
            task_id: str_of(&data["id"]).unwrap_or_default(),
            status,
            text: str_of(&result["text"]).filter(|t| !t.trim().is_empty()),
            duration_ms: result["duration_ms"].as_u64(),
            cost_usd: result["cost_usd"].as_f64(),
            num_turns: result["num_turns"].as_u64(),
            partial: result["partial"].as_bool().unwrap_or(false),
            error: error.is_object().then(|| {
                (
                    str_of(&error["kind"]).unwrap_or_else(|| "error".to_owned()),
                    str_of(&error["message"]).unwrap_or_default(),
                )
            }),
            kind,
        }
    }

    fn emoji(&self) -> &'static str {
        match self.status.as_str() {
            "completed" => "✅",
            "failed" => "❌",
            "cancelled" => "🚫",
            "running" => "▶️",
            "queued" => "⏳",
            _ => "ℹ️",
        }
    }

    fn status_line(&self) -> String {
        let partial = if self.partial { " (partial)" } else { "" };
        format!("{} {}{partial}", self.emoji(), self.status)
    }

    fn title(&self, config: &Config) -> String {
        config.title.clone().unwrap_or_else(|| format!("ccgate task {}", self.status))
    }

    /// The facts: (label, value), the task's id first.
    fn facts(&self) -> Vec<(&'static str, String)> {
        let mut facts = vec![("Status", self.status_line())];
        if !self.task_id.is_empty() {
            facts.push(("Task", self.task_id.clone()));
        }
        if let Some(ms) = self.duration_ms {
            facts.push(("Duration", format_duration(ms)));
        }
        if let Some(cost) = self.cost_usd {
            facts.push(("Cost", format_cost(cost)));
        }
        if let Some(turns) = self.num_turns {
            facts.push(("Turns", turns.to_string()));
        }
        facts
    }

    fn link(&self, config: &Config) -> Option<String> {
        let template = config.task_url.as_deref()?;
        (!self.task_id.is_empty()).then(|| template.replace("{task_id}", &url_escape(&self.task_id)))
    }

    fn context(&self) -> String {
        [Some("ccgate"), Some(self.kind.as_str()), Some(self.timestamp.as_str())]
            .into_iter()
            .flatten()
            .filter(|s| !s.is_empty())
            .collect::<Vec<_>>()
            .join(" · ")
    }
}

/// The Slack Block Kit message for an event.
pub fn slack(config: &Config, s: &Summary) -> Value {
    let limit = config.max_text_chars.min(SLACK_TEXT_LIMIT);
    let title = s.title(config);
    let fields: Vec<Value> = s
        .facts()
        .into_iter()
        .map(|(label, value)| {
            let value = if label == "Task" { format!("`{}`", slack_escape(&value)) } else { slack_escape(&value) };
            json!({"type": "mrkdwn", "text": format!("*{label}*\n{value}")})
        })
        .collect();
    let mut blocks = vec![
        json!({"type": "header", "text": {"type": "plain_text", "text": truncate(&title, 150), "emoji": true}}),
        json!({"type": "section", "fields": fields}),
    ];
    if let Some((kind, message)) = &s.error {
        let text = format!("*Error* (`{}`)\n{}", slack_escape(kind), slack_escape(&truncate(message, limit)));
        blocks.push(json!({"type": "section", "text": {"type": "mrkdwn", "text": text}}));
    }
    if let Some(text) = s.text.as_ref().filter(|_| config.include_text) {
        let text = format!("*Result*\n{}", slack_escape(&truncate(text, limit)));
        blocks.push(json!({"type": "section", "text": {"type": "mrkdwn", "text": text}}));
    }
    if let Some(url) = s.link(config) {
        blocks.push(json!({"type": "actions", "elements": [
            {"type": "button", "text": {"type": "plain_text", "text": "Open task"}, "url": url}
        ]}));
    }
    blocks.push(json!({"type": "context", "elements": [{"type": "mrkdwn", "text": slack_escape(&s.context())}]}));

    let mut fallback = format!("{} {}", s.emoji(), title);
    if !s.task_id.is_empty() {
        fallback.push_str(&format!(" ({})", s.task_id));
    }
    json!({"text": slack_escape(&fallback), "blocks": blocks})
}

/// The Teams message (one Adaptive Card 1.4 attachment) for an event.
pub fn teams(config: &Config, s: &Summary) -> Value {
    let limit = config.max_text_chars;
    let color = match s.status.as_str() {
        "completed" => "Good",
        "failed" => "Attention",
        "cancelled" => "Warning",
        _ => "Default",
    };
    let facts: Vec<Value> =
        s.facts().into_iter().map(|(title, value)| json!({"title": title, "value": value})).collect();
    let mut body = vec![
        json!({"type": "TextBlock", "text": s.title(config), "size": "Medium", "weight": "Bolder", "wrap": true}),
        json!({"type": "TextBlock", "text": s.status_line(), "color": color, "spacing": "None", "wrap": true}),
        json!({"type": "FactSet", "facts": facts}),
    ];
    if let Some((kind, message)) = &s.error {
        body.push(json!({"type": "TextBlock", "text": format!("Error ({kind})"), "weight": "Bolder", "color": "Attention", "wrap": true}));
        body.push(json!({"type": "TextBlock", "text": truncate(message, limit), "wrap": true}));
    }
    if let Some(text) = s.text.as_ref().filter(|_| config.include_text) {
        body.push(json!({"type": "TextBlock", "text": "Result", "weight": "Bolder", "wrap": true}));
        body.push(json!({"type": "TextBlock", "text": truncate(text, limit), "wrap": true}));
    }
    body.push(json!({"type": "TextBlock", "text": s.context(), "isSubtle": true, "size": "Small", "wrap": true}));
    let mut card = json!({
        "$schema": "http://adaptivecards.io/schemas/adaptive-card.json",
        "type": "AdaptiveCard",
        "version": "1.4",
        "body": body,
    });
    if let Some(url) = s.link(config) {
        card["actions"] = json!([{"type": "Action.OpenUrl", "title": "Open task", "url": url}]);
    }
    json!({
        "type": "message",
        "attachments": [{"contentType": "application/vnd.microsoft.card.adaptive", "contentUrl": null, "content": card}]
    })
}

/// The message for an event in the configured format.
pub fn render(config: &Config, event: &WebhookEvent) -> Value {
    let summary = Summary::from_event(event);
    match config.format {
        ChatFormat::Slack => slack(config, &summary),
        ChatFormat::Teams => teams(config, &summary),
    }
}

/// Escapes the three characters Slack's mrkdwn reserves.
pub fn slack_escape(text: &str) -> String {
    text.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;")
}

/// `text` cut to at most `max` characters, the last being `…` when cut.
pub fn truncate(text: &str, max: usize) -> String {
    if text.chars().count() <= max {
        return text.to_owned();
    }
    let mut out: String = text.chars().take(max.saturating_sub(1)).collect();
    out.truncate(out.trim_end().len());
    out.push('…');
    out
}

/// `850 ms`, `12.3 s`, `2m 05s`, `1h 02m`.
pub fn format_duration(ms: u64) -> String {
    match ms {
        0..1_000 => format!("{ms} ms"),
        1_000..60_000 => format!("{:.1} s", ms as f64 / 1000.0),
        60_000..3_600_000 => format!("{}m {:02}s", ms / 60_000, ms / 1000 % 60),
        _ => format!("{}h {:02}m", ms / 3_600_000, ms / 60_000 % 60),
    }
}

/// `$0.0123` below a dollar, `$1.50` above.
pub fn format_cost(usd: f64) -> String {
    if usd < 1.0 { format!("${usd:.4}") } else { format!("${usd:.2}") }
}

fn url_escape(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// The plugin.
pub struct ChatWebhook;

impl Plugin for ChatWebhook {
    type Config = Config;
    const NAME: &'static str = "chat-webhook";
    const VERSION: &'static str = env!("CARGO_PKG_VERSION");

    fn config_schema() -> Option<&'static str> {
        Some(ccgate_plugin_sdk::schema!("../schema.json"))
    }

    fn check_config(config: &Config) -> Vec<Violation> {
        let mut violations = Vec::new();
        if let Some(url) = &config.task_url
            && !(url.starts_with("https://") || url.starts_with("http://"))
        {
            violations.push(Violation::new("/task_url", "must be an http(s) URL"));
        }
        if config.max_text_chars == 0 {
            violations.push(Violation::new("/max_text_chars", "must be at least 1"));
        }
        violations
    }
}

impl WebhookFormatter for ChatWebhook {
    fn format(config: &Config, event: WebhookEvent, _url: String) -> Result<Formatted, String> {
        Ok(Formatted::json(&render(config, &event)))
    }
}

ccgate_plugin_sdk::export_webhook_formatter!(ChatWebhook);

#[cfg(test)]
mod tests;
