//! What a run may ask of the model: the task's model, a `max_tokens` cap, and no
//! MCP servers, containers or server tools that reach other hosts, checked on every
//! request the model proxy forwards (a run can call the proxy
//! directly with its token, bypassing whatever the CLI was told).

use axum::http::StatusCode;
use serde::Deserialize;

/// What the proxy lets one run do.
#[derive(Debug, Clone)]
pub struct ProxyLimits {
    /// The largest `max_tokens` a request may ask for.
    pub max_tokens: u64,
    /// Model requests of one run in flight at once.
    pub max_concurrent_requests: usize,
    /// Connections one run may hold open to the proxy.
    pub max_connections: usize,
    /// The largest request body (the Messages API's own limit is 32 MB).
    pub max_request_bytes: usize,
}

/// The fields of a Messages request that the proxy checks (the rest is skipped
/// without being kept).
#[derive(Debug, Default, Deserialize, PartialEq)]
pub struct Asked {
    pub model: Option<String>,
    pub max_tokens: Option<u64>,
    /// Present (not null) when the request connects the model to MCP servers.
    #[serde(default, deserialize_with = "present")]
    pub mcp_servers: bool,
    /// Present when the request asks for a code-execution container.
    #[serde(default, deserialize_with = "present")]
    pub container: bool,
    #[serde(default)]
    pub tools: Vec<ToolDeclaration>,
}

/// A tool of a request: the CLI's own tools have no `type` (or `custom`); the API's
/// server tools name theirs.
#[derive(Debug, Default, Deserialize, PartialEq)]
pub struct ToolDeclaration {
    #[serde(rename = "type")]
    pub kind: Option<String>,
}

/// Server tools that make Anthropic reach other hosts or run code for the run:
/// they would bypass the sandbox's network rules and the task's disallowed tools,
/// and bill what the price table does not know. (`web_search`, which Claude Code's
/// WebSearch tool uses, passes.)
const REFUSED_SERVER_TOOLS: [&str; 3] = ["web_fetch", "code_execution", "mcp"];

fn present<'de, D: serde::Deserializer<'de>>(deserializer: D) -> Result<bool, D::Error> {
    Ok(!serde_json::Value::deserialize(deserializer)?.is_null())
}

/// A request the proxy refuses, in the Messages API's terms.
#[derive(Debug, PartialEq)]
pub struct Refusal {
    pub status: StatusCode,
    pub kind: &'static str,
    pub message: String,
}

impl Refusal {
    fn invalid(message: String) -> Self {
        Self { status: StatusCode::BAD_REQUEST, kind: "invalid_request_error", message }
    }
}

/// Reads and checks a request body: `counting` is a `count_tokens` request
/// (which has no `max_tokens`); `model` is the one model the run may use, if any.
pub fn check(body: &[u8], counting: bool, model: Option<&str>, limits: &ProxyLimits) -> Result<Asked, Refusal> {
    let asked: Asked = serde_json::from_slice(body).map_err(|e| {
        Refusal::invalid(format!("the body must be a JSON object with a string model and a whole max_tokens: {e}"))
    })?;
    let Some(name) = asked.model.as_deref() else { return Err(Refusal::invalid("model: field required".into())) };
    let forbidden = |message: String| Refusal { status: StatusCode::FORBIDDEN, kind: "permission_error", message };
    if asked.mcp_servers || asked.container {
        let field = if asked.mcp_servers { "mcp_servers" } else { "container" };
        return Err(forbidden(format!("{field}: runs of this gateway may not use it")));
    }
    if let Some(kind) = asked
        .tools
        .iter()
        .filter_map(|tool| tool.kind.as_deref())
        .find(|kind| REFUSED_SERVER_TOOLS.iter().any(|refused| kind.starts_with(refused)))
    {
        return Err(forbidden(format!("tools: runs of this gateway may not use the server tool {kind}")));
    }
    if let Some(allowed) = model
        && !model_allowed(name, allowed)
    {
        return Err(Refusal {
            status: StatusCode::FORBIDDEN,
            kind: "permission_error",
            message: format!("model: this run may only use {allowed}, not {name}"),
        });
    }
    match asked.max_tokens {
        None if !counting => Err(Refusal::invalid("max_tokens: field required".into())),
        Some(asked_tokens) if asked_tokens > limits.max_tokens => Err(Refusal::invalid(format!(
            "max_tokens: {asked_tokens} > {}, which is the maximum allowed for runs of this gateway",
            limits.max_tokens
        ))),
        _ => Ok(asked),
    }
}

