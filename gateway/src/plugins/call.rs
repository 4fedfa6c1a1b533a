//! One plugin call: a fresh `Store` and instance from the plugin's pre-linked
//! `InstancePre`, so nothing carries over between tasks or keys; memory and table
//! limits, an epoch deadline for time, a cap on log lines; WASI with no
//! environment, no arguments, stdin closed, no sockets, read-only preopens only
//! where the hook needs them, stdout and stderr captured (capped) into the log.

use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use wasmtime::component::ResourceTable;
use wasmtime::{ResourceLimiter, Store, Trap};
use wasmtime_wasi::cli::{IsTerminal, StdoutStream};
use wasmtime_wasi::p2::{OutputStream, Pollable, StreamError};
use wasmtime_wasi::{FsPerms, WasiCtx, WasiCtxBuilder, WasiCtxView, WasiView};

use super::bindings::v0::{host, types};
use super::engine::{EPOCH_TICK, PluginEngine};

/// Per-call limits of one plugin.
#[derive(Debug, Clone)]
pub struct CallLimits {
    pub memory_bytes: usize,
    pub table_elements: usize,
    pub timeout: Duration,
    pub max_log_lines: u32,
    pub max_output_bytes: usize,
}

/// Elements one table may grow to; Rust components use a few hundred.
pub const MAX_TABLE_ELEMENTS: usize = 20_000;

/// Why a call did not produce an answer.
#[derive(Debug, Clone, thiserror::Error)]
pub enum CallError {
    #[error("ran past its time budget of {} ms", .0.as_millis())]
    Timeout(Duration),
    #[error("needed more than its memory limit of {} MiB", .0 / (1024 * 1024))]
    Memory(usize),
    #[error("trapped: {0}")]
    Trap(String),
    #[error("answered something the gateway cannot use: {0}")]
    Invalid(String),
    #[error("is quarantined after repeated failures")]
    Quarantined,
    #[error("could not be started: {0}")]
    Setup(String),
}

impl CallError {
    /// A short label for metrics and events.
    pub fn kind(&self) -> &'static str {
        match self {
            CallError::Timeout(_) => "timeout",
            CallError::Memory(_) => "memory",
            CallError::Trap(_) => "trap",
            CallError::Invalid(_) => "invalid",
            CallError::Quarantined => "quarantined",
            CallError::Setup(_) => "setup",
        }
    }
}

/// Who is calling, for the plugin's log lines.
#[derive(Debug, Clone)]
pub struct CallSite {
    pub plugin: Arc<str>,
    pub hook: &'static str,
    pub task_id: Option<String>,
}

/// The store's data for one call.
pub struct CallState {
    wasi: WasiCtx,
    table: ResourceTable,
    limiter: Limiter,
    site: CallSite,
    config: Arc<str>,
    log_lines_left: u32,
    log_lines_dropped: u32,
}

impl WasiView for CallState {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        WasiCtxView { ctx: &mut self.wasi, table: &mut self.table }
    }
}

impl types::Host for CallState {}

impl host::Host for CallState {
    fn log(&mut self, level: host::Level, message: String, fields: Vec<(String, String)>) {
        if self.log_lines_left == 0 {
            self.log_lines_dropped += 1;
            return;
        }
        self.log_lines_left -= 1;
        let message = clip(&message, 2048);
        let fields = fields
            .iter()
            .take(16)
            .map(|(k, v)| format!("{}={}", clip(k, 64), clip(v, 256)))
            .collect::<Vec<_>>()
            .join(" ");
        let (plugin, hook, task_id) = (&*self.site.plugin, self.site.hook, self.site.task_id.as_deref());
        match level {
            host::Level::Trace => tracing::trace!(plugin, hook, task_id, fields, "{message}"),
            host::Level::Debug => tracing::debug!(plugin, hook, task_id, fields, "{message}"),
            host::Level::Info => tracing::info!(plugin, hook, task_id, fields, "{message}"),
            host::Level::Warn => tracing::warn!(plugin, hook, task_id, fields, "{message}"),
            host::Level::Error => tracing::error!(plugin, hook, task_id, fields, "{message}"),
        }
    }

