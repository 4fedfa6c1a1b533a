//! Plugins: each one's state (active or quarantined), calls, failures, p50/p99
//! call time and last error, as `GET /v1/plugins` shows them to the viewer; an
//! admin can reload them.

use axum::extract::State;
use axum::response::{Html, Response};
use minijinja::context;
use serde_json::json;

use super::page::{Frame, render, see_other};
use super::viewer::{SignedForm, Viewer};
use crate::api::{ApiError, AppState, reload_plugins, visible_plugins};

/// `GET /dashboard/plugins`.
pub async fn page(State(state): State<AppState>, viewer: Viewer) -> Result<Html<String>, ApiError> {
    let time = |ms: Option<f64>| ms.map(|ms| format!("{ms:.1} ms")).unwrap_or_else(|| "—".to_string());
    let plugins: Vec<_> = visible_plugins(&state, viewer.principal())
        .iter()
        .map(|view| {
            json!({
                "name": view.name,
                "declared": format!("{} {}", view.declared_name, view.version),
                "hooks": view.hooks.iter().filter_map(|h| serde_json::to_value(h).ok()?.as_str().map(String::from))
                    .collect::<Vec<_>>().join(", "),
                "state": serde_json::to_value(view.stats.state).unwrap_or_default(),
                "calls": view.stats.calls,
                "failures": view.stats.failures,
                "p50": time(view.stats.p50_ms),
                "p99": time(view.stats.p99_ms),
                "last_error": view.stats.last_error,
            })
        })
        .collect();
    render("plugins.html", context! { frame => Frame::of(&viewer, "plugins"), plugins })
}

/// `POST /dashboard/plugins/reload` (admin).
pub async fn reload(State(state): State<AppState>, signed: SignedForm) -> Result<Response, ApiError> {
    reload_plugins(&state, &signed.viewer.caller).await?;
    Ok(see_other("/dashboard/plugins"))
}
