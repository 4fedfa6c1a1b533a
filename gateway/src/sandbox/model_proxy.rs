//! The model proxy: the only way a sandboxed run reaches the model API.
//!
//! It listens on a Unix socket that every sandbox sees (read-only) and the run's
//! helper forwards to. A run authenticates with its own random token, never with
//! the gateway's credential: the proxy checks the token, swaps in the real
//! `ANTHROPIC_API_KEY` (or `ANTHROPIC_AUTH_TOKEN`, and `ANTHROPIC_CUSTOM_HEADERS`),
//! forwards to the configured upstream, streams the answer back, and meters the
//! tokens each run used. The real key is in no environment, argument or file of the
//! sandbox.
//!
//! A run of a key with a token budget draws on it through the database (see
//! `store::RunTokens`), so the budget holds across the key's runs on every node:
//! each model request reserves its `max_tokens` plus an estimate of its input
//! before it is forwarded, and is settled at what the answer used (streamed or
//! not; an answer cut off before its final usage keeps its whole reservation).
//! Once the budget is spent the proxy refuses the key's runs further model
//! requests (the run then fails `resource_limit`, limit `tokens`); when the
//! database cannot say, it answers 503, which the CLI retries. Answers come
//! uncompressed so that their usage can be read.
//!
//! A run's requests are hostile input: each may ask only for the task's model and
//! at most `sandbox.model_max_tokens` (see [`super::model_policy`]), a body is
//! refused past `sandbox.model_max_request_mb` (by its declared length before
//! anything is read), and a run has at most `sandbox.model_max_concurrent_requests`
//! requests in flight, and `sandbox.model_max_connections` connections open (see
//! [`super::proxy_listener`]). What the run used is priced per model from `[pricing]`:
//! that, not the CLI's own figure, is the run's cost.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::{Request, State};
use axum::http::{HeaderMap, HeaderName, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use futures_util::StreamExt;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use super::model_policy::{self, ProxyLimits, Refusal};
use crate::pricing::{Price, Pricing};
use crate::store::{Reservation, RunTokens};
use crate::task::Usage;

/// The API paths a run may use.
const MODEL_PATHS: [&str; 2] = ["/v1/messages", COUNT_TOKENS];
const COUNT_TOKENS: &str = "/v1/messages/count_tokens";

/// Where model requests go, with which credential.
#[derive(Clone)]
pub struct Upstream {
    pub base_url: String,
    pub api_key: Option<String>,
    pub auth_token: Option<String>,
    pub custom_headers: Vec<(HeaderName, HeaderValue)>,
}

impl std::fmt::Debug for Upstream {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Upstream").field("base_url", &self.base_url).finish_non_exhaustive()
    }
}

/// Whether a variable passed through to runs carries a credential or the model
/// endpoint (`ANTHROPIC_API_KEY`, `ANTHROPIC_AUTH_TOKEN`, `ANTHROPIC_BASE_URL`,
/// `ANTHROPIC_CUSTOM_HEADERS`, `CLAUDE_CODE_OAUTH_TOKEN`, and anything else whose name
/// looks like a key, token or secret): kept out of sandboxed runs.
pub fn is_credential(name: &str) -> bool {
    let name = name.to_ascii_uppercase();
    ["KEY", "TOKEN", "SECRET", "PASSWORD", "AUTH", "HEADERS", "BASE_URL"].iter().any(|word| name.contains(word))
}

impl Upstream {
    /// Reads the upstream from the variables a run would otherwise have been given.
    pub fn from_env(vars: &[(String, String)]) -> Self {
        let get =
            |name: &str| vars.iter().rev().find(|(k, _)| k == name).map(|(_, v)| v.clone()).filter(|v| !v.is_empty());
        let custom_headers = get("ANTHROPIC_CUSTOM_HEADERS")
            .unwrap_or_default()
            .lines()
            .filter_map(|line| {
                let (name, value) = line.split_once(':')?;
                Some((HeaderName::try_from(name.trim()).ok()?, HeaderValue::try_from(value.trim()).ok()?))
            })
            .collect();
        Self {
            base_url: get("ANTHROPIC_BASE_URL").unwrap_or_else(|| "https://api.anthropic.com".into()),
            api_key: get("ANTHROPIC_API_KEY"),
            auth_token: get("ANTHROPIC_AUTH_TOKEN").or_else(|| get("CLAUDE_CODE_OAUTH_TOKEN")),
            custom_headers,
        }
    }
}

/// What one run used, as the proxy counted and priced it.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Metered {
    pub usage: Usage,
    pub cost_usd: f64,
}

