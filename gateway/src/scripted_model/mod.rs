//! A scripted stand-in for Anthropic's Messages API, so tests can drive the real Claude
//! Code CLI offline and deterministically.
//!
//! Point the CLI at it with `ANTHROPIC_BASE_URL=http://<addr>` and any API key. Each
//! assistant turn is answered from a script embedded in the prompt (see [`embed`]):
//!
//! ````text
//! ```ccgate-script
//! {"steps": [
//!   {"tool": "Bash", "input": {"command": "echo hello > hello.txt"}},
//!   {"blocks": [{"text": "writing"}, {"tool": "Write", "input": {"file_path": "a", "content": "b"}}]},
//!   {"text": "all done", "delay_ms": 100},
//!   {"text": "late", "http_error": {"status": 529, "retry_after": 1, "times": 2}},
//!   {"big_text_bytes": 100000, "stall_ms": 2000}
//! ]}
//! ```
//! ````
//!
//! Steps are an object with exactly one content form — `text`, `tool` (+ `input`), or
//! `blocks` (a list of `{"text"}` / `{"tool","input"}`) — plus optional `delay_ms`,
//! `stall_ms`, `big_text_bytes` and `http_error` (`status`, `retry_after` seconds,
//! `times` (default 1), `type`, `message`). Unknown fields are rejected. An answer with a
//! tool call stops with `tool_use`, otherwise `end_turn`.
//!
//! Which step: the last user message with text and no `tool_result` is the current
//! prompt; the step index is the number of assistant messages after it. Once the steps
//! are used up the answer is the text `done`. A prompt without a script is answered
//! `ok: <first line of the prompt>`. Requests without `tools` (side requests such as
//! the session title, sent when non-essential traffic is not disabled) never get a
//! tool call: they get the text `ok`, or a placeholder JSON object when they ask for
//! JSON output (`output_config.format`). Text the CLI adds on its own in a user message
//! (reminders, the `[structured-output-enforce]` nudge) does not start a new turn. A
//! malformed script is answered with a 400 `invalid_request_error` naming the problem.
//!
//! The only server-side state is the `http_error` counter, keyed by the hash of
//! (prompt text, step index): add a unique line to the preamble if identical prompts
//! run concurrently and must each see the errors.
//!
//! Usage numbers are derived from sizes (input = request bytes / 4, output = generated
//! characters / 4), so costs are non-zero and reproducible.

mod request;
mod script;
mod stream;

use std::collections::HashMap;
use std::collections::hash_map::DefaultHasher;
use std::hash::{Hash, Hasher};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use serde_json::{Value, json};

pub use script::{Block, FENCE_TAG, HttpError, Script, Step, embed, extract};

use request::{MessagesRequest, Turn};
use stream::{Answer, OutBlock};

/// Forget `http_error` counters beyond this many (step, prompt) keys.
const MAX_ERROR_COUNTERS: usize = 10_000;
/// Longest prompt echo in the default answer, in characters.
const ECHO_CHARS: usize = 200;

/// Router serving POST /v1/messages (streaming and non-streaming) and POST
/// /v1/messages/count_tokens. With `api_key`, requests carrying another key (in
/// `x-api-key` or `Authorization: Bearer`) are refused with 401, as the real API does.
pub fn router(api_key: Option<String>) -> Router {
    Router::new()
        .route("/v1/messages", post(messages))
        .route("/v1/messages/count_tokens", post(count_tokens))
        .fallback(not_found)
        .layer(axum::middleware::from_fn(move |request: axum::extract::Request, next: axum::middleware::Next| {
            let expected = api_key.clone();
            async move {
                let presented = request
                    .headers()
                    .get("x-api-key")
                    .or_else(|| request.headers().get(header::AUTHORIZATION))
                    .and_then(|v| v.to_str().ok())
                    .map(|v| v.strip_prefix("Bearer ").unwrap_or(v).to_string());
                match expected {
                    Some(expected) if presented.as_deref() != Some(expected.as_str()) => {
                        api_error(StatusCode::UNAUTHORIZED, "authentication_error", "invalid x-api-key")
                    }
                    _ => next.run(request).await,
                }
            }
        }))
        .with_state(Arc::new(Model::new()))
}

/// Serve on an already-bound listener until the future is dropped; see [`router`]
/// for `api_key`.
pub async fn serve(listener: tokio::net::TcpListener, api_key: Option<String>) -> std::io::Result<()> {
    axum::serve(listener, router(api_key)).await
}

