//! The attack catalogue, run again on every build: each test makes one attack that
//! once worked, the way a hostile tenant would — from inside a run (the agent's own
//! Bash tool, through the real Claude Code CLI and the scripted model) or over the
//! HTTP API with an ordinary key — and checks that it is now refused and that the
//! gateway, its billing and other tenants are unharmed.
//!
//! One file per front: what a run can do from inside it, and what a client can do
//! over the API.

mod api;
mod run_landlock;
mod run_network;
mod run_output;
mod run_tree;
