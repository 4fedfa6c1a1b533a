//! Crashes and restarts: nothing a client was told is stored is lost, and no task
//! is left `running` forever.

use std::time::Duration;

use serde_json::json;

use crate::support::*;

#[tokio::test(flavor = "multi_thread")]
async fn a_task_running_when_the_gateway_is_killed_is_recovered_after_restart() {
    let model = Model::start().await;
    let mut gateway = Gateway::start(&model, GatewayOptions::default()).await;
    let key = gateway.create_key(&["--name", "dev"]);
    let finished = gateway.submit(&key, json!({"prompt": scripted(vec![say("before the crash")])})).await;
    let finished_id = finished["id"].as_str().unwrap().to_string();
    gateway.wait_done(&key, &finished_id).await;
    let marker = format!("ccgate-crash-{}", std::process::id());
    let body = json!({"prompt": scripted(vec![bash(&format!("echo x >> attempts.txt; sleep 3 # {marker}")), say("survived")])});
    let task = gateway.submit(&key, body).await;
    let id = task["id"].as_str().unwrap().to_string();
    // Killed while the Bash step runs (its first line written), not before it began.
    let attempts = gateway.data.path().join(format!("tasks/{id}/workspace/attempts.txt"));
    crate::cancel_and_timeout::wait_until(|| attempts.exists(), "the run's Bash step").await;

    gateway.kill(); // kill -9: no graceful anything
    // The supervisor notices its parent died and takes the run's processes with it.
    crate::cancel_and_timeout::wait_until(|| processes_with(&marker).is_empty(), "the orphaned run to be killed").await;
    gateway.restart().await;

    let done = gateway.wait_done(&key, &id).await;
    assert_eq!(done["status"], "completed", "{done}\n{}", gateway.log());
    assert_eq!(done["attempts"], 2, "the lost run counts as an attempt");
    assert_eq!(done["result"]["text"], "survived");
    let events = gateway.events(&key, &id, None).await;
    assert!(events.iter().any(|(_, t, d)| t == "log" && d["line"].as_str().unwrap_or("").contains("was lost")));
    // Finished tasks are all still there.
    let (_, before) = gateway.get(&format!("/v1/tasks/{finished_id}"), &key).await;
    assert_eq!(before["status"], "completed");
    assert_eq!(before["result"]["text"], "before the crash");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_task_whose_runs_keep_being_lost_fails_as_agent_crashed() {
    let model = Model::start().await;
    let options = GatewayOptions { env: vec![("CCGATE_MAX_ATTEMPTS".into(), "1".into())], ..Default::default() };
    let mut gateway = Gateway::start(&model, options).await;
    let key = gateway.create_key(&["--name", "dev"]);
    let task = gateway.submit(&key, json!({"prompt": scripted(vec![bash("sleep 5"), say("never")])})).await;
    let id = task["id"].as_str().unwrap().to_string();
    gateway.wait_for(&key, &id, &["running"], Duration::from_secs(30)).await;
    gateway.kill();
    gateway.restart().await;
    let done = gateway.wait_done(&key, &id).await;
    assert_eq!(done["status"], "failed");
    assert_eq!(done["error"]["kind"], "agent_crashed");
    assert_eq!(done["result"]["partial"], true, "what the lost run did is kept as a partial result: {done}");
}

#[tokio::test(flavor = "multi_thread")]
async fn graceful_shutdown_requeues_running_tasks_without_burning_an_attempt() {
    let model = Model::start().await;
    let mut gateway = Gateway::start(&model, GatewayOptions::default()).await;
    let key = gateway.create_key(&["--name", "dev"]);
    // Each run of the step notes that it started, then waits for `release`, which the
    // test creates only once the run after the restart is under way.
    let step = format!("echo started >> starts.txt; {UNTIL_RELEASED}");
    let task = gateway.submit(&key, json!({"prompt": scripted(vec![bash(&step), say("after restart")])})).await;
    let id = task["id"].as_str().unwrap().to_string();
    let workspace = gateway.data.path().join(format!("tasks/{id}/workspace"));
    let starts = || std::fs::read_to_string(workspace.join("starts.txt")).unwrap_or_default().lines().count();
    crate::cancel_and_timeout::wait_until(|| starts() == 1, "the first run's Bash step").await;
    let status = gateway.stop(); // SIGTERM; the grace period (2 s in tests) is shorter than the run
    assert!(status.success(), "clean exit: {status:?}\n{}", gateway.log());
    assert!(gateway.log().contains("re-queued"), "{}", gateway.log());
    gateway.restart().await;
    crate::cancel_and_timeout::wait_until(|| starts() == 2, "the re-queued task to run again").await;
    let (_, rerunning) = gateway.get(&format!("/v1/tasks/{id}"), &key).await;
    assert_eq!(rerunning["status"], "running", "{rerunning}");
    gateway.release(&id).await;
    let done = gateway.wait_done(&key, &id).await;
    assert_eq!(done["status"], "completed", "{done}");
    assert_eq!(done["attempts"], 1, "shutdown did not burn an attempt");
}

/// A run lost for good keeps what it said as a partial result, and that result
/// goes through the key's result plugins as a finished run's does.
#[tokio::test(flavor = "multi_thread")]
async fn a_run_lost_for_good_keeps_what_it_said_through_the_result_plugins() {
    let model = Model::start().await;
    let config = tempfile::NamedTempFile::new().unwrap();
    let redact = crate::plugins::toml_path(&plugin_wasm("ccgate_plugin_redact_secrets"));
    let toml = format!("[queue]\nmax_attempts = 1\n\n[[plugins.chain]]\nname = \"redact\"\npath = {redact}\n");
    let mut gateway = crate::plugins::gateway_with(&model, &config, &toml).await;
    let key = gateway.create_key(&["--name", "dev"]);
    let secret = "AKIAIOSFODNN7EXAMPLE";
    let said = ccgate::scripted_model::Step::blocks(vec![
        ccgate::scripted_model::Block::text(format!("found the key {secret}; checking it")),
        ccgate::scripted_model::Block::tool("Bash", json!({"command": "echo busy > busy.txt && sleep 30"})),
    ]);
    let task = gateway.submit(&key, json!({"prompt": scripted(vec![said, say("never")])})).await;
    let id = task["id"].as_str().unwrap().to_string();
    // Streamed events are stored ones: once the message is seen, killing loses none of it.
    let mut live = LiveEvents::open(&gateway, &key, &id).await;
    live.until(|(_, kind, data)| kind == "assistant" && data["text"].as_str().is_some_and(|t| t.contains("found")))
        .await;
    let busy = gateway.data.path().join(format!("tasks/{id}/workspace/busy.txt"));
    crate::cancel_and_timeout::wait_until(|| busy.exists(), "the run's Bash step").await;
    drop(live);
    gateway.kill();
    gateway.restart().await;
    let done = gateway.wait_done(&key, &id).await;
    assert_eq!(
        (done["status"].as_str(), done["error"]["kind"].as_str()),
        (Some("failed"), Some("agent_crashed")),
        "{done}\n{}",
        gateway.log()
    );
    let text = done["result"]["text"].as_str().unwrap_or_default();
    assert!(done["result"]["partial"] == true && text.contains("found the key"), "{done}");
    assert!(
        !done["result"].to_string().contains(secret) && text.contains("[REDACTED"),
        "the plugin redacted it: {done}"
    );
}
