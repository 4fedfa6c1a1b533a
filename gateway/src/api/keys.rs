//! `/v1/keys` (scope `admin`): create (the secret is shown once), list, get, revoke.

use std::collections::HashMap;

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use serde_json::Value;

use super::extract::{Caller, JsonBody, Path, Query};
use super::paging::{Order, PageQuery, page_of};
use super::problem::ApiError;
use super::schema::{KeyCreated, KeyPage, KeyRequest, KeyUpdate, KeyView, WebhookSecret};
use super::{AppState, paging};
use crate::auth::{Environment, Given, KeyField, KeySpec, Scope, set_key_field};
use crate::store::AuditEntry;
use crate::task::{FieldError, unknown_fields};
use crate::webhooks::guard::{Allowlist, check_url_resolving};

#[utoipa::path(post, path = "/keys", operation_id = "createKey", tag = "keys",
    summary = "Create an API key",
    description = "A new key; its `secret` and `webhook_secret` are in this answer only, so store them. Scope \
        `admin`. Example: `{\"name\": \"ci-pipeline\", \"scopes\": [\"tasks\"], \"budget_usd_per_day\": 20}` → \
        201 with `secret: ccg_live_…` and `webhook_secret: whsec_…`.",
    request_body(content = KeyRequest, content_type = "application/json"),
    responses((status = 201, description = "The key, with its secret shown this once", body = KeyCreated)))]
pub async fn create(
    State(state): State<AppState>,
    caller: Caller,
    JsonBody(body): JsonBody,
) -> Result<(StatusCode, Json<KeyCreated>), ApiError> {
    Ok((StatusCode::CREATED, Json(create_key(&state, &caller, &body).await?)))
}

/// Creates a key from a request body for an admin caller (the API's create and the
/// dashboard's): checked, audited, its secrets returned this once.
pub(crate) async fn create_key(state: &AppState, caller: &Caller, body: &Value) -> Result<KeyCreated, ApiError> {
    caller.require(Scope::Admin)?;
    let spec = parse_spec(body, state).map_err(ApiError::validation)?;
    if let Some(url) = &spec.webhook_url {
        super::webhooks::webhooks_enabled(state, "/webhook_url")?;
        let allowlist = Allowlist::new(&state.config.webhooks.allowed_hosts);
        check_url_resolving(url, &allowlist)
            .await
            .map_err(|why| ApiError::validation(vec![FieldError::new("/webhook_url", why)]))?;
    }
    let audit = audit(caller, "key.create");
    let (key, secret) = state.keys.issue(spec, audit).await?;
    let webhook_secret = key.webhook_secret.clone().unwrap_or_default();
    Ok(KeyCreated { key: KeyView::from(&key), secret, webhook_secret })
}

#[utoipa::path(get, path = "/keys", operation_id = "listKeys", tag = "keys",
    summary = "List API keys",
    description = "Every key, newest first, revoked ones too, without secrets, a page at a time. Scope `admin`. \
        Example: `GET /v1/keys?limit=20` → `{\"data\": [{\"id\": \"key_…\", \"prefix\": \"ccg_live_a4b1\", …}], \
        \"next_cursor\": \"key_…\"}`.",
    params(
        ("limit" = Option<u32>, Query, minimum = 1, maximum = 200, description = "Page size (default 50)"),
        ("cursor" = Option<String>, Query, pattern = "^key_[0-9A-HJKMNP-TV-Z]{26}$", nullable = false,
            description = "`next_cursor` of the previous page"),
    ),
    responses((status = 200, description = "A page of keys, newest first", body = KeyPage)))]
pub async fn list(
    State(state): State<AppState>,
    caller: Caller,
    Query(params): Query<HashMap<String, String>>,
) -> Result<Json<KeyPage>, ApiError> {
    caller.require(Scope::Admin)?;
    let query = PageQuery::parse(&params, paging::DEFAULT_LIMIT, |c| crate::ids::looks_like(c, "key"))?;
    let (keys, next_cursor) = page_of(state.keys.list().await?, &query, Order::NewestFirst, |k| &k.id);
    Ok(Json(KeyPage { data: keys.iter().map(KeyView::from).collect(), next_cursor }))
}

