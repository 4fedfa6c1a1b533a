//! `/healthz` (the process answers) and `/readyz` (it can do its job: database
//! migrated and reachable, Claude Code present, workers accepting work).

use std::path::PathBuf;

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use serde_json::{Value, json};

use super::AppState;
use super::schema::Problem;
use crate::store::entities::node::NodeState;
use crate::telemetry::DatabaseHealth;

/// Facts about this node found at start-up.
pub struct Readiness {
    pub claude_bin: PathBuf,
    pub claude_version: Option<String>,
    pub sandbox: crate::sandbox::SandboxStatus,
    /// The live sandbox, for the model upstream's recent record.
    pub live: Option<std::sync::Arc<crate::sandbox::Sandbox>>,
}

#[utoipa::path(get, path = "/healthz", operation_id = "healthz", tag = "operations",
    summary = "Liveness",
    description = "200 while the process serves HTTP; no dependency is checked. Example: `GET /healthz` → \
        `{\"status\": \"ok\"}`.",
    responses((status = 200, description = "The process is up", body = Object, example = json!({"status": "ok"}))))]
pub async fn healthz() -> Json<Value> {
    Json(json!({"status": "ok"}))
}

/// Marks requests that came in on the metrics listener (`metrics.listen`).
#[derive(Clone, Copy)]
pub struct MetricsListener;

/// `GET /metrics`: Prometheus text. Task gauges are read from the database at
/// scrape time, so every node reports the shared queue.
#[utoipa::path(get, path = "/metrics", operation_id = "metrics", tag = "operations",
    summary = "Prometheus metrics",
    description = "Counters and histograms of requests, tasks, runs, tokens and the queue, in the Prometheus \
        text format; with `metrics.token` set it needs `Authorization: Bearer <token>`. Example: `GET /metrics`.",
    responses(
        (status = 200, description = "Prometheus text format", content_type = "text/plain", body = String),
        (status = 401, description = "`metrics.token` is set and the request does not carry it", body = Problem,
            content_type = "application/problem+json"),
        (status = 404, description = "Metrics are not enabled, or served on `metrics.listen` only", body = Problem,
            content_type = "application/problem+json"),
    ))]
