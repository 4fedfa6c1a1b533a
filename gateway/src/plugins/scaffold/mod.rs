//! `ccgate plugins new NAME --hook HOOK [--dir DIR] [--sdk PATH]`: writes a plugin
//! crate that builds: `Cargo.toml` (cdylib + rlib, its own workspace), a `build.rs`
//! that fails the build when the crate type or the export macro goes missing,
//! `src/lib.rs` with a small working example of the hook and native tests,
//! `schema.json` for its configuration type, and a README.

use std::path::{Path, PathBuf};

use super::Hook;

/// The SDK version a scaffolded crate asks for when no SDK source is at hand.
pub const SDK_VERSION: &str = "0.1.2";

/// The SDK this binary was built beside, when its source is still there.
const BUILT_FROM_SDK: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../plugin-sdk");

#[derive(Debug, thiserror::Error)]
pub enum ScaffoldError {
    #[error(
        "NAME must be 1 to 64 lowercase letters, digits, `-` or `_`, starting with a letter (a crate name), not {0:?}"
    )]
    Name(String),
    #[error("{0} already exists and is not empty: choose another --dir")]
    NotEmpty(PathBuf),
    #[error("--sdk {0}: no ccgate-plugin-sdk Cargo.toml there")]
    Sdk(PathBuf),
    #[error("cannot write {path}: {error}")]
    Write { path: PathBuf, error: std::io::Error },
}

/// Where the SDK dependency comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SdkSource {
    /// A checkout of the SDK (`plugin-sdk/` of the ccgate repository).
    Path(PathBuf),
    /// The published crate.
    Version(&'static str),
}

impl SdkSource {
    /// `--sdk PATH` when given (checked); else the SDK this binary was built beside,
    /// when present; else the published version.
    pub fn choose(explicit: Option<PathBuf>) -> Result<Self, ScaffoldError> {
        let is_sdk = |dir: &Path| {
            std::fs::read_to_string(dir.join("Cargo.toml")).is_ok_and(|t| t.contains("name = \"ccgate-plugin-sdk\""))
        };
        match explicit {
            Some(dir) => {
                let dir = std::path::absolute(&dir).map_err(|_| ScaffoldError::Sdk(dir.clone()))?;
                if is_sdk(&dir) { Ok(SdkSource::Path(dir)) } else { Err(ScaffoldError::Sdk(dir)) }
            }
            None => Ok(match std::fs::canonicalize(BUILT_FROM_SDK) {
                Ok(dir) if is_sdk(&dir) => SdkSource::Path(dir),
                _ => SdkSource::Version(SDK_VERSION),
            }),
        }
    }

    /// The dependency's value in `Cargo.toml`.
    fn dependency(&self) -> String {
        match self {
            SdkSource::Path(dir) => format!("{{ path = {:?} }}", dir.to_string_lossy()),
            SdkSource::Version(version) => format!("{version:?}"),
        }
    }
}

/// What a hook's crate holds beyond the shared files.
struct HookTemplate {
    lib: &'static str,
    schema: &'static str,
    /// An example configuration, as JSON and as TOML.
    config_json: &'static str,
    config_toml: &'static str,
}

/// A hook's template: `templates/<file>.rs.tmpl` and `templates/<file>.schema.json.tmpl`.
macro_rules! hook_template {
    ($file:literal, $json:literal, $toml:literal) => {
        HookTemplate {
            lib: include_str!(concat!("templates/", $file, ".rs.tmpl")),
            schema: include_str!(concat!("templates/", $file, ".schema.json.tmpl")),
            config_json: $json,
            config_toml: $toml,
        }
    };
}

