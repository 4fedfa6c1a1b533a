//! A file collected from a task's workspace after a turn.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "task_artifacts")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub task_id: String,
    /// Unique within the task; the URL segment of its download.
    #[sea_orm(primary_key, auto_increment = false)]
    pub name: String,
    /// Where it was in the workspace.
    pub path: String,
    pub size: i64,
    pub sha256: String,
    pub content_type: String,
    pub created_at: i64,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
