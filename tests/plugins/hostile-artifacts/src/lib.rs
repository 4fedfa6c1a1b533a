//! An artifact plugin that tries to get out of its sandbox, for the gateway's
//! hostile-plugin tests.
//!
//! On `collect` it attempts, in this order:
//!
//! | name | attempt |
//! | --- | --- |
//! | `read-etc-passwd` | read `/etc/passwd` |
//! | `read-workspace-dotdot` | read `/workspace/../../etc/hostname` |
//! | `read-baseline-dotdot` | read `/baseline/../../../etc/passwd` |
//! | `list-root` | list `/` |
//! | `follow-workspace-link` | list `/workspace/escape` (a run may leave a link there leading out) |
//! | `write-workspace` | write `/workspace/planted.txt` |
//!
//! and returns one generated artifact `report.txt` with a line per attempt,
//! `blocked:<name>` or `ESCAPED:<name>`, followed by every listed workspace file
//! unchanged (`content: none`). Details go to the log at warn level.

use ccgate_plugin_sdk::prelude::*;

/// One escape attempt: `Ok` when it got through.
pub type Attempt = fn() -> std::io::Result<()>;

/// The attempts, by name.
pub const ATTEMPTS: &[(&str, Attempt)] = &[
    ("read-etc-passwd", || std::fs::read("/etc/passwd").map(drop)),
    ("read-workspace-dotdot", || std::fs::read("/workspace/../../etc/hostname").map(drop)),
    ("read-baseline-dotdot", || std::fs::read("/baseline/../../../etc/passwd").map(drop)),
    ("list-root", || std::fs::read_dir("/").map(|entries| entries.for_each(drop))),
    ("follow-workspace-link", || std::fs::read_dir("/workspace/escape").map(|entries| entries.for_each(drop))),
    ("write-workspace", || std::fs::write("/workspace/planted.txt", b"planted by hostile-artifacts\n")),
];

/// Runs every attempt; the report's text.
pub fn report() -> String {
    let mut report = String::new();
    for (name, attempt) in ATTEMPTS {
        match attempt() {
            Ok(()) => {
                log::error_with("sandbox escape succeeded", &[("attempt", name)]);
                report.push_str(&format!("ESCAPED:{name}\n"));
            }
            Err(e) => {
                log::warn_with("sandbox escape blocked", &[("attempt", name), ("error", &e.to_string())]);
                report.push_str(&format!("blocked:{name}\n"));
            }
        }
    }
    report
}

/// The plugin.
pub struct HostileArtifacts;

impl Plugin for HostileArtifacts {
    type Config = ccgate_plugin_sdk::serde::de::IgnoredAny;
    const NAME: &'static str = "hostile-artifacts";
    const VERSION: &'static str = env!("CARGO_PKG_VERSION");
}

impl ArtifactCollector for HostileArtifacts {
    fn collect(
        _config: &ccgate_plugin_sdk::serde::de::IgnoredAny,
        _task: TaskInfo,
        _result: TaskResult,
        files: Vec<WorkspaceFile>,
    ) -> Result<Vec<Artifact>, String> {
        let mut artifacts = vec![Artifact::generated("report.txt", report(), Some("text/plain"))];
        artifacts.extend(files.into_iter().map(|f| Artifact::workspace(f.path)));
        Ok(artifacts)
    }
}

ccgate_plugin_sdk::export_artifact_collector!(HostileArtifacts);
