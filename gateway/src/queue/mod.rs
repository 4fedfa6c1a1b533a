//! The queue: workers that claim tasks with a lease, run them, keep the lease
//! alive, write their events fenced on owner + attempt, react to cancel and
//! shutdown, and a reaper that recovers runs whose node died.

mod collect;
mod hub;
pub mod pressure;
mod recovery;
mod worker;

pub use collect::ArtifactCollection;
pub use hub::Hub;
pub use worker::{Queue, QueueParts};
