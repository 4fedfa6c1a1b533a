//! `ccgate plugins new`: every hook kind scaffolds a crate that compiles with its
//! tests; one is built to wasm32-wasip2, checked, called, and serves a gateway
//! under the name it declares. The two silent mistakes (no export macro, no
//! `cdylib`) fail the build with the fix.
//!
//! The crates build offline from the local registry cache into a target
//! directory shared by every run, so only the first run compiles the SDK's
//! dependencies.

use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::json;

use crate::plugins::{gateway_with, toml_path};
use crate::support::*;

const POLICY_CONFIG: &str = r#"{"forbidden_word": "password", "max_turns": 10}"#;

/// The target directory every scaffolded crate builds into.
fn shared_target() -> PathBuf {
    Path::new(env!("CARGO_TARGET_TMPDIR")).join("scaffolded-plugins")
}

/// Runs cargo in the crate at `dir`: (success, stderr).
fn cargo(dir: &Path, args: &[&str]) -> (bool, String) {
    let output = Command::new(std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into()))
        .args(args)
        .current_dir(dir)
        .env("CARGO_TARGET_DIR", shared_target())
        .env("CARGO_NET_OFFLINE", "true")
        .output()
        .expect("run cargo");
    (output.status.success(), String::from_utf8_lossy(&output.stderr).into_owned())
}

/// Scaffolds plugin `name` for `hook` into `parent/name`.
fn scaffold(parent: &Path, name: &str, hook: &str) -> PathBuf {
    let dir = parent.join(name);
    let sdk = Path::new(env!("CARGO_MANIFEST_DIR")).join("../plugin-sdk");
    let (ok, out, err) = ccgate(&[
        "plugins",
        "new",
        name,
        "--hook",
        hook,
        "--dir",
        dir.to_str().unwrap(),
        "--sdk",
        sdk.to_str().unwrap(),
    ]);
    assert!(ok && out.contains("src/lib.rs"), "{out}{err}");
    dir
}

#[tokio::test]
async fn scaffolded_plugins_build_load_and_answer() {
    let parent = tempfile::tempdir().unwrap();
    for hook in ["result", "artifacts", "webhook", "tool-approval"] {
        let dir = scaffold(parent.path(), &format!("scaffolded-{hook}"), hook);
        let (ok, err) = cargo(&dir, &["check", "--all-targets", "--quiet"]);
        assert!(ok, "{hook}: {err}");
    }
    let (ok, out, _) = ccgate(&["plugins", "new", "x", "--hook", "policy", "--dir", parent.path().to_str().unwrap()]);
    assert!(!ok && out.is_empty(), "a directory holding files is refused");

    let dir = scaffold(parent.path(), "scaffolded-policy", "policy");
    let (ok, err) = cargo(&dir, &["test", "--quiet"]);
    assert!(ok, "{err}");
    let (ok, err) = cargo(&dir, &["build", "--release", "--target", "wasm32-wasip2", "--quiet"]);
    assert!(ok, "{err}");
    let wasm = shared_target().join("wasm32-wasip2/release/scaffolded_policy.wasm");

    let (ok, out, err) = ccgate(&["plugins", "check", wasm.to_str().unwrap(), "--config", POLICY_CONFIG]);
    assert!(ok && out.contains("plugin:   scaffolded-policy 0.1.0"), "{out}{err}");
    let input = parent.path().join("request.json");
    std::fs::write(&input, json!({"prompt": "print the password"}).to_string()).unwrap();
    let call = |config: &str| {
        let args = ["plugins", "call", wasm.to_str().unwrap(), "--hook", "policy", "--input", input.to_str().unwrap()];
        let output = Command::new(env!("CARGO_BIN_EXE_ccgate")).args(args).args(["--config", config]).output().unwrap();
        (output.status.code(), String::from_utf8_lossy(&output.stdout).into_owned())
    };
    let (code, out) = call(POLICY_CONFIG);
    assert_eq!(code, Some(1), "denied: {out}");
    assert!(out.contains("plugin:   scaffolded-policy") && out.contains("must not mention"), "{out}");
    let (code, out) = call(r#"{"max_turns": 3}"#);
    assert_eq!(code, Some(0), "rewritten: {out}");
    assert!(out.contains("answer:   rewritten") && out.contains(r#""max_turns":3"#), "{out}");

    // The gateway calls it by its declared name when the chain entry sets none.
    let model = Model::start().await;
    let config = tempfile::NamedTempFile::new().unwrap();
    let chain = format!(
        "[[plugins.chain]]\npath = {}\n[plugins.chain.config]\nforbidden_word = \"password\"\n",
        toml_path(&wasm)
    );
    let gateway = gateway_with(&model, &config, &chain).await;
    let (_, plugins) = gateway.get("/v1/plugins", &gateway.admin_key).await;
    assert_eq!(plugins["data"][0]["name"], "scaffolded-policy", "{plugins}");
    let key = gateway.create_key(&["--name", "k"]);
    let (status, problem) = gateway.post("/v1/tasks", &key, &json!({"prompt": "say the password"})).await;
    assert_eq!(status, 422, "{problem}");
    assert!(problem.to_string().contains("scaffolded-policy"), "{problem}");
}

#[test]
fn forgetting_the_export_macro_or_cdylib_fails_the_build_with_the_fix() {
    let parent = tempfile::tempdir().unwrap();
    let no_macro = scaffold(parent.path(), "forgot-macro", "tool-approval");
    let lib = no_macro.join("src/lib.rs");
    let source = std::fs::read_to_string(&lib).unwrap();
    let without: String =
        source.lines().filter(|l| !l.contains("export_tool_approval!")).collect::<Vec<_>>().join("\n");
    assert_ne!(source.lines().count(), without.lines().count(), "the scaffold calls the macro");
    std::fs::write(&lib, without).unwrap();
    let (ok, err) = cargo(&no_macro, &["check", "--quiet"]);
    assert!(!ok && err.contains("never calls an export macro") && err.contains("export_policy!("), "{err}");

    let no_cdylib = scaffold(parent.path(), "forgot-cdylib", "tool-approval");
    let manifest = no_cdylib.join("Cargo.toml");
    let text = std::fs::read_to_string(&manifest).unwrap();
    std::fs::write(&manifest, text.replace(r#"crate-type = ["cdylib", "rlib"]"#, r#"crate-type = ["rlib"]"#)).unwrap();
    let (ok, err) = cargo(&no_cdylib, &["check", "--quiet"]);
    assert!(!ok && err.contains("does not build a `cdylib`") && err.contains("crate-type = [\"cdylib\""), "{err}");
}
