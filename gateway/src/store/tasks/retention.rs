//! What the retention sweeper may expire, and marking it expired.

use sea_orm::sea_query::Expr;
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect, TransactionTrait};

use super::artifacts::replace_artifacts;
use crate::store::entities::{TaskStatus, task};
use crate::store::{Context, Result, Store};

/// What the retention sweeper deletes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Expiring {
    Workspace,
    Artifacts,
}

impl Expiring {
    fn column(self) -> task::Column {
        match self {
            Self::Workspace => task::Column::WorkspaceExpiredAt,
            Self::Artifacts => task::Column::ArtifactsExpiredAt,
        }
    }
}

impl Store {
    /// Finished tasks whose `what` is not expired yet and that finished before `cutoff`.
    pub async fn expirable(&self, what: Expiring, cutoff: i64, limit: u64) -> Result<Vec<String>> {
        task::Entity::find()
            .select_only()
            .column(task::Column::Id)
            .filter(task::Column::Status.is_in(TaskStatus::TERMINAL))
            .filter(task::Column::FinishedAt.lt(cutoff))
            .filter(what.column().is_null())
            .order_by_asc(task::Column::FinishedAt)
            .limit(limit)
            .into_tuple::<String>()
            .all(&self.reader)
            .await
            .during("finding expired files")
    }

    /// Marks `what` of the task expired, if it is still finished since before
    /// `cutoff` (a follow-up may have re-queued it); the caller deletes the files
    /// only when this says so. Expired artifacts lose their rows too.
    pub async fn mark_expired(&self, what: Expiring, id: &str, cutoff: i64) -> Result<bool> {
        let now = crate::timestamp::now_ms();
        let txn = self.writer.begin().await.during("starting a transaction")?;
        let marked = task::Entity::update_many()
            .col_expr(what.column(), Expr::value(now))
            .filter(task::Column::Id.eq(id))
            .filter(task::Column::Status.is_in(TaskStatus::TERMINAL))
            .filter(task::Column::FinishedAt.lt(cutoff))
            .filter(what.column().is_null())
            .exec(&txn)
            .await
            .during("marking files expired")?
            .rows_affected
            == 1;
        if marked && what == Expiring::Artifacts {
            replace_artifacts(&txn, id, Vec::new(), now).await?;
        }
        txn.commit().await.during("marking files expired")?;
        Ok(marked)
    }

    /// Of `ids`, the tasks the database knows, each with whether its workspace expired.
    pub async fn workspaces_expired(&self, ids: &[String]) -> Result<Vec<(String, bool)>> {
        let found: Vec<(String, Option<i64>)> = task::Entity::find()
            .select_only()
            .column(task::Column::Id)
            .column(task::Column::WorkspaceExpiredAt)
            .filter(task::Column::Id.is_in(ids.iter().cloned()))
            .into_tuple()
            .all(&self.reader)
            .await
            .during("finding expired workspaces")?;
        Ok(found.into_iter().map(|(id, expired_at)| (id, expired_at.is_some())).collect())
    }
}
