//! Prometheus metrics: the recorder, the `/metrics` text, and one function per
//! thing worth counting, so call sites name what happened rather than a metric.
//! Labels are bounded: routes are the matched templates, models and statuses come
//! from small sets.

use std::time::Duration;

use metrics::{counter, gauge, histogram};
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};

/// Installs the global recorder (once per process) and starts its upkeep task.
pub fn install() -> Option<PrometheusHandle> {
    let buckets = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 300.0, 900.0, 3600.0];
    let handle = PrometheusBuilder::new()
        .set_buckets_for_metric(Matcher::Suffix("_seconds".into()), &buckets)
        .ok()?
        .install_recorder()
        .ok()?;
    let upkeep = handle.clone();
    tokio::spawn(async move {
        loop {
            tokio::time::sleep(Duration::from_secs(5)).await;
            upkeep.run_upkeep();
        }
    });
    Some(handle)
}

pub fn http_request(route: &str, method: &str, status: u16, elapsed: Duration) {
    let labels = [("route", route.to_string()), ("method", method.to_string()), ("status", status.to_string())];
    counter!("ccgate_http_requests_total", &labels).increment(1);
    histogram!("ccgate_http_request_duration_seconds", &labels[..2]).record(elapsed.as_secs_f64());
}

pub fn rate_limited() {
    counter!("ccgate_rate_limit_rejections_total").increment(1);
}

/// Whether this node is short of memory or disk (and so claims no work).
pub fn shortage(resource: Option<&str>) {
    for each in ["memory", "disk"] {
        gauge!("ccgate_node_shortage", "resource" => each).set(if resource == Some(each) { 1.0 } else { 0.0 });
    }
}

/// A worker's pass that claimed nothing because the node is short of `resource`.
pub fn claim_skipped(resource: &'static str) {
    counter!("ccgate_claims_skipped_total", "resource" => resource).increment(1);
}

/// A connection closed at once: the gateway or its address was at its cap.
pub fn connection_refused() {
    counter!("ccgate_http_connections_refused_total").increment(1);
}

/// A refused request past its source's audit budget: counted in the audit log
/// when the minute ends, and here at once.
pub fn denial_unaudited() {
    counter!("ccgate_audit_denials_unrecorded_total").increment(1);
}

/// One plugin call: `outcome` is what it decided (`allowed`, `denied`, `rewritten`;
/// `no_opinion`, `selected`, `formatted`, `filtered` for the hooks that do not
/// decide) or `failed`, and then `error` says why (timeout, memory, trap, invalid,
/// quarantined, setup). Plugin names come from the gateway config.
pub fn plugin_call(plugin: &str, hook: &str, outcome: &str, error: &str, elapsed: Duration) {
    let labels = [("plugin", plugin.to_string()), ("hook", hook.to_string())];
    counter!("ccgate_plugin_calls_total", "plugin" => plugin.to_string(), "hook" => hook.to_string(),
        "outcome" => outcome.to_string(), "error" => error.to_string())
    .increment(1);
    if error != "quarantined" {
        histogram!("ccgate_plugin_call_duration_seconds", &labels).record(elapsed.as_secs_f64());
    }
}

/// 1 while a plugin is quarantined by its circuit breaker.
pub fn plugin_quarantined(plugin: &str, quarantined: bool) {
    gauge!("ccgate_plugin_quarantined", "plugin" => plugin.to_string()).set(if quarantined { 1.0 } else { 0.0 });
}

pub fn run_finished(status: &str, duration: Duration, queue_wait: Duration) {
    counter!("ccgate_runs_total", "status" => status.to_string()).increment(1);
    histogram!("ccgate_run_duration_seconds").record(duration.as_secs_f64());
    histogram!("ccgate_queue_wait_seconds").record(queue_wait.as_secs_f64());
}

/// A model name as a label: the first few distinct names seen, then `other`, so
/// clients choosing model names cannot blow up the number of series.
fn model_label(model: &str) -> String {
    static SEEN: Bounded = Bounded::new(32);
    SEEN.label(model)
}

fn key_label(key_id: &str) -> String {
    static SEEN: Bounded = Bounded::new(256);
    SEEN.label(key_id)
}

/// Label values as they come, up to a number of distinct ones; then `other`, so a
/// label's cardinality stays bounded.
struct Bounded {
    limit: usize,
    seen: std::sync::Mutex<Option<std::collections::HashSet<String>>>,
}

impl Bounded {
    const fn new(limit: usize) -> Self {
        Self { limit, seen: std::sync::Mutex::new(None) }
    }

    fn label(&self, value: &str) -> String {
        let mut seen = self.seen.lock().unwrap_or_else(|p| p.into_inner());
        let seen = seen.get_or_insert_with(Default::default);
        if seen.contains(value) || seen.len() < self.limit && seen.insert(value.to_string()) {
            value.to_string()
        } else {
            "other".to_string()
        }
    }
}

/// One webhook delivery attempt: `delivered`, `retry`, `failed` (gave up) or `disabled` (410).
pub fn webhook_attempt(outcome: &'static str, elapsed: Duration) {
    counter!("ccgate_webhook_attempts_total", "outcome" => outcome).increment(1);
    histogram!("ccgate_webhook_attempt_seconds").record(elapsed.as_secs_f64());
}

/// What a key's runs cost and used, for per-key dashboards (keys are few: made by admins).
pub fn key_usage(key_id: &str, usage: &crate::task::Usage, cost_usd: f64) {
    let key = key_label(key_id);
    let input = usage.input_tokens + usage.cache_read_input_tokens + usage.cache_creation_input_tokens;
    counter!("ccgate_key_tokens_total", "key" => key.clone(), "kind" => "input").increment(input);
    counter!("ccgate_key_tokens_total", "key" => key.clone(), "kind" => "output").increment(usage.output_tokens);
    counter!("ccgate_key_cost_usd_micros_total", "key" => key).increment((cost_usd * 1e6).round() as u64);
}

pub fn usage(model: &str, usage: &crate::task::Usage, cost_usd: f64) {
    let model = model_label(model);
    for (kind, tokens) in [
        ("input", usage.input_tokens),
        ("output", usage.output_tokens),
        ("cache_read", usage.cache_read_input_tokens),
        ("cache_creation", usage.cache_creation_input_tokens),
    ] {
        counter!("ccgate_tokens_total", "model" => model.clone(), "kind" => kind).increment(tokens);
    }
    counter!("ccgate_cost_usd_micros_total", "model" => model).increment((cost_usd * 1e6).round() as u64);
}

/// Gauges read from the database at scrape time (every node sees the same queue).
pub fn tasks_by_status(status: crate::task::TaskStatus, count: u64) {
    gauge!("ccgate_tasks", "status" => status.as_str()).set(count as f64);
    if status == crate::task::TaskStatus::Queued {
        // The same number under the name dashboards look for.
        gauge!("ccgate_queue_depth").set(count as f64);
    }
}

pub fn running_here(count: usize) {
    gauge!("ccgate_running_tasks_on_node").set(count as f64);
}
