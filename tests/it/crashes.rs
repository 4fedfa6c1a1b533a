//! A Claude Code process that crashes mid-stream, prints garbage or nothing: cases
//! the real CLI cannot produce on demand, so a tiny stand-in script plays them.

use std::os::unix::fs::PermissionsExt;

use serde_json::json;

use crate::support::*;

fn stand_in(dir: &std::path::Path, body: &str) -> std::path::PathBuf {
    let path = dir.join("fake-claude");
    std::fs::write(&path, format!("#!/bin/sh\n{body}\n")).unwrap();
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
    path
}

#[tokio::test(flavor = "multi_thread")]
async fn a_crash_mid_stream_fails_as_agent_crashed_with_stderr_and_garbage_is_kept_as_log() {
    let dir = tempfile::tempdir().unwrap();
    let script = r#"read line
if [ "$1" = "--version" ]; then echo "2.1.197 (Claude Code)"; exit 0; fi
echo '{"type":"system","subtype":"init","session_id":"s-1","claude_code_version":"0"}'
echo 'this is not json'
echo '{"type":"assistant","message":{"id":"m1","content":[{"type":"text","text":"halfway"}]},"session_id":"s-1"}'
echo 'fatal: out of cheese' >&2
exit 3"#;
    let model = Model::start().await;
    let options = GatewayOptions { claude_bin: Some(stand_in(dir.path(), script)), ..Default::default() };
    let gateway = Gateway::start(&model, options).await;
    let key = gateway.create_key(&["--name", "dev"]);
    let task = gateway.submit(&key, json!({"prompt": "anything"})).await;
    let id = task["id"].as_str().unwrap();
    let done = gateway.wait_done(&key, id).await;
    assert_eq!(done["status"], "failed");
    assert_eq!(done["error"]["kind"], "agent_crashed");
    assert_eq!(done["error"]["details"]["exit_code"], 3);
    assert!(done["error"]["details"]["stderr_tail"].to_string().contains("out of cheese"));
    assert_eq!(done["result"]["partial"], true);
    assert_eq!(done["result"]["text"], "halfway");
    assert_eq!(done["result"]["session_id"], "s-1");
    let events = gateway.events(&key, id, None).await;
    assert!(events.iter().any(|(_, t, d)| t == "log" && d["line"] == "this is not json"));
    assert!(events.iter().any(|(_, t, d)| t == "log" && d["stream"] == "stderr"));
}

#[tokio::test(flavor = "multi_thread")]
async fn an_empty_stdout_is_a_failure_not_a_success_after_its_retries() {
    let dir = tempfile::tempdir().unwrap();
    let model = Model::start().await;
    let config = dir.path().join("ccgate.toml");
    std::fs::write(&config, "[queue]\nmax_attempts = 3\nretry_backoff_seconds = [1]\n").unwrap();
    let options = GatewayOptions {
        claude_bin: Some(stand_in(dir.path(), "exit 0")),
        env: vec![("CCGATE_CONFIG".into(), config.display().to_string())],
        ..Default::default()
    };
    let gateway = Gateway::start(&model, options).await;
    let key = gateway.create_key(&["--name", "dev"]);
    let task = gateway.submit(&key, json!({"prompt": "anything"})).await;
    let done = gateway.wait_done(&key, task["id"].as_str().unwrap()).await;
    assert_eq!(done["status"], "failed");
    assert_eq!(done["error"]["kind"], "agent_crashed");
    assert!(done["error"]["message"].as_str().unwrap().contains("without any output"));
    // Dying before `system/init` is transient: the turn was tried three times.
    assert_eq!(done["attempts"], 3, "{done}");
    assert!(done["error"]["details"]["transient"].as_str().unwrap().contains("before it started"), "{done}");
}