/// Server state: id generation and the `http_error` counters.
struct Model {
    /// Distinguishes ids across server runs (a resumed session may span several).
    epoch: u64,
    next_id: AtomicU64,
    errors_sent: Mutex<HashMap<u64, u32>>,
}

impl Model {
    fn new() -> Self {
        let epoch = SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_micros() as u64);
        Self { epoch, next_id: AtomicU64::new(1), errors_sent: Mutex::new(HashMap::new()) }
    }

    fn new_id(&self, prefix: &str) -> String {
        let n = self.next_id.fetch_add(1, Ordering::Relaxed);
        format!("{prefix}_{:013x}{n:06x}", self.epoch)
    }

    /// Counts one more request for `key`; true while fewer than `times` errors were sent.
    fn take_error(&self, key: u64, times: u32) -> bool {
        let mut sent = self.errors_sent.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        if sent.len() >= MAX_ERROR_COUNTERS && !sent.contains_key(&key) {
            sent.clear();
        }
        let count = sent.entry(key).or_insert(0);
        if *count < times {
            *count += 1;
            true
        } else {
            false
        }
    }
}

/// What to send back for one request.
enum Reply {
    Answer { blocks: Vec<OutBlock>, delay: Option<Duration>, stall: Option<Duration> },
    Error { error: HttpError, delay: Option<Duration> },
}

async fn messages(State(model): State<Arc<Model>>, body: Bytes) -> Response {
    let request: MessagesRequest = match serde_json::from_slice(&body) {
        Ok(request) => request,
        Err(e) => {
            return api_error(StatusCode::BAD_REQUEST, "invalid_request_error", &e.to_string());
        }
    };
    let reply = match plan(&model, &request) {
        Ok(reply) => reply,
        Err(message) => {
            return api_error(StatusCode::BAD_REQUEST, "invalid_request_error", &message);
        }
    };
    tracing::debug!(model = %request.model, stream = request.stream, "scripted model request");
    match reply {
        Reply::Error { error, delay } => {
            sleep(delay).await;
            http_error(&error)
        }
        Reply::Answer { blocks, delay, stall } => {
            sleep(delay).await;
            let answer = Answer {
                id: model.new_id("msg"),
                model: request.model.clone(),
                blocks,
                input_tokens: tokens(body.len()),
            };
            respond(answer, request.stream, stall).await
        }
    }
}

/// Decides the reply from the request (and the `http_error` counters).
fn plan(model: &Model, request: &MessagesRequest) -> Result<Reply, String> {
    let plain = |text: String| Reply::Answer { blocks: vec![OutBlock::Text(text)], delay: None, stall: None };
    if !request.is_agent_loop() {
        let text = match request.output_schema() {
            Some(schema) => placeholder(schema).to_string(),
            None => "ok".into(),
        };
        return Ok(plain(text));
    }
    let Some(Turn { prompt, step }) = request.turn() else {
        return Ok(plain("ok".into()));
    };
    let Some(script) = script::extract(&prompt)? else {
        return Ok(plain(format!("ok: {}", echo(&prompt))));
    };
    let Some(step_spec) = script.steps.get(step) else {
        return Ok(plain("done".into()));
    };
    let delay = step_spec.delay_ms.map(Duration::from_millis);
    if let Some(error) = &step_spec.http_error
        && model.take_error(error_key(&prompt, step), error.times)
    {
        let error = error.clone();
        return Ok(Reply::Error { error, delay });
    }
    Ok(Reply::Answer {
        blocks: out_blocks(model, step_spec),
        delay,
        stall: step_spec.stall_ms.map(Duration::from_millis),
    })
}

/// The step's blocks with fresh tool-use ids, and the big text if asked for.
fn out_blocks(model: &Model, step: &Step) -> Vec<OutBlock> {
    let mut blocks: Vec<OutBlock> = step
        .blocks
        .iter()
        .map(|block| match block {
            Block::Text(text) => OutBlock::Text(text.clone()),
            Block::Tool { name, input } => {
                OutBlock::ToolUse { id: model.new_id("toolu"), name: name.clone(), input: input.clone() }
            }
        })
        .collect();
    if let Some(bytes) = step.big_text_bytes {
        match blocks.iter_mut().find_map(|b| match b {
            OutBlock::Text(text) => Some(text),
            OutBlock::ToolUse { .. } => None,
        }) {
            Some(text) => pad(text, bytes),
            None => {
                let mut text = String::new();
                pad(&mut text, bytes);
                blocks.insert(0, OutBlock::Text(text));
            }
        }
    }
    blocks
}

