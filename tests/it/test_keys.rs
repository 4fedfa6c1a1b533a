//! Test keys (`ccg_test_…`): their tasks run the real CLI in the real sandbox against
//! the gateway's built-in scripted model — nothing reaches the configured upstream,
//! nothing costs — and test and live keys never see each other's tasks.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use serde_json::json;

use crate::support::*;

/// A model upstream that counts the connections made to it and answers none.
async fn tripwire() -> (String, Arc<AtomicUsize>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let reached = Arc::new(AtomicUsize::new(0));
    let count = reached.clone();
    tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((stream, _)) = listener.accept().await {
            count.fetch_add(1, Ordering::SeqCst);
            held.push(stream);
        }
    });
    (url, reached)
}

#[tokio::test(flavor = "multi_thread")]
async fn test_keys_run_offline_for_free_and_apart_from_live_keys() {
    let model = Model::start().await;
    let (upstream, reached) = tripwire().await;
    let env = vec![("ANTHROPIC_BASE_URL".to_string(), upstream)];
    let gateway = Gateway::start(&model, GatewayOptions { env, ..Default::default() }).await;

    // From the command line and over HTTP.
    let made = gateway.create_key_json(&["--name", "ci", "--test"]);
    let test_key = made["secret"].as_str().unwrap().to_string();
    assert!(test_key.starts_with("ccg_test_") && made["environment"] == "test", "{made}");
    let (status, other) =
        gateway.post("/v1/keys", &gateway.admin_key, &json!({"name": "ci-2", "environment": "test"})).await;
    assert_eq!(status, 201, "{other}");
    assert!(other["secret"].as_str().unwrap().starts_with("ccg_test_") && other["environment"] == "test", "{other}");
    let (status, problem) =
        gateway.post("/v1/keys", &gateway.admin_key, &json!({"name": "x", "environment": "prod"})).await;
    assert_eq!((status, problem["errors"][0]["pointer"].as_str()), (422, Some("/environment")), "{problem}");
    let live_key = gateway.create_key(&["--name", "live"]);

    // A script drives the run as ever: a real Bash call in the real workspace.
    let scripted_task =
        gateway.submit(&test_key, task_body(vec![bash("echo hello > hello.txt"), say("Wrote it")])).await;
    assert_eq!(scripted_task["environment"], "test");
    let id = scripted_task["id"].as_str().unwrap();
    let done = gateway.wait_done(&test_key, id).await;
    assert_eq!(
        (done["status"].as_str(), done["result"]["text"].as_str()),
        (Some("completed"), Some("Wrote it")),
        "{done}"
    );
    assert_eq!(done["result"]["cost_usd"], 0.0, "{done}");
    let response = gateway.request(reqwest::Method::GET, &format!("/v1/tasks/{id}/files/hello.txt"), &test_key);
    assert_eq!(response.send().await.unwrap().text().await.unwrap(), "hello\n");
    // Without a script, a fixed answer.
    let plain = gateway.submit(&test_key, json!({"prompt": "Say hi"})).await;
    let plain = gateway.wait_done(&test_key, plain["id"].as_str().unwrap()).await;
    assert_eq!(plain["result"]["text"], "ok: Say hi", "{plain}");
    assert_eq!(reached.load(Ordering::SeqCst), 0, "a test run reached the configured upstream");
    let (_, key) = gateway.get(&format!("/v1/keys/{}", made["id"].as_str().unwrap()), &gateway.admin_key).await;
    assert_eq!((key["environment"].as_str(), key["spend"]["today"]["cost_usd"].as_f64()), (Some("test"), Some(0.0)));

    // Live and test keys never see each other's tasks.
    for path in ["", "/events", "/files", "/files/hello.txt", "/artifacts", "/approvals", "/archive"] {
        let (status, _) = gateway.get(&format!("/v1/tasks/{id}{path}"), &live_key).await;
        assert_eq!(status, 404, "GET /v1/tasks/{{id}}{path} of a test task with a live key");
    }
    let (status, _) = gateway.post(&format!("/v1/tasks/{id}/cancel"), &live_key, &json!({})).await;
    assert_eq!(status, 404);
    let live_task = gateway.submit(&live_key, json!({"prompt": "hello"})).await;
    assert_eq!(live_task["environment"], "live");
    let live_id = live_task["id"].as_str().unwrap();
    let (status, _) = gateway.get(&format!("/v1/tasks/{live_id}"), &test_key).await;
    assert_eq!(status, 404);
    let (_, listed) = gateway.get("/v1/tasks", &live_key).await;
    assert_eq!(listed["data"].as_array().unwrap().len(), 1, "{listed}");
    let (_, listed) = gateway.get("/v1/tasks", &test_key).await;
    assert!(listed["data"].as_array().unwrap().iter().all(|t| t["environment"] == "test"), "{listed}");
    gateway.post(&format!("/v1/tasks/{live_id}/cancel"), &live_key, &json!({})).await;
}
