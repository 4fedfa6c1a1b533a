//! The audit log: who did what, when, from where, and how it ended. Written in
//! the same transaction as the change it records wherever the store makes one;
//! this service writes the entries that stand alone (sign-ins, refused requests)
//! and reads the log.

use crate::store::entities::audit_event;
use crate::store::{AuditEntry, AuditFilter, Store, StoreError};

#[derive(Clone)]
pub struct AuditLog {
    store: Store,
}

impl AuditLog {
    pub fn new(store: Store) -> Self {
        Self { store }
    }

    /// Records `entry`; a failure is logged with `what`, never passed on (the
    /// request it describes has already been answered).
    pub async fn record_or_warn(&self, entry: AuditEntry, what: &str) {
        if let Err(e) = self.store.audit(entry).await {
            tracing::warn!(error = %e, "could not audit {what}");
        }
    }

    /// Entries matching `filter`, newest first, older than the `before` cursor.
    pub async fn entries(
        &self,
        filter: &AuditFilter,
        before: Option<i64>,
        limit: u64,
    ) -> Result<Vec<audit_event::Model>, StoreError> {
        self.store.audit_entries(filter, before, limit).await
    }
}