    fn config(&mut self) -> String {
        self.config.to_string()
    }
}

fn clip(text: &str, max: usize) -> &str {
    if text.len() <= max {
        return text;
    }
    let mut end = max;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    &text[..end]
}

/// Memory and table growth within the plugin's limits; remembers a refusal so
/// the trap that follows is reported as what it is.
struct Limiter {
    memory_bytes: usize,
    table_elements: usize,
    refused_memory: bool,
}

impl ResourceLimiter for Limiter {
    fn memory_growing(&mut self, _current: usize, desired: usize, _maximum: Option<usize>) -> wasmtime::Result<bool> {
        let allowed = desired <= self.memory_bytes;
        self.refused_memory |= !allowed;
        Ok(allowed)
    }

    fn table_growing(&mut self, _current: usize, desired: usize, _maximum: Option<usize>) -> wasmtime::Result<bool> {
        Ok(desired <= self.table_elements)
    }
}

/// A fresh store for one call, and its captured stdout and stderr.
pub struct CallStore {
    pub store: Store<CallState>,
    stdout: Capture,
    stderr: Capture,
}

/// Runs `body` against a fresh store: `Ok` with its answer, or why not.
/// Blocking: call it on a blocking thread.
pub fn run<R>(
    engine: &PluginEngine,
    site: CallSite,
    config: Arc<str>,
    limits: &CallLimits,
    preopens: &[(PathBuf, &'static str)],
    body: impl FnOnce(&mut Store<CallState>) -> wasmtime::Result<R>,
) -> Result<R, CallError> {
    let CallStore { mut store, stdout, stderr } = new_store(engine, site, config, limits, preopens)?;
    let started = Instant::now();
    let answer = body(&mut store);
    let state = store.into_data();
    log_output(&state.site, "stdout", &stdout);
    log_output(&state.site, "stderr", &stderr);
    if state.log_lines_dropped > 0 {
        tracing::warn!(plugin = %state.site.plugin, hook = state.site.hook, task_id = state.site.task_id.as_deref(),
            dropped = state.log_lines_dropped, "plugin log lines past its cap (max_log_lines) were dropped");
    }
    answer.map_err(|error| {
        if state.limiter.refused_memory {
            CallError::Memory(limits.memory_bytes)
        } else if matches!(error.downcast_ref::<Trap>(), Some(Trap::Interrupt)) {
            CallError::Timeout(started.elapsed().max(limits.timeout))
        } else {
            CallError::Trap(clip(&format!("{error:#}"), 1000).to_string())
        }
    })
}

/// A store with the call's WASI context, limits and deadline.
pub fn new_store(
    engine: &PluginEngine,
    site: CallSite,
    config: Arc<str>,
    limits: &CallLimits,
    preopens: &[(PathBuf, &'static str)],
) -> Result<CallStore, CallError> {
    let stdout = Capture::new(limits.max_output_bytes);
    let stderr = Capture::new(limits.max_output_bytes);
    let mut wasi = WasiCtxBuilder::new();
    wasi.stdout(stdout.clone()).stderr(stderr.clone()).allow_blocking_current_thread(true);
    for (host_dir, guest_dir) in preopens {
        wasi.preopened_dir(host_dir, guest_dir, FsPerms::ReadOnly)
            .map_err(|e| CallError::Setup(format!("cannot open {} for the plugin: {e}", host_dir.display())))?;
    }
    let state = CallState {
        wasi: wasi.build(),
        table: ResourceTable::new(),
        limiter: Limiter {
            memory_bytes: limits.memory_bytes,
            table_elements: limits.table_elements,
            refused_memory: false,
        },
        site,
        config,
        log_lines_left: limits.max_log_lines,
        log_lines_dropped: 0,
    };
    let mut store = Store::new(&engine.engine, state);
    store.limiter(|state| &mut state.limiter);
    store.set_epoch_deadline(deadline_ticks(limits.timeout));
    store.epoch_deadline_trap();
    Ok(CallStore { store, stdout, stderr })
}

/// Epoch ticks for a time budget, rounded up, at least one.
fn deadline_ticks(timeout: Duration) -> u64 {
    (timeout.as_micros().div_ceil(EPOCH_TICK.as_micros()) as u64).max(1)
}

fn log_output(site: &CallSite, stream: &'static str, capture: &Capture) {
    let (bytes, dropped) = capture.take();
    if bytes.is_empty() && dropped == 0 {
        return;
    }
    let text = String::from_utf8_lossy(&bytes);
    tracing::info!(plugin = %site.plugin, hook = site.hook, task_id = site.task_id.as_deref(), stream,
        dropped_bytes = dropped, "plugin output: {}", text.trim_end());
}

/// A stdout/stderr that keeps the first `cap` bytes and counts the rest: a plugin
/// that floods its output neither fills memory nor fails its writes.
#[derive(Clone)]
struct Capture(Arc<Mutex<CaptureBuffer>>);

#[derive(Default)]
struct CaptureBuffer {
    kept: Vec<u8>,
    cap: usize,
    dropped: u64,
}

impl Capture {
    fn new(cap: usize) -> Self {
        Self(Arc::new(Mutex::new(CaptureBuffer { cap, ..Default::default() })))
    }

    fn push(&self, bytes: &[u8]) {
        let mut buffer = self.0.lock().unwrap_or_else(|p| p.into_inner());
        let room = buffer.cap.saturating_sub(buffer.kept.len());
        let kept = bytes.len().min(room);
        buffer.kept.extend_from_slice(&bytes[..kept]);
        buffer.dropped += (bytes.len() - kept) as u64;
    }

    fn take(&self) -> (Vec<u8>, u64) {
        let mut buffer = self.0.lock().unwrap_or_else(|p| p.into_inner());
        (std::mem::take(&mut buffer.kept), buffer.dropped)
    }
}

impl IsTerminal for Capture {
    fn is_terminal(&self) -> bool {
        false
    }
}

impl StdoutStream for Capture {
    fn p2_stream(&self) -> Box<dyn OutputStream> {
        Box::new(self.clone())
    }

    fn async_stream(&self) -> Box<dyn tokio::io::AsyncWrite + Send + Sync> {
        Box::new(self.clone())
    }
}

#[wasmtime_wasi::async_trait]
impl Pollable for Capture {
    async fn ready(&mut self) {}
}

impl OutputStream for Capture {
    fn write(&mut self, bytes: bytes::Bytes) -> Result<(), StreamError> {
        self.push(&bytes);
        Ok(())
    }

    fn flush(&mut self) -> Result<(), StreamError> {
        Ok(())
    }

    fn check_write(&mut self) -> Result<usize, StreamError> {
        Ok(64 * 1024)
    }
}

impl tokio::io::AsyncWrite for Capture {
    fn poll_write(
        self: std::pin::Pin<&mut Self>,
        _cx: &mut std::task::Context<'_>,
        buf: &[u8],
    ) -> std::task::Poll<std::io::Result<usize>> {
        self.push(buf);
        std::task::Poll::Ready(Ok(buf.len()))
    }

    fn poll_flush(
        self: std::pin::Pin<&mut Self>,
        _cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        std::task::Poll::Ready(Ok(()))
    }

    fn poll_shutdown(
        self: std::pin::Pin<&mut Self>,
        _cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        std::task::Poll::Ready(Ok(()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn output_past_the_cap_is_counted_not_kept() {
        let capture = Capture::new(8);
        capture.push(b"hello ");
        capture.push(b"world, again");
        assert_eq!(capture.take(), (b"hello wo".to_vec(), 10));
    }

    #[test]
    fn time_budgets_round_up_to_whole_ticks() {
        assert_eq!(deadline_ticks(Duration::ZERO), 1);
        assert_eq!(deadline_ticks(EPOCH_TICK), 1);
        assert_eq!(deadline_ticks(EPOCH_TICK * 10 + Duration::from_micros(1)), 11);
    }
}
