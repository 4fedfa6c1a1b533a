//! The OpenAPI document: a validator accepts it, and schemathesis, with every check
//! on against a live gateway, finds no 5xx, no answer the document does not allow and
//! no request it allows that the gateway refuses. (That the served document is the
//! committed one, and `/docs`: `tests/api/openapi.rs`.)

use std::process::Command;

use crate::support::*;

/// A Python tool installed by `scripts/setup.sh --test-tools`.
fn test_tool(name: &str) -> std::path::PathBuf {
    let path = repo_root().join(".tools/venv/bin").join(name);
    assert!(path.exists(), "{} is missing: run scripts/setup.sh --no-serve --no-build --test-tools", path.display());
    path
}

#[test]
fn the_committed_document_is_valid() {
    let validator = Command::new(test_tool("openapi-spec-validator")).arg(repo_root().join("openapi.json")).output();
    let validator = validator.expect("run openapi-spec-validator");
    let said = String::from_utf8_lossy(&validator.stdout).to_string() + &String::from_utf8_lossy(&validator.stderr);
    assert!(validator.status.success() && said.contains("OK"), "{said}");
}

/// Every check schemathesis has, as a key with scope `tasks` and one with scope
/// `admin` (it tries each operation with one, then the other), on a fixed seed.
/// Slow and busy: `scripts/test.sh` runs it alone, after the rest of the suite.
#[tokio::test(flavor = "multi_thread")]
#[ignore = "run alone: scripts/test.sh runs it with --ignored after the suite"]
async fn schemathesis_with_every_check_finds_nothing() {
    let schemathesis = test_tool("schemathesis");
    let model = Model::start().await;
    let config = tempfile::NamedTempFile::new().unwrap();
    // Generated tasks run for real; keep their waits short, and nothing leaves the machine.
    std::fs::write(
        config.path(),
        "[tasks]\ndefault_wait_seconds = 1\nmax_wait_seconds = 2\ndefault_timeout_seconds = 30\n[webhooks]\nenabled = false\n",
    )
    .unwrap();
    let env = vec![("CCGATE_CONFIG".to_string(), config.path().display().to_string())];
    let gateway = Gateway::start(&model, GatewayOptions { env, ..Default::default() }).await;
    let unlimited = ["--rate-limit", "1000000", "--max-concurrent", "1000000", "--max-queued", "1000000"];
    let key = |name: &str, scope: &str| {
        gateway.create_key_json(&[&["--name", name, "--scope", scope][..], &unlimited].concat())
    };
    let (tasks, admin) = (key("fuzz-tasks", "tasks"), key("fuzz-admin", "admin"));
    let [tasks_key, admin_key] = [&tasks, &admin].map(|k| k["secret"].as_str().unwrap().to_string());
    let key_ids = [&tasks, &admin].map(|k| k["id"].as_str().unwrap().to_string()).join(",");
    let with_webhook = serde_json::json!({"prompt": "x", "webhook": {"url": "https://example.com/hook"}});
    let (status, problem) = gateway.post("/v1/tasks", &tasks_key, &with_webhook).await;
    assert_eq!(status, 422, "{problem}");
    assert!(problem["errors"][0]["message"].as_str().unwrap().contains("webhooks are disabled"), "{problem}");
    let report = tempfile::tempdir().unwrap(); // reports, caches and the auth file
    let identity = |name: &str, key: &str| serde_json::json!({"name": name, "fixedHeaders": [{"name": "Authorization", "value": format!("Bearer {key}")}]});
    let auth = serde_json::json!({"auth": [identity("tasks", &tasks_key), identity("admin", &admin_key)]});
    let auth_file = report.path().join("auth.json");
    std::fs::write(&auth_file, auth.to_string()).unwrap();
    let run = tokio::process::Command::new(schemathesis)
        .args(["run", &format!("{}/openapi.json", gateway.url)])
        .arg("--auth-wfc")
        .arg(&auth_file)
        .args(["--checks", "all"])
        .env("SCHEMATHESIS_HOOKS", repo_root().join("tests/it/schemathesis_hooks.py"))
        .env("CCGATE_FUZZ_KEY_IDS", key_ids)
        // One worker: with two, hypothesis 6.x can trip over its own AST cache (a tool error, not a finding).
        .args(["--max-examples", "40", "--seed", "1", "--workers", "1"])
        .args(["--no-color", "--generation-database", "none", "--report-dir"])
        .arg(report.path())
        .current_dir(report.path()) // its caches stay out of the repository
        .kill_on_drop(true)
        .output()
        .await
        .expect("run schemathesis");
    let output = String::from_utf8_lossy(&run.stdout).to_string() + &String::from_utf8_lossy(&run.stderr);
    assert!(run.status.success(), "schemathesis found failures:\n{output}");
    assert!(output.contains("Test cases:") && output.contains("passed"), "{output}");
    assert!(!gateway.log().contains("internal error"), "the gateway logged an internal error");
}
