//! What operators see of the whole gateway, read from the database: tasks by
//! status, usage over windows and hours, runs per node, and whether the database
//! answers and is migrated (`/readyz`, `/metrics`, the dashboard's overview).

use crate::store::entities::{TaskStatus, usage_bucket};
use crate::store::rollup::UsageWindow;
use crate::store::{Store, StoreError};

#[derive(Clone)]
pub struct Stats {
    store: Store,
}

/// The database as readiness sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DatabaseHealth {
    /// It answers and every migration is applied.
    Ready {
        backend: String,
    },
    /// It answers; this many migrations are not applied.
    Behind(usize),
    Unreachable(String),
}

impl Stats {
    pub fn new(store: Store) -> Self {
        Self { store }
    }

    pub async fn count_by_status(&self, status: TaskStatus) -> Result<u64, StoreError> {
        self.store.count_by_status(status).await
    }

    /// Running tasks per node that holds their lease.
    pub async fn running_by_node(&self) -> Result<Vec<(String, i64)>, StoreError> {
        self.store.running_by_node().await
    }

    /// What finished from `from` (milliseconds) on, added up.
    pub async fn usage_since(&self, from: i64) -> Result<UsageWindow, StoreError> {
        self.store.usage_since(from).await
    }

    /// What finished from `from` (milliseconds) on, bucket by bucket, oldest first.
    pub async fn usage_buckets(&self, from: i64) -> Result<Vec<usage_bucket::Model>, StoreError> {
        self.store.usage_buckets(from).await
    }

    pub async fn database(&self) -> DatabaseHealth {
        if let Err(e) = self.store.ping().await {
            return DatabaseHealth::Unreachable(e.to_string());
        }
        match self.store.pending_migrations().await {
            Ok(0) => DatabaseHealth::Ready { backend: format!("{:?}", self.store.backend()).to_lowercase() },
            Ok(n) => DatabaseHealth::Behind(n),
            Err(e) => DatabaseHealth::Unreachable(e.to_string()),
        }
    }
}
