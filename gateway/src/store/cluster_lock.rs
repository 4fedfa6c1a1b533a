//! Locks across the nodes sharing a PostgreSQL database: session advisory locks,
//! each held on a connection of its own (outside the pool), so a node that dies
//! releases what it held when its connection closes. On SQLite there is one node,
//! which always holds them.

use sea_orm::DbErr;
use sea_orm::sqlx::{self, Connection, PgConnection, PgPool};
use tokio::sync::Mutex;

use super::{Context, Result, Store};

/// The advisory lock keys ccgate takes ("ccgate" in ASCII, then a number).
const MIGRATIONS: i64 = 0x6363_6761_7465_0001;
const RETENTION: i64 = 0x6363_6761_7465_0002;

/// A lock one node at a time holds for as long as it lives: the leader of work
/// the cluster does once (retention).
pub struct Leadership {
    pool: Option<PgPool>,
    key: i64,
    held: Mutex<Option<PgConnection>>,
}

impl Leadership {
    /// Leadership of the retention sweep.
    pub fn retention(store: &Store) -> Self {
        Self { pool: store.postgres_pool().cloned(), key: RETENTION, held: Mutex::new(None) }
    }

    /// Whether this node leads: it holds the lock (its connection still answers)
    /// or takes it now that no node holds it.
    pub async fn is_leader(&self) -> bool {
        let Some(pool) = &self.pool else { return true };
        let mut held = self.held.lock().await;
        if let Some(connection) = held.as_mut() {
            if sqlx::query("SELECT 1").execute(&mut *connection).await.is_ok() {
                return true;
            }
            // The connection broke: the lock went with the session.
            *held = None;
        }
        let Ok(mut connection) = PgConnection::connect_with(&pool.connect_options()).await else { return false };
        let taken = sqlx::query_scalar::<_, bool>("SELECT pg_try_advisory_lock($1)")
            .bind(self.key)
            .fetch_one(&mut connection)
            .await;
        if matches!(taken, Ok(true)) {
            *held = Some(connection);
            return true;
        }
        let _ = connection.close().await;
        false
    }
}

impl Store {
    /// Runs `migrate` while holding the cluster's migration lock, so nodes starting
    /// together apply each migration once, one after the other.
    pub(super) async fn with_migration_lock<T>(&self, migrate: impl Future<Output = Result<T>>) -> Result<T> {
        let Some(pool) = self.postgres_pool() else { return migrate.await };
        let mut connection = PgConnection::connect_with(&pool.connect_options())
            .await
            .map_err(db_error)
            .during("connecting for the migration lock")?;
        sqlx::query("SELECT pg_advisory_lock($1)")
            .bind(MIGRATIONS)
            .execute(&mut connection)
            .await
            .map_err(db_error)
            .during("taking the migration lock")?;
        let migrated = migrate.await;
        // Closing the session releases the lock.
        let _ = connection.close().await;
        migrated
    }
}

fn db_error(error: sqlx::Error) -> DbErr {
    DbErr::Custom(error.to_string())
}
