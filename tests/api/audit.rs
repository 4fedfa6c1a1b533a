//! The audit log: state changes are recorded with who, what and how it ended,
//! readable by admins with filters and a cursor; refused requests too. (The entries
//! of a run, `run.start` and `run.finish`, are in `tests/it/audit.rs`.)

use serde_json::{Value, json};

use crate::support::*;

#[tokio::test]
async fn changes_are_audited_and_only_admins_read_them() {
    let gateway = TestGateway::start().await;
    let key = gateway.key(KeyOptions::named("dev")).await;
    let (status, task) = gateway.post("/v1/tasks", &key, &json!({"prompt": "audited"})).await;
    assert_eq!(status, 202, "{task}");
    let id = task["id"].as_str().unwrap();
    let (status, _) = gateway.get("/v1/audit", &key).await;
    assert_eq!(status, 403);

    let (status, log) = gateway.get(&format!("/v1/audit?target={id}"), &gateway.admin_key).await;
    assert_eq!(status, 200, "{log}");
    let actions: Vec<&str> = log["data"].as_array().unwrap().iter().map(|e| e["action"].as_str().unwrap()).collect();
    assert_eq!(actions, ["task.create"]);
    let create = &log["data"][0];
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

    // Denied requests are audited too (written off the request path: poll briefly).
    let (status, _) = gateway.get("/v1/tasks", "ccg_live_0123456789abcdef0123456789abcdef0123456789abcdef").await;
    assert_eq!(status, 401);
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
    let denied = loop {
        let denied: Value = gateway.get("/v1/audit?action=request.denied", &gateway.admin_key).await.1;
        if denied["data"].as_array().unwrap().len() >= 2 || std::time::Instant::now() > deadline {
            break denied;
        }
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    };
    let statuses: Vec<u64> =
        denied["data"].as_array().unwrap().iter().map(|e| e["details"]["status"].as_u64().unwrap()).collect();
    assert!(statuses.contains(&401) && statuses.contains(&403), "{denied}");
    assert!(denied["data"].as_array().unwrap().iter().all(|e| e["outcome"] == "denied"));
}
