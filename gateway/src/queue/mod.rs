//! The queue: workers that claim tasks with a lease, run them, keep the lease
//! alive, write their events fenced on owner + attempt, react to cancel and
//! shutdown, and a reaper that recovers runs whose node died.

mod allowance;
mod by_task;
mod claim_loop;
mod claims;
pub mod cluster;
mod collect;
mod conclude;
mod deferral;
mod events;
mod feed;
mod finish;
mod hub;
mod lease;
mod persist;
pub mod pressure;
mod recovery;
mod retry;
mod shutdown;
mod snapshot;
mod workers;

pub(crate) use by_task::ByTask;
pub use collect::ArtifactCollection;
pub use feed::{Feed, FeedEvent, FeedItem, Feeds};
pub use hub::Hub;
pub use workers::{Queue, QueueParts};