#[utoipa::path(get, path = "/keys/{id}", operation_id = "getKey", tag = "keys",
    summary = "Get an API key",
    description = "One key without its secret, with what its runs spent today and this month. Scope `admin`. \
        Example: `GET /v1/keys/key_…` → `{\"id\": \"key_…\", \"spend\": {\"today\": {\"cost_usd\": 0.42, …}, \
        …}}`.",
    params(("id" = String, Path, description = "Key id")),
    responses((status = 200, description = "The key, with what it spent today and this month", body = KeyView)))]
pub async fn get(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Json<KeyView>, ApiError> {
    caller.require(Scope::Admin)?;
    let key = state.keys.get(&id).await?.ok_or_else(|| ApiError::not_found("no key with this id"))?;
    let spend = state.keys.spend(&key.id, crate::timestamp::now_ms()).await?;
    Ok(Json(KeyView { spend: Some(spend.into()), ..KeyView::from(&key) }))
}

#[utoipa::path(delete, path = "/keys/{id}", operation_id = "revokeKey", tag = "keys",
    summary = "Revoke an API key",
    description = "The key stops authenticating at once on this node and within 30 s on others; it stays listed \
        with `revoked_at`. Scope `admin`. Example: `DELETE /v1/keys/key_…` → 204.",
    params(("id" = String, Path, description = "Key id")),
    responses((status = 204, description = "Revoked: the key no longer authenticates")))]
pub async fn revoke(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    revoke_key(&state, &caller, &id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Revokes a key for an admin caller (the API's and the dashboard's revoke): its
/// requests and event streams on this node stop at once.
pub(crate) async fn revoke_key(state: &AppState, caller: &Caller, id: &str) -> Result<(), ApiError> {
    caller.require(Scope::Admin)?;
    if state.keys.revoke(id, audit(caller, "key.revoke")).await? {
        Ok(())
    } else {
        Err(ApiError::not_found("no active key with this id"))
    }
}

#[utoipa::path(post, path = "/keys/{id}/webhook-secret", operation_id = "rotateWebhookSecret", tag = "keys",
    summary = "Rotate a key's webhook secret",
    description = "A new `webhook_secret`, shown once; for a day deliveries carry signatures with both the new \
        and the old secret, so receivers can switch without losing one. Scope `admin`. Example: `POST \
        /v1/keys/key_…/webhook-secret` → `{\"webhook_secret\": \"whsec_…\"}`.",
    params(("id" = String, Path, description = "Key id")),
    responses((status = 200, description = "The new webhook secret, shown this once; for a day, deliveries are \
        signed with the new and the old secret", body = WebhookSecret)))]
pub async fn rotate_webhook_secret(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Json<WebhookSecret>, ApiError> {
    Ok(Json(WebhookSecret { webhook_secret: rotate_webhook_secret_of(&state, &caller, &id).await? }))
}

/// Gives a key a new webhook secret for an admin caller (the API's rotate and the
/// dashboard's), audited; returns it, shown this once.
pub(crate) async fn rotate_webhook_secret_of(state: &AppState, caller: &Caller, id: &str) -> Result<String, ApiError> {
    caller.require(Scope::Admin)?;
    let rotated = state.keys.rotate_webhook_secret(id, audit(caller, "key.rotate_webhook_secret")).await?;
    rotated.ok_or_else(|| ApiError::not_found("no active key with this id"))
}

#[utoipa::path(patch, path = "/keys/{id}", operation_id = "updateKey", tag = "keys",
    summary = "Change an API key",
    description = "Changes the given fields of an active key (name, scopes, limits, budgets, default webhook); \
        `null` clears `webhook_url` and the budgets. Applies at once. Scope `admin`. Example: \
        `{\"budget_usd_per_day\": 50}` → the key as it is now.",
    params(("id" = String, Path, description = "Key id")),
    request_body(content = KeyUpdate, content_type = "application/json",
        description = "Any of the fields of a new key; `null` clears `webhook_url` and the budgets"),
    responses((status = 200, description = "The key as it is now", body = KeyView)))]
