//! Who is calling: API key parsing and hashing, the principal a key stands for,
//! scopes, and per-key rate limits. Task quotas are checked by the task service,
//! which knows what a task is.

mod authenticator;
mod key;
mod key_fields;
mod key_service;
mod rate_limit;

pub use crate::store::entities::Environment;
pub use authenticator::{AuthError, Authenticator, Principal, Scope, constant_time_eq};
pub use key::{GeneratedKey, KeyHasher, generate_key, load_or_create_pepper};
pub use key_fields::{Given, KeyField, set_key_field};
pub use key_service::{KeyService, KeySpec};
pub use rate_limit::{RateDecision, RateLimiter};
