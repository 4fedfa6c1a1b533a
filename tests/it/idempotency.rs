//! `Idempotency-Key` with runs: duplicates run once, and `execute` replays the
//! finished task. (Races, other bodies and other clients: `tests/api/idempotency.rs`.)

use serde_json::json;

use crate::support::*;

#[tokio::test(flavor = "multi_thread")]
async fn duplicates_run_once_and_execute_replays_the_finished_task() {
    let model = Model::start().await;
    let gateway = Gateway::start(&model, GatewayOptions::default()).await;
    let key = gateway.create_key(&["--name", "dev"]);
    let body = json!({"prompt": scripted(vec![say("once")])});
    let first = post_idempotent(&gateway, "/v1/tasks", &key, "order-77", &body).await;
    assert_eq!(first.status(), 202);
    let id = first.json::<serde_json::Value>().await.unwrap()["id"].as_str().unwrap().to_string();
    let again = post_idempotent(&gateway, "/v1/tasks", &key, "order-77", &body).await;
    assert!(again.headers().get("idempotent-replayed").is_some());
    assert_eq!(again.json::<serde_json::Value>().await.unwrap()["id"], id.as_str());
    let done = gateway.wait_done(&key, &id).await;
    assert_eq!(done["attempts"], 1, "ran once");

    // execute with the same key and body answers with the same finished task, no second run.
    let sync = json!({"prompt": scripted(vec![say("sync")])});
    let first = post_idempotent(&gateway, "/v1/execute", &key, "sync-1", &sync).await;
    let first: serde_json::Value = first.json().await.unwrap();
    let again = post_idempotent(&gateway, "/v1/execute", &key, "sync-1", &sync).await;
    assert_eq!(again.status(), 200);
    let again: serde_json::Value = again.json().await.unwrap();
    assert_eq!(again["id"], first["id"]);
    assert_eq!(again["attempts"], 1);
}

async fn post_idempotent(
    gateway: &Gateway,
    path: &str,
    key: &str,
    idempotency_key: &str,
    body: &serde_json::Value,
) -> reqwest::Response {
    gateway
        .request(reqwest::Method::POST, path, key)
        .header("Idempotency-Key", idempotency_key)
        .json(body)
        .send()
        .await
        .unwrap()
}
