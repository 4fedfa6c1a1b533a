//! Keys as admins manage them, through the API, the dashboard and `ccgate keys`
//! alike: issued with their secrets shown once, listed, changed, revoked, each
//! change audited and applied at once to what this node has cached.

use super::key::{KeyHasher, generate_key};
use super::{Authenticator, Scope};
use crate::budget::Spend;
use crate::store::entities::{Environment, api_key};
use crate::store::{AuditEntry, KeyFields, NewKey, Store, StoreError};

/// What a key should be: a new key's fields, or an existing key's after a change.
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
    pub environment: Environment,
}

impl KeySpec {
    /// The spec of a stored key, to change some of its fields.
    pub fn of(key: &api_key::Model) -> Self {
        Self {
            name: key.name.clone(),
            scopes: key.scopes.split(',').filter_map(Scope::parse).collect(),
            rate_limit_per_minute: key.rate_limit_per_minute.max(1) as u32,
            max_concurrent_tasks: key.max_concurrent_tasks.max(0) as u32,
            max_queued_tasks: key.max_queued_tasks.max(0) as u32,
            webhook_url: key.webhook_url.clone(),
            webhook_events: key.webhook_events.as_deref().map(|stored| crate::webhooks::key_events(Some(stored))),
            budget_micros_per_day: key.budget_micros_per_day,
            budget_micros_per_month: key.budget_micros_per_month,
            token_budget_per_day: key.token_budget_per_day,
            token_budget_per_month: key.token_budget_per_month,
            environment: key.environment,
        }
    }

    /// The columns an admin sets, as stored.
    fn fields(&self) -> KeyFields {
        KeyFields {
            name: self.name.clone(),
            scopes: self.scopes.iter().map(|s| s.as_str().to_string()).collect(),
            rate_limit_per_minute: self.rate_limit_per_minute,
            max_concurrent_tasks: self.max_concurrent_tasks,
            max_queued_tasks: self.max_queued_tasks,
            webhook_url: self.webhook_url.clone(),
            webhook_events: crate::webhooks::stored_events(&self.webhook_events),
            budget_micros_per_day: self.budget_micros_per_day,
            budget_micros_per_month: self.budget_micros_per_month,
            token_budget_per_day: self.token_budget_per_day,
            token_budget_per_month: self.token_budget_per_month,
        }
    }
}

/// The keys of one database.
#[derive(Clone)]
pub struct KeyService {
    store: Store,
    hasher: KeyHasher,
    /// The serving node's cache of verified keys, dropped on every change; `None`
    /// for the command line, which has none.
    authenticator: Option<Authenticator>,
}

impl KeyService {
    pub fn new(store: Store, hasher: KeyHasher, authenticator: Option<Authenticator>) -> Self {
        Self { store, hasher, authenticator }
    }

    /// Creates a key; returns its row and its secret (shown once, never stored). The
    /// row holds the key's webhook signing secret (`webhook_secret`, also shown once).
    pub async fn issue(&self, spec: KeySpec, audit: AuditEntry) -> Result<(api_key::Model, String), StoreError> {
        let generated = generate_key(spec.environment.as_str());
        let key = NewKey {
            id: crate::ids::new_id("key"),
            prefix: generated.prefix,
            secret_hash: self.hasher.hash(&generated.secret),
            environment: spec.environment,
            webhook_secret: crate::webhooks::signing::generate_secret(),
            fields: spec.fields(),
        };
        let model = self.store.insert_key(key, audit).await?;
        Ok((model, generated.secret))
    }

    /// Every key, newest first, revoked ones too.
    pub async fn list(&self) -> Result<Vec<api_key::Model>, StoreError> {
        self.store.keys().await
    }

    pub async fn get(&self, id: &str) -> Result<Option<api_key::Model>, StoreError> {
        self.store.key(id).await
    }

    /// The key, unless it is revoked or unknown.
    pub async fn active(&self, id: &str) -> Result<Option<api_key::Model>, StoreError> {
        Ok(self.store.key(id).await?.filter(|key| key.revoked_at.is_none()))
    }

    /// What the key's runs spent on the UTC day and month of `now`.
    pub async fn spend(&self, id: &str, now: i64) -> Result<Spend, StoreError> {
        self.store.spend(id, now).await
    }

    /// Sets an active key's fields to `spec` (its environment stays); `None` when
    /// it is revoked or unknown.
    pub async fn update(
        &self,
        id: &str,
        spec: &KeySpec,
        audit: AuditEntry,
    ) -> Result<Option<api_key::Model>, StoreError> {
        let updated = self.store.update_key(id, &spec.fields(), audit).await?;
        if updated.is_some() {
            self.changed(); // cached principals carry limits and budgets
        }
        Ok(updated)
    }

    /// Revokes an active key; `false` when it is revoked or unknown.
    pub async fn revoke(&self, id: &str, audit: AuditEntry) -> Result<bool, StoreError> {
        let revoked = self.store.revoke_key(id, audit).await?;
        if revoked {
            self.changed();
        }
        Ok(revoked)
    }

    /// Gives an active key a new webhook secret (shown this once); `None` when it
    /// is revoked or unknown.
    pub async fn rotate_webhook_secret(&self, id: &str, audit: AuditEntry) -> Result<Option<String>, StoreError> {
        let secret = crate::webhooks::signing::generate_secret();
        Ok(self.store.rotate_webhook_secret(id, &secret, audit).await?.then_some(secret))
    }

    fn changed(&self) {
        if let Some(authenticator) = &self.authenticator {
            authenticator.forget_all();
        }
    }
}
