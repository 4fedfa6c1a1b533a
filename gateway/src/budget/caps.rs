//! A key's caps, and which one spending has reached.

use crate::store::entities::api_key;

/// Millionths of a US dollar, as spend and budgets are kept; nothing for a
/// negative or non-finite figure (spending never gives money back).
pub fn usd_to_micros(usd: f64) -> i64 {
    if usd.is_finite() && usd > 0.0 { (usd * 1e6).round() as i64 } else { 0 }
}

/// A budget as given by people: a positive number of US dollars, up to a billion.
pub fn budget_micros(usd: f64) -> Option<i64> {
    (usd > 0.0 && usd <= 1e9).then(|| usd_to_micros(usd))
}

/// A key's caps: cost in millionths of a US dollar and tokens (input, cache and
/// output together), per UTC day and month; `None`: no cap.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Budgets {
    pub micros_per_day: Option<i64>,
    pub micros_per_month: Option<i64>,
    pub tokens_per_day: Option<i64>,
    pub tokens_per_month: Option<i64>,
}

impl Budgets {
    pub fn of_key(key: &api_key::Model) -> Self {
        Self {
            micros_per_day: key.budget_micros_per_day,
            micros_per_month: key.budget_micros_per_month,
            tokens_per_day: key.token_budget_per_day,
            tokens_per_month: key.token_budget_per_month,
        }
    }

    pub fn is_empty(&self) -> bool {
        *self == Self::default()
    }

    pub fn has_tokens(&self) -> bool {
        self.tokens_per_day.is_some() || self.tokens_per_month.is_some()
    }
}

/// A budget that spending has reached.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Reached {
    /// `today` or `this month`.
    pub period: &'static str,
    /// True for the monthly budget (it resets later).
    pub monthly: bool,
    pub tokens: bool,
    pub spent: i64,
    pub budget: i64,
}

impl std::fmt::Display for Reached {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let period = self.period;
        if self.tokens {
            write!(f, "the key has used {} tokens {period}; its budget is {} tokens", self.spent, self.budget)
        } else {
            let (spent, budget) = (self.spent as f64 / 1e6, self.budget as f64 / 1e6);
            write!(f, "the key has spent {spent:.4} USD {period}; its budget is {budget:.4} USD")
        }
    }
}
