//! What the export macros expand to. Not a public API.

use std::sync::Once;

use crate::{
    Approval, Artifact, ArtifactCollector, Decision, Formatted, Plugin, Policy, ResultProcessor, TaskInfo, TaskRequest,
    TaskResult, ToolApproval, ToolRequest, WebhookEvent, WebhookFormatter, WorkspaceFile,
};

pub use crate::bindings::ccgate::plugin::host as wit_host;
pub use crate::bindings::ccgate::plugin::types as wit_types;
pub use wit_bindgen;

static PANIC_HOOK: Once = Once::new();

/// Runs at the start of every call into the plugin: installs the panic hook once.
pub fn enter() {
    PANIC_HOOK.call_once(|| {
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            let message = if let Some(s) = info.payload().downcast_ref::<&str>() {
                (*s).to_owned()
            } else if let Some(s) = info.payload().downcast_ref::<String>() {
                s.clone()
            } else {
                "(a panic without a message)".to_owned()
            };
            let location = info.location().map(|l| format!("{}:{}:{}", l.file(), l.line(), l.column()));
            let mut fields = vec![("panic", message.as_str())];
            if let Some(location) = &location {
                fields.push(("location", location.as_str()));
            }
            crate::log::error_with(&format!("plugin panicked: {message}"), &fields);
            // The default hook prints to stderr too, which the host may capture.
            previous(info);
        }));
    });
}

/// The plugin's configuration from the host, deserialized.
fn config<P: Plugin>() -> P::Config {
    let text = crate::bindings::ccgate::plugin::host::config();
    match crate::parse_config::<P>(&text) {
        Ok(config) => config,
        Err(e) => {
            let message = format!(
                "the configuration of plugin {} does not deserialize (it passed check-config at load): {e}",
                P::NAME
            );
            crate::log::error(&message);
            panic!("{message}");
        }
    }
}

pub fn validate<P: Policy>(request: TaskRequest) -> Decision {
    enter();
    P::validate(&config::<P>(), request)
}

pub fn process<P: ResultProcessor>(task: TaskInfo, result: TaskResult) -> Result<TaskResult, String> {
    enter();
    P::process(&config::<P>(), task, result)
}

pub fn collect<P: ArtifactCollector>(
    task: TaskInfo,
    result: TaskResult,
    files: Vec<WorkspaceFile>,
) -> Result<Vec<Artifact>, String> {
    enter();
    P::collect(&config::<P>(), task, result, files)
}

pub fn format<P: WebhookFormatter>(event: WebhookEvent, url: String) -> Result<Formatted, String> {
    enter();
    P::format(&config::<P>(), event, url)
}

pub fn decide<P: ToolApproval>(request: ToolRequest) -> Approval {
    enter();
    P::decide(&config::<P>(), request)
}
