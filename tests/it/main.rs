//! End-to-end tests: a real `ccgate serve` process, the real Claude Code CLI, and
//! the project's scripted model standing in for Anthropic's API.

mod support;

mod approvals;
mod artifacts;
mod attacks;
mod audit;
mod backup;
mod cancel_and_timeout;
mod client;
mod crashes;
mod dashboard;
mod dashboard_browser;
mod deploy;
mod disk_full;
mod events;
mod files;
mod follow_up;
mod idempotency;
mod js_plugin;
mod keys_cli;
mod limits;
mod load_shedding;
mod logs;
mod metrics;
mod openapi;
mod plugin_scaffold;
mod plugins;
mod queueing;
mod readiness;
mod readme;
mod recovery;
mod sandbox;
mod serve_in_process;
mod steering;
mod structured;
mod supervision;
mod tasks;
mod test_keys;
mod tool_approval;
mod uploads;
mod upstream;
mod webhooks;
