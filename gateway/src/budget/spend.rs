//! What a key spent today and this month (UTC), and what that leaves.

use super::{Budgets, Reached};

/// Spending over a period.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize, utoipa::ToSchema)]
pub struct SpendTotals {
    pub cost_micros: i64,
    pub input_tokens: i64,
    pub output_tokens: i64,
    pub runs: i64,
}

/// A key's spending today and this month (UTC).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize, utoipa::ToSchema)]
pub struct Spend {
    pub today: SpendTotals,
    pub this_month: SpendTotals,
}

impl SpendTotals {
    pub fn tokens(&self) -> i64 {
        self.input_tokens + self.output_tokens
    }

    pub fn add(&mut self, more: SpendTotals) {
        self.cost_micros += more.cost_micros;
        self.input_tokens += more.input_tokens;
        self.output_tokens += more.output_tokens;
        self.runs += more.runs;
    }
}

impl Spend {
    /// The budget this spending has reached, if any: a monthly one first (it
    /// lasts longer), cost before tokens.
    pub fn reached(&self, budgets: &Budgets) -> Option<Reached> {
        let (today, month) = (&self.today, &self.this_month);
        [
            ("this month", true, false, month.cost_micros, budgets.micros_per_month),
            ("this month", true, true, month.tokens(), budgets.tokens_per_month),
            ("today", false, false, today.cost_micros, budgets.micros_per_day),
            ("today", false, true, today.tokens(), budgets.tokens_per_day),
        ]
        .into_iter()
        .find_map(|(period, monthly, tokens, spent, budget)| {
            budget.filter(|b| spent >= *b).map(|budget| Reached { period, monthly, tokens, spent, budget })
        })
    }

    /// Tokens left before a token budget is reached (`None`: no token budget).
    pub fn tokens_left(&self, budgets: &Budgets) -> Option<i64> {
        let day = budgets.tokens_per_day.map(|b| b - self.today.tokens());
        let month = budgets.tokens_per_month.map(|b| b - self.this_month.tokens());
        match (day, month) {
            (Some(d), Some(m)) => Some(Ord::min(d, m)),
            (d, m) => d.or(m),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::{Spend, SpendTotals};
    use crate::budget::Budgets;

    #[test]
    fn budgets_reached_name_the_cap_and_tokens_left_take_the_tighter_one() {
        let totals = |cost_micros, input_tokens, output_tokens| SpendTotals {
            cost_micros,
            input_tokens,
            output_tokens,
            runs: 1,
        };
        let spend = Spend { today: totals(500, 300, 100), this_month: totals(9_000, 3_000, 1_000) };
        let none = Budgets::default();
        assert_eq!(spend.reached(&none), None);
        assert_eq!(spend.tokens_left(&none), None);
        let tokens = Budgets { tokens_per_day: Some(1_000), tokens_per_month: Some(4_500), ..none };
        assert_eq!(spend.reached(&tokens), None);
        assert_eq!(spend.tokens_left(&tokens), Some(500), "the month has 500 left, the day 600");
        let over = Budgets { tokens_per_day: Some(400), ..none };
        let reached = spend.reached(&over).unwrap();
        assert_eq!(reached.to_string(), "the key has used 400 tokens today; its budget is 400 tokens");
        assert!(!reached.monthly);
        let money = Budgets { micros_per_month: Some(9_000), tokens_per_day: Some(400), ..none };
        let reached = spend.reached(&money).unwrap();
        assert!(reached.monthly && !reached.tokens, "the monthly budget first: {reached:?}");
        assert_eq!(reached.to_string(), "the key has spent 0.0090 USD this month; its budget is 0.0090 USD");
    }
}
