//! A policy plugin built against the frozen `ccgate:plugin@0.1.0` (`wit/v0.1.0/`),
//! as plugins were built before 0.1.1 added the tool-approval hook. The
//! gateway must keep loading and calling it: it denies a prompt that mentions
//! "forbidden" and allows the rest, logging each call through the host.

#[allow(missing_docs, clippy::all)]
mod bindings {
    wit_bindgen::generate!({
        path: "../../../wit/v0.1.0",
        world: "policy-plugin",
    });
}

use bindings::ccgate::plugin::host::{Level, log};
use bindings::ccgate::plugin::types::{TaskRequest, Violation};
use bindings::exports::ccgate::plugin::meta::{self, PluginInfo};
use bindings::exports::ccgate::plugin::policy::{self, Decision};

/// The plugin.
pub struct WitZeroOneZero;

impl meta::Guest for WitZeroOneZero {
    fn info() -> PluginInfo {
        PluginInfo { name: "wit-0-1-0".into(), version: env!("CARGO_PKG_VERSION").into(), config_schema: None }
    }

    fn check_config(_config: String) -> Vec<Violation> {
        Vec::new()
    }
}

impl policy::Guest for WitZeroOneZero {
    fn validate(request: TaskRequest) -> Decision {
        log(Level::Info, "validated by a 0.1.0 plugin", &[]);
        if request.prompt.contains("forbidden") {
            Decision::Deny(vec![Violation { pointer: "/prompt".into(), message: "a 0.1.0 plugin says no".into() }])
        } else {
            Decision::Allow
        }
    }
}

#[cfg(target_arch = "wasm32")]
bindings::export!(WitZeroOneZero with_types_in bindings);