/// Tokens one run used, as counted by the proxy.
#[derive(Debug)]
pub struct Meter {
    metered: Mutex<Metered>,
    /// The key's token budget this run draws on, if the key has one (the database
    /// keeps what the run holds of it).
    budget: Option<RunTokens>,
    /// A model request of this run was refused because the budget was spent.
    pub budget_spent: AtomicBool,
    /// The one model the run may use (the task's), if it names one.
    model: Option<String>,
    /// The run's requests in flight.
    in_flight: Arc<Semaphore>,
    max_in_flight: usize,
    /// A test key's run: served by this upstream (the built-in scripted model), unpriced.
    test_upstream: Option<Upstream>,
    /// A warm process no run has taken yet: nobody to charge, so no request goes.
    parked: bool,
    /// A warm process's warm-up has not been answered: its token counts are the
    /// warm-up's and are refused, even once a run has taken it (the CLI then
    /// estimates them). Shared by the process's meters, parked and assigned.
    warming: Arc<AtomicBool>,
}

impl Meter {
    fn new(
        budget: Option<RunTokens>,
        model: Option<String>,
        max_concurrent_requests: usize,
        test_upstream: Option<Upstream>,
        parked: bool,
        warming: Arc<AtomicBool>,
    ) -> Self {
        Self {
            test_upstream,
            parked,
            warming,
            metered: Mutex::default(),
            budget,
            budget_spent: AtomicBool::new(false),
            model,
            in_flight: Arc::new(Semaphore::new(max_concurrent_requests)),
            max_in_flight: max_concurrent_requests,
        }
    }

    /// What the run used, once its requests still in flight have ended (their
    /// answers' readers go away with the run) or `within` has passed: a request
    /// charged after the run's cost was read would be charged to nobody. Its token
    /// settlements are written by then too.
    pub async fn settled(&self, within: std::time::Duration) -> Metered {
        let all = u32::try_from(self.max_in_flight).unwrap_or(u32::MAX);
        if let Ok(Ok(permits)) = tokio::time::timeout(within, self.in_flight.acquire_many(all)).await {
            drop(permits);
        }
        if let Some(budget) = &self.budget {
            budget.flush(within).await;
        }
        self.metered()
    }

    /// What the run used so far.
    pub fn metered(&self) -> Metered {
        self.metered.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }

    fn add(&self, usage: &Usage, cost_usd: f64) {
        let mut metered = self.metered.lock().unwrap_or_else(|p| p.into_inner());
        metered.usage.add(usage);
        metered.cost_usd += cost_usd;
    }

    /// Adds `tokens` to what the run holds of the key's budget (a negative number gives back).
    fn spend(&self, tokens: i64) {
        if let Some(budget) = &self.budget {
            budget.settle(tokens);
        }
    }

    /// Reserves what a Messages request may use: `max_tokens` and an estimate of
    /// the input from the body's length.
    async fn reserve(&self, max_tokens: u64, body_len: usize) -> Reserved {
        let Some(budget) = &self.budget else { return Reserved::Tokens(0) };
        let reservation = max_tokens.min(1_000_000) as i64 + body_len as i64 / 4;
        match budget.reserve(reservation).await {
            Ok(Reservation::Granted) => Reserved::Tokens(reservation),
            Ok(Reservation::Spent) => Reserved::Spent,
            Ok(Reservation::Lost) => Reserved::Unknown,
            Err(e) => {
                tracing::warn!(error = %e, "cannot reserve a model request's tokens; the request is refused for now");
                Reserved::Unknown
            }
        }
    }
}

/// What reserving a request's tokens gave.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Reserved {
    /// Reserved this many (0: the key has no token budget).
    Tokens(i64),
    /// The key's budget is spent.
    Spent,
    /// The budget cannot be read now, or the run lost its task: not now.
    Unknown,
}

type Tokens = Mutex<HashMap<String, Arc<Meter>>>;

/// The proxy's shared state.
pub struct ModelProxy {
    tokens: Arc<Tokens>,
    upstream: Upstream,
    client: reqwest::Client,
    socket: PathBuf,
    limits: ProxyLimits,
    pricing: Pricing,
    health: UpstreamHealth,
}

/// Requests in a row the upstream could not be reached for, after which the proxy
/// answers so that the CLI stops retrying: an upstream that refuses connection
/// after connection will not come back within the CLI's retries, and a run that
/// retries for ten minutes tells its client nothing.
pub const GIVE_UP_AFTER: u32 = 3;

/// How the upstream has answered lately: for `/readyz`, and for giving up early.
#[derive(Debug, Default)]
pub struct UpstreamHealth(Mutex<UpstreamState>);

/// The upstream's recent record, as `/readyz` shows it (`checks.model`).
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize)]
pub struct UpstreamState {
    /// Requests in a row that could not reach it (0: the last one did).
    pub consecutive_failures: u32,
    pub last_error: Option<String>,
    pub last_failure_at: Option<String>,
    /// When the current run of failures began.
    pub failing_since: Option<String>,
}

impl UpstreamHealth {
    /// Records a failure to reach the upstream; returns the failures in a row.
    fn failed(&self, error: &str) -> u32 {
        let mut state = self.0.lock().unwrap_or_else(|p| p.into_inner());
        let now = crate::timestamp::format_ms(crate::timestamp::now_ms());
        state.consecutive_failures = state.consecutive_failures.saturating_add(1);
        state.last_error = Some(crate::text::clip(error, 512).to_string());
        state.failing_since.get_or_insert_with(|| now.clone());
        state.last_failure_at = Some(now);
        state.consecutive_failures
    }

