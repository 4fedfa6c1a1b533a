//! The audit log: an append-only record of state changes and runs.

use sea_orm::{ConnectionTrait, EntityTrait, Set};

use super::entities::audit_event;
use super::{Context, Result, Store};

/// One audit entry to write.
#[derive(Debug, Clone, Default)]
pub struct AuditEntry {
    pub key_id: Option<String>,
    pub action: &'static str,
    pub target: Option<String>,
    pub outcome: &'static str,
    /// The gateway's own id of the request.
    pub request_id: Option<String>,
    /// The `X-Request-Id` the client sent, as sent (printable ASCII, at most 128 bytes).
    pub client_request_id: Option<String>,
    pub client_addr: Option<String>,
    pub details: Option<serde_json::Value>,
}

/// Filters of `GET /v1/audit`.
#[derive(Debug, Clone, Default)]
pub struct AuditFilter {
    pub action: Option<String>,
    pub key_id: Option<String>,
    pub target: Option<String>,
    pub outcome: Option<String>,
    pub after: Option<i64>,
}

impl AuditEntry {
    pub fn new(action: &'static str, outcome: &'static str) -> Self {
        Self { action, outcome, ..Default::default() }
    }
}

/// Writes `entry` on `conn`, which may be a transaction of the change it records.
pub(crate) async fn record(conn: &impl ConnectionTrait, entry: AuditEntry, at: i64) -> Result<()> {
    let row = audit_event::ActiveModel {
        at: Set(at),
        key_id: Set(entry.key_id),
        action: Set(entry.action.to_string()),
        target: Set(entry.target),
        outcome: Set(entry.outcome.to_string()),
        request_id: Set(entry.request_id),
        client_request_id: Set(entry.client_request_id),
        client_addr: Set(entry.client_addr),
        details: Set(entry.details.map(|d| d.to_string())),
        ..Default::default()
    };
    audit_event::Entity::insert(row).exec_without_returning(conn).await.during("writing the audit log")?;
    Ok(())
}

impl Store {
    /// Writes one audit entry on its own.
    pub async fn audit(&self, entry: AuditEntry) -> Result<()> {
        record(&self.writer, entry, crate::timestamp::now_ms()).await
    }

    /// Deletes the audit entries written before `cutoff` (ms), a batch at a time so
    /// the writer is never held long; returns how many.
    pub async fn delete_audit_before(&self, cutoff: i64) -> Result<u64> {
        use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect};
        const BATCH: u64 = 1000;
        let mut deleted = 0;
        loop {
            let ids: Vec<i64> = audit_event::Entity::find()
                .select_only()
                .column(audit_event::Column::Id)
                .filter(audit_event::Column::At.lt(cutoff))
                .order_by_asc(audit_event::Column::Id)
                .limit(BATCH)
                .into_tuple()
                .all(&self.reader)
                .await
                .during("finding old audit entries")?;
            if ids.is_empty() {
                return Ok(deleted);
            }
            let result = audit_event::Entity::delete_many()
                .filter(audit_event::Column::Id.is_in(ids))
                .exec(&self.writer)
                .await
                .during("deleting old audit entries")?;
            deleted += result.rows_affected;
        }
    }

    /// Audit entries, newest first, matching `filter`, older than the `before` cursor.
    pub async fn audit_entries(
        &self,
        filter: &AuditFilter,
        before: Option<i64>,
        limit: u64,
    ) -> Result<Vec<audit_event::Model>> {
        use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect};
        let mut query = audit_event::Entity::find();
        if let Some(action) = &filter.action {
            query = query.filter(audit_event::Column::Action.eq(action.clone()));
        }
        if let Some(key_id) = &filter.key_id {
            query = query.filter(audit_event::Column::KeyId.eq(key_id.clone()));
        }
        if let Some(target) = &filter.target {
            query = query.filter(audit_event::Column::Target.eq(target.clone()));
        }
        if let Some(outcome) = &filter.outcome {
            query = query.filter(audit_event::Column::Outcome.eq(outcome.clone()));
        }
        if let Some(after) = filter.after {
            query = query.filter(audit_event::Column::At.gt(after));
        }
        if let Some(before) = before {
            query = query.filter(audit_event::Column::Id.lt(before));
        }
        query
            .order_by_desc(audit_event::Column::Id)
            .limit(limit)
            .all(&self.reader)
            .await
            .during("reading the audit log")
    }
}
