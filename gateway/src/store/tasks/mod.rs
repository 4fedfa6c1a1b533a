//! Task rows and the queue operations on them: insert, list, claim with a lease,
//! heartbeat, finish (fenced on owner + attempt), cancel, follow up, recover,
//! expire. One file per operation.

mod artifacts;
mod cancel;
mod claim;
mod create;
mod finish;
mod lease;
mod read;
mod recovery;
mod retention;
mod turns;

pub(super) use artifacts::artifacts_of;
pub use claim::ClaimedTask;
pub use create::{IdempotencyClaim, Inserted, NewTaskRow};
pub use finish::{ArtifactSet, FinishRun, RetryRun};
pub use lease::Fence;
pub use read::TaskFilter;
pub use recovery::{LostEnding, RecoveredTask, recovered_status};
pub use retention::Expiring;
pub(super) use turns::{insert_turn, next_turn_index, queue_turn, set_turn_status, turns_of};
