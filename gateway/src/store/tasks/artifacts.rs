//! A task's artifact rows: replaced after each turn, read by name.

use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder, Set};

use crate::artifacts::Artifact;
use crate::store::entities::task_artifact;
use crate::store::{Context, Result, Store};

pub(super) async fn replace_artifacts(
    txn: &impl ConnectionTrait,
    id: &str,
    artifacts: Vec<Artifact>,
    now: i64,
) -> Result<()> {
    task_artifact::Entity::delete_many()
        .filter(task_artifact::Column::TaskId.eq(id))
        .exec(txn)
        .await
        .during("replacing artifacts")?;
    if artifacts.is_empty() {
        return Ok(());
    }
    let rows = artifacts.into_iter().map(|a| task_artifact::ActiveModel {
        task_id: Set(id.to_string()),
        name: Set(a.name),
        path: Set(a.path),
        size: Set(a.size as i64),
        sha256: Set(a.sha256),
        content_type: Set(a.content_type),
        created_at: Set(now),
    });
    task_artifact::Entity::insert_many(rows).exec(txn).await.during("replacing artifacts")?;
    Ok(())
}

impl Store {
    /// The task's current artifacts, by name.
    pub async fn artifacts(&self, task_id: &str) -> Result<Vec<Artifact>> {
        artifacts_of(&self.reader, task_id).await
    }
}

/// A task's current artifacts by name, read through `conn`.
pub(in crate::store) async fn artifacts_of(conn: &impl ConnectionTrait, task_id: &str) -> Result<Vec<Artifact>> {
    let rows = task_artifact::Entity::find()
        .filter(task_artifact::Column::TaskId.eq(task_id))
        .order_by_asc(task_artifact::Column::Name)
        .all(conn)
        .await
        .during("reading artifacts")?;
    Ok(rows
        .into_iter()
        .map(|r| Artifact {
            name: r.name,
            path: r.path,
            size: r.size as u64,
            sha256: r.sha256,
            content_type: r.content_type,
        })
        .collect())
}
