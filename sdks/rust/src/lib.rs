//! `ccgate-client`: an async (tokio) client of the ccgate task API.
//!
//! The types in [`types`] are generated from the gateway's `openapi.json` by typify
//! (`sdks/rust/generate`); by hand come what a generator does badly: uploads
//! ([`CreateTask`]), event streams that resume ([`Tasks::stream`]), waiting, downloads
//! to a path, pages as a stream, retries of 429/503 after `Retry-After`, idempotency
//! keys, typed problems ([`ApiError`]) and webhook verification ([`webhooks`]).
//!
//! ```no_run
//! use ccgate_client::{Client, CreateTask};
//! use futures_util::StreamExt;
//!
//! # async fn first_task() -> Result<(), ccgate_client::Error> {
//! let client = Client::from_env()?; // CCGATE_URL, CCGATE_API_KEY
//! let task = client
//!     .tasks()
//!     .create(CreateTask::new("Summarise notes/todo.txt").file("notes/todo.txt", "Ship the SDKs\n"))
//!     .await?;
//! let mut events = std::pin::pin!(client.tasks().stream(&task.id));
//! while let Some(event) = events.next().await {
//!     let event = event?;
//!     println!("{} {:?}", event.seq, event.kind);
//! }
//! let task = client.tasks().wait(&task.id, None).await?;
//! println!("{} {:?}", task.status, task.result.and_then(|r| r.text));
//! # Ok(())
//! # }
//! ```

mod client;
mod create;
mod download;
mod error;
mod events;
mod keys;
mod retry;
mod tasks;
// As typify wrote it: scripts/test-sdks.sh compares it with a fresh generation.
#[rustfmt::skip]
pub mod types;
pub mod webhooks;

pub use client::{Client, ClientBuilder, VERSION};
pub use create::{ARCHIVE_SUFFIXES, CreateTask, FileSource};
pub use error::{ApiError, Error, ProblemKind};
pub use events::{EventKind, TaskEvent, is_terminal};
pub use keys::Keys;
pub use retry::RetryPolicy;
pub use tasks::{ArchiveFormat, ListFilters, Tasks};
pub use types::{Delivery, TaskStatus, TaskView};
pub use webhooks::{Verifier, WebhookError};
