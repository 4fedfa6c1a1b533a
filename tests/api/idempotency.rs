//! `Idempotency-Key`: the same key and body return the original task, even when
//! the duplicates race; another body is refused; keys of other clients are apart.
//! (That the task then runs once, and `execute`'s replay, are in `tests/it`.)

use axum::http::Method;
use serde_json::{Value, json};

use crate::support::*;

async fn post_idempotent(gateway: &TestGateway, key: &str, idempotency_key: &str, body: &Value) -> Answer {
    let request = json_request(Method::POST, "/v1/tasks", key, body, &[("idempotency-key", idempotency_key)]);
    gateway.send(request).await
}

#[tokio::test(flavor = "multi_thread")]
async fn duplicates_racing_create_one_task_and_another_body_is_refused() {
    let gateway = std::sync::Arc::new(TestGateway::start().await);
    let key = gateway.key(KeyOptions::named("dev")).await;
    let other = gateway.key(KeyOptions::named("other")).await;
    let body = json!({"prompt": "once", "metadata": {"a": "1", "b": "2"}});

    let mut racing = Vec::new();
    for _ in 0..8 {
        let (gateway, key, body) = (gateway.clone(), key.clone(), body.clone());
        racing.push(tokio::spawn(async move { post_idempotent(&gateway, &key, "order-77", &body).await }));
    }
    let mut ids = Vec::new();
    let mut replays = 0;
    for handle in racing {
        let answer = handle.await.unwrap();
        assert_eq!(answer.status, 202, "{}", answer.text);
        replays += usize::from(answer.headers.contains_key("idempotent-replayed"));
        ids.push(answer.json["id"].as_str().unwrap().to_string());
    }
    ids.dedup();
    assert_eq!(ids.len(), 1, "one task for all duplicates: {ids:?}");
    assert_eq!(replays, 7);

    // Key order in the body does not matter; a different body does.
    let reordered = json!({"metadata": {"b": "2", "a": "1"}, "prompt": body["prompt"]});
    assert_eq!(post_idempotent(&gateway, &key, "order-77", &reordered).await.json["id"], ids[0].as_str());
    let changed = post_idempotent(&gateway, &key, "order-77", &json!({"prompt": "something else"})).await;
    assert_eq!(changed.status, 422);
    assert_eq!(changed.json["type"], "https://ccgate.dev/errors/idempotency-key-reused");
    assert_eq!(changed.json["errors"][0]["pointer"], "/headers/idempotency-key");

    // Another client's identical key is its own.
    let theirs = post_idempotent(&gateway, &other, "order-77", &body).await;
    assert_eq!(theirs.status, 202);
    assert_ne!(theirs.json["id"], ids[0].as_str());
    let (_, list) = gateway.get("/v1/tasks", &key).await;
    assert_eq!(list["data"].as_array().unwrap().len(), 1);

    let empty = post_idempotent(&gateway, &key, "", &json!({"prompt": "sync"})).await;
    assert_eq!(empty.status, 422);
    // A bad header and a bad body: each invalid field is named, not only the first.
    let both = post_idempotent(&gateway, &key, "", &json!({"prompt": "", "priority": 99})).await;
    let pointers: Vec<&str> =
        both.json["errors"].as_array().unwrap().iter().filter_map(|e| e["pointer"].as_str()).collect();
    assert_eq!(pointers, ["/headers/idempotency-key", "/prompt", "/priority"], "{}", both.json);
}
