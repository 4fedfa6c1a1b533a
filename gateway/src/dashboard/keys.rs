//! Keys: each key's spending today and this month against its budgets; an admin
//! creates keys, rotates their webhook secrets and revokes them (through the
//! API's own functions, so checked and audited the same). An admin sees every
//! key; another key sees only itself.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Response};
use minijinja::context;
use serde::Serialize;

use super::page::{Frame, dollars, render, see_other};
use super::viewer::{SignedForm, Viewer};
use crate::api::{ApiError, AppState, create_key, revoke_key, rotate_webhook_secret_of};
use crate::budget::{Budgets, Spend};
use crate::store::entities::api_key;

#[derive(Serialize)]
struct KeyRow {
    id: String,
    name: String,
    scopes: String,
    spent_today: String,
    spent_month: String,
    tokens_today: i64,
    tokens_month: i64,
    budgets: String,
    revoked: bool,
    /// Requests refused for the key's rate limit, by this node since it started.
    rate_limited: u64,
}

impl KeyRow {
    fn of(key: &api_key::Model, spend: &Spend, rate_limited: u64) -> Self {
        Self {
            id: key.id.clone(),
            name: key.name.clone(),
            scopes: key.scopes.replace(',', ", "),
            spent_today: dollars(spend.today.cost_micros),
            spent_month: dollars(spend.this_month.cost_micros),
            tokens_today: spend.today.tokens(),
            tokens_month: spend.this_month.tokens(),
            budgets: budgets(&Budgets::of_key(key)),
            revoked: key.revoked_at.is_some(),
            rate_limited,
        }
    }
}

/// A key's caps in a line: `$5.0000/day, 1000000 tokens/month`, or `none`.
fn budgets(budgets: &Budgets) -> String {
    let caps: Vec<String> = [
        budgets.micros_per_day.map(|b| format!("{}/day", dollars(b))),
        budgets.micros_per_month.map(|b| format!("{}/month", dollars(b))),
        budgets.tokens_per_day.map(|b| format!("{b} tokens/day")),
        budgets.tokens_per_month.map(|b| format!("{b} tokens/month")),
    ]
    .into_iter()
    .flatten()
    .collect();
    if caps.is_empty() { "none".to_string() } else { caps.join(", ") }
}

/// `GET /dashboard/keys`.
pub async fn page(State(state): State<AppState>, viewer: Viewer) -> Result<Html<String>, ApiError> {
    let keys = if viewer.is_admin() {
        state.keys.list().await?
    } else {
        state.keys.get(&viewer.principal().key_id).await?.into_iter().collect()
    };
    let now = crate::timestamp::now_ms();
    let mut rows = Vec::with_capacity(keys.len());
    for key in &keys {
        rows.push(KeyRow::of(key, &state.keys.spend(&key.id, now).await?, state.limiter.refused(&key.id)));
    }
    render("keys.html", context! { frame => Frame::of(&viewer, "keys"), keys => rows })
}

/// `POST /dashboard/keys/{id}/revoke` (admin).
pub async fn revoke(
    State(state): State<AppState>,
    Path(id): Path<String>,
    signed: SignedForm,
) -> Result<Response, ApiError> {
    revoke_key(&state, &signed.viewer.caller, &id).await?;
    Ok(see_other("/dashboard/keys"))
}

/// `POST /dashboard/keys` (admin): `name`, `scope` (`tasks` or `admin`), and an
/// optional `budget_usd_per_day`, checked as `POST /v1/keys` checks them.
pub async fn create(State(state): State<AppState>, signed: SignedForm) -> Result<Response, ApiError> {
    let body = key_request(&signed.form);
    let created = create_key(&state, &signed.viewer.caller, &body).await?;
    let secrets = [("API key", created.secret.as_str()), ("Webhook secret", created.webhook_secret.as_str())];
    shown_once(&signed.viewer, &format!("Key {} created", created.key.id), &secrets, StatusCode::CREATED)
}

/// `POST /dashboard/keys/{id}/webhook-secret` (admin).
pub async fn rotate_webhook_secret(
    State(state): State<AppState>,
    Path(id): Path<String>,
    signed: SignedForm,
) -> Result<Response, ApiError> {
    let secret = rotate_webhook_secret_of(&state, &signed.viewer.caller, &id).await?;
    let title = format!("New webhook secret of {id}");
    shown_once(&signed.viewer, &title, &[("Webhook secret", secret.as_str())], StatusCode::OK)
}

/// The form as the API's JSON body: a budget that is not a number stays text, so
/// the API's check names the field.
fn key_request(form: &super::viewer::Form) -> serde_json::Value {
    let mut body = serde_json::json!({
        "name": form.get("name").unwrap_or(""),
        "scopes": [form.get("scope").unwrap_or("tasks")],
    });
    if let Some(budget) = form.get("budget_usd_per_day").map(str::trim).filter(|b| !b.is_empty()) {
        body["budget_usd_per_day"] = budget.parse::<f64>().map_or_else(|_| budget.into(), Into::into);
    }
    body
}

/// A page showing secrets this once (answers are never cached).
fn shown_once(
    viewer: &Viewer,
    title: &str,
    secrets: &[(&str, &str)],
    status: StatusCode,
) -> Result<Response, ApiError> {
    let secrets: Vec<_> =
        secrets.iter().map(|(label, value)| serde_json::json!({"label": label, "value": value})).collect();
    let html = render("secret.html", context! { frame => Frame::of(viewer, "keys"), title, secrets })?;
    Ok((status, html).into_response())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn budgets_read_as_one_line() {
        assert_eq!(budgets(&Budgets::default()), "none");
        let caps = Budgets { micros_per_day: Some(5_000_000), tokens_per_month: Some(1000), ..Default::default() };
        assert_eq!(budgets(&caps), "$5.0000/day, 1000 tokens/month");
    }
}
