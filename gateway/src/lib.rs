//! ccgate: Claude Code as a production HTTP service.
//!
//! Clients submit coding tasks over HTTP; the gateway queues them durably, runs
//! the `claude` CLI on each in a fresh workspace under a supervisor, records every
//! event, and serves results, events and follow-up turns.
//!
//! # Layout
//!
//! - `server`: `ccgate serve` wires everything together (`server::App`, which the
//!   in-process API tests in `tests/api` build alone); `server::http` accepts
//!   connections within their limits.
//! - `api`: routes, extractors, middleware (auth, rate limits, audit of refusals), one
//!   mapping of errors to problem+json. Handlers call services.
//! - `task`: what a task is, request validation, `TaskService` (create, follow up,
//!   cancel, approvals), output schemas (`task::structured`).
//! - `queue`: workers claiming tasks with a lease, a run's conclusion, artifact
//!   collection, recovery, load shedding.
//! - `nodes`: the node registry (`GET /v1/nodes`): registration, heartbeats, drains
//!   and resumes, a clean exit's last word; `nodes::relay`, file requests passed to
//!   the node that runs the task.
//! - `runner`: one turn of the CLI: its command line, stdio, the stream-json parser,
//!   the supervisor process, permission prompts answered on stdin.
//! - `sandbox`: bubblewrap, Landlock, seccomp, cgroups, the model proxy (metering,
//!   pricing, limits) and the egress proxy.
//! - `approvals`: permission prompts decided by mode or waiting for a person.
//! - `dashboard`: the operator's web pages at `/dashboard` (sessions, CSRF, templates).
//! - `store`: SeaORM entities and repositories (migrations in `migrations/`).
//! - `workspace`: input files, listings and archives, trees walked from descriptors.
//! - `budget`: key budgets per UTC day and month, pure functions of `now`.
//! - `storage`: shared storage (`storage.url`): a directory or an S3 bucket, through
//!   `object_store`; artifacts live there, and `snapshots`: each task's workspace
//!   and Claude session after each turn, which any node restores to run the next.
//! - `auth`: who is calling (keys, scopes, rate limits) and `KeyService`, the keys
//!   as admins manage them; `audit`: the audit log; `telemetry`: logs, metrics and
//!   `Stats`, the figures operators see.
//! - `artifacts`, `webhooks`, `plugins` (the wasmtime host), `retention`,
//!   `backup`, `scripted_model` (the offline Messages API for tests and
//!   test keys), `client` (`ccgate run` and `ccgate tasks`, a client of a gateway).
//!
//! A task's path: `api::tasks::create` → `TaskService::create` (validation, policy
//! plugins, budgets, the store) → `queue` claims it → `runner` runs the CLI in the
//! `sandbox`, its output becoming events in `store` → `queue` concludes the run
//! (result, artifacts, webhooks) → clients read it through `api`.

#![deny(unsafe_code)]

pub mod api;
pub mod approvals;
pub mod artifacts;
pub mod audit;
pub mod auth;
pub mod backup;
pub mod budget;
pub mod cli;
pub mod client;
pub mod config;
pub mod dashboard;
pub mod hashing;
pub mod ids;
pub mod in_flight;
pub mod nodes;
pub mod plugins;
pub mod pricing;
pub mod queue;
pub mod retention;
pub mod runner;
pub mod sandbox;
pub mod scripted_model;
pub mod server;
pub mod snapshots;
pub mod storage;
pub mod store;
pub mod task;
pub mod telemetry;
pub mod text;
pub mod timestamp;
pub mod webhooks;
pub mod workspace;

/// The throwaway PostgreSQL the e2e harness uses, for the store's tests too.
#[cfg(test)]
#[path = "../../tests/it/support/postgres.rs"]
mod test_postgres;