    fn reached(&self) {
        let mut state = self.0.lock().unwrap_or_else(|p| p.into_inner());
        state.consecutive_failures = 0;
        state.failing_since = None;
    }

    pub fn state(&self) -> UpstreamState {
        self.0.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }
}

/// An error and its causes on one line (reqwest's own message alone says little:
/// "error sending request").
fn error_chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

/// A run's registration: its token is valid until this is dropped.
pub struct RunToken {
    pub token: String,
    pub meter: Arc<Meter>,
    tokens: Arc<Tokens>,
}

impl RunToken {
    /// Set while the process's warm-up is under way; the pool clears it when the CLI
    /// has answered.
    pub fn warm_up_flag(&self) -> Arc<AtomicBool> {
        self.meter.warming.clone()
    }

    /// Hands a warm process's token to the run that takes it: from now on its
    /// requests are metered for that run (its key's budget, a test key's model).
    pub fn assign(&mut self, budget: Option<RunTokens>, test: Option<Upstream>) {
        let (model, warming) = (self.meter.model.clone(), self.meter.warming.clone());
        let meter = Arc::new(Meter::new(budget, model, self.meter.max_in_flight, test, false, warming));
        self.tokens.lock().unwrap_or_else(|p| p.into_inner()).insert(self.token.clone(), meter.clone());
        self.meter = meter;
    }
}

impl Drop for RunToken {
    fn drop(&mut self) {
        self.tokens.lock().unwrap_or_else(|p| p.into_inner()).remove(&self.token);
    }
}

impl ModelProxy {
    /// Binds `socket` (replacing a stale one) and serves until the process ends.
    pub async fn start(
        socket: &Path,
        upstream: Upstream,
        limits: ProxyLimits,
        pricing: Pricing,
    ) -> std::io::Result<Arc<Self>> {
        let listener = super::proxy_listener::RunListener::new(super::bind_socket(socket)?, limits.max_connections);
        // HTTPS upstreams: rustls with ring, as everywhere in the gateway (a no-op when set).
        let _ = rustls::crypto::ring::default_provider().install_default();
        let client = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .connect_timeout(std::time::Duration::from_secs(30))
            .build()
            .map_err(std::io::Error::other)?;
        let proxy = Arc::new(Self {
            tokens: Arc::default(),
            upstream,
            client,
            socket: socket.to_path_buf(),
            limits,
            pricing,
            health: UpstreamHealth::default(),
        });
        let router = Router::new().fallback(forward).with_state(proxy.clone());
        tokio::spawn(async move {
            if let Err(e) = axum::serve(listener, router).await {
                tracing::error!(error = %e, "the model proxy stopped");
            }
        });
        Ok(proxy)
    }

    pub fn socket(&self) -> &Path {
        &self.socket
    }

    /// The configured upstream and how it has answered lately.
    pub fn upstream_state(&self) -> (String, UpstreamState) {
        (self.upstream.base_url.clone(), self.health.state())
    }

    /// A fresh token for one run, drawing on its key's token budget if any, and
    /// good for `model` only when the task names one.
    pub fn register(
        &self,
        budget: Option<RunTokens>,
        model: Option<&str>,
        test: Option<Upstream>,
        parked: bool,
    ) -> RunToken {
        let token = format!(
            "ccgate-run-{}",
            crate::ids::random_bytes::<32>().iter().map(|b| format!("{b:02x}")).collect::<String>()
        );
        let max_in_flight = self.limits.max_concurrent_requests;
        // A parked process is a warm one: it warms up before a task takes it.
        let warming = Arc::new(AtomicBool::new(parked));
        let meter = Arc::new(Meter::new(budget, model.map(String::from), max_in_flight, test, parked, warming));
        self.tokens.lock().unwrap_or_else(|p| p.into_inner()).insert(token.clone(), meter.clone());
        RunToken { token, meter, tokens: self.tokens.clone() }
    }
}

/// A request refused before its body is read (always a 403: a status the CLI does
/// not retry, so a warm process's token counts are estimated at once).
#[derive(Debug, PartialEq)]
struct Refusal403 {
    /// The `outcome` label it is counted under, if it is counted.
    outcome: Option<&'static str>,
    message: &'static str,
}

/// Whether `meter`'s process may send `method path` at all.
fn refusal_up_front(meter: &Meter, method: &axum::http::Method, path: &str) -> Option<Refusal403> {
    if meter.parked {
        let message = "this process has no task yet; it may call the model once a task takes it";
        return Some(Refusal403 { outcome: Some("parked"), message });
    }
    // Only what Claude Code needs: the rest of the API (files, batches, admin) is the
    // organisation's, not a run's.
    if method != axum::http::Method::POST || !MODEL_PATHS.contains(&path) {
        return Some(Refusal403 { outcome: None, message: "only POST /v1/messages and /v1/messages/count_tokens" });
    }
    if path == COUNT_TOKENS && meter.warming.load(Ordering::Acquire) {
        let message = "this process is warming up; its token counts are estimated";
        return Some(Refusal403 { outcome: Some("warming"), message });
    }
    None
}

