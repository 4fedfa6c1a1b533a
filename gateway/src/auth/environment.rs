//! A key's environment. `live` keys run tasks against the configured model and are
//! billed; `test` keys (`ccg_test_…`) run the same CLI in the same sandbox against
//! the gateway's built-in scripted model: no upstream request, cost 0.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Environment {
    #[default]
    Live,
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

    /// A stored value; anything unknown is `live` (the column's default).
    pub fn stored(text: &str) -> Self {
        Self::parse(text).unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn environments_round_trip_and_default_to_live() {
        for environment in [Environment::Live, Environment::Test] {
            assert_eq!(Environment::parse(environment.as_str()), Some(environment));
        }
        assert_eq!(Environment::parse("prod"), None);
        assert_eq!(Environment::stored("?"), Environment::Live);
    }
}
