//! Persistence: SeaORM entities and the repositories the rest of the gateway uses.
//!
//! With SQLite, writes go through a pool of one connection and reads through a
//! separate pool, so writers queue in-process instead of failing with
//! `SQLITE_BUSY`, and readers (SSE followers, lists) never wait for a writer (WAL).
//! With PostgreSQL both pools are the same.
//!
//! The store depends on its entities and on the plain values they hold (a task's
//! options, result, error and webhook from `task`, a spend from `budget`, an
//! `Artifact`), never on a service: services call it, not the other way round.

mod approvals;
mod audit;
mod cluster_lock;
pub mod entities;
mod events;
mod keys;
mod nodes;
mod outage;
mod outbox;
pub mod rollup;
mod spend;
mod steering;
mod tasks;
mod tokens;

use std::sync::Arc;
use std::time::Duration;

use ccgate_migrations::MigratorTrait;
use sea_orm::{ConnectOptions, ConnectionTrait, Database, DatabaseConnection, DbBackend, DbErr};

pub use approvals::{ApprovalDecision, NewApproval, Runs};
pub use audit::{AuditEntry, AuditFilter};
pub use cluster_lock::Leadership;
pub use events::{EventRecord, StoredEvent};
pub use keys::{KeyFields, NewKey};
pub use nodes::Resumed;
pub use outbox::{
    AttemptRecord, DELIVERY_ID_PREFIX, DeliveryLog, DeliveryState, OLDER_DELIVERY_ID_PREFIX, OutboxEvent, TaskSnapshot,
    WebhookRules,
};
pub use spend::RunCost;
pub use steering::{LiveTurn, MAX_WAITING_MESSAGES};
pub use tasks::{
    ArtifactSet, ClaimedTask, Expiring, Fence, FinishRun, IdempotencyClaim, Inserted, LostEnding, NewTaskRow,
    RecoveredTask, RetryRun, TaskFilter, recovered_status,
};
pub use tokens::{Reservation, RunTokens};

/// A database failure, with the operation that hit it.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("database error while {action}: {source}")]
    Db { action: &'static str, source: DbErr },
    #[error("stored data is corrupt: {0}")]
    Corrupt(String),
}

impl StoreError {
    /// Whether the database could not write because its disk (or quota) is full:
    /// SQLite's `SQLITE_FULL`, PostgreSQL's `disk_full`. The drivers give these only
    /// as text.
    pub fn is_storage_full(&self) -> bool {
        let Self::Db { source, .. } = self else { return false };
        let text = source.to_string();
        ["database or disk is full", "No space left on device", "could not extend file", "Disk quota exceeded"]
            .iter()
            .any(|sign| text.contains(sign))
    }
}

/// Whether a file system write failed for want of space or quota.
pub fn is_storage_full(error: &std::io::Error) -> bool {
    matches!(error.kind(), std::io::ErrorKind::StorageFull | std::io::ErrorKind::QuotaExceeded)
}

pub type Result<T> = std::result::Result<T, StoreError>;

pub(crate) trait Context<T> {
    fn during(self, action: &'static str) -> Result<T>;
}

impl<T> Context<T> for std::result::Result<T, DbErr> {
    fn during(self, action: &'static str) -> Result<T> {
        self.map_err(|source| StoreError::Db { action, source })
    }
}

/// The database handle shared by the gateway.
#[derive(Clone)]
pub struct Store {
    writer: DatabaseConnection,
    reader: DatabaseConnection,
    /// Which task changes send webhooks, where, in which shape; without rules
    /// (tools that only read or restore) no delivery is written.
    webhooks: Option<Arc<dyn WebhookRules>>,
}

impl Store {
    /// Connects to `url` (`sqlite://…` or `postgres://…`).
    pub async fn connect(url: &str) -> Result<Self> {
        Self::connect_waiting(url, Duration::from_secs(10)).await
    }

    /// Connects to `url`; on PostgreSQL a query waits at most `wait` for a
    /// connection (SQLite's writers queue for their one connection instead).
    pub async fn connect_waiting(url: &str, wait: Duration) -> Result<Self> {
        if url.starts_with("sqlite:") {
            let writer = Database::connect(sqlite_options(url, 1)).await.during("opening the database")?;
            // WAL must be switched on by a writer before readers open their connections.
            writer.execute_unprepared("PRAGMA journal_mode = WAL").await.during("enabling WAL")?;
            let reader = Database::connect(sqlite_options(url, 8)).await.during("opening the database")?;
            Ok(Self { writer, reader, webhooks: None })
        } else {
            let mut options = ConnectOptions::new(url);
            options.max_connections(16).sqlx_logging(false).acquire_timeout(wait);
            let pool = Database::connect(options).await.during("opening the database")?;
            Ok(Self { writer: pool.clone(), reader: pool, webhooks: None })
        }
    }

    /// The store, writing webhook deliveries by `rules` when tasks change.
    pub fn with_webhooks(self, rules: Arc<dyn WebhookRules>) -> Self {
        Self { webhooks: Some(rules), ..self }
    }

    /// Applies pending migrations (one node at a time, on PostgreSQL).
    pub async fn migrate(&self) -> Result<()> {
        self.with_migration_lock(async {
            ccgate_migrations::Migrator::up(&self.writer, None).await.during("migrating the schema")
        })
        .await
    }

    /// Whether every migration has been applied.
    pub async fn pending_migrations(&self) -> Result<usize> {
        let pending = ccgate_migrations::Migrator::get_pending_migrations(&self.reader)
            .await
            .during("reading the migration state")?;
        Ok(pending.len())
    }

    /// A cheap round trip, for readiness checks.
    pub async fn ping(&self) -> Result<()> {
        self.reader.ping().await.during("pinging the database")
    }

    /// The connection writes go through (backups run `VACUUM INTO` on it).
    pub(crate) fn writer(&self) -> &DatabaseConnection {
        &self.writer
    }

    /// The PostgreSQL pool, for what SeaORM does not cover (LISTEN/NOTIFY).
    pub(crate) fn postgres_pool(&self) -> Option<&sea_orm::sqlx::PgPool> {
        (self.backend() == DbBackend::Postgres).then(|| self.writer.get_postgres_connection_pool())
    }

    pub fn backend(&self) -> DbBackend {
        self.writer.get_database_backend()
    }

    /// Whether several gateway nodes may share this database (only PostgreSQL).
    pub fn is_shared(&self) -> bool {
        self.backend() != DbBackend::Sqlite
    }
}

fn sqlite_options(url: &str, connections: u32) -> ConnectOptions {
    let mut options = ConnectOptions::new(url);
    options
        .max_connections(connections)
        .min_connections(1)
        .sqlx_logging(false)
        .acquire_timeout(Duration::from_secs(30))
        .map_sqlx_sqlite_opts(|o| {
            o.busy_timeout(Duration::from_secs(10))
                .foreign_keys(true)
                .pragma("synchronous", "NORMAL")
                .pragma("temp_store", "MEMORY")
        });
    options
}

/// Numbered placeholders (`$1`) as the backend wants them: SQLite takes `?1`.
pub(crate) fn sql_for(backend: DbBackend, sql: &str) -> String {
    if backend == DbBackend::Sqlite { sql.replace('$', "?") } else { sql.to_string() }
}

#[cfg(test)]
pub(crate) mod tests;
