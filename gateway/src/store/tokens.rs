//! What a key's live runs hold of its token budget, kept in the database so that
//! one budget holds across every node.
//!
//! Each model request of a run on a key with a token budget reserves what it may
//! use before it is sent: in one transaction, serialised per key, the key's budget
//! less what it has recorded and what its running tasks hold (`live_held_tokens`,
//! on every node) must leave something, and the run's hold grows by the
//! reservation. When the answer ends the hold is settled to what the request used.
//! The run's outcome clears the hold in the transaction that records its cost, so
//! a run is never counted twice nor missed in between.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use sea_orm::sea_query::{Expr, ExprTrait};
use sea_orm::{
    ColumnTrait, ConnectionTrait, DbBackend, EntityTrait, QueryFilter, QuerySelect, Statement, TransactionTrait,
};

use super::entities::{TaskStatus, api_key, task};
use super::{Context, Fence, Result, Store, StoreError};
use crate::budget::{Spend, SpendTotals};

/// Tries at writing one settlement.
const SETTLE_ATTEMPTS: u32 = 3;

/// The class of the advisory locks that serialise one key's reservations on
/// PostgreSQL ("ccgt" in ASCII); the other half of the lock is a hash of the key.
const RESERVATION_LOCK_CLASS: i32 = 0x6363_6774;

/// What asking to reserve tokens for a model request gave.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reservation {
    /// Reserved: the request may go.
    Granted,
    /// The key's token budget is spent, counting every node's live runs.
    Spent,
    /// The run no longer holds its task (its lease was lost).
    Lost,
}

/// Whether a budget that leaves `left` tokens, while live runs hold `held`, has
/// anything for another request (the last one may overshoot by its own use).
fn has_tokens_left(left: i64, held: i64) -> bool {
    left.saturating_sub(held) > 0
}

/// The tokens the key recorded today and this month, and what its running tasks
/// hold on every node, read in one statement: one snapshot, so that a run whose
/// outcome commits meanwhile (its cost recorded, its hold cleared together) counts
/// once, never in neither.
const USED_AND_HELD: &str = "SELECT \
    CAST((SELECT COALESCE(SUM(input_tokens + output_tokens), 0) FROM key_spend \
          WHERE key_id = $1 AND day = $2) AS BIGINT) AS today, \
    CAST((SELECT COALESCE(SUM(input_tokens + output_tokens), 0) FROM key_spend \
          WHERE key_id = $1 AND day LIKE $3) AS BIGINT) AS month, \
    CAST((SELECT COALESCE(SUM(live_held_tokens), 0) FROM tasks \
          WHERE key_id = $1 AND status = 'running') AS BIGINT) AS held";

/// (the key's recorded spending, as tokens only; what its live runs hold).
async fn used_and_held(conn: &impl ConnectionTrait, key_id: &str, now: i64) -> Result<(Spend, i64)> {
    let today = crate::budget::day_of(now);
    let month = format!("{}%", &today[..8]); // `YYYY-MM-`
    let backend = conn.get_database_backend();
    let values = [key_id.into(), today.clone().into(), month.into()];
    let query = Statement::from_sql_and_values(backend, super::sql_for(backend, USED_AND_HELD), values);
    let Some(row) = conn.query_one_raw(query).await.during("reading a key's token use")? else {
        return Err(StoreError::Corrupt("reading a key's token use gave no row".into()));
    };
    let get = |column: &str| row.try_get::<i64>("", column).during("reading a key's token use");
    let (today, month, held) = (get("today")?, get("month")?, get("held")?);
    let tokens = |input_tokens| SpendTotals { input_tokens, ..SpendTotals::default() };
    Ok((Spend { today: tokens(today), this_month: tokens(month) }, held))
}

/// What the key's running tasks hold, on every node.
async fn held_by_live_runs(conn: &impl ConnectionTrait, key_id: &str) -> Result<i64> {
    // PostgreSQL sums a bigint column as numeric: cast back.
    let held: Option<i64> = task::Entity::find()
        .select_only()
        .column_as(Expr::cust("CAST(COALESCE(SUM(live_held_tokens), 0) AS BIGINT)"), "held")
        .filter(task::Column::KeyId.eq(key_id))
        .filter(task::Column::Status.eq(TaskStatus::Running))
        .into_tuple()
        .one(conn)
        .await
        .during("summing the tokens live runs hold")?;
    Ok(held.unwrap_or(0))
}

