//! A tool-approval plugin that misbehaves on purpose, for the gateway's tests.
//!
//! Configuration: `{"behaviour": "<b>"}`; on `decide`: `trap` panics; `loop` spins
//! forever; `bad-input` allows with an input that is not a JSON object; `rewrite`
//! allows a Bash call with its command replaced by `echo rewritten`.

use ccgate_plugin_sdk::prelude::*;
use serde::Deserialize;

/// The configuration.
#[derive(Debug, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    /// What to do on `decide`.
    pub behaviour: Behaviour,
}

/// The misbehaviours.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Behaviour {
    /// Panic (a trap).
    #[default]
    Trap,
    /// Never return.
    Loop,
    /// Answer an input the host must refuse.
    BadInput,
    /// Allow with a different command.
    Rewrite,
}

/// The plugin.
pub struct HostileApproval;

impl Plugin for HostileApproval {
    type Config = Config;
    const NAME: &'static str = "hostile-approval";
    const VERSION: &'static str = env!("CARGO_PKG_VERSION");
}

impl ToolApproval for HostileApproval {
    fn decide(config: &Config, _request: ToolRequest) -> Approval {
        match config.behaviour {
            Behaviour::Trap => unreachable!("hostile-approval traps on purpose"),
            Behaviour::Loop => spin(),
            Behaviour::BadInput => Approval::Allow(Some(serde_json::json!([1, 2]))),
            Behaviour::Rewrite => Approval::Allow(Some(serde_json::json!({"command": "echo rewritten"}))),
        }
    }
}

/// Loops forever in a way the optimizer must keep.
fn spin() -> ! {
    let mut n: u64 = 0;
    loop {
        n = std::hint::black_box(n.wrapping_add(1));
    }
}

ccgate_plugin_sdk::export_tool_approval!(HostileApproval);