pub async fn update(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    JsonBody(body): JsonBody,
) -> Result<Json<KeyView>, ApiError> {
    caller.require(Scope::Admin)?;
    let key = state.keys.active(&id).await?.ok_or_else(|| ApiError::not_found("no active key with this id"))?;
    let base = KeySpec::of(&key);
    let spec = apply_fields(&body, base, &state).map_err(ApiError::validation)?;
    if let Some(url) = spec.webhook_url.as_ref().filter(|url| key.webhook_url.as_ref() != Some(*url)) {
        super::webhooks::webhooks_enabled(&state, "/webhook_url")?;
        let allowlist = Allowlist::new(&state.config.webhooks.allowed_hosts);
        check_url_resolving(url, &allowlist)
            .await
            .map_err(|why| ApiError::validation(vec![FieldError::new("/webhook_url", why)]))?;
    }
    let updated = state.keys.update(&id, &spec, audit(&caller, "key.update")).await?;
    let updated = updated.ok_or_else(|| ApiError::not_found("no active key with this id"))?;
    Ok(Json(KeyView::from(&updated)))
}

fn audit(caller: &Caller, action: &'static str) -> AuditEntry {
    caller.context.audit_entry(Some(caller.principal.key_id.clone()), action, "ok")
}

/// A new key's fields: the body over the server's defaults.
fn parse_spec(body: &Value, state: &AppState) -> Result<KeySpec, Vec<FieldError>> {
    let base = KeySpec::new(String::new(), Environment::Live, &state.config.keys);
    // Only a new key chooses its environment: the secret's prefix says it for good.
    let mut body = body.clone();
    let environment = body.as_object_mut().and_then(|object| object.remove("environment"));
    let environment = match environment {
        None | Some(Value::Null) => Ok(Environment::Live),
        Some(value) => value
            .as_str()
            .and_then(Environment::parse)
            .ok_or_else(|| vec![FieldError::new("/environment", "must be \"live\" or \"test\"")]),
    };
    let spec = apply_fields(&body, base, state);
    match (environment, spec) {
        (Ok(environment), Ok(spec)) => Ok(KeySpec { environment, ..spec }),
        (Err(mut errors), Err(more)) => {
            errors.extend(more);
            Err(errors)
        }
        (Err(errors), _) | (_, Err(errors)) => Err(errors),
    }
}

/// `base` with the body's fields applied; `null` clears an optional one.
fn apply_fields(body: &Value, base: KeySpec, state: &AppState) -> Result<KeySpec, Vec<FieldError>> {
    let mut errors = Vec::new();
    let Some(object) = body.as_object() else {
        return Err(vec![FieldError::new("", "the request body must be a JSON object")]);
    };
    let mut spec = base;
    let known = KeyField::ALL.map(KeyField::as_str);
    unknown_fields(object, &known, "", &mut errors);
    let allowlist = Allowlist::new(&state.config.webhooks.allowed_hosts);
    for (field, value) in object.iter().filter_map(|(name, value)| Some((KeyField::parse(name)?, value))) {
        let set = given(field, value)
            .ok_or_else(|| field.rule())
            .and_then(|given| set_key_field(&mut spec, field, given, &allowlist));
        if let Err(why) = set {
            errors.push(FieldError::new(format!("/{}", field.as_str()), why));
        }
    }
    if spec.name.is_empty() && !errors.iter().any(|e| e.pointer == "/name") {
        errors.push(FieldError::new("/name", "is required"));
    }
    if errors.is_empty() { Ok(spec) } else { Err(errors) }
}

/// A JSON value as the setting's type allows it, if it does.
fn given(field: KeyField, value: &Value) -> Option<Given> {
    let strings =
        |items: &Vec<Value>| items.iter().map(|item| item.as_str().map(String::from)).collect::<Option<Vec<_>>>();
    match (field, value) {
        (KeyField::Name | KeyField::WebhookUrl, Value::String(text)) => Some(Given::Text(Some(text.clone()))),
        (KeyField::Name | KeyField::WebhookUrl, Value::Null) => Some(Given::Text(None)),
        // Items that are not strings fail the rule as unknown names would.
        (KeyField::Scopes | KeyField::WebhookEvents, Value::Array(items)) => {
            Some(Given::List(Some(strings(items).unwrap_or_default())))
        }
        (KeyField::Scopes | KeyField::WebhookEvents, Value::Null) => Some(Given::List(None)),
        (KeyField::Name | KeyField::WebhookUrl | KeyField::Scopes | KeyField::WebhookEvents, _) => None,
        (_, Value::Null) => Some(Given::Number(None)),
        (_, value) => value.as_f64().map(|n| Given::Number(Some(n))),
    }
}
