//! `Idempotency-Key`: the same key and body return the original task, even when
//! the duplicates race; another body is refused; keys of other clients are apart.

use serde_json::json;

use crate::support::*;

#[tokio::test(flavor = "multi_thread")]
async fn duplicates_racing_create_one_task_and_another_body_is_refused() {
    let model = Model::start().await;
    let gateway = Gateway::start(&model, GatewayOptions::default()).await;
    let key = gateway.create_key(&["--name", "dev"]);
    let other = gateway.create_key(&["--name", "other"]);
    let body = json!({"prompt": scripted(vec![say("once")]), "metadata": {"a": "1", "b": "2"}});

    let mut racing = Vec::new();
    for _ in 0..8 {
        let request =
            gateway.request(reqwest::Method::POST, "/v1/tasks", &key).header("Idempotency-Key", "order-77").json(&body);
        racing.push(tokio::spawn(request.send()));
    }
    let mut ids = Vec::new();
    let mut replays = 0;
    for handle in racing {
        let response = handle.await.unwrap().unwrap();
        assert_eq!(response.status(), 202);
        replays += usize::from(response.headers().get("idempotent-replayed").is_some());
        ids.push(response.json::<serde_json::Value>().await.unwrap()["id"].as_str().unwrap().to_string());
    }
    ids.dedup();
    assert_eq!(ids.len(), 1, "one task for all duplicates: {ids:?}");
    assert_eq!(replays, 7);
    let done = gateway.wait_done(&key, &ids[0]).await;
    assert_eq!(done["attempts"], 1, "ran once");

    // Key order in the body does not matter; a different body does.
    let reordered = json!({"metadata": {"b": "2", "a": "1"}, "prompt": body["prompt"]});
    let response = post_idempotent(&gateway, "/v1/tasks", &key, "order-77", &reordered).await;
    assert_eq!(response.json::<serde_json::Value>().await.unwrap()["id"], ids[0].as_str());
    let changed = json!({"prompt": "something else"});
    let response = post_idempotent(&gateway, "/v1/tasks", &key, "order-77", &changed).await;
    assert_eq!(response.status(), 422);
    let problem: serde_json::Value = response.json().await.unwrap();
    assert_eq!(problem["type"], "https://ccgate.dev/errors/idempotency-key-reused");
    assert_eq!(problem["errors"][0]["pointer"], "/headers/idempotency-key");

    // Another client's identical key is its own.
    let response = post_idempotent(&gateway, "/v1/tasks", &other, "order-77", &body).await;
    assert_eq!(response.status(), 202);
    assert_ne!(response.json::<serde_json::Value>().await.unwrap()["id"], ids[0].as_str());
    let (_, list) = gateway.get("/v1/tasks", &key).await;
    assert_eq!(list["data"].as_array().unwrap().len(), 1);

    // execute with the same key and body answers with the same finished task, no second run.
    let sync = json!({"prompt": scripted(vec![say("sync")])});
    let first = post_idempotent(&gateway, "/v1/execute", &key, "sync-1", &sync).await;
    let first: serde_json::Value = first.json().await.unwrap();
    let again = post_idempotent(&gateway, "/v1/execute", &key, "sync-1", &sync).await;
    assert_eq!(again.status(), 200);
    let again: serde_json::Value = again.json().await.unwrap();
    assert_eq!(again["id"], first["id"]);
    assert_eq!(again["attempts"], 1);
    let bad = post_idempotent(&gateway, "/v1/tasks", &key, "", &sync).await;
    assert_eq!(bad.status(), 422);
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
