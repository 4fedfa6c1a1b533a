//! Keeping a run's lease alive, and stopping a run once.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::watch;

use super::Hub;
use crate::runner::{LiveMeter, Stop};
use crate::store::{Fence, RunCost, Store};

/// The run a lease keeper renews the lease of.
pub(super) struct HeldRun {
    pub task_id: String,
    pub key_id: String,
    pub fence: Fence,
    /// The run's meter, once the model proxy serves it.
    pub meter: Arc<LiveMeter>,
    /// A test key's run: its tokens count, its cost is 0.
    pub test: bool,
}

impl HeldRun {
    /// What the run has used so far, as the model proxy metered it.
    fn used(&self) -> Option<RunCost> {
        let metered = self.meter.get()?.metered();
        let cost_usd = if self.test { 0.0 } else { metered.cost_usd };
        Some(RunCost::of(&self.key_id, cost_usd, &metered.usage))
    }
}

/// Renews the lease a few times per lease period, recording with each renewal
/// what the run has used so far, and passes on cancel requests made on any node.
pub(super) async fn keep_lease(
    store: Store,
    hub: Arc<Hub>,
    run: HeldRun,
    lease_ms: i64,
    poll: Duration,
    stop: watch::Sender<Option<Stop>>,
) {
    let HeldRun { task_id, fence, .. } = &run;
    let period = Duration::from_millis((lease_ms / 3).max(500) as u64);
    let cancel_poll = poll.min(period);
    let mut last_renewal = tokio::time::Instant::now();
    // A cancel made through this node's hub, or another node's (`cluster`), is
    // heard at once; the poll is for nodes that cannot tell.
    let cancelled = hub.follow_cancel(task_id);
    loop {
        tokio::select! {
            () = tokio::time::sleep(cancel_poll) => {}
            () = cancelled.notified() => {}
        }
        let renew = last_renewal.elapsed() >= period;
        let answer = if renew {
            last_renewal = tokio::time::Instant::now();
            store.heartbeat(task_id, fence, lease_ms, run.used().as_ref()).await
        } else {
            store.task(task_id).await.map(|t| t.map(|t| t.cancel_requested))
        };
        match answer {
            Ok(Some(true)) => {
                stop_once(&stop, Stop::Cancel);
            }
            Ok(Some(false)) => {}
            Ok(None) if renew => {
                stop.send_replace(Some(Stop::LeaseLost));
                return;
            }
            Ok(None) => {}
            Err(e) => tracing::warn!(task_id = %task_id, error = %e, "could not renew a lease"),
        }
    }
}

/// Asks a run to stop unless it was already asked (a cancel must not become a shutdown).
pub(super) fn stop_once(stop: &watch::Sender<Option<Stop>>, reason: Stop) {
    stop.send_if_modified(|current| {
        let unset = current.is_none();
        if unset {
            *current = Some(reason);
        }
        unset
    });
}

/// Aborts a background task when dropped.
pub(super) struct AbortOnDrop(pub(super) tokio::task::JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}
