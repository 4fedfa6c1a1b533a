//! One plugin call: a fresh `Store` and instance from the plugin's pre-linked
//! `InstancePre`, so nothing carries over between tasks or keys; memory, table,
//! instance and resource-handle limits; a time budget enforced twice — the epoch
//! callback interrupts guest code at the deadline (yielding to the runtime every
//! tick meanwhile), and the call's future is dropped at the deadline, which also
//! ends a guest that waits inside a host call (a sleep, a blocking read); a budget
//! of host calls; WASI with no environment, no arguments, stdin closed, no sockets,
//! read-only preopens only where the hook needs them, stdout and stderr captured
//! (capped) into the log.

use std::future::Future;
use std::path::PathBuf;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use wasmtime::component::ResourceTable;
use wasmtime::{ResourceLimiter, Store, Trap, UpdateDeadline};
use wasmtime_wasi::cli::{IsTerminal, StdoutStream};
use wasmtime_wasi::p2::{OutputStream, Pollable, StreamError};
use wasmtime_wasi::{FsPerms, WasiCtx, WasiCtxBuilder, WasiCtxView, WasiView};

use super::bindings::current::{host, types};
use super::engine::{CORE_INSTANCES_PER_COMPONENT, MEMORIES_PER_COMPONENT, PluginEngine, TABLES_PER_COMPONENT};
use crate::text::clip;

/// Per-call limits of one plugin.
#[derive(Debug, Clone)]
pub struct CallLimits {
    /// All linear memories of the instance together.
    pub memory_bytes: usize,
    pub table_elements: usize,
    /// Resource handles (open files, streams, pollables) held at once.
    pub handles: usize,
    pub timeout: Duration,
    /// Calls of `ccgate:plugin/host` functions; past it the call fails.
    pub host_calls: u32,
    pub max_log_lines: u32,
    pub max_output_bytes: usize,
}

/// Elements one table may grow to; Rust components use a few hundred.
pub const MAX_TABLE_ELEMENTS: usize = 20_000;

/// Resource handles one call may hold; a Rust guest uses a handful per file.
pub const MAX_HANDLES: usize = 256;

/// Why a call did not produce an answer.
#[derive(Debug, Clone, thiserror::Error)]
pub enum CallError {
    #[error("ran past its time budget of {} ms", .0.as_millis())]
    Timeout(Duration),
    #[error("needed more than its memory limit of {} MiB", .0 / (1024 * 1024))]
    Memory(usize),
    #[error("made more than its budget of {0} host calls")]
    HostCalls(u32),
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
            CallError::HostCalls(_) => "host_calls",
            CallError::Trap(_) => "trap",
            CallError::Invalid(_) => "invalid",
            CallError::Quarantined => "quarantined",
            CallError::Setup(_) => "setup",
        }
    }

    /// Whether the plugin itself is to blame (what the circuit breaker counts).
    pub fn is_plugins_fault(&self) -> bool {
        !matches!(self, CallError::Quarantined | CallError::Setup(_))
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
    host_calls_left: u32,
    host_calls_exhausted: bool,
    log_lines_left: u32,
    log_lines_dropped: u32,
    /// What the guest said when it panicked (the SDK's panic log line).
    panic: Option<String>,
}

impl CallState {
    /// Spends one host call; an error (which traps the guest) when none is left.
    fn spend_host_call(&mut self) -> wasmtime::Result<()> {
        if self.host_calls_left == 0 {
            self.host_calls_exhausted = true;
            return Err(wasmtime::format_err!("the plugin's budget of host calls is spent"));
        }
        self.host_calls_left -= 1;
        Ok(())
    }
}

impl WasiView for CallState {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        WasiCtxView { ctx: &mut self.wasi, table: &mut self.table }
    }
}

impl types::Host for CallState {}

impl host::Host for CallState {
    fn log(&mut self, level: host::Level, message: String, fields: Vec<(String, String)>) -> wasmtime::Result<()> {
        self.spend_host_call()?;
        if matches!(level, host::Level::Error) && self.panic.is_none() {
            self.panic = sdk_panic(&fields);
        }
        if self.log_lines_left == 0 {
            self.log_lines_dropped += 1;
            return Ok(());
        }
        self.log_lines_left -= 1;
        // Escaped: a plugin cannot forge log lines with newlines or escapes.
        let message = printable(clip(&message, 2048));
        let fields = fields
            .iter()
            .take(16)
            .map(|(k, v)| format!("{}={}", printable(clip(k, 64)), printable(clip(v, 256))))
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
        Ok(())
    }

    fn config(&mut self) -> wasmtime::Result<String> {
        self.spend_host_call()?;
        Ok(self.config.to_string())
    }
}

