//! A plugin built against its own copy of a future WIT package, `ccgate:plugin@0.2.0`
//! (in `wit/`), exporting only `meta` with the same shape as 0.1.0's. The gateway must
//! refuse it with a "wrong WIT version" message.

#[allow(missing_docs, clippy::all)]
mod bindings {
    wit_bindgen::generate!({
        path: "wit",
        world: "future-plugin",
    });
}

use bindings::exports::ccgate::plugin::meta::Violation;
use bindings::exports::ccgate::plugin::meta::{Guest, PluginInfo};

/// The plugin.
pub struct FutureWit;

impl Guest for FutureWit {
    fn info() -> PluginInfo {
        PluginInfo { name: "future-wit".into(), version: env!("CARGO_PKG_VERSION").into(), config_schema: None }
    }

    fn check_config(_config: String) -> Vec<Violation> {
        Vec::new()
    }
}

#[cfg(target_arch = "wasm32")]
bindings::export!(FutureWit with_types_in bindings);
