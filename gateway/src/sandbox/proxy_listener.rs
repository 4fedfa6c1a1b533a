//! The model proxy's listener: at most `sandbox.model_max_connections` open
//! connections per run. A run can open connections to the proxy without sending
//! a request (so before any token is seen): a connection belongs to the run whose
//! cgroup holds the peer process the kernel names (`SO_PEERCRED`), and past the
//! cap the run's new connections are closed at once while other runs' are not.
//! Without run cgroups a connection cannot be told apart and is not counted.

use std::collections::HashMap;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{UnixListener, UnixStream};

type Open = Arc<Mutex<HashMap<String, usize>>>;

/// Accepts connections, counting them per run.
pub struct RunListener {
    inner: UnixListener,
    per_run: usize,
    open: Open,
}

impl RunListener {
    pub fn new(inner: UnixListener, per_run: usize) -> Self {
        Self { inner, per_run, open: Open::default() }
    }

    /// A slot for one more connection of `run`, unless the run has its fill.
    fn admit(&self, run: Option<String>) -> Option<Option<Slot>> {
        let Some(run) = run else { return Some(None) };
        let mut open = self.open.lock().unwrap_or_else(|p| p.into_inner());
        let count = open.entry(run.clone()).or_default();
        if *count >= self.per_run {
            return None;
        }
        *count += 1;
        Some(Some(Slot { open: self.open.clone(), run }))
    }
}

impl axum::serve::Listener for RunListener {
    type Io = RunConnection;
    type Addr = tokio::net::unix::SocketAddr;

    async fn accept(&mut self) -> (Self::Io, Self::Addr) {
        loop {
            let (stream, addr) = match self.inner.accept().await {
                Ok(accepted) => accepted,
                Err(e) => {
                    // Out of descriptors, say: wait a moment rather than spin.
                    tracing::warn!(error = %e, "the model proxy could not accept a connection");
                    tokio::time::sleep(std::time::Duration::from_millis(50)).await;
                    continue;
                }
            };
            let run = stream.peer_cred().ok().and_then(|cred| cred.pid()).and_then(run_of_process);
            match self.admit(run) {
                Some(slot) => return (RunConnection { stream, _slot: slot }, addr),
                None => {
                    metrics::counter!("ccgate_model_proxy_requests_total", "outcome" => "too_many_connections")
                        .increment(1);
                }
            }
        }
    }

    fn local_addr(&self) -> std::io::Result<Self::Addr> {
        self.inner.local_addr()
    }
}

/// A run's open connection, given back when dropped.
struct Slot {
    open: Open,
    run: String,
}

impl Drop for Slot {
    fn drop(&mut self) {
        let mut open = self.open.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(count) = open.get_mut(&self.run) {
            *count = count.saturating_sub(1);
            if *count == 0 {
                open.remove(&self.run);
            }
        }
    }
}

/// One accepted connection (with its run's slot, if it has one).
pub struct RunConnection {
    stream: UnixStream,
    _slot: Option<Slot>,
}

impl AsyncRead for RunConnection {
    fn poll_read(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.stream).poll_read(cx, buf)
    }
}

impl AsyncWrite for RunConnection {
    fn poll_write(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<std::io::Result<usize>> {
        Pin::new(&mut self.stream).poll_write(cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.stream).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.stream).poll_shutdown(cx)
    }
}

/// The run whose cgroup holds process `pid`, if any.
fn run_of_process(pid: i32) -> Option<String> {
    run_of_cgroups(&std::fs::read_to_string(format!("/proc/{pid}/cgroup")).ok()?)
}

/// The run named in a `/proc/<pid>/cgroup` listing: the directory under
/// `ccgate-runs/` on any hierarchy.
fn run_of_cgroups(listing: &str) -> Option<String> {
    listing.lines().find_map(|line| {
        let path = line.splitn(3, ':').nth(2)?;
        let (_, below) = path.split_once("/ccgate-runs/")?;
        below.split('/').next().filter(|run| !run.is_empty()).map(String::from)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_process_is_known_by_its_runs_cgroup() {
        assert_eq!(
            run_of_cgroups("0::/user.slice/ccgate.service/ccgate-runs/tsk_1-run_2/sub\n").as_deref(),
            Some("tsk_1-run_2")
        );
        assert_eq!(run_of_cgroups("4:memory:/gw/ccgate-runs/tsk_1-run_3\n2:pids:/\n").as_deref(), Some("tsk_1-run_3"));
        assert_eq!(run_of_cgroups("0::/user.slice/session-1.scope\n"), None);
    }

    #[tokio::test]
    async fn a_run_past_its_connections_is_refused_and_others_are_not() {
        let dir = tempfile::tempdir().unwrap();
        let listener = RunListener::new(UnixListener::bind(dir.path().join("s")).unwrap(), 2);
        let first = listener.admit(Some("run_a".into())).unwrap();
        let second = listener.admit(Some("run_a".into())).unwrap();
        assert!(listener.admit(Some("run_a".into())).is_none(), "the third of run_a");
        assert!(listener.admit(Some("run_b".into())).is_some(), "another run is not affected");
        assert!(listener.admit(None).is_some(), "an unattributed connection is not counted");
        drop(first);
        assert!(listener.admit(Some("run_a".into())).is_some(), "a closed connection frees its slot");
        drop(second);
    }
}
