//! Turns an `Authorization: Bearer` header into a principal, caching verified
//! keys briefly so a request costs no database round trip.

use std::sync::Arc;
use std::time::Duration;

use moka::future::Cache;

use super::key::{KeyHasher, is_well_formed};
use crate::store::{Store, StoreError};

/// What a key may do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scope {
    Tasks,
    Admin,
    /// Tasks of this key may ask for `options.network = "full"` (the host's network).
    NetworkFull,
}

impl Scope {
    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "tasks" => Some(Self::Tasks),
            "admin" => Some(Self::Admin),
            "network:full" => Some(Self::NetworkFull),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Tasks => "tasks",
            Self::Admin => "admin",
            Self::NetworkFull => "network:full",
        }
    }
}

/// The caller behind a valid key.
#[derive(Debug, Clone)]
pub struct Principal {
    pub key_id: String,
    pub name: String,
    pub environment: super::Environment,
    pub scopes: Vec<Scope>,
    pub rate_limit_per_minute: u32,
    pub max_concurrent_tasks: u32,
    pub max_queued_tasks: u32,
    /// Spending caps in millionths of a US dollar.
    pub budget_micros_per_day: Option<i64>,
    pub budget_micros_per_month: Option<i64>,
    /// Token caps (input, cache and output together).
    pub token_budget_per_day: Option<i64>,
    pub token_budget_per_month: Option<i64>,
}

impl Principal {
    /// `admin` may do everything.
    pub fn has(&self, scope: Scope) -> bool {
        self.scopes.contains(&scope) || self.scopes.contains(&Scope::Admin)
    }

    pub fn budgets(&self) -> crate::budget::Budgets {
        crate::budget::Budgets {
            micros_per_day: self.budget_micros_per_day,
            micros_per_month: self.budget_micros_per_month,
            tokens_per_day: self.token_budget_per_day,
            tokens_per_month: self.token_budget_per_month,
        }
    }
}

/// Why a request is not authenticated.
#[derive(Debug, thiserror::Error)]
pub enum AuthError {
    #[error("the Authorization header is missing; send `Authorization: Bearer <api key>`")]
    Missing,
    #[error("the Authorization header is not `Bearer <api key>` with a ccgate key")]
    Malformed,
    #[error("the API key is not valid")]
    Unknown,
    #[error("the API key has been revoked")]
    Revoked,
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// How long a key verified here stays known without being used.
pub const KNOWN_KEYS_IDLE: Duration = Duration::from_secs(3600);

/// Verifies keys.
#[derive(Clone)]
pub struct Authenticator {
    store: Store,
    hasher: KeyHasher,
    verified: Cache<String, Arc<Principal>>,
    /// Hashes of keys verified here lately, kept while they are used.
    known: Cache<String, ()>,
    recently_touched: Cache<String, ()>,
    /// Bumped when a key is revoked or changed here, so what holds a key's
    /// authority for long (an event stream) checks it again at once.
    key_changes: Arc<tokio::sync::watch::Sender<u64>>,
}

impl Authenticator {
    pub fn new(store: Store, hasher: KeyHasher) -> Self {
        Self {
            store,
            hasher,
            // A revoked key stops working at once on the node that revoked it and within
            // this TTL on the others.
            verified: Cache::builder().max_capacity(10_000).time_to_live(Duration::from_secs(30)).build(),
            known: Cache::builder().max_capacity(100_000).time_to_idle(KNOWN_KEYS_IDLE).build(),
            recently_touched: Cache::builder().max_capacity(10_000).time_to_live(Duration::from_secs(60)).build(),
            key_changes: Arc::new(tokio::sync::watch::channel(0).0),
        }
    }

    /// The principal for an `Authorization` header value.
    pub async fn authenticate(&self, header: Option<&str>) -> Result<Arc<Principal>, AuthError> {
        self.verify_hash(self.hash_of(header)?).await
    }

    /// The stored hash of a key secret as a person typed it (the dashboard's
    /// sign-in), so a session can hold the hash and never the secret.
    pub fn hash_of_secret(&self, secret: &str) -> Result<String, AuthError> {
        let secret = secret.trim();
        if is_well_formed(secret) { Ok(self.hasher.hash(secret)) } else { Err(AuthError::Malformed) }
    }

    /// The principal of the key with this hash, checked again (revoked keys fail).
    pub async fn verify_hash(&self, hash: String) -> Result<Arc<Principal>, AuthError> {
        if let Some(principal) = self.verified.get(&hash).await {
            return Ok(principal);
        }
        let row = self.store.key_by_hash(&hash).await?.ok_or(AuthError::Unknown)?;
        // The row was found by this exact hash; compare again in constant time so no
        // code path depends on a partial match.
        if !constant_time_eq(row.secret_hash.as_bytes(), hash.as_bytes()) {
            return Err(AuthError::Unknown);
        }
        if row.revoked_at.is_some() {
            return Err(AuthError::Revoked);
        }
        let principal = Arc::new(Principal {
            key_id: row.id,
            name: row.name,
            environment: row.environment,
            scopes: row.scopes.split(',').filter_map(Scope::parse).collect(),
            rate_limit_per_minute: row.rate_limit_per_minute.max(1) as u32,
            max_concurrent_tasks: row.max_concurrent_tasks.max(0) as u32,
            max_queued_tasks: row.max_queued_tasks.max(0) as u32,
            budget_micros_per_day: row.budget_micros_per_day,
            budget_micros_per_month: row.budget_micros_per_month,
            token_budget_per_day: row.token_budget_per_day,
            token_budget_per_month: row.token_budget_per_month,
        });
        self.known.insert(hash.clone(), ()).await;
        self.verified.insert(hash, principal.clone()).await;
        self.touch(&principal.key_id).await;
        Ok(principal)
    }

    /// The principal for a header whose key this node has verified in the last
    /// [`KNOWN_KEYS_IDLE`]: what an address that has presented too many unknown keys
    /// may still use (`None` for any other key, without asking the database).
    pub async fn known(&self, header: Option<&str>) -> Option<Result<Arc<Principal>, AuthError>> {
        let hash = self.hash_of(header).ok()?;
        if !self.known.contains_key(&hash) {
            return None;
        }
        Some(self.authenticate(header).await)
    }

    fn hash_of(&self, header: Option<&str>) -> Result<String, AuthError> {
        let header = header.ok_or(AuthError::Missing)?;
        let secret = header
            .strip_prefix("Bearer ")
            .or_else(|| header.strip_prefix("bearer "))
            .map(str::trim)
            .filter(|s| is_well_formed(s))
            .ok_or(AuthError::Malformed)?;
        Ok(self.hasher.hash(secret))
    }

    /// Forgets cached keys, e.g. after a revocation.
    pub fn forget_all(&self) {
        self.verified.invalidate_all();
        self.key_changes.send_modify(|n| *n = n.wrapping_add(1));
    }

    /// Tells when a key was revoked or changed on this node.
    pub fn key_changes(&self) -> tokio::sync::watch::Receiver<u64> {
        self.key_changes.subscribe()
    }

    /// Records `last_used_at`, at most once a minute per key, off the request path.
    async fn touch(&self, key_id: &str) {
        if self.recently_touched.contains_key(key_id) {
            return;
        }
        self.recently_touched.insert(key_id.to_string(), ()).await;
        let store = self.store.clone();
        let key_id = key_id.to_string();
        tokio::spawn(async move {
            if let Err(e) = store.touch_key(&key_id, crate::timestamp::now_ms()).await {
                tracing::warn!(error = %e, "could not record key use");
            }
        });
    }
}

/// Equality whose time does not depend on where the inputs differ.
pub fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}
