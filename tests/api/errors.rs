//! Bad input of each kind gets a specific problem+json answer and changes nothing.

use std::time::Duration;

use axum::body::{Body, Bytes};
use axum::http::Method;
use serde_json::json;

use crate::support::*;

async fn raw(gateway: &TestGateway, key: &str, content_type: &str, body: Vec<u8>) -> Answer {
    let request = TestGateway::request(Method::POST, "/v1/tasks", key).header("content-type", content_type);
    gateway.send(request.body(Body::from(body)).unwrap()).await
}

#[tokio::test]
async fn bad_requests_are_problems_that_name_every_field() {
    let gateway = TestGateway::start().await;
    let key = gateway.key(KeyOptions::named("dev")).await;

    let body = json!({"prompt": "", "priority": 99, "options": {"timeout_seconds": 10_000_000, "network": "lan"},
                      "metadata": {"n": 1}, "files": [{"path": "../../etc/passwd", "content": "x"}], "surprise": 1});
    let answer = raw(&gateway, &key, "application/json", body.to_string().into_bytes()).await;
    assert_eq!(answer.status, 422);
    assert_eq!(answer.header("content-type"), "application/problem+json");
    let problem = answer.json;
    assert_eq!(problem["type"], "https://ccgate.dev/errors/validation-error");
    assert_eq!(problem["status"], 422);
    let pointers: Vec<&str> =
        problem["errors"].as_array().unwrap().iter().map(|e| e["pointer"].as_str().unwrap()).collect();
    for p in [
        "/prompt",
        "/priority",
        "/options/timeout_seconds",
        "/options/network",
        "/metadata/n",
        "/files/0/path",
        "/surprise",
    ] {
        assert!(pointers.contains(&p), "{p} not in {pointers:?}");
    }
    let cap =
        problem["errors"].as_array().unwrap().iter().find(|e| e["pointer"] == "/options/timeout_seconds").unwrap();
    assert!(cap["message"].as_str().unwrap().contains("max_timeout_seconds"), "{cap}");

    let answer = raw(&gateway, &key, "application/json", b"{not json".to_vec()).await;
    assert_eq!(answer.status, 400);
    assert!(answer.json["detail"].as_str().unwrap().contains("not valid JSON"));
    assert_eq!(raw(&gateway, &key, "text/plain", b"hi".to_vec()).await.status, 415);
    let answer = raw(&gateway, "", "application/json", b"{}".to_vec()).await;
    assert_eq!(answer.status, 401);
    assert_eq!(answer.json["type"], "https://ccgate.dev/errors/unauthorized");
    let unknown = "ccg_live_0000000000000000000000000000000000000000000000ff";
    assert_eq!(raw(&gateway, unknown, "application/json", b"{}".to_vec()).await.status, 401);
    assert_eq!(raw(&gateway, "not-a-key", "application/json", b"{}".to_vec()).await.status, 401);
    // A body announced larger than the limit is refused before it is read.
    let answer = announce_huge_body(&gateway, &key).await;
    assert_eq!(answer.status, 413, "{}", answer.text);
    assert!(answer.text.contains("payload-too-large"), "{}", answer.text);

    // Nothing was created by any of that.
    let (_, list) = gateway.get("/v1/tasks", &key).await;
    assert_eq!(list["data"].as_array().unwrap().len(), 0);
    let tasks = gateway.data.path().join("tasks");
    assert!(!tasks.exists() || std::fs::read_dir(&tasks).unwrap().next().is_none());

    // Routing errors and scopes.
    let answer = gateway.send(TestGateway::request(Method::GET, "/v1/nope", &key).body(Body::empty()).unwrap()).await;
    assert_eq!(answer.status, 404);
    assert_eq!(answer.header("content-type"), "application/problem+json");
    assert!(answer.headers.contains_key("x-request-id"));
    let answer =
        gateway.send(TestGateway::request(Method::DELETE, "/v1/tasks", &key).body(Body::empty()).unwrap()).await;
    assert_eq!(answer.status, 405);
    let (status, problem) = gateway.get("/v1/keys", &key).await;
    assert_eq!(status, 403, "{problem}");
    let (status, _) = gateway.get("/v1/keys", &gateway.admin_key).await;
    assert_eq!(status, 200);
    let (status, _) = gateway.get("/v1/tasks/tsk_01JD3XNOTAREALTASKIDATALL0", &key).await;
    assert_eq!(status, 404);
    let request = TestGateway::request(Method::GET, "/healthz", "").header("x-request-id", "abc-123");
    let answer = gateway.send(request.body(Body::empty()).unwrap()).await;
    assert_eq!(answer.header("x-request-id"), "abc-123");
    assert_eq!(answer.header("content-type"), "application/json; charset=utf-8", "JSON says its charset");
    let answer = gateway.send(TestGateway::request(Method::GET, "/v1/tasks", &key).body(Body::empty()).unwrap()).await;
    assert_eq!((answer.status, answer.header("content-type")), (200, "application/json; charset=utf-8"));
}

/// Announces a 64 MiB JSON body, sends only its first bytes and then nothing: the
/// gateway must answer without waiting for the rest.
async fn announce_huge_body(gateway: &TestGateway, key: &str) -> Answer {
    let first = futures_util::stream::once(async { Ok::<_, std::io::Error>(Bytes::from_static(b"{\"prompt\": \"")) });
    let stalled = futures_util::StreamExt::chain(first, futures_util::stream::pending());
    let request = TestGateway::request(Method::POST, "/v1/tasks", key)
        .header("content-type", "application/json")
        .header("content-length", (64 * 1024 * 1024).to_string())
        .body(Body::from_stream(stalled))
        .unwrap();
    tokio::time::timeout(Duration::from_secs(10), gateway.send(request))
        .await
        .expect("the gateway answered without reading the body")
}
