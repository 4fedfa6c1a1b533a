//! A tool permission prompt: one asked of a person is pending until decided, timed
//! out, or its run ended; one decided at once (by the task's mode or rules, or a
//! plugin) is stored decided, its `expires_at` the time it was asked.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "approvals")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: String,
    pub task_id: String,
    /// The run that asked: its prompts expire when it ends, not another run's.
    pub run_id: String,
    pub turn: i32,
    pub tool: String,
    /// The tool's input as JSON.
    pub input: String,
    pub reason: Option<String>,
    pub state: ApprovalState,
    /// `allow` or `deny` once decided.
    pub decision: Option<String>,
    pub decided_by: Option<String>,
    pub message: Option<String>,
    /// JSON the client gave to run instead of `input`.
    pub updated_input: Option<String>,
    pub requested_at: i64,
    pub expires_at: i64,
    pub decided_at: Option<i64>,
}

/// Where a prompt stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq, EnumIter, DeriveActiveEnum, serde::Serialize, utoipa::ToSchema)]
#[sea_orm(rs_type = "String", db_type = "String(StringLen::None)")]
#[serde(rename_all = "snake_case")]
pub enum ApprovalState {
    #[sea_orm(string_value = "pending")]
    Pending,
    #[sea_orm(string_value = "decided")]
    Decided,
    /// Its run ended before a decision (cancelled, timed out, the gateway stopped).
    #[sea_orm(string_value = "expired")]
    Expired,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