async fn forward(State(proxy): State<Arc<ModelProxy>>, request: Request) -> Response {
    let (parts, body) = request.into_parts();
    let presented = parts
        .headers
        .get("x-api-key")
        .or_else(|| parts.headers.get("authorization"))
        .and_then(|v| v.to_str().ok())
        .map(|v| v.strip_prefix("Bearer ").unwrap_or(v).to_string());
    let meter = presented.and_then(|token| proxy.tokens.lock().ok()?.get(&token).cloned());
    let Some(meter) = meter else {
        return api_error(StatusCode::UNAUTHORIZED, "authentication_error", "unknown or expired run token");
    };
    if let Some(refusal) = refusal_up_front(&meter, &parts.method, parts.uri.path()) {
        if let Some(outcome) = refusal.outcome {
            metrics::counter!("ccgate_model_proxy_requests_total", "outcome" => outcome).increment(1);
        }
        return api_error(StatusCode::FORBIDDEN, "permission_error", refusal.message);
    }
    // One run cannot hold more than its share of the gateway's memory: a request
    // waits for nothing, it is refused while the run has its fill in flight, and
    // the permit lives until the answer has been passed on.
    let Ok(permit) = meter.in_flight.clone().try_acquire_owned() else {
        metrics::counter!("ccgate_model_proxy_requests_total", "outcome" => "too_many").increment(1);
        let message = format!(
            "this run already has {} model requests in flight; wait for one to finish",
            proxy.limits.max_concurrent_requests
        );
        return api_error(StatusCode::TOO_MANY_REQUESTS, "rate_limit_error", &message);
    };
    let limit = proxy.limits.max_request_bytes;
    let declared = parts.headers.get("content-length").and_then(|v| v.to_str().ok()?.parse::<u64>().ok());
    if declared.is_some_and(|length| length > limit as u64) {
        return too_large(limit);
    }
    let body = match axum::body::to_bytes(body, limit).await {
        Ok(body) => body,
        Err(_) => return too_large(limit),
    };
    let counting = parts.uri.path() == COUNT_TOKENS;
    let asked = match model_policy::check(&body, counting, meter.model.as_deref(), &proxy.limits) {
        Ok(asked) => asked,
        Err(refusal) => {
            metrics::counter!("ccgate_model_proxy_requests_total", "outcome" => "refused").increment(1);
            return refused(&refusal);
        }
    };
    let path = parts.uri.path_and_query().map_or("/", |p| p.as_str());
    // A test key's run goes to the built-in scripted model, priced at nothing, and
    // leaves the configured upstream's record (`/readyz`) alone.
    let (upstream, test) = match &meter.test_upstream {
        Some(test) => (test, true),
        None => (&proxy.upstream, false),
    };
    let url = format!("{}{}", upstream.base_url.trim_end_matches('/'), path);
    let mut headers = HeaderMap::new();
    for (name, value) in &parts.headers {
        if !is_hop_by_hop(name) && !matches!(name.as_str(), "host" | "x-api-key" | "authorization" | "content-length") {
            headers.append(name.clone(), value.clone());
        }
    }
    if let Some(key) = upstream.api_key.as_deref().and_then(|k| HeaderValue::try_from(k).ok()) {
        headers.insert("x-api-key", key);
    }
    if let Some(token) = upstream.auth_token.as_deref().and_then(|t| HeaderValue::try_from(format!("Bearer {t}")).ok())
    {
        headers.insert("authorization", token);
    }
    for (name, value) in &upstream.custom_headers {
        headers.insert(name.clone(), value.clone());
    }
    // The usage is read from the answer: it must come uncompressed.
    headers.insert("accept-encoding", HeaderValue::from_static("identity"));
    // Counting tokens uses none; a message reserves what it may use.
    let max_tokens = asked.max_tokens.unwrap_or(0);
    let reserved = if counting { Reserved::Tokens(0) } else { meter.reserve(max_tokens, body.len()).await };
    let reserved = match reserved {
        Reserved::Tokens(reserved) => reserved,
        Reserved::Spent => {
            meter.budget_spent.store(true, Ordering::Relaxed);
            metrics::counter!("ccgate_model_proxy_requests_total", "outcome" => "budget_spent").increment(1);
            return api_error(StatusCode::FORBIDDEN, "permission_error", "the API key's token budget is spent");
        }
        Reserved::Unknown => {
            metrics::counter!("ccgate_model_proxy_requests_total", "outcome" => "budget_unknown").increment(1);
            let message = "the API key's token budget cannot be read right now; retry shortly";
            return api_error(StatusCode::SERVICE_UNAVAILABLE, "api_error", message);
        }
    };
    let price = if test { Price::FREE } else { proxy.pricing.price(asked.model.as_deref().unwrap_or_default()) };
    // Until the upstream answers, a caller that goes away (a killed curl, a run that
    // ended) still owes what the upstream goes on to bill: the worst case.
    let mut unanswered = Unanswered {
        meter: meter.clone(),
        input_tokens: body.len() as u64 / 4,
        max_tokens,
        sent: std::time::Instant::now(),
        price,
        armed: !counting,
    };
    let answer = match proxy.client.request(parts.method, &url).headers(headers).body(body).send().await {
        Ok(answer) => answer,
        Err(e) => {
            unanswered.armed = false;
            meter.spend(-reserved);
            let why = error_chain(&e);
            let failures = if test { 1 } else { proxy.health.failed(&why) };
            tracing::warn!(error = %why, upstream = %upstream.base_url, failures, "the model upstream could not be reached");
            metrics::counter!("ccgate_model_proxy_requests_total", "outcome" => "unreachable").increment(1);
            let message = format!("the model API at {} could not be reached: {why}", upstream.base_url);
            if failures >= GIVE_UP_AFTER {
                // A 4xx the CLI does not retry: the run ends now, saying why.
                let message = format!("{message} ({failures} requests in a row; not retrying)");
                return api_error(StatusCode::BAD_REQUEST, "invalid_request_error", &message);
            }
            return api_error(StatusCode::BAD_GATEWAY, "api_error", &message);
        }
    };
    if !test {
        proxy.health.reached();
    }
    unanswered.armed = false;
    metrics::counter!("ccgate_model_proxy_requests_total", "outcome" => answer.status().as_str().to_string())
        .increment(1);
    let mut response = Response::builder().status(answer.status());
    for (name, value) in answer.headers() {
        if !is_hop_by_hop(name) && name != "content-length" {
            response = response.header(name, value);
        }
    }
    let streamed = answer
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("text/event-stream"));
    let mut tap = UsageTap::new(meter, reserved, streamed && !counting, !streamed && !counting);
    let answered = answer.status().is_success();
    let per_search = if test { 0.0 } else { proxy.pricing.web_search_per_1000 / 1000.0 };
    tap.bill = Some(Bill { price, per_search, max_tokens: if answered { max_tokens } else { 0 }, _permit: permit });
    let stream = answer.bytes_stream().map(move |chunk| {
        if let Ok(bytes) = &chunk {
            tap.feed(bytes);
        }
        chunk
    });
    response.body(Body::from_stream(stream)).unwrap_or_else(|_| StatusCode::BAD_GATEWAY.into_response())
}

