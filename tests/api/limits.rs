//! Per-key rate limits. (Queue and concurrency caps, which need runs, are in
//! `tests/it/limits.rs`.)

use axum::body::Body;
use axum::http::Method;

use crate::support::*;

#[tokio::test]
async fn a_key_over_its_rate_limit_gets_429_with_retry_after_and_ratelimit_headers() {
    let gateway = TestGateway::start().await;
    let key = gateway.key(KeyOptions { rate_limit: Some(3), ..KeyOptions::named("slow") }).await;
    let list = || TestGateway::request(Method::GET, "/v1/tasks", &key).body(Body::empty()).unwrap();
    for remaining in [2, 1, 0] {
        let answer = gateway.send(list()).await;
        assert_eq!(answer.status, 200);
        assert_eq!(answer.header("ratelimit-limit"), "3");
        assert_eq!(answer.header("ratelimit-remaining"), remaining.to_string());
    }
    let answer = gateway.send(list()).await;
    assert_eq!(answer.status, 429);
    assert_eq!(answer.header("retry-after"), "20");
    assert!(answer.headers.contains_key("ratelimit-reset"));
    assert_eq!(answer.json["type"], "https://ccgate.dev/errors/rate-limited");
    // Other keys are not affected.
    let (status, _) = gateway.get("/v1/tasks", &gateway.admin_key).await;
    assert_eq!(status, 200);
}
