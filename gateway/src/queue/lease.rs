//! Keeping a run's lease alive, and stopping a run once.

use std::time::Duration;

use tokio::sync::watch;

use crate::runner::Stop;
use crate::store::{Fence, Store};

/// Renews the lease a few times per lease period, and passes on cancel requests
/// made on other nodes.
pub(super) async fn keep_lease(
    store: Store,
    task_id: String,
    fence: Fence,
    lease_ms: i64,
    stop: watch::Sender<Option<Stop>>,
) {
    let period = Duration::from_millis((lease_ms / 3).max(500) as u64);
    let cancel_poll = Duration::from_millis(1000).min(period);
    let mut last_renewal = tokio::time::Instant::now();
    loop {
        tokio::time::sleep(cancel_poll).await;
        let renew = last_renewal.elapsed() >= period;
        let answer = if renew {
            last_renewal = tokio::time::Instant::now();
            store.heartbeat(&task_id, &fence, lease_ms).await
        } else {
            store.task(&task_id).await.map(|t| t.map(|t| t.cancel_requested))
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