fn is_hop_by_hop(name: &HeaderName) -> bool {
    matches!(
        name.as_str(),
        "connection"
            | "keep-alive"
            | "proxy-authenticate"
            | "proxy-authorization"
            | "te"
            | "trailer"
            | "transfer-encoding"
            | "upgrade"
    )
}

fn too_large(limit: usize) -> Response {
    let message = format!("the request body is larger than {limit} bytes");
    api_error(StatusCode::PAYLOAD_TOO_LARGE, "request_too_large", &message)
}

fn refused(refusal: &Refusal) -> Response {
    api_error(refusal.status, refusal.kind, &refusal.message)
}

/// An error in the Messages API's own shape, so the CLI reports it as it would the API's.
fn api_error(status: StatusCode, kind: &str, message: &str) -> Response {
    let body = serde_json::json!({"type": "error", "error": {"type": kind, "message": format!("ccgate model proxy: {message}")}});
    (status, [("content-type", "application/json")], body.to_string()).into_response()
}

/// Reads the usage out of a Messages answer as it passes (the events of a
/// streamed one, the body of one that is not), and settles the request's
/// reservation when the answer ends.
struct UsageTap {
    meter: Arc<Meter>,
    reserved: i64,
    /// How the request is priced (none in unit tests of the reservation alone).
    bill: Option<Bill>,
    /// What this request used.
    usage: Usage,
    /// Read `data:` lines of an event stream.
    events: bool,
    /// Keep the JSON body (up to a cap) to read its `usage` at the end.
    body: Option<Vec<u8>>,
    line: Vec<u8>,
    /// The answer's final usage was seen.
    finished: bool,
    /// Web searches the model ran for it (billed per search).
    searches: u64,
}

/// What a request is charged at, and the run's slot it holds while it lasts.
/// A request sent upstream and not answered yet. Dropped armed — its caller went
/// away first, and the upstream stops when its connection closes — it is charged
/// what the upstream may have billed: its whole token reservation (kept held of
/// the budget) and, in dollars, its input estimate and the output the model can have
/// generated meanwhile (at most `max_tokens`).
struct Unanswered {
    meter: Arc<Meter>,
    input_tokens: u64,
    max_tokens: u64,
    sent: std::time::Instant,
    price: Price,
    armed: bool,
}

