//! Where a task, or one of its turns, is in its life: as stored (the same strings
//! in the `status` columns) and as the API shows it.

use sea_orm::entity::prelude::*;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// Where a task is in its life. Only moves forward, except that a follow-up
/// message moves a finished task back to `queued` for its next turn.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, EnumIter, DeriveActiveEnum, Serialize, Deserialize, ToSchema)]
#[sea_orm(rs_type = "String", db_type = "String(StringLen::None)")]
#[serde(rename_all = "snake_case")]
pub enum TaskStatus {
    #[sea_orm(string_value = "queued")]
    Queued,
    #[sea_orm(string_value = "running")]
    Running,
    #[sea_orm(string_value = "completed")]
    Completed,
    #[sea_orm(string_value = "failed")]
    Failed,
    #[sea_orm(string_value = "cancelled")]
    Cancelled,
}

impl TaskStatus {
    pub const ALL: [TaskStatus; 5] = [Self::Queued, Self::Running, Self::Completed, Self::Failed, Self::Cancelled];
    /// The states a run ends in; a follow-up may queue the task again.
    pub const TERMINAL: [TaskStatus; 3] = [Self::Completed, Self::Failed, Self::Cancelled];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Queued => "queued",
            Self::Running => "running",
            Self::Completed => "completed",
            Self::Failed => "failed",
            Self::Cancelled => "cancelled",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|s| s.as_str() == text)
    }

    pub fn is_terminal(self) -> bool {
        Self::TERMINAL.contains(&self)
    }
}

#[cfg(test)]
mod tests {
    use sea_orm::ActiveEnum;

    use super::TaskStatus;

    #[test]
    fn the_stored_strings_are_the_api_strings() {
        for status in TaskStatus::ALL {
            assert_eq!(status.to_value(), status.as_str());
            assert_eq!(serde_json::to_value(status).unwrap(), status.as_str());
            assert_eq!(TaskStatus::parse(status.as_str()), Some(status));
        }
        let terminal: Vec<_> = TaskStatus::ALL.into_iter().filter(|s| s.is_terminal()).collect();
        assert_eq!(terminal, TaskStatus::TERMINAL);
    }
}
