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
    /// `sha256:<hex>` of the whole chain in effect (names, hooks, keys, `on_error`,
    /// component digests, configurations); for admin keys only.
    #[schema(example = "sha256:9f2c…")]
    pub config_digest: Option<String>,
}

#[utoipa::path(get, path = "/plugins", operation_id = "listPlugins", tag = "plugins",
    summary = "List plugins",
    description = "The WebAssembly plugins in use, in chain order: an admin key sees every one with its path, \
        keys and call statistics; another key sees those that apply to its tasks. Example: `GET /v1/plugins` → \
        `{\"data\": [{\"name\": \"policy\", …}]}`.",
    responses((status = 200, description = "Loaded plugins in chain order: an admin key sees all of them, \
        another key those that apply to its tasks (without paths and key lists)", body = PluginList)))]
pub async fn list(State(state): State<AppState>, caller: Caller) -> Json<PluginList> {
    let admin = caller.principal.has(Scope::Admin);
    Json(PluginList {
        data: visible_plugins(&state, &caller.principal),
        config_digest: admin.then(|| state.plugins.chain_digest()),
    })
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
                view.config_digest.clear();
                view.stats.last_error = None;
            }
            view
        })
        .collect()
}

#[utoipa::path(post, path = "/plugins/reload", operation_id = "reloadPlugins", tag = "plugins",
    summary = "Reload plugins",
    description = "Loads the configured plugins again (after replacing a `.wasm` file or its configuration); on \
        any error the old set stays in force and the answer says why. Scope `admin`. Example: `POST \
        /v1/plugins/reload`.",
    responses(
        (status = 200, description = "Every configured plugin loaded; the new set is in use: each plugin's \
            component and configuration digests, and the digest of the whole chain", body = PluginList),
        (status = 422, description = "A plugin did not load (each problem listed); the previous set stays in use",
            body = super::schema::Problem, content_type = "application/problem+json"),
    ))]
pub async fn reload(State(state): State<AppState>, caller: Caller) -> Result<Json<PluginList>, ApiError> {
    let data = reload_plugins(&state, &caller).await?;
    Ok(Json(PluginList { data, config_digest: Some(state.plugins.chain_digest()) }))
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
