//! Load shedding: past `queue.max_depth` queued tasks a submission gets 503 with
//! `Retry-After`, and a node below its free-disk floor claims no work and says why on
//! `/readyz`.

use std::time::{Duration, Instant};

use serde_json::json;

use crate::support::*;

async fn gateway_with(model: &Model, config: &str) -> (Gateway, tempfile::NamedTempFile) {
    let file = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(file.path(), config).unwrap();
    let env = vec![("CCGATE_CONFIG".to_string(), file.path().display().to_string())];
    (Gateway::start(model, GatewayOptions { env, ..Default::default() }).await, file)
}

#[tokio::test(flavor = "multi_thread")]
async fn a_full_queue_answers_503_with_retry_after() {
    let model = Model::start().await;
    let (gateway, _config) = gateway_with(&model, "[queue]\nmax_depth = 3\n").await;
    // One task at a time, held by a blocker: everything after it stays queued.
    let key = gateway.create_key(&["--name", "dev", "--max-concurrent", "1"]);
    let marker = gateway.data.path().join("release");
    let wait = format!("while [ ! -e {} ]; do sleep 0.1; done", marker.display());
    let blocker = gateway.submit(&key, task_body(vec![bash(&wait), say("released")])).await;
    gateway.wait_for(&key, blocker["id"].as_str().unwrap(), &["running"], Duration::from_secs(60)).await;
    let mut accepted = 0;
    let started = Instant::now();
    let refusal = loop {
        let response = gateway
            .request(reqwest::Method::POST, "/v1/tasks", &key)
            .json(&json!({"prompt": scripted(vec![say("queued")])}))
            .send()
            .await
            .unwrap();
        match response.status().as_u16() {
            202 => accepted += 1,
            503 => break response,
            other => panic!("unexpected {other}"),
        }
        assert!(started.elapsed() < Duration::from_secs(20), "no 503 after {accepted} queued tasks");
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    // The depth is counted at most every 250 ms: a few submissions may pass the cap.
    assert!((3..=6).contains(&accepted), "{accepted} tasks were queued past a cap of 3");
    assert_eq!(refusal.headers()["retry-after"], "5");
    let problem: serde_json::Value = refusal.json().await.unwrap();
    assert!(problem["type"].as_str().unwrap().ends_with("/overloaded"), "{problem}");
    assert!(problem["detail"].as_str().unwrap().contains("queue.max_depth"), "{problem}");
    std::fs::write(&marker, "").unwrap();
}

#[tokio::test(flavor = "multi_thread")]
async fn a_node_short_of_disk_claims_nothing_and_says_why() {
    let model = Model::start().await;
    // A floor no disk meets.
    let config = "[queue]\nmin_free_disk_mb = 1000000000\npoll_interval_ms = 100\n";
    let (gateway, _config) = gateway_with(&model, config).await;
    let key = gateway.create_key(&["--name", "dev"]);
    let (status, ready) = gateway.get("/readyz", &key).await;
    assert_eq!(status, 503, "{ready}");
    assert_eq!(ready["checks"]["workers"]["ok"], false);
    assert!(ready["checks"]["workers"]["reason"].as_str().unwrap().contains("queue.min_free_disk_mb"), "{ready}");
    let task = gateway.submit(&key, task_body(vec![say("never claimed")])).await;
    let id = task["id"].as_str().unwrap();
    // The workers have looked for work many times since (each pass counted as skipped
    // for the disk), and the task is still queued.
    let skipped_before = skipped_claims(&gateway).await;
    let started = Instant::now();
    while skipped_claims(&gateway).await < skipped_before + 20 {
        assert!(started.elapsed() < Duration::from_secs(60), "the workers stopped looking for work");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let (_, task) = gateway.get(&format!("/v1/tasks/{id}"), &key).await;
    assert_eq!(task["status"], "queued", "{task}");
    let metrics = gateway.http.get(format!("{}/metrics", gateway.url)).send().await.unwrap().text().await.unwrap();
    assert!(metrics.contains("ccgate_node_shortage{resource=\"disk\"} 1"), "{metrics}");
}

/// `ccgate_claims_skipped_total{resource="disk"}` on the gateway's /metrics.
async fn skipped_claims(gateway: &Gateway) -> u64 {
    gateway.metric(r#"ccgate_claims_skipped_total{resource="disk"}"#).await as u64
}
