//! The audit log: every state change and run is recorded with who, what and how
//! it ended, readable by admins with filters and a cursor.

use serde_json::json;

use crate::support::*;

#[tokio::test(flavor = "multi_thread")]
async fn changes_and_runs_are_audited_and_only_admins_read_them() {
    let model = Model::start().await;
    let gateway = Gateway::start(&model, GatewayOptions::default()).await;
    let key = gateway.create_key(&["--name", "dev"]);
    let task = gateway.submit(&key, json!({"prompt": scripted(vec![say("audited")])})).await;
    let id = task["id"].as_str().unwrap();
    gateway.wait_done(&key, id).await;
    let (status, _) = gateway.get("/v1/audit", &key).await;
    assert_eq!(status, 403);

    let (status, log) = gateway.get(&format!("/v1/audit?target={id}"), &gateway.admin_key).await;
    assert_eq!(status, 200, "{log}");
    let actions: Vec<&str> = log["data"].as_array().unwrap().iter().map(|e| e["action"].as_str().unwrap()).collect();
    assert_eq!(actions, ["run.finish", "run.start", "task.create"], "newest first");
    let create = &log["data"][2];
    assert!(create["key_id"].as_str().unwrap().starts_with("key_"));
    assert_eq!(create["outcome"], "ok");
    assert!(create["request_id"].as_str().is_some_and(|r| !r.is_empty()));
    assert_eq!(create["client_addr"], "127.0.0.1");
    assert!(!log.to_string().contains("ccg_live_"), "no secret in the audit log");

    // Paging with the cursor walks the whole log without repeats.
    let (_, first) = gateway.get("/v1/audit?limit=2", &gateway.admin_key).await;
    let cursor = first["next_cursor"].as_str().unwrap();
    let (_, second) = gateway.get(&format!("/v1/audit?limit=2&cursor={cursor}"), &gateway.admin_key).await;
    assert_ne!(first["data"][0]["id"], second["data"][0]["id"]);
    let (_, keys) = gateway.get("/v1/audit?action=key.create", &gateway.admin_key).await;
    assert!(keys["data"].as_array().unwrap().len() >= 2);
    let (status, bad) = gateway.get("/v1/audit?limit=500&when=now", &gateway.admin_key).await;
    assert_eq!(status, 422);
    assert_eq!(bad["errors"].as_array().unwrap().len(), 2);
}
