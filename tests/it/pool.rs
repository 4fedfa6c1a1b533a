//! The warm pool with the real CLI: a first turn takes a process started before
//! the task, with the task's input files in its workspace, metered for the task's
//! key; a follow-up resumes that session in a process of its own; the next task gets
//! a fresh process and nothing of the last; processes that wait too long, or whose
//! CLI binary changed, are replaced.

use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::support::{Gateway, GatewayOptions, Model, bash, say, scripted};

const WARM_NOTICE: &str = "the run took a warm Claude Code process";

fn pooled(size: usize, extra: &[(&str, &str)]) -> GatewayOptions {
    let mut env = vec![("CCGATE_POOL_SIZE".to_string(), size.to_string())];
    env.extend(extra.iter().map(|(k, v)| (k.to_string(), v.to_string())));
    GatewayOptions { workers: 1, env, ..GatewayOptions::default() }
}

/// The directories of the gateway's warm processes (`pool/<gateway process>/<id>`).
fn warm_dirs(gateway: &Gateway) -> Vec<std::path::PathBuf> {
    let pools = std::fs::read_dir(gateway.data.path().join("pool")).into_iter().flatten().flatten();
    pools
        .flat_map(|pool| std::fs::read_dir(pool.path()).into_iter().flatten().flatten().map(|warm| warm.path()))
        .collect()
}

/// Waits until a warm process is ready to take (its CLI started and warmed up).
async fn wait_warm(gateway: &Gateway) {
    gateway.wait_metric("ccgate_pool_ready", 1.0).await;
}

async fn took_warm(gateway: &Gateway, key: &str, id: &str) -> bool {
    let events = gateway.events(key, id, None).await;
    events.iter().any(|(_, kind, data)| kind == "log" && data["line"].as_str().is_some_and(|l| l.contains(WARM_NOTICE)))
}

/// The text a task's Bash steps printed.
async fn bash_output(gateway: &Gateway, key: &str, id: &str) -> String {
    let events = gateway.events(key, id, None).await;
    events.iter().filter(|(_, kind, _)| kind == "tool_result").map(|(_, _, data)| data.to_string()).collect()
}

const HIT: &str = r#"ccgate_pool_takes_total{outcome="hit",reason=""}"#;

