//! Key budgets: caps on cost and tokens per UTC day and month, whether spending
//! has reached one, when it resets, and how long a task of a spent key waits.
//!
//! Everything here is a pure function of its inputs and of `now` (milliseconds
//! since the epoch), so windows and resets are tested at any instant. The store
//! records and sums what runs cost (`store::spend`); callers read it and ask here.

mod caps;
mod spend;
mod window;

pub use caps::{Budgets, Reached, budget_micros, usd_to_micros};
pub use spend::{Spend, SpendTotals};
pub use window::{day_of, deferred_until, next_day_and_month};