/// Whether a request for `asked` is a request for the task's `allowed` model: the
/// same name, that name with a date (`claude-sonnet-4-5` → `…-20250929`), or, for
/// the CLI's aliases (`opus`, `sonnet`, `haiku`, `opusplan`, `best`), a Claude model
/// of that family (`default`: any Claude model).
pub fn model_allowed(asked: &str, allowed: &str) -> bool {
    if asked == allowed {
        return true;
    }
    if let Some(date) = asked.strip_prefix(allowed).and_then(|rest| rest.strip_prefix('-')) {
        return !date.is_empty() && date.bytes().all(|b| b.is_ascii_digit());
    }
    let families: &[&str] = match allowed {
        // The CLI's own default: any Claude model.
        "default" => return asked.starts_with("claude-"),
        "opus" | "best" => &["opus"],
        "sonnet" => &["sonnet"],
        "haiku" => &["haiku"],
        "opusplan" => &["opus", "sonnet"],
        _ => return false,
    };
    asked.starts_with("claude-") && asked.split('-').any(|part| families.contains(&part))
}

#[cfg(test)]
mod tests {
    use super::*;

    const LIMITS: ProxyLimits =
        ProxyLimits { max_tokens: 32_000, max_concurrent_requests: 4, max_connections: 8, max_request_bytes: 1024 };

    #[test]
    fn only_the_tasks_model_and_a_capped_max_tokens_pass() {
        let body = br#"{"model":"claude-sonnet-4-5","max_tokens":32000,"messages":[{"role":"user","content":"hi"}]}"#;
        let asked = check(body, false, Some("claude-sonnet-4-5"), &LIMITS).unwrap();
        assert_eq!(asked.max_tokens, Some(32_000));
        assert!(check(body, false, None, &LIMITS).is_ok(), "a task without a model may use any");
        let other = check(body, false, Some("claude-haiku-4-5"), &LIMITS).unwrap_err();
        assert_eq!((other.status, other.kind), (StatusCode::FORBIDDEN, "permission_error"));
        let huge = check(br#"{"model":"m","max_tokens":32001}"#, false, None, &LIMITS).unwrap_err();
        assert_eq!((huge.status, huge.kind), (StatusCode::BAD_REQUEST, "invalid_request_error"));
        assert!(huge.message.starts_with("max_tokens"), "{}", huge.message);
        for bad in [&br#"{"model":"m","max_tokens":-1}"#[..], br#"{"model":"m"}"#, br#"{"max_tokens":1}"#, b"[]", b"{"]
        {
            assert_eq!(check(bad, false, None, &LIMITS).unwrap_err().kind, "invalid_request_error");
        }
        assert!(check(br#"{"model":"m","messages":[]}"#, true, None, &LIMITS).is_ok(), "counting has no max_tokens");
    }

    #[test]
    fn mcp_servers_containers_and_reaching_server_tools_are_refused() {
        let ok = br#"{"model":"m","max_tokens":1,"tools":[{"name":"Bash","input_schema":{}},
                      {"type":"web_search_20250305","name":"web_search"}],"mcp_servers":null}"#;
        assert!(check(ok, false, None, &LIMITS).is_ok(), "the CLI's tools and web search pass");
        for (body, named) in [
            (&br#"{"model":"m","max_tokens":1,"mcp_servers":[{"type":"url","url":"https://x"}]}"#[..], "mcp_servers"),
            (br#"{"model":"m","max_tokens":1,"container":"c"}"#, "container"),
            (br#"{"model":"m","max_tokens":1,"tools":[{"type":"web_fetch_20250910","name":"f"}]}"#, "web_fetch"),
            (br#"{"model":"m","max_tokens":1,"tools":[{"type":"code_execution_20250825"}]}"#, "code_execution"),
        ] {
            let refused = check(body, false, None, &LIMITS).unwrap_err();
            assert_eq!((refused.status, refused.kind), (StatusCode::FORBIDDEN, "permission_error"));
            assert!(refused.message.contains(named), "{}", refused.message);
        }
    }

    #[test]
    fn a_model_matches_its_dated_name_and_its_alias() {
        assert!(model_allowed("claude-sonnet-4-5-20250929", "claude-sonnet-4-5"));
        assert!(!model_allowed("claude-sonnet-4-5-evil", "claude-sonnet-4-5"));
        assert!(!model_allowed("claude-sonnet-4", "claude-sonnet-4-5"));
        assert!(model_allowed("claude-sonnet-4-5-20250929", "sonnet"));
        assert!(model_allowed("claude-3-7-sonnet-20250219", "sonnet"));
        assert!(!model_allowed("claude-opus-4-1", "sonnet"));
        assert!(model_allowed("claude-opus-4-1", "opusplan"));
        assert!(!model_allowed("sonnet-but-not-claude", "sonnet"));
        assert!(model_allowed("claude-opus-4-8", "default") && !model_allowed("gpt-5", "default"));
    }
}