/// A small value matching `schema`: required properties filled in by type ("ok", 0,
/// false, [], {}), enough for the CLI's own JSON side requests such as the title.
fn placeholder(schema: &Value) -> Value {
    match schema.get("type").and_then(Value::as_str) {
        Some("object") => {
            let properties = schema.get("properties");
            let required = schema.get("required").and_then(Value::as_array);
            let object = required
                .into_iter()
                .flatten()
                .filter_map(Value::as_str)
                .map(|name| {
                    let property = properties.and_then(|p| p.get(name));
                    (name.to_owned(), property.map_or(Value::Null, placeholder))
                })
                .collect();
            Value::Object(object)
        }
        Some("array") => json!([]),
        Some("integer" | "number") => json!(0),
        Some("boolean") => json!(false),
        Some("null") => Value::Null,
        _ => json!("ok"),
    }
}

/// Appends numbered ASCII filler lines until `text` is `bytes` long (if shorter).
fn pad(text: &mut String, bytes: usize) {
    let mut line = 0u64;
    while text.len() < bytes {
        line += 1;
        let filler = format!("ccgate filler line {line:08}\n");
        let room = bytes - text.len();
        text.push_str(&filler[..filler.len().min(room)]);
    }
}

/// Counts errors per prompt and step. Keyed on the prompt's first line: a resumed
/// session repeats the prompt with text of the CLI's own added to its message.
fn error_key(prompt: &str, step: usize) -> u64 {
    let mut hasher = DefaultHasher::new();
    echo(prompt).hash(&mut hasher);
    step.hash(&mut hasher);
    hasher.finish()
}

/// The first non-blank line of the prompt, at most [`ECHO_CHARS`] characters.
fn echo(prompt: &str) -> String {
    let line = prompt.lines().map(str::trim).find(|l| !l.is_empty());
    line.unwrap_or_default().chars().take(ECHO_CHARS).collect()
}

fn tokens(bytes: usize) -> u64 {
    (bytes as u64 / 4).max(1)
}

async fn sleep(delay: Option<Duration>) {
    if let Some(delay) = delay {
        tokio::time::sleep(delay).await;
    }
}

async fn respond(answer: Answer, streaming: bool, stall: Option<Duration>) -> Response {
    if !streaming {
        sleep(stall).await;
        return axum::Json(answer.to_json()).into_response();
    }
    let body = stream::sse_body(answer.to_frames(stall));
    ([(header::CONTENT_TYPE, "text/event-stream"), (header::CACHE_CONTROL, "no-cache")], body).into_response()
}

async fn count_tokens(body: Bytes) -> Response {
    axum::Json(json!({"input_tokens": tokens(body.len())})).into_response()
}

async fn not_found() -> Response {
    api_error(StatusCode::NOT_FOUND, "not_found_error", "no such route")
}

fn http_error(error: &HttpError) -> Response {
    let status = StatusCode::from_u16(error.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let message = error.message.clone().unwrap_or_else(|| format!("scripted {} error", error.status));
    let mut response = api_error(status, error.error_type(), &message);
    if let Some(seconds) = error.retry_after {
        response.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from(seconds));
    }
    response
}

/// An Anthropic-style error response.
fn api_error(status: StatusCode, kind: &str, message: &str) -> Response {
    let body = json!({"type": "error", "error": {"type": kind, "message": message}});
    (status, axum::Json(body)).into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pad_reaches_the_exact_size() {
        for size in [0, 1, 27, 1000] {
            let mut text = String::from("x");
            pad(&mut text, size);
            assert_eq!(text.len(), size.max(1));
        }
    }

    #[test]
    fn echo_takes_the_first_line() {
        assert_eq!(echo("\n  hello there \nsecond"), "hello there");
        assert_eq!(echo(&"é".repeat(500)).chars().count(), ECHO_CHARS);
    }

    #[test]
    fn placeholder_fills_required_properties() {
        let schema = json!({"type": "object", "required": ["title", "n"],
            "properties": {"title": {"type": "string"}, "n": {"type": "integer"}, "x": {}}});
        assert_eq!(placeholder(&schema), json!({"title": "ok", "n": 0}));
    }

    #[test]
    fn errors_are_counted_per_key() {
        let model = Model::new();
        assert!(model.take_error(1, 2));
        assert!(model.take_error(1, 2));
        assert!(!model.take_error(1, 2));
        assert!(model.take_error(2, 2));
    }
}