/// Control characters escaped, so a line stays one line.
fn printable(text: &str) -> String {
    text.chars().flat_map(|c| if c.is_control() { c.escape_default().collect::<Vec<_>>() } else { vec![c] }).collect()
}

/// Memory, table and instance growth within the plugin's limits; remembers a
/// refused memory growth so the trap that follows is reported as what it is.
struct Limiter {
    memory_bytes: usize,
    /// Bytes of all the instance's memories together.
    memory_in_use: usize,
    table_elements: usize,
    refused_memory: bool,
}

impl ResourceLimiter for Limiter {
    fn memory_growing(&mut self, current: usize, desired: usize, _maximum: Option<usize>) -> wasmtime::Result<bool> {
        let total = self.memory_in_use - current.min(self.memory_in_use) + desired;
        if total > self.memory_bytes {
            self.refused_memory = true;
            return Ok(false);
        }
        self.memory_in_use = total;
        Ok(true)
    }

    fn table_growing(&mut self, _current: usize, desired: usize, _maximum: Option<usize>) -> wasmtime::Result<bool> {
        Ok(desired <= self.table_elements)
    }

    // The same per-instance counts the pooling allocator enforces, so the
    // on-demand fallback is no looser.
    fn instances(&self) -> usize {
        CORE_INSTANCES_PER_COMPONENT as usize
    }

    fn memories(&self) -> usize {
        MEMORIES_PER_COMPONENT as usize
    }

    fn tables(&self) -> usize {
        TABLES_PER_COMPONENT as usize
    }
}

/// A call's work against its store.
pub type CallFuture<'a, R> = Pin<Box<dyn Future<Output = wasmtime::Result<R>> + Send + 'a>>;

/// A fresh store for one call, and its captured stdout and stderr.
pub struct CallStore {
    pub store: Store<CallState>,
    stdout: Capture,
    stderr: Capture,
}

/// The tokio deadline comes this long after the epoch deadline, so that guest code
/// stopped by the epoch reports as a trap of its own and only host waits are cut.
const DEADLINE_SLACK: Duration = Duration::from_millis(50);