#[tokio::test]
async fn a_first_turn_takes_a_warm_process_with_its_files_and_its_keys_meter() {
    let model = Model::start().await;
    let gateway = Gateway::start(&model, pooled(1, &[])).await;
    let created = gateway.create_key_json(&["--name", "warm", "--token-budget-per-day", "100000000"]);
    let (key, key_id) = (created["secret"].as_str().unwrap().to_string(), created["id"].as_str().unwrap().to_string());
    wait_warm(&gateway).await;

    let script = scripted(vec![bash("cat input/data.txt && echo made > out.txt && pwd"), say("done")]);
    let body = json!({"prompt": script, "files": [{"path": "input/data.txt", "content": "from the client\n"}]});
    let task = gateway.submit(&key, body).await;
    let id = task["id"].as_str().unwrap().to_string();
    let done = gateway.wait_done(&key, &id).await;
    assert_eq!(done["status"], "completed", "{done}");
    assert!(took_warm(&gateway, &key, &id).await, "the first turn took the warm process");
    let output = bash_output(&gateway, &key, &id).await;
    assert!(output.contains("from the client"), "the input file was in the warm workspace: {output}");
    let (status, file) = gateway.get(&format!("/v1/tasks/{id}/files"), &key).await;
    assert_eq!(status, 200);
    assert!(file["data"].as_array().unwrap().iter().any(|f| f["path"] == "out.txt"), "{file}");
    // Metered for the task's key: its spend holds the run, and nothing stays held.
    let (_, shown) = gateway.get(&format!("/v1/keys/{key_id}"), &gateway.admin_key).await;
    let today = &shown["spend"]["today"];
    assert_eq!(today["runs"], 1, "{shown}");
    assert!(today["input_tokens"].as_i64().unwrap() > 0, "{shown}");
    assert_eq!(gateway.metric(HIT).await, 1.0);

    // The follow-up resumes the session, cold: a warm process knows no session.
    let follow = json!({"prompt": scripted(vec![bash("cat out.txt"), say("again")])});
    let (status, _) = gateway.post(&format!("/v1/tasks/{id}/messages"), &key, &follow).await;
    assert_eq!(status, 202);
    let again = gateway.wait_for(&key, &id, &["completed", "failed"], Duration::from_secs(120)).await;
    assert_eq!(again["status"], "completed", "{again}");
    assert_eq!(again["result"]["session_id"], done["result"]["session_id"], "the same session");
    assert!(bash_output(&gateway, &key, &id).await.contains("made"));
    assert_eq!(gateway.metric(r#"ccgate_pool_takes_total{outcome="miss",reason="resumes"}"#).await, 1.0);

    // The next task takes a fresh process: nothing of the last task is there.
    wait_warm(&gateway).await;
    let script = scripted(vec![bash("ls -A; test ! -e out.txt && test ! -e input && echo clean"), say("done")]);
    let second = gateway.submit(&key, json!({"prompt": script})).await;
    let second_id = second["id"].as_str().unwrap().to_string();
    assert_eq!(gateway.wait_done(&key, &second_id).await["status"], "completed");
    let pool_metrics = gateway.http.get(format!("{}/metrics", gateway.url)).send().await.unwrap().text().await.unwrap();
    let pool_metrics: Vec<&str> = pool_metrics.lines().filter(|l| l.contains("pool")).collect();
    assert!(took_warm(&gateway, &key, &second_id).await, "{pool_metrics:?}");
    assert!(bash_output(&gateway, &key, &second_id).await.contains("clean"));
    assert_eq!(gateway.metric(HIT).await, 2.0);

    // Other start-up options start cold.
    let other = json!({"prompt": scripted(vec![say("cold")]), "options": {"max_turns": 3}});
    let other = gateway.submit(&key, other).await;
    let other_id = other["id"].as_str().unwrap().to_string();
    assert_eq!(gateway.wait_done(&key, &other_id).await["status"], "completed");
    assert!(!took_warm(&gateway, &key, &other_id).await);
    assert_eq!(gateway.metric(r#"ccgate_pool_takes_total{outcome="miss",reason="options"}"#).await, 1.0);

    // Files that are a git repository start cold: the CLI reads the status as it starts.
    wait_warm(&gateway).await;
    let files = json!([{"path": ".git/HEAD", "content": "ref: refs/heads/main\n"}]);
    let repo = gateway.submit(&key, json!({"prompt": scripted(vec![say("repo")]), "files": files})).await;
    let repo_id = repo["id"].as_str().unwrap().to_string();
    assert_eq!(gateway.wait_done(&key, &repo_id).await["status"], "completed");
    assert!(!took_warm(&gateway, &key, &repo_id).await);
    assert_eq!(gateway.metric(r#"ccgate_pool_takes_total{outcome="miss",reason="git_repository"}"#).await, 1.0);
}

#[tokio::test]
async fn warm_processes_that_wait_too_long_or_whose_cli_changed_are_replaced() {
    let model = Model::start().await;
    // A CLI of the test's own, so that it can change under the gateway.
    let bin = tempfile::tempdir().unwrap();
    let claude = bin.path().join("claude");
    std::fs::copy(crate::support::claude_bin(), &claude).unwrap();
    let config = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(config.path(), "[pool]\nidle_seconds = 1\n").unwrap();
    let mut options = pooled(1, &[("CCGATE_CONFIG", &config.path().display().to_string())]);
    options.claude_bin = Some(claude.clone());
    let gateway = Gateway::start(&model, options).await;
    let key = gateway.create_key(&["--name", "stale"]);
    // Idle for more than a second: stopped and replaced at the next look.
    gateway.wait_metric(r#"ccgate_pool_discarded_total{reason="idle"}"#, 1.0).await;
    assert!(gateway.metric("ccgate_pool_started_total").await >= 2.0);
    let started = Instant::now();
    while warm_dirs(&gateway).len() > 1 {
        assert!(started.elapsed() < Duration::from_secs(30), "a stopped process's directory stays");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }

    // A new CLI binary in place: the process started from the old one is not used.
    std::fs::remove_file(&claude).unwrap();
    std::fs::copy(crate::support::claude_bin(), &claude).unwrap();
    let task = gateway.submit(&key, json!({"prompt": scripted(vec![say("fresh")])})).await;
    let id = task["id"].as_str().unwrap().to_string();
    let done = gateway.wait_done(&key, &id).await;
    assert_eq!(done["status"], "completed", "{done}");
    let discarded = gateway.metric(r#"ccgate_pool_discarded_total{reason="binary_changed"}"#).await;
    let took = took_warm(&gateway, &key, &id).await;
    // Between the copy and the task the pool may already have replaced it itself.
    assert!(discarded >= 1.0 || took, "the old process was neither replaced nor skipped");
}

/// A warm process calls the model for nobody: its token is refused until a task
/// takes it; a gateway that stops stops it.
#[tokio::test]
async fn a_warm_process_is_refused_the_model_until_a_task_takes_it() {
    let model = Model::start().await;
    let gateway = Gateway::start(&model, pooled(1, &[])).await;
    wait_warm(&gateway).await;
    let warm = warm_dirs(&gateway).pop().expect("a warm process");
    // The process's environment names its token: read it from /proc.
    let run_id = warm.file_name().unwrap().to_string_lossy().to_string();
    let token = crate::support::processes_with(&run_id)
        .into_iter()
        .find_map(|pid| {
            let environ = std::fs::read(format!("/proc/{pid}/environ")).ok()?;
            environ.split(|b| *b == 0).find_map(|entry| {
                let entry = String::from_utf8_lossy(entry);
                entry.strip_prefix("ANTHROPIC_API_KEY=").map(String::from)
            })
        })
        .expect("the warm process's token");
    let socket = gateway.data.path().join("run/sockets/model.sock");
    let answer = std::process::Command::new("curl")
        .args(["-s", "--unix-socket", &socket.display().to_string(), "-H", &format!("x-api-key: {token}")])
        .args(["-H", "content-type: application/json", "-d", r#"{"model":"m","max_tokens":5,"messages":[]}"#])
        .arg("http://proxy/v1/messages")
        .output()
        .unwrap();
    let answer: Value = serde_json::from_slice(&answer.stdout).unwrap_or(Value::Null);
    assert_eq!(answer["error"]["type"], "permission_error", "{answer}");
    assert!(answer["error"]["message"].as_str().unwrap().contains("no task yet"), "{answer}");

    // A gateway that stops stops its warm processes and removes their directories.
    let mut gateway = gateway;
    assert!(gateway.stop().success());
    assert!(crate::support::processes_with(&run_id).is_empty(), "a warm process outlived its gateway");
    assert!(!warm.exists(), "{} stays", warm.display());
}
