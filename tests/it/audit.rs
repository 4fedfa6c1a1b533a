//! The audit log of a run: `run.start` and `run.finish` follow `task.create`. (The
//! rest of the audit log, which needs no run, is tested in process: `tests/api/audit.rs`.)

use serde_json::json;

use crate::support::*;

#[tokio::test(flavor = "multi_thread")]
async fn runs_are_audited() {
    let model = Model::start().await;
    let gateway = Gateway::start(&model, GatewayOptions::default()).await;
    let key = gateway.create_key(&["--name", "dev"]);
    let task = gateway.submit(&key, json!({"prompt": scripted(vec![say("audited")])})).await;
    let id = task["id"].as_str().unwrap();
    gateway.wait_done(&key, id).await;
    let (status, log) = gateway.get(&format!("/v1/audit?target={id}"), &gateway.admin_key).await;
    assert_eq!(status, 200, "{log}");
    let actions: Vec<&str> = log["data"].as_array().unwrap().iter().map(|e| e["action"].as_str().unwrap()).collect();
    assert_eq!(actions, ["run.finish", "run.start", "task.create"], "newest first");
    assert!(!log.to_string().contains("ccg_live_"), "no secret in the audit log");
}