/// Runs `body` against a fresh store: `Ok` with its answer, or why not.
pub async fn run<R>(
    engine: &PluginEngine,
    site: CallSite,
    config: Arc<str>,
    limits: &CallLimits,
    preopens: &[(PathBuf, &'static str)],
    body: impl for<'a> FnOnce(&'a mut Store<CallState>) -> CallFuture<'a, R>,
) -> Result<R, CallError> {
    let CallStore { mut store, stdout, stderr } = new_store(engine, site, config, limits, preopens)?;
    let started = Instant::now();
    let answer = tokio::time::timeout(limits.timeout + DEADLINE_SLACK, body(&mut store)).await;
    let state = store.into_data();
    let panic = state.panic.clone().or_else(|| stderr_panic(&String::from_utf8_lossy(&stderr.peek())));
    log_output(&state.site, "stdout", &stdout);
    log_output(&state.site, "stderr", &stderr);
    if state.log_lines_dropped > 0 {
        tracing::warn!(plugin = %state.site.plugin, hook = state.site.hook, task_id = state.site.task_id.as_deref(),
            dropped = state.log_lines_dropped, "plugin log lines past its cap (max_log_lines) were dropped");
    }
    match answer {
        Err(_elapsed) => Err(CallError::Timeout(started.elapsed())),
        Ok(Ok(answer)) => Ok(answer),
        Ok(Err(error)) if matches!(error.downcast_ref::<Trap>(), Some(Trap::Interrupt)) => {
            Err(CallError::Timeout(started.elapsed()))
        }
        Ok(Err(_)) if state.host_calls_exhausted => Err(CallError::HostCalls(limits.host_calls)),
        Ok(Err(_)) if state.limiter.refused_memory => Err(CallError::Memory(limits.memory_bytes)),
        Ok(Err(error)) => {
            // The backtrace (mangled, long) is for the log; callers, `GET /v1/plugins`
            // and `plugins check` get what went wrong and where.
            tracing::warn!(plugin = %state.site.plugin, hook = state.site.hook, task_id = state.site.task_id.as_deref(),
                "plugin trapped: {}", printable(&format!("{error:?}")));
            let summary = panic.unwrap_or_else(|| match error.downcast_ref::<Trap>() {
                Some(trap) => trap.to_string(),
                None => error.root_cause().to_string(),
            });
            Err(CallError::Trap(printable(clip(&summary, 1000))))
        }
    }
}

/// A panic as the SDK's panic hook logs it (fields `panic` and `location`):
/// `panicked at <location>: <message>`.
fn sdk_panic(fields: &[(String, String)]) -> Option<String> {
    let field = |name: &str| fields.iter().find(|(k, _)| k == name).map(|(_, v)| clip(v, 512));
    let message = field("panic")?;
    Some(match field("location") {
        Some(location) => format!("panicked at {location}: {message}"),
        None => format!("panicked: {message}"),
    })
}

/// A panic as Rust's default hook prints it on stderr
/// (`thread '<unnamed>' panicked at src/lib.rs:3:5:\n<message>`), for plugins
/// built without the SDK.
fn stderr_panic(stderr: &str) -> Option<String> {
    let (_, after) = stderr.split_once("panicked at ")?;
    let (location, rest) = after.split_once(":\n")?;
    let message = rest.lines().next().unwrap_or_default();
    Some(format!("panicked at {}: {}", clip(location, 512), clip(message, 512)))
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
    // File operations run on blocking threads, so a read that never returns (a
    // FIFO) holds a thread, not the runtime, and the call still ends on time.
    wasi.stdout(stdout.clone()).stderr(stderr.clone()).allow_blocking_current_thread(false);
    for (host_dir, guest_dir) in preopens {
        wasi.preopened_dir(host_dir, guest_dir, FsPerms::ReadOnly)
            .map_err(|e| CallError::Setup(format!("cannot open {} for the plugin: {e}", host_dir.display())))?;
    }
    let mut table = ResourceTable::new();
    table.set_max_capacity(limits.handles);
    let state = CallState {
        wasi: wasi.build(),
        table,
        limiter: Limiter {
            memory_bytes: limits.memory_bytes,
            memory_in_use: 0,
            table_elements: limits.table_elements,
            refused_memory: false,
        },
        site,
        config,
        host_calls_left: limits.host_calls,
        host_calls_exhausted: false,
        log_lines_left: limits.max_log_lines,
        log_lines_dropped: 0,
        panic: None,
    };
    let mut store = Store::new(&engine.engine, state);
    store.limiter(|state| &mut state.limiter);
    // Guest code yields to the runtime every tick, and is interrupted at the deadline.
    let (started, timeout) = (Instant::now(), limits.timeout);
    store.set_epoch_deadline(1);
    store.epoch_deadline_callback(move |_| {
        Ok(if started.elapsed() >= timeout { UpdateDeadline::Interrupt } else { UpdateDeadline::Yield(1) })
    });
    Ok(CallStore { store, stdout, stderr })
}

fn log_output(site: &CallSite, stream: &'static str, capture: &Capture) {
    let (bytes, dropped) = capture.take();
    if bytes.is_empty() && dropped == 0 {
        return;
    }
    let text = printable(String::from_utf8_lossy(&bytes).trim_end());
    tracing::info!(plugin = %site.plugin, hook = site.hook, task_id = site.task_id.as_deref(), stream,
        dropped_bytes = dropped, "plugin output: {text}");
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

    fn peek(&self) -> Vec<u8> {
        self.0.lock().unwrap_or_else(|p| p.into_inner()).kept.clone()
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
    fn memory_counts_every_memory_of_the_instance() {
        let mut limiter = Limiter { memory_bytes: 100, memory_in_use: 0, table_elements: 10, refused_memory: false };
        assert!(limiter.memory_growing(0, 60, None).unwrap(), "the first memory");
        assert!(limiter.memory_growing(60, 70, None).unwrap(), "it grows");
        assert!(!limiter.memory_growing(0, 40, None).unwrap(), "a second memory would pass the limit together");
        assert!(limiter.refused_memory);
        assert!(limiter.memory_growing(0, 30, None).unwrap());
    }

    #[test]
    fn a_panic_reads_as_its_message_and_place() {
        let fields =
            |pairs: &[(&str, &str)]| pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect::<Vec<_>>();
        assert_eq!(
            sdk_panic(&fields(&[("panic", "no config"), ("location", "src/lib.rs:3:5")])).as_deref(),
            Some("panicked at src/lib.rs:3:5: no config")
        );
        assert_eq!(sdk_panic(&fields(&[("rule", "x")])), None, "an ordinary error line");
        let stderr = "\nthread '<unnamed>' panicked at src/lib.rs:59:31:\ninternal error: entered unreachable code\nnote: run with `RUST_BACKTRACE=1`\n";
        assert_eq!(
            stderr_panic(stderr).as_deref(),
            Some("panicked at src/lib.rs:59:31: internal error: entered unreachable code")
        );
        assert_eq!(stderr_panic("just output"), None);
    }

    #[test]
    fn plugin_text_stays_on_one_line() {
        assert_eq!(printable("a\nforged line\u{1b}[31m"), "a\\nforged line\\u{1b}[31m");
    }
}