pub async fn metrics(
    State(state): State<AppState>,
    own_listener: Option<axum::Extension<MetricsListener>>,
    headers: axum::http::HeaderMap,
) -> Result<([(axum::http::HeaderName, &'static str); 1], String), super::ApiError> {
    let Some(handle) = &state.metrics else {
        return Err(super::ApiError::new(StatusCode::NOT_FOUND, "not-found", "Not found", "metrics are not enabled"));
    };
    if !state.config.metrics.listen.is_empty() && own_listener.is_none() {
        return Err(super::ApiError::not_found("metrics are served on the address in metrics.listen"));
    }
    let token = &state.config.metrics.token;
    if !token.is_empty() {
        let presented = headers
            .get(axum::http::header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "))
            .unwrap_or("");
        if !crate::auth::constant_time_eq(presented.as_bytes(), token.as_bytes()) {
            return Err(super::ApiError::new(
                StatusCode::UNAUTHORIZED,
                "unauthorized",
                "Unauthorized",
                "metrics need the bearer token set in metrics.token",
            ));
        }
    }
    for status in crate::task::TaskStatus::ALL {
        let count = state.stats.count_by_status(status).await?;
        crate::telemetry::metrics::tasks_by_status(status, count);
    }
    crate::telemetry::metrics::running_here(state.queue.running_count());
    Ok(([(axum::http::header::CONTENT_TYPE, "text/plain; version=0.0.4")], handle.render()))
}

#[utoipa::path(get, path = "/readyz", operation_id = "readyz", tag = "operations",
    summary = "Readiness",
    description = "200 when the node can take work (database, Claude Code, workers, sandbox, plugins, free \
        memory and disk), 503 with the checks that fail otherwise (`reason` names them); 503 with `status` and \
        `reason` `draining` while the node drains, is drained or shuts down. A node with `queue.workers = 0` (API only) is ready without Claude \
        Code: `checks.queue.workers` is 0 and `checks.queue.claims` false. Example: `GET /readyz` → `{\"status\": \
        \"ready\", \"checks\": {…}}`.",
    responses(
        (status = 200, description = "Ready (or `degraded`: the model upstream cannot be reached, \
            `checks.model` says why; or a quarantined plugin fails closed, named in \
            `checks.plugins.failing_closed`)", body = Object, example = json!({
            "status": "ready",
            "reason": null,
            "checks": {"database": {"ok": true, "backend": "sqlite"},
                       "claude": {"ok": true, "path": "/usr/local/bin/claude", "version": "2.1.197"},
                       "workers": {"ok": true, "configured": 2, "running": 0, "node": "node_01JD…", "reason": null},
                       "queue": {"ok": true, "workers": 2, "claims": true, "state": "active"},
                       "sandbox": {"ok": true, "confinement": "bwrap", "layers": ["namespaces", "landlock", "seccomp", "rlimits", "cgroup", "model-proxy"]},
                       "model": {"ok": true, "upstream": "https://api.anthropic.com", "consecutive_failures": 0,
                                 "last_error": null, "last_failure_at": null, "failing_since": null}}
        })),
        (status = 503, description = "Not ready (`not_ready`: each failing dependency says why), or `draining`",
            body = Object),
    ))]
pub async fn readyz(State(state): State<AppState>) -> (StatusCode, Json<Value>) {
    let (status, body) = readiness_report(&state).await;
    (status, Json(body))
}

/// The one-word reason a node is not `ready`: `draining`, else the checks that
/// fail (`database`, `claude, workers`, …; Claude Code only on a node that runs
/// tasks); `None` when ready.
fn readiness_reason(status: &str, checks: &Value, runs_tasks: bool) -> Option<String> {
    match status {
        "ready" => None,
        "draining" => Some("draining".to_string()),
        _ => {
            let counted = checks.as_object()?.iter().filter(|(name, _)| runs_tasks || name.as_str() != "claude");
            let failing = counted.filter(|(_, check)| check["ok"] != true);
            Some(failing.map(|(name, _)| name.as_str()).collect::<Vec<_>>().join(", ")).filter(|r| !r.is_empty())
        }
    }
}

/// What `/readyz` answers: its status and `{"status", "checks"}` (the dashboard shows it too).
pub(crate) async fn readiness_report(state: &AppState) -> (StatusCode, Value) {
    let database = match state.stats.database().await {
        DatabaseHealth::Ready { backend } => json!({"ok": true, "backend": backend}),
        DatabaseHealth::Behind(n) => {
            json!({"ok": false, "reason": format!("{n} migrations are not applied; run `ccgate migrate`")})
        }
        DatabaseHealth::Unreachable(reason) => json!({"ok": false, "reason": reason}),
    };
    let readiness = &state.readiness;
    let claude = match (&readiness.claude_version, readiness.claude_bin.exists()) {
        (Some(version), true) => json!({"ok": true, "path": readiness.claude_bin, "version": version}),
        (None, true) => {
            json!({"ok": false, "path": readiness.claude_bin, "reason": "`claude --version` failed at start-up"})
        }
        (_, false) => {
            json!({"ok": false, "path": readiness.claude_bin, "reason": "the Claude Code executable is missing"})
        }
    };
    let node_state = state.node.state();
    let draining = state.queue.is_draining() || node_state != NodeState::Active;
    let shortage = state.queue.shortage();
    let reason = match (draining, shortage) {
        (true, _) if state.queue.is_draining() => Some("the gateway is shutting down".to_string()),
        (true, _) => Some(format!("the node is {} (POST /v1/nodes/{{id}}/resume)", node_state.as_str())),
        (false, Some(shortage)) => Some(shortage.to_string()),
        (false, None) => None,
    };
    let workers_configured = state.config.queue.workers;
    let workers = json!({
        "ok": reason.is_none(),
        "configured": workers_configured,
        "running": state.queue.running_count(),
        "node": state.queue.node_id(),
        "reason": reason,
    });
    // Unconfined runs are the operator's explicit choice: ready, with the warning.
    let mut sandbox = serde_json::to_value(&readiness.sandbox).unwrap_or_default();
    sandbox["ok"] = json!(true);
    let views = state.plugins.views();
    let quarantined: Vec<&str> = views
        .iter()
        .filter(|v| v.stats.state == crate::plugins::PluginState::Quarantined)
        .map(|v| v.name.as_str())
        .collect();
    // A quarantined plugin is reported, not a reason to take the node out: its
    // `on_error` already decides what its tasks get. One that fails closed refuses
    // its hook meanwhile, which degrades the node.
    let failing_closed = state.plugins.quarantined_failing_closed();
    let plugins = json!({"ok": failing_closed.is_empty(), "loaded": views.len(), "quarantined": quarantined,
                         "failing_closed": failing_closed});
    // An upstream that cannot be reached degrades the node (every run would fail)
    // without taking it out: it still serves what was done, and the upstream is
    // shared by every node.
    let model = match readiness.live.as_ref().and_then(|live| live.model_upstream()) {
        Some((upstream, state)) => {
            let mut model = serde_json::to_value(&state).unwrap_or_default();
            model["ok"] = json!(state.consecutive_failures == 0);
            model["upstream"] = json!(upstream);
            model
        }
        None => json!({"ok": true, "reason": "runs reach the model themselves (no sandbox)"}),
    };
    // A node without workers (API only) never starts Claude Code.
    let runs_tasks = workers_configured > 0;
    let claims = runs_tasks && !state.queue.claims_paused();
    let queue = json!({"ok": true, "workers": workers_configured, "claims": claims, "state": node_state});
    let ready = [&database, &workers].iter().all(|c| c["ok"] == true) && (!runs_tasks || claude["ok"] == true);
    let status = match (ready, model["ok"] == true && failing_closed.is_empty()) {
        (false, _) if draining => "draining",
        (false, _) => "not_ready",
        (true, false) => "degraded",
        (true, true) => "ready",
    };
    let checks = json!({"database": database, "claude": claude, "workers": workers, "queue": queue,
                        "sandbox": sandbox, "plugins": plugins, "model": model});
    let body = json!({"status": status, "reason": readiness_reason(status, &checks, runs_tasks), "checks": checks});
    (if ready { StatusCode::OK } else { StatusCode::SERVICE_UNAVAILABLE }, body)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_reason_names_what_keeps_a_node_out() {
        let checks = json!({"database": {"ok": false}, "claude": {"ok": false}, "workers": {"ok": true}});
        assert_eq!(readiness_reason("ready", &checks, true), None);
        assert_eq!(readiness_reason("draining", &checks, true).as_deref(), Some("draining"));
        assert_eq!(readiness_reason("not_ready", &checks, true).as_deref(), Some("claude, database"));
        assert_eq!(readiness_reason("not_ready", &checks, false).as_deref(), Some("database"), "API-only node");
        let model_down = json!({"model": {"ok": false}, "database": {"ok": true}});
        assert_eq!(readiness_reason("degraded", &model_down, true).as_deref(), Some("model"));
    }
}
