//! Issuing keys, for the `ccgate keys` commands and `POST /v1/keys` alike.

use super::Scope;
use super::key::{KeyHasher, generate_key};
use crate::store::entities::api_key;
use crate::store::{AuditEntry, NewKey, Store, StoreError};

/// What a new key should be.
#[derive(Debug, Clone)]
pub struct KeySpec {
    pub name: String,
    pub scopes: Vec<Scope>,
    pub rate_limit_per_minute: u32,
    pub max_concurrent_tasks: u32,
    pub max_queued_tasks: u32,
    /// The default webhook of the key's tasks (checked by the caller).
    pub webhook_url: Option<String>,
    /// The events the default webhook receives; `None`: `webhooks::DEFAULT_EVENTS`.
    pub webhook_events: Option<Vec<String>>,
    /// Spending caps in millionths of a US dollar.
    pub budget_micros_per_day: Option<i64>,
    pub budget_micros_per_month: Option<i64>,
    /// Token caps (input, cache and output together).
    pub token_budget_per_day: Option<i64>,
    pub token_budget_per_month: Option<i64>,
    /// `test` keys run tasks against the built-in scripted model.
    pub environment: super::Environment,
}

/// Creates a key; returns its row and its secret (shown once, never stored). The
/// row holds the key's webhook signing secret (`webhook_secret`, also shown once).
pub async fn issue_key(
    store: &Store,
    hasher: &KeyHasher,
    spec: KeySpec,
    audit: AuditEntry,
) -> Result<(api_key::Model, String), StoreError> {
    let generated = generate_key(spec.environment.as_str());
    let key = NewKey {
        id: crate::ids::new_id("key"),
        name: spec.name,
        prefix: generated.prefix,
        secret_hash: hasher.hash(&generated.secret),
        environment: spec.environment,
        scopes: spec.scopes.iter().map(|s| s.as_str().to_string()).collect(),
        rate_limit_per_minute: spec.rate_limit_per_minute,
        max_concurrent_tasks: spec.max_concurrent_tasks,
        max_queued_tasks: spec.max_queued_tasks,
        webhook_url: spec.webhook_url,
        webhook_events: crate::webhooks::stored_events(&spec.webhook_events),
        webhook_secret: crate::webhooks::signing::generate_secret(),
        budget_micros_per_day: spec.budget_micros_per_day,
        budget_micros_per_month: spec.budget_micros_per_month,
        token_budget_per_day: spec.token_budget_per_day,
        token_budget_per_month: spec.token_budget_per_month,
    };
    let model = store.insert_key(key, audit).await?;
    Ok((model, generated.secret))
}