#[tokio::test(flavor = "multi_thread")]
async fn the_run_sees_a_clean_environment_and_no_prompt_in_argv() {
    let dir = tempfile::tempdir().unwrap();
    // Written into the workspace: the only place a sandboxed run can write that the
    // test can read.
    let script = r#"if [ "$1" = "--version" ]; then echo "2.1.197 (Claude Code)"; exit 0; fi
env > seen.env; echo "$@" > seen.args; head -n 1 > seen.stdin
echo '{"type":"system","subtype":"init","session_id":"s"}'
echo '{"type":"result","subtype":"success","is_error":false,"result":"ok","session_id":"s","num_turns":1}'"#;
    let model = Model::start().await;
    let options = GatewayOptions { claude_bin: Some(stand_in(dir.path(), script)), ..Default::default() };
    let gateway = Gateway::start(&model, options).await;
    let key = gateway.create_key(&["--name", "dev"]);
    let task = gateway
        .submit(&key, json!({"prompt": "secret prompt text", "options": {"model": "claude-x", "max_turns": 4}}))
        .await;
    let done = gateway.wait_done(&key, task["id"].as_str().unwrap()).await;
    assert_eq!(done["status"], "completed", "{done}");
    let out = gateway.data.path().join(format!("tasks/{}/workspace/seen", task["id"].as_str().unwrap()));
    let env = std::fs::read_to_string(format!("{}.env", out.display())).unwrap();
    // Sandboxed: the run holds its own model-proxy token, never the gateway's key.
    assert!(env.contains("ANTHROPIC_API_KEY=ccgate-run-"), "{env}");
    assert!(!env.contains(MODEL_KEY), "the real key leaked:\n{env}");
    assert!(env.contains("CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC=1"));
    assert!(!env.contains("canary-must-not-leak"), "gateway environment leaked:\n{env}");
    let run_id = |l: &str| l.starts_with("CCGATE_RUN=tsk_") || l.starts_with("CCGATE_RUN=run_");
    let settings = env.lines().filter(|l| l.starts_with("CCGATE_") && !run_id(l));
    assert_eq!(settings.count(), 0, "gateway settings leaked (only the run's own id may be there):\n{env}");
    assert!(env.contains("CLAUDE_CONFIG_DIR="));
    let args = std::fs::read_to_string(format!("{}.args", out.display())).unwrap();
    assert!(
        args.contains("--input-format stream-json")
            && args.contains("--model claude-x")
            && args.contains("--max-turns 4")
    );
    assert!(!args.contains("secret prompt text"));
    let stdin = std::fs::read_to_string(format!("{}.stdin", out.display())).unwrap();
    assert!(stdin.contains("secret prompt text"));
}

/// The real CLI exits once its stdin closes after the result; this one ignores
/// that and keeps running, as a hung CLI would.
#[tokio::test(flavor = "multi_thread")]
async fn a_process_that_lingers_after_its_result_is_stopped_and_the_result_kept() {
    let dir = tempfile::tempdir().unwrap();
    let marker = format!("ccgate-linger-{}", std::process::id());
    let script = format!(
        r#"if [ "$1" = "--version" ]; then echo "2.1.197 (Claude Code)"; exit 0; fi
read line
echo '{{"type":"system","subtype":"init","session_id":"s-2","claude_code_version":"0"}}'
echo '{{"type":"result","subtype":"success","is_error":false,"result":"all done","session_id":"s-2","num_turns":1}}'
exec sh -c 'sleep 300; :' {marker}"#
    );
    let model = Model::start().await;
    let config = dir.path().join("ccgate.toml");
    std::fs::write(&config, "[claude]\nlinger_seconds = 1\nkill_grace_seconds = 1\n").unwrap();
    let options = GatewayOptions {
        claude_bin: Some(stand_in(dir.path(), &script)),
        env: vec![("CCGATE_CONFIG".into(), config.display().to_string())],
        ..Default::default()
    };
    let gateway = Gateway::start(&model, options).await;
    let key = gateway.create_key(&["--name", "dev"]);
    let task = gateway.submit(&key, json!({"prompt": "anything"})).await;
    let id = task["id"].as_str().unwrap();
    let done = gateway.wait_done(&key, id).await;
    assert_eq!(done["status"], "completed", "{done}");
    assert_eq!(done["result"]["text"], "all done");
    let events = gateway.events(&key, id, None).await;
    assert!(
        events.iter().any(|(_, _, d)| d["line"].as_str().is_some_and(|l| l.contains("stayed alive after its result"))),
        "the linger is noted"
    );
    crate::cancel_and_timeout::wait_until(|| processes_with(&marker).is_empty(), "the lingering process to be gone")
        .await;
}
