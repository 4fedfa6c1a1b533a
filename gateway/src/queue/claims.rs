//! Whether this node's workers claim work: paused while the node drains, resumed
//! when the drain is withdrawn. Runs in progress are not touched.

use tokio::sync::watch;

/// A gate the workers pass before each claim.
pub(crate) struct ClaimGate(watch::Sender<bool>);

impl ClaimGate {
    pub(super) fn new() -> Self {
        Self(watch::channel(false).0)
    }

    /// Stops claiming; `true` if claims were open until now.
    pub(crate) fn pause(&self) -> bool {
        !self.0.send_replace(true)
    }

    /// Claims again; `true` if claims were paused until now.
    pub(crate) fn resume(&self) -> bool {
        self.0.send_replace(false)
    }

    pub(crate) fn is_paused(&self) -> bool {
        *self.0.borrow()
    }

    /// Returns once claims are open (at once if they are).
    pub(super) async fn opened(&self) {
        let mut rx = self.0.subscribe();
        let _ = rx.wait_for(|paused| !*paused).await;
    }
}

/// Whether a run stopped to go back to the queue is handed over to another node:
/// its node drains without exiting (a node that exits usually comes back on the
/// same data directory, where the run's session still is).
pub(super) fn hands_over(draining: bool, exiting: bool) -> bool {
    draining && !exiting
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_a_drain_without_exit_hands_runs_over() {
        assert!(hands_over(true, false));
        assert!(!hands_over(true, true), "a SIGTERM during a drain: the node restarts where the session is");
        assert!(!hands_over(false, true));
        assert!(!hands_over(false, false));
    }

    #[tokio::test]
    async fn a_paused_gate_opens_when_resumed() {
        let gate = ClaimGate::new();
        assert!(!gate.is_paused());
        assert!(gate.pause(), "the first pause closes it");
        assert!(!gate.pause(), "a second pause changes nothing");
        let waiting = tokio::time::timeout(std::time::Duration::from_millis(50), gate.opened()).await;
        assert!(waiting.is_err(), "a paused gate does not open by itself");
        assert!(gate.resume());
        tokio::time::timeout(std::time::Duration::from_secs(1), gate.opened()).await.expect("opened");
        assert!(!gate.resume());
    }
}
