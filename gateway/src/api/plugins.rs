//! `GET /v1/plugins` (the plugins in use, with their counters) and
//! `POST /v1/plugins/reload` (scope `admin`: load the configured chain again and
//! swap it in atomically; calls in flight finish on the old version).

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;

use super::AppState;
use super::extract::Caller;
use super::problem::ApiError;
use crate::auth::Scope;
use crate::plugins::PluginView;
use crate::task::FieldError;

/// The plugins a caller may see.
#[derive(Debug, serde::Serialize, utoipa::ToSchema)]
pub struct PluginList {
    pub data: Vec<PluginView>,
}

#[utoipa::path(get, path = "/plugins", operation_id = "listPlugins", tag = "plugins",
    responses((status = 200, description = "Loaded plugins in chain order: an admin key sees all of them, \
        another key those that apply to its tasks (without paths and key lists)", body = PluginList)))]
pub async fn list(State(state): State<AppState>, caller: Caller) -> Json<PluginList> {
    Json(PluginList { data: visible_plugins(&state, &caller.principal) })
}

/// The plugins `principal` may see (the API's list and the dashboard's page).
pub(crate) fn visible_plugins(state: &AppState, principal: &crate::auth::Principal) -> Vec<PluginView> {
    let admin = principal.has(Scope::Admin);
    state
        .plugins
        .views()
        .into_iter()
        .filter(|view| {
            admin || view.keys.is_empty() || view.keys.iter().any(|k| *k == principal.key_id || *k == principal.name)
        })
        .map(|mut view| {
            // Paths, key lists and errors (which may quote other keys' tasks) are
            // for admins.
            if !admin {
                view.path.clear();
                view.keys.clear();
                view.stats.last_error = None;
            }
            view
        })
        .collect()
}

#[utoipa::path(post, path = "/plugins/reload", operation_id = "reloadPlugins", tag = "plugins",
    responses(
        (status = 200, description = "Every configured plugin loaded; the new set is in use", body = PluginList),
        (status = 422, description = "A plugin did not load (each problem listed); the previous set stays in use",
            body = super::schema::Problem, content_type = "application/problem+json"),
    ))]
pub async fn reload(State(state): State<AppState>, caller: Caller) -> Result<Json<PluginList>, ApiError> {
    Ok(Json(PluginList { data: reload_plugins(&state, &caller).await? }))
}

/// Loads the configured plugins again for an admin caller (the API's reload and the
/// dashboard's); the previous set stays in use when one does not load.
pub(crate) async fn reload_plugins(state: &AppState, caller: &Caller) -> Result<Vec<PluginView>, ApiError> {
    caller.require(Scope::Admin)?;
    match state.plugins.reload().await {
        Ok(_) => Ok(state.plugins.views()),
        Err(errors) => Err(ApiError {
            errors: errors.0.iter().map(|e| FieldError::new("/plugins", e.to_string())).collect(),
            ..ApiError::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "plugins-not-loaded",
                "Plugins not reloaded",
                "a configured plugin did not load; the previous plugins stay in use (see `errors`)",
            )
        }),
    }
}
