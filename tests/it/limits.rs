//! Per-key rate limits and queue caps.

use serde_json::json;

use crate::support::*;

#[tokio::test(flavor = "multi_thread")]
async fn a_key_over_its_rate_limit_gets_429_with_retry_after_and_ratelimit_headers() {
    let model = Model::start().await;
    let gateway = Gateway::start(&model, GatewayOptions::default()).await;
    let key = gateway.create_key(&["--name", "slow", "--rate-limit", "3"]);
    for remaining in [2, 1, 0] {
        let response = gateway.request(reqwest::Method::GET, "/v1/tasks", &key).send().await.unwrap();
        assert_eq!(response.status(), 200);
        assert_eq!(response.headers()["ratelimit-limit"], "3");
        assert_eq!(response.headers()["ratelimit-remaining"], remaining.to_string().as_str());
    }
    let response = gateway.request(reqwest::Method::GET, "/v1/tasks", &key).send().await.unwrap();
    assert_eq!(response.status(), 429);
    assert_eq!(response.headers()["retry-after"], "20");
    assert!(response.headers().contains_key("ratelimit-reset"));
    let problem: serde_json::Value = response.json().await.unwrap();
    assert_eq!(problem["type"], "https://ccgate.dev/errors/rate-limited");
    // Other keys are not affected.
    let (status, _) = gateway.get("/v1/tasks", &gateway.admin_key).await;
    assert_eq!(status, 200);
}

#[tokio::test(flavor = "multi_thread")]
async fn queue_and_concurrency_caps_hold_per_key() {
    let model = Model::start().await;
    let gateway = Gateway::start(&model, GatewayOptions { workers: 3, ..Default::default() }).await;
    let key = gateway.create_key(&["--name", "capped", "--max-concurrent", "1", "--max-queued", "2"]);
    let slow = || json!({"prompt": scripted(vec![bash("sleep 2"), say("ok")])});
    let first = gateway.submit(&key, slow()).await;
    gateway.wait_for(&key, first["id"].as_str().unwrap(), &["running"], std::time::Duration::from_secs(30)).await;
    let second = gateway.submit(&key, slow()).await;
    let third = gateway.submit(&key, slow()).await;
    let (status, problem) = gateway.post("/v1/tasks", &key, &slow()).await;
    assert_eq!(status, 429, "{problem}");
    assert_eq!(problem["type"], "https://ccgate.dev/errors/quota-exceeded");
    // With three idle workers, the key's concurrency cap still keeps its second task waiting.
    tokio::time::sleep(std::time::Duration::from_millis(800)).await;
    let (_, waiting) = gateway.get(&format!("/v1/tasks/{}", second["id"].as_str().unwrap()), &key).await;
    assert_eq!(waiting["status"], "queued");
    for task in [&first, &second, &third] {
        assert_eq!(gateway.wait_done(&key, task["id"].as_str().unwrap()).await["status"], "completed");
    }
}
