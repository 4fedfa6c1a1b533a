//! SeaORM entities, one per table of `migrations/`.

pub mod api_key;
pub mod approval;
pub mod audit_event;
mod environment;
pub mod idempotency_record;
mod json_text;
pub mod key_spend;
pub mod node;
pub mod task;
pub mod task_artifact;
pub mod task_event;
pub mod task_metadata;
mod task_status;
pub mod task_turn;
pub mod usage_bucket;
pub mod usage_latency;
pub mod webhook_attempt;
pub mod webhook_delivery;

pub use environment::Environment;
pub use json_text::JsonText;
pub use task_status::TaskStatus;
