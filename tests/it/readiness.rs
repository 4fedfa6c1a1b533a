//! `/readyz` on a real gateway names the Claude Code it found. (The API's errors,
//! which need no run, are tested in process: `tests/api/errors.rs`.)

use crate::support::*;

#[tokio::test(flavor = "multi_thread")]
async fn readyz_names_the_claude_code_it_found() {
    let model = Model::start().await;
    let gateway = Gateway::start(&model, GatewayOptions::default()).await;
    let (status, ready) = gateway.get("/readyz", "").await;
    assert_eq!(status, 200, "{ready}");
    let found = ready["checks"]["claude"]["version"].as_str().unwrap_or_default().to_string();
    let home = tempfile::tempdir().unwrap();
    let output = std::process::Command::new(claude_bin())
        .arg("--version")
        .env_clear()
        .env("HOME", home.path())
        .env("DISABLE_AUTOUPDATER", "1")
        .output()
        .unwrap();
    let version = String::from_utf8_lossy(&output.stdout);
    assert_eq!(Some(found.as_str()), version.split_whitespace().next(), "{ready}");
    if std::env::var_os("CCGATE_TEST_CLAUDE_BIN").is_none() {
        assert_eq!(found, pinned_claude_code(), "the suite runs the version scripts/setup.sh pins");
    }
}

/// The Claude Code version `scripts/setup.sh` installs.
fn pinned_claude_code() -> String {
    let setup = std::fs::read_to_string(repo_root().join("scripts/setup.sh")).unwrap();
    let line =
        setup.lines().find_map(|l| l.strip_prefix("CLAUDE_CODE_PINNED=")).expect("CLAUDE_CODE_PINNED in setup.sh");
    line.trim().to_string()
}
