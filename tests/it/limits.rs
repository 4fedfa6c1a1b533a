//! Per-key queue and concurrency caps, with runs. (Rate limits, which need no run,
//! are tested in process: `tests/api/limits.rs`.)

use serde_json::json;

use crate::support::*;

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
