//! Structured logs: every line of a request carries the gateway's own request id
//! and, apart from it, the `x-request-id` the client sent; even at `debug` no secret
//! header is logged.

use serde_json::Value;

use crate::support::*;

#[tokio::test(flavor = "multi_thread")]
async fn request_lines_carry_the_request_id_and_never_a_secret() {
    let model = Model::start().await;
    let env = vec![("RUST_LOG".to_string(), "debug".to_string())];
    let gateway = Gateway::start(&model, GatewayOptions { env, ..Default::default() }).await;
    let key = gateway.create_key(&["--name", "dev"]);
    let response = gateway
        .request(reqwest::Method::GET, "/v1/tasks", &key)
        .header("x-request-id", "client-chosen-42")
        .header("cookie", "session=cookie-secret")
        .header("x-api-key", "header-secret")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["x-request-id"], "client-chosen-42");
    let generated = gateway.request(reqwest::Method::GET, "/v1/tasks", "ccg_live_wrong").send().await.unwrap();
    let generated_id = generated.headers()["x-request-id"].to_str().unwrap().to_string();
    assert!(generated_id.starts_with("req_"), "{generated_id}");
    // Each request's last line ("request done") may reach the log after its response.
    let done_lines = |log: &str| log.lines().filter(|l| l.contains("request done")).count();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while done_lines(&gateway.log()) < 2 {
        assert!(std::time::Instant::now() < deadline, "the requests were not logged:\n{}", gateway.log());
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }

    let log = gateway.log();
    for secret in [key.as_str(), "cookie-secret", "header-secret", "ccg_live_wrong"] {
        assert!(!log.contains(secret), "{secret} reached the log");
    }
    let lines: Vec<Value> = log.lines().filter_map(|l| serde_json::from_str(l).ok()).collect();
    let of_request = |id: &str| -> Vec<&Value> { lines.iter().filter(|l| l["span"]["request_id"] == id).collect() };
    let mine: Vec<&Value> = lines.iter().filter(|l| l["span"]["client_request_id"] == "client-chosen-42").collect();
    let own = mine.first().and_then(|l| l["span"]["request_id"].as_str()).expect("the request's lines");
    assert!(own.starts_with("req_"), "the gateway's own id is logged apart from the client's: {own}");
    let headers = mine.iter().find(|l| l["fields"]["message"] == "request headers").expect("headers logged at debug");
    let shown = headers["fields"]["headers"].as_str().unwrap();
    assert!(shown.contains("authorization: [redacted]") && shown.contains("cookie: [redacted]"), "{shown}");
    assert!(mine.iter().any(|l| l["fields"]["message"] == "request done" && l["fields"]["status"] == 200));
    let denied = of_request(&generated_id);
    assert!(denied.iter().any(|l| l["fields"]["status"] == 401), "{denied:?}");
}