/// Output tokens a model may generate per second, at the fastest (a ceiling).
const MAX_OUTPUT_TOKENS_PER_SECOND: u64 = 250;

impl Unanswered {
    fn worst_case(&self, waited: std::time::Duration) -> Usage {
        let generated = waited.as_secs().saturating_add(1).saturating_mul(MAX_OUTPUT_TOKENS_PER_SECOND);
        Usage { input_tokens: self.input_tokens, output_tokens: generated.min(self.max_tokens), ..Usage::default() }
    }
}

impl Drop for Unanswered {
    fn drop(&mut self) {
        if self.armed {
            let worst = self.worst_case(self.sent.elapsed());
            self.meter.add(&worst, self.price.cost(&worst));
        }
    }
}

struct Bill {
    price: Price,
    /// US dollars per web search.
    per_search: f64,
    /// Charged as output when an answer is cut off before its final usage (0 for
    /// an error answer, which used nothing).
    max_tokens: u64,
    _permit: OwnedSemaphorePermit,
}

/// The largest non-streamed answer whose usage is read.
const MAX_JSON_ANSWER: usize = 16 * 1024 * 1024;

impl UsageTap {
    fn new(meter: Arc<Meter>, reserved: i64, events: bool, json: bool) -> Self {
        Self {
            meter,
            reserved,
            bill: None,
            usage: Usage::default(),
            events,
            body: json.then(Vec::new),
            line: Vec::new(),
            finished: false,
            searches: 0,
        }
    }

    fn feed(&mut self, bytes: &Bytes) {
        if let Some(body) = &mut self.body {
            if body.len() + bytes.len() <= MAX_JSON_ANSWER {
                body.extend_from_slice(bytes);
            }
            return;
        }
        if !self.events {
            return;
        }
        for byte in bytes.iter() {
            if *byte == b'\n' {
                self.line_done();
            } else if self.line.len() < 64 * 1024 {
                self.line.push(*byte);
            }
        }
    }

    fn line_done(&mut self) {
        let line = std::mem::take(&mut self.line);
        let Some(data) = line.strip_prefix(b"data:") else { return };
        let Ok(event) = serde_json::from_slice::<serde_json::Value>(data) else { return };
        match event.get("type").and_then(|t| t.as_str()) {
            Some("message_start") => self.count_input(&event["message"]["usage"]),
            Some("message_delta") => {
                self.count_output(&event["usage"]);
                self.finished = true;
            }
            _ => {}
        }
    }

    fn count_input(&mut self, usage: &serde_json::Value) {
        let input = Usage {
            input_tokens: field(usage, "input_tokens"),
            cache_read_input_tokens: field(usage, "cache_read_input_tokens"),
            cache_creation_input_tokens: field(usage, "cache_creation_input_tokens"),
            output_tokens: 0,
        };
        self.usage.add(&input);
        let total = input.input_tokens + input.cache_read_input_tokens + input.cache_creation_input_tokens;
        metrics::counter!("ccgate_model_proxy_tokens_total", "kind" => "input").increment(total);
    }

    fn count_output(&mut self, usage: &serde_json::Value) {
        // Counted so far in the answer: the last figure is the whole.
        self.searches = self.searches.max(field(&usage["server_tool_use"], "web_search_requests"));
        let output = field(usage, "output_tokens");
        self.usage.output_tokens += output;
        metrics::counter!("ccgate_model_proxy_tokens_total", "kind" => "output").increment(output);
    }
}

fn field(usage: &serde_json::Value, name: &str) -> u64 {
    usage.get(name).and_then(|v| v.as_u64()).unwrap_or(0)
}

