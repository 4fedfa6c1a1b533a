//! Checks for a plugin's build script, so that the two mistakes that otherwise
//! build "successfully" fail the build with a message naming the fix:
//!
//! * no `cdylib` crate type: `cargo build --target wasm32-wasip2` writes no `.wasm`
//!   at all;
//! * no export macro: the `.wasm` is a small component that exports nothing, which
//!   the gateway refuses only when it loads it.
//!
//! `build.rs` (the SDK is also a `[build-dependencies]` entry):
//!
//! ```ignore
//! fn main() {
//!     ccgate_plugin_sdk::build::check();
//! }
//! ```

use std::path::{Path, PathBuf};

/// The export macros, one per hook.
const EXPORT_MACROS: [&str; 5] = [
    "export_policy!",
    "export_result_processor!",
    "export_artifact_collector!",
    "export_webhook_formatter!",
    "export_tool_approval!",
];

/// Most source files read when looking for the export macro.
const MAX_SOURCE_FILES: usize = 1_000;

/// Checks the crate being built (`CARGO_MANIFEST_DIR`); on a mistake prints what to
/// fix and ends the build script with status 1, which fails the build.
pub fn check() {
    let Some(dir) = std::env::var_os("CARGO_MANIFEST_DIR").map(PathBuf::from) else {
        eprintln!("ccgate_plugin_sdk::build::check() runs only in a build script");
        std::process::exit(1);
    };
    let problems = problems(&dir);
    if problems.is_empty() {
        return;
    }
    for problem in problems {
        eprintln!("error: {problem}");
    }
    std::process::exit(1);
}

/// What is wrong with the plugin crate in `dir`, each with its fix.
pub fn problems(dir: &Path) -> Vec<String> {
    println!("cargo::rerun-if-changed=Cargo.toml");
    println!("cargo::rerun-if-changed=src");
    let mut problems = Vec::new();
    match std::fs::read_to_string(dir.join("Cargo.toml")) {
        Ok(manifest) if !declares_cdylib(&manifest) => problems.push(
            "this plugin's Cargo.toml does not build a `cdylib`, so no .wasm is written: add\n\n    [lib]\n    \
             crate-type = [\"cdylib\", \"rlib\"]\n"
                .to_owned(),
        ),
        Ok(_) => {}
        Err(e) => problems.push(format!("cannot read {}: {e}", dir.join("Cargo.toml").display())),
    }
    let mut sources = Vec::new();
    collect_sources(&dir.join("src"), &mut sources);
    if !sources.iter().any(|text| uses_export_macro(text)) {
        problems.push(
            "this plugin never calls an export macro, so its .wasm would export nothing: add one line at the \
             crate root naming the type that implements the hook, e.g.\n\n    \
             ccgate_plugin_sdk::export_policy!(MyPolicy);\n\n(or export_result_processor!, \
             export_artifact_collector!, export_webhook_formatter!, export_tool_approval!)"
                .to_owned(),
        );
    }
    problems
}

/// Whether the manifest's crate types include `cdylib` (`[lib] crate-type = [...]`
/// or `lib.crate-type = [...]`, on one line).
pub fn declares_cdylib(manifest: &str) -> bool {
    let mut in_lib = false;
    for line in manifest.lines().map(|l| l.split('#').next().unwrap_or_default().trim()) {
        if line.starts_with('[') {
            in_lib = line == "[lib]";
            continue;
        }
        let Some((key, value)) = line.split_once('=') else { continue };
        let key = key.trim();
        if ((in_lib && key == "crate-type") || key == "lib.crate-type") && value.contains("\"cdylib\"") {
            return true;
        }
    }
    false
}

/// Whether `source` invokes one of the export macros outside a line comment.
pub fn uses_export_macro(source: &str) -> bool {
    source
        .lines()
        .map(|l| l.split("//").next().unwrap_or_default())
        .any(|code| EXPORT_MACROS.iter().any(|m| code.contains(m)))
}

/// The text of every `.rs` file under `dir` (bounded).
fn collect_sources(dir: &Path, sources: &mut Vec<String>) {
    let Ok(entries) = std::fs::read_dir(dir) else { return };
    for entry in entries.flatten() {
        if sources.len() >= MAX_SOURCE_FILES {
            return;
        }
        let path = entry.path();
        if path.is_dir() {
            collect_sources(&path, sources);
        } else if path.extension().is_some_and(|e| e == "rs")
            && let Ok(text) = std::fs::read_to_string(&path)
        {
            sources.push(text);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cdylib_is_found_in_either_spelling() {
        assert!(declares_cdylib("[package]\nname = \"p\"\n\n[lib]\ncrate-type = [\"cdylib\", \"rlib\"]\n"));
        assert!(declares_cdylib("lib.crate-type = [\"cdylib\"]\n"));
        assert!(!declares_cdylib("[package]\nname = \"p\"\n"));
        assert!(!declares_cdylib("[lib]\ncrate-type = [\"rlib\"]\n"));
        assert!(!declares_cdylib("[lib]\n# crate-type = [\"cdylib\"]\n"));
        assert!(!declares_cdylib("[package.metadata]\ncrate-type = [\"cdylib\"]\n"));
    }

    #[test]
    fn the_export_macro_counts_only_outside_comments() {
        assert!(uses_export_macro("ccgate_plugin_sdk::export_policy!(P);"));
        assert!(uses_export_macro("export_tool_approval!(Guard);"));
        assert!(!uses_export_macro("// ccgate_plugin_sdk::export_policy!(P);\nstruct P;"));
        assert!(!uses_export_macro("impl Policy for P {}"));
    }
}
