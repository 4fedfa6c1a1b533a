//! A result plugin built against the frozen `ccgate:plugin@0.1.1` (`wit/v0.1.1/`),
//! where a task's status is a string. The gateway must keep calling it through
//! the 0.1.1 bindings: it appends the status it was given to the result's text,
//! so a test sees that it still gets `completed`.

#[allow(missing_docs, clippy::all)]
mod bindings {
    wit_bindgen::generate!({
        path: "../../../wit/v0.1.1",
        world: "result-plugin",
    });
}

use bindings::ccgate::plugin::types::{TaskInfo, TaskResult, Violation};
use bindings::exports::ccgate::plugin::meta::{self, PluginInfo};
use bindings::exports::ccgate::plugin::result_processor;

/// The plugin.
pub struct WitZeroOneOne;

impl meta::Guest for WitZeroOneOne {
    fn info() -> PluginInfo {
        PluginInfo { name: "wit-0-1-1".into(), version: env!("CARGO_PKG_VERSION").into(), config_schema: None }
    }

    fn check_config(_config: String) -> Vec<Violation> {
        Vec::new()
    }
}

impl result_processor::Guest for WitZeroOneOne {
    fn process(task: TaskInfo, mut result: TaskResult) -> Result<TaskResult, String> {
        let text = result.text.take().unwrap_or_default();
        result.text = Some(format!("{text} [status: {}]", task.status));
        Ok(result)
    }
}

#[cfg(target_arch = "wasm32")]
bindings::export!(WitZeroOneOne with_types_in bindings);