impl Store {
    /// Reserves `tokens` for a model request of the run that holds `task_id`
    /// (`fence`), if its key's token budget leaves anything once what the key
    /// recorded and what its live runs hold are counted. A key with no token
    /// budget (one removed mid-run) always gets them.
    pub async fn reserve_tokens(
        &self,
        task_id: &str,
        fence: &Fence,
        key_id: &str,
        tokens: i64,
        now: i64,
    ) -> Result<Reservation> {
        let txn = self.writer.begin().await.during("starting a transaction")?;
        // SQLite has one writer connection: its transactions are already serial.
        if self.backend() == DbBackend::Postgres {
            let lock = Statement::from_sql_and_values(
                DbBackend::Postgres,
                "SELECT pg_advisory_xact_lock($1, hashtext($2))",
                [RESERVATION_LOCK_CLASS.into(), key_id.into()],
            );
            txn.execute_raw(lock).await.during("locking a key's token budget")?;
        }
        let key = api_key::Entity::find_by_id(key_id).one(&txn).await.during("reading a key")?;
        // `None`: the key has no token budget (any more), which any request fits.
        let fits = match key.map(|key| crate::budget::Budgets::of_key(&key)) {
            Some(budgets) if budgets.has_tokens() => {
                let (used, held) = used_and_held(&txn, key_id, now).await?;
                used.tokens_left(&budgets).map(|left| has_tokens_left(left, held))
            }
            Some(_) => None,
            None => Some(false),
        };
        if fits == Some(false) {
            txn.rollback().await.during("reserving tokens")?;
            return Ok(Reservation::Spent);
        }
        let hold = task::Entity::update_many()
            .col_expr(task::Column::LiveHeldTokens, Expr::col(task::Column::LiveHeldTokens).add(tokens))
            .filter(task::Column::Id.eq(task_id));
        if fence.apply(hold).exec(&txn).await.during("reserving tokens")?.rows_affected == 0 {
            txn.rollback().await.during("reserving tokens")?;
            return Ok(Reservation::Lost);
        }
        txn.commit().await.during("reserving tokens")?;
        Ok(Reservation::Granted)
    }

    /// Adds `tokens` (negative: gives back) to what the run holding `task_id`
    /// holds of its key's budget, never below 0; `false` when it no longer holds
    /// the task.
    ///
    /// Never below 0: a settlement still being written when its run's cost was read
    /// (a very slow database) can land on the task's next turn, whose fence may be
    /// the same (same node, attempt 1). A negative hold would lower the key's sum and
    /// let its other runs spend past the budget.
    pub async fn settle_tokens(&self, task_id: &str, fence: &Fence, tokens: i64) -> Result<bool> {
        let held = Expr::col(task::Column::LiveHeldTokens).add(tokens);
        let at_least_zero = Expr::case(held.clone().lt(0), 0i64).finally(held);
        let hold = task::Entity::update_many()
            .col_expr(task::Column::LiveHeldTokens, at_least_zero.into())
            .filter(task::Column::Id.eq(task_id));
        Ok(fence.apply(hold).exec(&self.writer).await.during("settling tokens")?.rows_affected == 1)
    }

    /// What the key's live runs hold of its token budget, on every node.
    pub async fn tokens_held(&self, key_id: &str) -> Result<i64> {
        held_by_live_runs(&self.reader, key_id).await
    }
}

/// A run's hold on its key's token budget, through which the model proxy
/// reserves for each request and settles it.
#[derive(Clone)]
pub struct RunTokens {
    store: Store,
    task_id: String,
    fence: Fence,
    key_id: String,
    /// Settlements still being written.
    pending: Arc<Mutex<Vec<tokio::task::JoinHandle<()>>>>,
}

impl std::fmt::Debug for RunTokens {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RunTokens").field("task_id", &self.task_id).field("key_id", &self.key_id).finish()
    }
}

impl RunTokens {
    pub fn new(store: Store, task_id: &str, fence: &Fence, key_id: &str) -> Self {
        Self {
            store,
            task_id: task_id.to_string(),
            fence: fence.clone(),
            key_id: key_id.to_string(),
            pending: Arc::default(),
        }
    }

    pub async fn reserve(&self, tokens: i64) -> Result<Reservation> {
        let now = crate::timestamp::now_ms();
        self.store.reserve_tokens(&self.task_id, &self.fence, &self.key_id, tokens, now).await
    }

    /// Settles `tokens` in the background (answers end in drop handlers), trying a
    /// few times. One that cannot be written leaves the hold off by `tokens` until
    /// the run's outcome clears it.
    pub fn settle(&self, tokens: i64) {
        let Ok(runtime) = tokio::runtime::Handle::try_current() else { return };
        if tokens == 0 {
            return;
        }
        let (store, task_id, fence) = (self.store.clone(), self.task_id.clone(), self.fence.clone());
        let settling = runtime.spawn(async move {
            for attempt in 1..=SETTLE_ATTEMPTS {
                match store.settle_tokens(&task_id, &fence, tokens).await {
                    Ok(_) => return,
                    Err(e) if attempt == SETTLE_ATTEMPTS => {
                        tracing::warn!(task_id, tokens, error = %e, "could not settle a model request's tokens");
                    }
                    Err(_) => tokio::time::sleep(Duration::from_millis(200) * attempt).await,
                }
            }
        });
        let mut pending = self.pending.lock().unwrap_or_else(|p| p.into_inner());
        pending.retain(|settling| !settling.is_finished());
        pending.push(settling);
    }

    /// Waits (at most `within`) for the settlements still being written, so that
    /// none lands after the run's outcome: the task's next turn may hold the same
    /// fence.
    pub async fn flush(&self, within: Duration) {
        let pending = std::mem::take(&mut *self.pending.lock().unwrap_or_else(|p| p.into_inner()));
        let _ = tokio::time::timeout(within, futures_util::future::join_all(pending)).await;
    }
}

#[cfg(test)]
mod tests {
    use super::has_tokens_left;

    #[test]
    fn a_request_goes_while_anything_is_left_after_what_live_runs_hold() {
        assert!(has_tokens_left(100, 99));
        assert!(!has_tokens_left(100, 100));
        assert!(!has_tokens_left(-5, 0), "recorded spending past the budget");
        assert!(!has_tokens_left(i64::MIN, 1), "no overflow");
    }
}
