//! ccgate: Claude Code as a production HTTP service.
//!
//! Clients submit coding tasks over HTTP; the gateway queues them durably, runs
//! the `claude` CLI on each in a fresh workspace under a supervisor, records every
//! event, and serves results, events and follow-up turns. See
//! `shared/design/ARCHITECTURE.md` for how the modules fit together.

#![deny(unsafe_code)]

pub mod api;
pub mod approvals;
pub mod artifacts;
pub mod auth;
pub mod backup;
pub mod cli;
pub mod config;
pub mod hashing;
pub mod ids;
pub mod in_flight;
pub mod plugins;
pub mod pricing;
pub mod queue;
pub mod retention;
pub mod runner;
pub mod sandbox;
pub mod scripted_model;
pub mod server;
pub mod store;
pub mod task;
pub mod telemetry;
pub mod text;
pub mod timestamp;
pub mod webhooks;
pub mod workspace;
