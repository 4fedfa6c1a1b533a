//! Cancel while queued and while running, and timeouts: the task reports what
//! happened, keeps what the agent produced, and no process of the run survives.

use std::time::Duration;

use serde_json::json;

use crate::support::*;
use ccgate::scripted_model::{Block, Step};

/// A Bash step that leaves a `setsid` daemon behind, then waits.
/// Says `text`, and in the same message starts a Bash call that leaves a `setsid`
/// daemon and a background job behind, then waits.
fn daemon_then_wait(text: &str, marker: &str) -> Step {
    let command = format!(
        "setsid nohup sleep 300 {marker}-daemon >/dev/null 2>&1 & nohup sleep 301 {marker}-bg >/dev/null 2>&1 & echo started; sleep 120"
    );
    Step::blocks(vec![Block::text(text), Block::tool("Bash", json!({"command": command}))])
}

#[tokio::test(flavor = "multi_thread")]
async fn cancel_while_running_kills_every_process_and_keeps_partial_output() {
    let model = Model::start().await;
    let gateway = Gateway::start(&model, GatewayOptions::default()).await;
    let key = gateway.create_key(&["--name", "dev"]);
    let marker = format!("ccgate-cancel-{}", std::process::id());
    let task = gateway.submit(&key, json!({"prompt": scripted(vec![daemon_then_wait("starting", &marker)])})).await;
    let id = task["id"].as_str().unwrap();
    wait_until(|| !processes_with(&format!("{marker}-daemon")).is_empty(), "the daemon to start").await;

    let (status, cancelled) = gateway.post(&format!("/v1/tasks/{id}/cancel"), &key, &json!({})).await;
    assert_eq!(status, 200);
    assert_eq!(cancelled["status"], "cancelled", "{cancelled}");
    assert_eq!(cancelled["error"]["kind"], "cancelled");
    assert_eq!(cancelled["result"]["partial"], true);
    wait_until(|| processes_with(&marker).is_empty(), "every process of the run to be gone").await;

    // Cancel is idempotent; a finished task comes back unchanged.
    let (status, again) = gateway.post(&format!("/v1/tasks/{id}/cancel"), &key, &json!({})).await;
    assert_eq!(status, 200);
    assert_eq!(again["finished_at"], cancelled["finished_at"]);
}

#[tokio::test(flavor = "multi_thread")]
async fn cancel_while_queued_never_runs() {
    let model = Model::start().await;
    let gateway = Gateway::start(&model, GatewayOptions { workers: 1, ..Default::default() }).await;
    let key = gateway.create_key(&["--name", "dev"]);
    // The one worker is held by a blocker until the test releases it.
    let blocker = gateway.submit(&key, json!({"prompt": scripted(vec![bash(UNTIL_RELEASED), say("done")])})).await;
    let blocker_id = blocker["id"].as_str().unwrap();
    gateway.wait_for(&key, blocker_id, &["running"], Duration::from_secs(60)).await;
    let queued = gateway.submit(&key, json!({"prompt": scripted(vec![bash("touch ran.txt"), say("x")])})).await;
    let id = queued["id"].as_str().unwrap();
    assert_eq!(queued["status"], "queued", "{queued}");
    let (status, cancelled) = gateway.post(&format!("/v1/tasks/{id}/cancel"), &key, &json!({})).await;
    assert_eq!(status, 200);
    assert_eq!(cancelled["status"], "cancelled");
    assert_eq!(cancelled["started_at"], serde_json::Value::Null);
    // One worker takes tasks in order: once a task submitted after the cancelled one
    // has finished, the worker has gone past it.
    let later = gateway.submit(&key, json!({"prompt": scripted(vec![say("later")])})).await;
    gateway.release(blocker_id).await;
    gateway.wait_done(&key, blocker_id).await;
    let later = gateway.wait_done(&key, later["id"].as_str().unwrap()).await;
    assert_eq!(later["status"], "completed", "{later}");
    let (_, after) = gateway.get(&format!("/v1/tasks/{id}"), &key).await;
    assert_eq!(after["status"], "cancelled");
    assert!(!gateway.data.path().join("tasks").join(id).join("workspace/ran.txt").exists());
}

#[tokio::test(flavor = "multi_thread")]
async fn a_run_past_its_timeout_fails_with_kind_timeout_and_leaves_nothing_running() {
    let model = Model::start().await;
    let gateway = Gateway::start(&model, GatewayOptions::default()).await;
    let key = gateway.create_key(&["--name", "dev"]);
    let marker = format!("ccgate-timeout-{}", std::process::id());
    // The timeout leaves a slow-starting CLI on a busy machine time to say its first words.
    let body = json!({"prompt": scripted(vec![daemon_then_wait("working on it", &marker), say("too late").delay_ms(60_000)]), "options": {"timeout_seconds": 15}});
    let task = gateway.submit(&key, body).await;
    let done = gateway.wait_done(&key, task["id"].as_str().unwrap()).await;
    assert_eq!(done["status"], "failed", "{done}");
    assert_eq!(done["error"]["kind"], "timeout");
    assert_eq!(done["result"]["partial"], true);
    assert_eq!(done["result"]["text"], "working on it");
    wait_until(|| processes_with(&marker).is_empty(), "every process of the run to be gone").await;
}

pub async fn wait_until(mut check: impl FnMut() -> bool, what: &str) {
    let started = std::time::Instant::now();
    while !check() {
        assert!(started.elapsed() < Duration::from_secs(60), "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}
