//! The node registry: each gateway process registers a row at start, heartbeats
//! it every third of a lease with what it runs, follows drains asked for through
//! the API or `ccgate drain`, and marks itself stopped on a clean exit. Rows of
//! nodes unseen for a day are deleted.
//!
//! A drain stops the node claiming work; its runs finish, and at the drain's
//! grace deadline (`queue.drain_grace_seconds`) those still going are handed back
//! to the queue without counting the attempt. SIGTERM drains the same way within
//! `queue.shutdown_grace_seconds`, then the process exits.

mod node;
pub mod offline;
mod process;
pub mod relay;
pub mod state;
mod view;

pub use node::{Node, NodeError, name_of};
pub use state::{Facts, state_of};
pub use view::{NodeList, NodeView};

pub(crate) use process::{holds_its_runs, process_exists};
