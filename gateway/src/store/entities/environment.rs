//! A key's environment. `live` keys run tasks against the configured model and are
//! billed; `test` keys (`ccg_test_…`) run the same CLI in the same sandbox against
//! the gateway's built-in scripted model: no upstream request, cost 0.

//!
//! Stored as `live` / `test` in the `environment` columns of keys and tasks; a
//! row with another value does not read (it is never taken for `live`: a test
//! key's task must not run billed).

use sea_orm::entity::prelude::*;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, EnumIter, DeriveActiveEnum, Serialize, Deserialize, ToSchema)]
#[sea_orm(rs_type = "String", db_type = "String(StringLen::None)")]
#[serde(rename_all = "lowercase")]
pub enum Environment {
    #[default]
    #[sea_orm(string_value = "live")]
    Live,
    #[sea_orm(string_value = "test")]
    Test,
}

impl Environment {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Live => "live",
            Self::Test => "test",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "live" => Some(Self::Live),
            "test" => Some(Self::Test),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn environments_round_trip_and_are_stored_as_shown() {
        use sea_orm::ActiveEnum;
        for environment in [Environment::Live, Environment::Test] {
            assert_eq!(Environment::parse(environment.as_str()), Some(environment));
            assert_eq!(environment.to_value(), environment.as_str());
        }
        assert_eq!(Environment::parse("prod"), None);
        assert!(Environment::try_from_value(&"prod".to_string()).is_err(), "never read as live");
    }
}
