//! `/metrics`: Prometheus text with tasks, runs, tokens, cost, HTTP requests and
//! rate-limit refusals.

use serde_json::json;

use crate::support::*;

#[tokio::test(flavor = "multi_thread")]
async fn metrics_count_tasks_runs_tokens_and_requests_by_route() {
    let model = Model::start().await;
    let gateway = Gateway::start(&model, GatewayOptions::default()).await;
    let key = gateway.create_key(&["--name", "dev", "--rate-limit", "1000"]);
    let task = gateway
        .submit(&key, json!({"prompt": scripted(vec![say("measured")]), "options": {"model": "claude-test"}}))
        .await;
    let id = task["id"].as_str().unwrap();
    gateway.wait_done(&key, id).await;
    gateway.get(&format!("/v1/tasks/{id}"), &key).await;
    // A key allowed one request a minute: its second is refused, and counted.
    let strict = gateway.create_key(&["--name", "strict", "--rate-limit", "1"]);
    let statuses = [gateway.get("/v1/tasks", &strict).await.0, gateway.get("/v1/tasks", &strict).await.0];
    assert_eq!(statuses, [200, 429]);
    let response = gateway.http.get(format!("{}/metrics", gateway.url)).send().await.unwrap();
    assert_eq!(response.status(), 200);
    let text = response.text().await.unwrap();
    for expected in [
        "ccgate_tasks{status=\"completed\"} 1",
        "ccgate_queue_depth 0",
        "ccgate_running_tasks_on_node 0",
        "ccgate_runs_total{status=\"completed\"} 1",
        "ccgate_run_duration_seconds_bucket",
        "ccgate_queue_wait_seconds_bucket",
        "ccgate_tokens_total{model=\"claude-test\",kind=\"input\"}",
        "ccgate_cost_usd_micros_total{model=\"claude-test\"}",
        "ccgate_rate_limit_rejections_total 1",
        "ccgate_http_requests_total{route=\"/v1/tasks/{id}\",method=\"GET\",status=\"200\"}",
        "ccgate_http_requests_total{route=\"/v1/tasks\",method=\"POST\",status=\"202\"} 1",
    ] {
        assert!(text.contains(expected), "{expected} missing from\n{text}");
    }
    assert!(!text.contains(id), "no task ids in labels");
}
