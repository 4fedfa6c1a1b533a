//! Reading tasks: one, a key's, a filtered page, and the counts the queue and
//! the dashboard show.

use sea_orm::sea_query::Query;
use sea_orm::{ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter, QueryOrder, QuerySelect};

use super::turns::turns_of;
use crate::store::entities::{TaskStatus, task, task_metadata, task_turn};
use crate::store::{Context, Result, Store};

/// Filters of `GET /v1/tasks`.
#[derive(Debug, Clone, Default)]
pub struct TaskFilter {
    pub status: Option<TaskStatus>,
    pub created_after: Option<i64>,
    pub metadata: Vec<(String, String)>,
}

impl Store {
    pub async fn task(&self, id: &str) -> Result<Option<task::Model>> {
        task::Entity::find_by_id(id).one(&self.reader).await.during("reading a task")
    }

    /// The task, if it belongs to `key_id` (another key's task is "not found").
    pub async fn task_of_key(&self, id: &str, key_id: &str) -> Result<Option<task::Model>> {
        Ok(self.task(id).await?.filter(|t| t.key_id == key_id))
    }

    pub async fn turns(&self, task_id: &str) -> Result<Vec<task_turn::Model>> {
        turns_of(&self.reader, task_id).await
    }

    /// A key's tasks (`None`: every key's), newest first, after the `before_id` cursor.
    pub async fn list_tasks(
        &self,
        key_id: Option<&str>,
        filter: &TaskFilter,
        before_id: Option<&str>,
        limit: u64,
    ) -> Result<Vec<task::Model>> {
        let mut query = task::Entity::find();
        if let Some(key_id) = key_id {
            query = query.filter(task::Column::KeyId.eq(key_id));
        }
        if let Some(status) = &filter.status {
            query = query.filter(task::Column::Status.eq(*status));
        }
        if let Some(after) = filter.created_after {
            query = query.filter(task::Column::CreatedAt.gt(after));
        }
        for (name, value) in &filter.metadata {
            let matching = Query::select()
                .column(task_metadata::Column::TaskId)
                .from(task_metadata::Entity)
                .and_where(task_metadata::Column::Name.eq(name.clone()))
                .and_where(task_metadata::Column::Value.eq(value.clone()))
                .to_owned();
            query = query.filter(task::Column::Id.in_subquery(matching));
        }
        if let Some(before) = before_id {
            query = query.filter(task::Column::Id.lt(before));
        }
        query.order_by_desc(task::Column::Id).limit(limit).all(&self.reader).await.during("listing tasks")
    }

    /// How many of a key's tasks wait in the queue.
    pub async fn queued_count(&self, key_id: &str) -> Result<u64> {
        task::Entity::find()
            .filter(task::Column::KeyId.eq(key_id))
            .filter(task::Column::Status.eq(TaskStatus::Queued))
            .count(&self.reader)
            .await
            .during("counting queued tasks")
    }

    /// Queued and running tasks of this whole gateway, by status.
    pub async fn count_by_status(&self, status: TaskStatus) -> Result<u64> {
        task::Entity::find().filter(task::Column::Status.eq(status)).count(&self.reader).await.during("counting tasks")
    }

    /// Running tasks per node holding their lease: the nodes at work, busiest first.
    pub async fn running_by_node(&self) -> Result<Vec<(String, i64)>> {
        let mut nodes: Vec<(String, i64)> = task::Entity::find()
            .select_only()
            .column(task::Column::LeaseOwner)
            .column_as(task::Column::Id.count(), "running")
            .filter(task::Column::Status.eq(TaskStatus::Running))
            .filter(task::Column::LeaseOwner.is_not_null())
            .group_by(task::Column::LeaseOwner)
            .into_tuple()
            .all(&self.reader)
            .await
            .during("counting running tasks per node")?;
        nodes.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
        Ok(nodes)
    }
}
