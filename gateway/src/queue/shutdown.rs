//! The flag every long-running loop of the queue watches to stop.

use tokio::sync::watch;

/// A flag every long-running loop watches to stop.
#[derive(Clone)]
pub(crate) struct ShutdownSignal(watch::Sender<bool>);

impl ShutdownSignal {
    pub(super) fn new() -> Self {
        Self(watch::channel(false).0)
    }

    pub(super) fn trigger(&self) {
        self.0.send_replace(true);
    }

    pub(crate) fn is_triggered(&self) -> bool {
        *self.0.borrow()
    }

    pub(crate) async fn cancelled(&self) {
        let mut rx = self.0.subscribe();
        let _ = rx.wait_for(|stopped| *stopped).await;
    }
}