fn template(hook: Hook) -> HookTemplate {
    match hook {
        Hook::Policy => hook_template!(
            "policy",
            r#"{"forbidden_word": "password", "max_turns": 10}"#,
            "forbidden_word = \"password\"\nmax_turns = 10"
        ),
        Hook::Result => hook_template!("result", r#"{"redact": ["hunter2"]}"#, "redact = [\"hunter2\"]"),
        Hook::Artifacts => {
            hook_template!("artifacts", r#"{"extensions": ["md", "py"]}"#, "extensions = [\"md\", \"py\"]")
        }
        Hook::Webhook => hook_template!("webhook", r#"{"title": "ccgate"}"#, "title = \"ccgate\""),
        Hook::ToolApproval => hook_template!(
            "tool_approval",
            r#"{"deny_commands": ["curl", "wget"]}"#,
            "deny_commands = [\"curl\", \"wget\"]"
        ),
    }
}

/// Whether `name` can be the crate's (and the plugin's declared) name.
pub fn valid_name(name: &str) -> bool {
    name.len() <= 64
        && name.starts_with(|c: char| c.is_ascii_lowercase())
        && name.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '_')
}

/// The plugin type's name: `my-policy` gives `MyPolicyPlugin`.
pub fn type_name(name: &str) -> String {
    let mut camel: String = name
        .split(['-', '_'])
        .filter(|part| !part.is_empty())
        .map(|part| {
            let mut chars = part.chars();
            chars.next().map(|first| first.to_ascii_uppercase().to_string() + chars.as_str()).unwrap_or_default()
        })
        .collect();
    if !camel.ends_with("Plugin") {
        camel.push_str("Plugin");
    }
    camel
}

/// The files of the crate, relative to its directory, with their contents.
pub fn render(name: &str, hook: Hook, sdk: &SdkSource) -> Vec<(&'static str, String)> {
    let hook_template = template(hook);
    let hook_name = hook.as_str().replace('_', "-");
    let fill = |text: &str| {
        text.replace("{{name}}", name)
            .replace("{{type}}", &type_name(name))
            .replace("{{crate}}", &name.replace('-', "_"))
            .replace("{{hook}}", &hook_name)
            .replace("{{sdk}}", &sdk.dependency())
            .replace("{{config}}", hook_template.config_json)
            .replace("{{config_toml}}", hook_template.config_toml)
    };
    vec![
        ("Cargo.toml", fill(include_str!("templates/Cargo.toml.tmpl"))),
        ("build.rs", fill(include_str!("templates/build.rs.tmpl"))),
        (".gitignore", fill(include_str!("templates/gitignore.tmpl"))),
        ("README.md", fill(include_str!("templates/README.md.tmpl"))),
        ("schema.json", fill(hook_template.schema)),
        ("src/lib.rs", fill(hook_template.lib)),
    ]
}

/// Writes the crate for plugin `name` into `dir` (created; it must not hold files
/// yet); the paths written.
pub fn write(name: &str, hook: Hook, dir: &Path, sdk: &SdkSource) -> Result<Vec<PathBuf>, ScaffoldError> {
    if !valid_name(name) {
        return Err(ScaffoldError::Name(name.to_string()));
    }
    if std::fs::read_dir(dir).is_ok_and(|mut entries| entries.next().is_some()) {
        return Err(ScaffoldError::NotEmpty(dir.to_path_buf()));
    }
    let mut written = Vec::new();
    for (relative, content) in render(name, hook, sdk) {
        let path = dir.join(relative);
        let io = |error| ScaffoldError::Write { path: path.clone(), error };
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).map_err(io)?;
        }
        std::fs::write(&path, content).map_err(io)?;
        written.push(path);
    }
    Ok(written)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_crate_names() {
        assert!(valid_name("my-policy") && valid_name("guard_2"));
        for bad in ["", "My-Policy", "2fast", "-x", "a b", "ü", &"a".repeat(65)] {
            assert!(!valid_name(bad), "{bad:?}");
        }
        assert_eq!(type_name("my-policy"), "MyPolicyPlugin");
        assert_eq!(type_name("tool_guard_plugin"), "ToolGuardPlugin");
    }

    #[test]
    fn every_hook_renders_without_placeholders_and_with_its_macro() {
        let sdk = SdkSource::Version(SDK_VERSION);
        for (hook, export) in [
            (Hook::Policy, "export_policy!(MyCheckPlugin)"),
            (Hook::Result, "export_result_processor!(MyCheckPlugin)"),
            (Hook::Artifacts, "export_artifact_collector!(MyCheckPlugin)"),
            (Hook::Webhook, "export_webhook_formatter!(MyCheckPlugin)"),
            (Hook::ToolApproval, "export_tool_approval!(MyCheckPlugin)"),
        ] {
            let files = render("my-check", hook, &sdk);
            for (path, text) in &files {
                assert!(!text.contains("{{"), "{path} of {hook:?} keeps a placeholder");
            }
            let text = |name: &str| &files.iter().find(|(path, _)| *path == name).unwrap().1;
            assert!(text("src/lib.rs").contains(export), "{hook:?}");
            assert!(text("src/lib.rs").contains("const NAME: &'static str = \"my-check\""));
            assert!(text("Cargo.toml").contains("ccgate-plugin-sdk = \"0.1.2\""));
            let schema: serde_json::Value = serde_json::from_str(text("schema.json")).unwrap();
            let config: serde_json::Value = serde_json::from_str(template(hook).config_json).unwrap();
            let validator = jsonschema::validator_for(&schema).unwrap();
            assert!(validator.is_valid(&config), "{hook:?}: the README's example configuration fits the schema");
        }
    }

    #[test]
    fn the_published_version_is_the_sdks() {
        let manifest = include_str!("../../../../plugin-sdk/Cargo.toml");
        assert!(manifest.contains(&format!("version = \"{SDK_VERSION}\"")), "bump SDK_VERSION with the SDK");
    }

    #[test]
    fn refuses_a_directory_with_files_and_bad_names() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("keep.txt"), "mine").unwrap();
        let sdk = SdkSource::Version(SDK_VERSION);
        assert!(matches!(write("ok", Hook::Policy, dir.path(), &sdk), Err(ScaffoldError::NotEmpty(_))));
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);
        let fresh = dir.path().join("fresh");
        assert!(matches!(write("Bad", Hook::Policy, &fresh, &sdk), Err(ScaffoldError::Name(_))));
        assert!(!fresh.exists());
        assert!(matches!(SdkSource::choose(Some(dir.path().into())), Err(ScaffoldError::Sdk(_))));
    }
}