impl Drop for UsageTap {
    /// The answer ended (or its reader went away): the request costs what it
    /// used, or — cut off before its final usage — at least its reservation.
    fn drop(&mut self) {
        if let Some(body) = self.body.take()
            && let Ok(answer) = serde_json::from_slice::<serde_json::Value>(&body)
            && answer.get("usage").is_some()
        {
            self.count_input(&answer["usage"]);
            self.count_output(&answer["usage"]);
            self.finished = true;
        }
        let usage = &self.usage;
        let used = usage.total() as i64;
        let cost = if self.finished || self.reserved == 0 { used } else { used.max(self.reserved) };
        self.meter.spend(cost - self.reserved);
        // In US dollars: an answer cut off before its final usage is charged its
        // whole max_tokens of output (a run cannot make its answers free by hanging up).
        let cost_usd = self.bill.as_ref().map_or(0.0, |bill| {
            let output = if self.finished { usage.output_tokens } else { usage.output_tokens.max(bill.max_tokens) };
            bill.price.cost(&Usage { output_tokens: output, ..usage.clone() }) + self.searches as f64 * bill.per_search
        });
        self.meter.add(usage, cost_usd);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn failures_in_a_row_are_counted_until_the_upstream_answers() {
        let health = UpstreamHealth::default();
        assert_eq!(health.state(), UpstreamState::default());
        assert_eq!(health.failed("connection refused"), 1);
        let since = health.state().failing_since;
        assert_eq!(health.failed("connection refused"), 2);
        let state = health.state();
        assert_eq!((state.failing_since, state.last_error.as_deref()), (since, Some("connection refused")));
        health.reached();
        let state = health.state();
        assert_eq!((state.consecutive_failures, state.failing_since), (0, None));
        assert_eq!(state.last_error.as_deref(), Some("connection refused"), "the last error stays for /readyz");
    }

    #[test]
    fn credentials_and_the_endpoint_are_recognised_by_name() {
        for name in [
            "ANTHROPIC_API_KEY",
            "ANTHROPIC_AUTH_TOKEN",
            "ANTHROPIC_BASE_URL",
            "ANTHROPIC_CUSTOM_HEADERS",
            "CLAUDE_CODE_OAUTH_TOKEN",
            "ANTHROPIC_FOUNDRY_API_KEY",
        ] {
            assert!(is_credential(name), "{name}");
        }
        for name in ["CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC", "ANTHROPIC_MODEL", "CLAUDE_CODE_MAX_RETRIES"] {
            assert!(!is_credential(name), "{name}");
        }
    }

    #[test]
    fn a_request_is_priced_at_its_models_price_and_a_cut_off_one_at_its_max_tokens() {
        let meter = Arc::new(Meter::new(None, None, 1, None, false, Arc::default()));
        let price = Price { input: 3.0, output: 15.0, cache_write: 3.75, cache_read: 0.3 };
        let tap = |permit| {
            let mut tap = UsageTap::new(meter.clone(), 0, true, false);
            tap.bill = Some(Bill { price, per_search: 0.01, max_tokens: 1000, _permit: permit });
            tap.feed(&Bytes::from_static(
                b"data: {\"type\":\"message_start\",\"message\":{\"usage\":{\"input_tokens\":1000,\"cache_read_input_tokens\":1000}}}\n",
            ));
            tap
        };
        let mut answered = tap(meter.in_flight.clone().try_acquire_owned().unwrap());
        assert!(meter.in_flight.clone().try_acquire_owned().is_err(), "the request holds the run's only slot");
        answered.feed(&Bytes::from_static(b"data: {\"type\":\"message_delta\",\"usage\":{\"output_tokens\":100}}\n"));
        drop(answered);
        let metered = meter.metered();
        assert_eq!((metered.usage.input_tokens, metered.usage.cache_read_input_tokens), (1000, 1000));
        assert!((metered.cost_usd - (0.003 + 0.0003 + 0.0015)).abs() < 1e-12, "{}", metered.cost_usd);
        // Hung up before the final usage: the whole max_tokens is charged as output.
        drop(tap(meter.in_flight.clone().try_acquire_owned().expect("the slot is free again")));
        let cut_off = meter.metered().cost_usd - metered.cost_usd;
        assert!((cut_off - (0.003 + 0.0003 + 0.015)).abs() < 1e-12, "{cut_off}");
        // Web searches the model ran are billed per search, on top of the tokens.
        let before = meter.metered().cost_usd;
        let mut searched = tap(meter.in_flight.clone().try_acquire_owned().expect("free again"));
        searched.feed(&Bytes::from_static(
            br#"data: {"type":"message_delta","usage":{"output_tokens":100,"server_tool_use":{"web_search_requests":3}}}
"#,
        ));
        drop(searched);
        let searches = meter.metered().cost_usd - before - (0.003 + 0.0003 + 0.0015);
        assert!((searches - 0.03).abs() < 1e-12, "{searches}");
    }

    #[test]
    fn a_warm_process_calls_nothing_and_counts_no_tokens_until_warmed_up() {
        use axum::http::Method;
        let (messages, counting) = ("/v1/messages", "/v1/messages/count_tokens");
        let warming = Arc::new(AtomicBool::new(true));
        let parked = Meter::new(None, None, 1, None, true, warming.clone());
        for path in [messages, counting] {
            assert_eq!(refusal_up_front(&parked, &Method::POST, path).unwrap().outcome, Some("parked"));
        }
        // Taken by a run before its warm-up was answered: its token counts stay refused.
        let taken = Meter::new(None, None, 1, None, false, warming.clone());
        assert_eq!(refusal_up_front(&taken, &Method::POST, counting).unwrap().outcome, Some("warming"));
        assert_eq!(refusal_up_front(&taken, &Method::POST, messages), None);
        warming.store(false, Ordering::Release);
        assert_eq!(refusal_up_front(&taken, &Method::POST, counting), None);
        assert_eq!(refusal_up_front(&taken, &Method::GET, messages).unwrap().outcome, None);
        assert!(refusal_up_front(&taken, &Method::POST, "/v1/files").is_some());
    }

    #[tokio::test]
    async fn a_request_whose_caller_left_before_the_answer_is_charged_its_worst_case() {
        let meter = Arc::new(Meter::new(None, None, 2, None, false, Arc::default()));
        let price = Price { input: 3.0, output: 15.0, cache_write: 3.75, cache_read: 0.3 };
        let unanswered = |armed| Unanswered {
            meter: meter.clone(),
            input_tokens: 1000,
            max_tokens: 2000,
            sent: std::time::Instant::now(),
            price,
            armed,
        };
        drop(unanswered(false));
        assert_eq!(meter.metered().cost_usd, 0.0, "an answered request is the tap's to charge");
        let waited = unanswered(true);
        assert_eq!(waited.worst_case(std::time::Duration::ZERO).output_tokens, MAX_OUTPUT_TOKENS_PER_SECOND);
        assert_eq!(waited.worst_case(std::time::Duration::from_secs(3600)).output_tokens, 2000, "at most max_tokens");
        let permit = meter.in_flight.clone().try_acquire_owned().unwrap();
        drop(waited);
        let metered = meter.metered();
        assert_eq!((metered.usage.input_tokens, metered.usage.output_tokens), (1000, MAX_OUTPUT_TOKENS_PER_SECOND));
        let expected = 0.003 + MAX_OUTPUT_TOKENS_PER_SECOND as f64 * 15.0 / 1e6;
        assert!((metered.cost_usd - expected).abs() < 1e-12, "{}", metered.cost_usd);
        // The run's cost is read once nothing is in flight (or after the wait).
        let settled = tokio::spawn({
            let meter = meter.clone();
            async move { meter.settled(std::time::Duration::from_secs(10)).await }
        });
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        assert!(!settled.is_finished(), "a request is still in flight");
        drop(permit);
        assert_eq!(settled.await.unwrap().usage.output_tokens, MAX_OUTPUT_TOKENS_PER_SECOND);
    }

    #[tokio::test]
    async fn a_request_reserves_what_it_may_use_and_settles_at_what_it_used() {
        use crate::store::tests::{key, set_token_budget, store, task};
        let (store, _dir) = store().await;
        let key_id = key(&store, 1).await;
        set_token_budget(&store, &key_id, Some(10_000)).await;
        task(&store, &key_id, 0).await;
        let run = store.claim("node", 60_000).await.unwrap().unwrap();
        let tokens = RunTokens::new(store.clone(), &run.task.id, &run.fence, &key_id);
        let meter = Arc::new(Meter::new(Some(tokens), None, 1, None, false, Arc::default()));
        // Settlements are written in the background: wait until the run holds `expected`.
        let held = |expected: i64| {
            let (store, key_id) = (store.clone(), key_id.clone());
            async move {
                let mut last = 0;
                for _ in 0..500 {
                    last = store.tokens_held(&key_id).await.unwrap();
                    if last == expected {
                        return;
                    }
                    tokio::time::sleep(std::time::Duration::from_millis(10)).await;
                }
                panic!("the run holds {last} tokens, not {expected}");
            }
        };
        let body = br#"{"max_tokens": 4000, "messages": []}"#;
        let reserve = || meter.reserve(4000, body.len());
        let Reserved::Tokens(reserved) = reserve().await else { panic!("refused") };
        assert_eq!(reserved, 4000 + body.len() as i64 / 4);
        // While anything is left a request goes ahead (the last may overshoot by
        // its own use); concurrent requests each hold their reservation.
        assert_eq!([reserve().await, reserve().await], [Reserved::Tokens(reserved); 2], "4009 × 3 from 10 000");
        assert_eq!(reserve().await, Reserved::Spent, "nothing left: refused");
        meter.spend(-3 * reserved);
        held(0).await;
        // A streamed answer: input at the start, output at the end.
        let Reserved::Tokens(reserved) = reserve().await else { panic!("refused") };
        let mut tap = UsageTap::new(meter.clone(), reserved, true, false);
        tap.feed(&Bytes::from_static(
            b"data: {\"type\":\"message_start\",\"message\":{\"usage\":{\"input_tokens\":300}}}\n",
        ));
        tap.feed(&Bytes::from_static(b"data: {\"type\":\"message_delta\",\"usage\":{\"output_tokens\":50}}\n"));
        drop(tap);
        held(350).await; // settled at what it used
        // A non-streamed answer: the usage is in the body.
        let Reserved::Tokens(reserved) = reserve().await else { panic!("refused") };
        let mut tap = UsageTap::new(meter.clone(), reserved, false, true);
        tap.feed(&Bytes::from_static(br#"{"usage": {"input_tokens": 100, "output_tokens": 20}}"#));
        drop(tap);
        held(350 + 120).await;
        // Cut off before its final usage: the whole reservation stays spent.
        let Reserved::Tokens(reserved) = reserve().await else { panic!("refused") };
        let mut tap = UsageTap::new(meter.clone(), reserved, true, false);
        tap.feed(&Bytes::from_static(
            b"data: {\"type\":\"message_start\",\"message\":{\"usage\":{\"input_tokens\":300}}}\n",
        ));
        drop(tap);
        held(350 + 120 + reserved).await;
    }
}
