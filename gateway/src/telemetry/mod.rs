//! Telemetry: operators' figures (`Stats`), Prometheus metrics, and logging.
//!
//! Logging: `tracing` to stderr, JSON or human-readable, filtered by `RUST_LOG`
//! (default `info`). Request spans carry the request id onto every line; at
//! `debug`, request headers are logged with their secrets redacted.

pub mod metrics;
pub mod redact;
mod stats;

pub use stats::{DatabaseHealth, Stats};

use tracing_subscriber::EnvFilter;

pub fn init(format: &str) {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr);
    let _ = if format == "json" {
        builder.json().with_current_span(true).with_span_list(false).try_init()
    } else {
        builder.try_init()
    };
}
