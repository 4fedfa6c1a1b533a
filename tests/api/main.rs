//! Fast API tests: the whole gateway in this process (`support`), requests through
//! the router, no run, no Claude Code, no other process. What needs a run is in
//! `tests/it`.

mod support;

mod audit;
mod errors;
mod idempotency;
mod keys;
mod limits;
mod nodes;
mod openapi;
