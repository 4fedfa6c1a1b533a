//! The served OpenAPI document is the committed one, and `/docs` renders it from the
//! gateway alone. (The validator and schemathesis, which need a live gateway or a
//! tool, are in `tests/it/openapi.rs`.)

use axum::body::Body;
use axum::http::Method;

use crate::support::*;

async fn get(gateway: &TestGateway, path: &str) -> Answer {
    gateway.send(TestGateway::request(Method::GET, path, "").body(Body::empty()).unwrap()).await
}

#[tokio::test]
async fn the_served_document_is_the_committed_one_and_docs_render_from_the_gateway() {
    let gateway = TestGateway::start().await;
    let served = get(&gateway, "/openapi.json").await;
    assert_eq!(served.status, 200);
    assert_eq!(served.header("content-type"), "application/json; charset=utf-8");
    let committed = std::fs::read_to_string(repo_root().join("openapi.json")).unwrap();
    assert!(served.text == committed, "the served document differs from openapi.json");

    let page = get(&gateway, "/docs").await;
    assert_eq!(page.status, 200);
    let policy = page.header("content-security-policy");
    assert!(policy.starts_with("default-src 'self'"), "{policy}");
    let html = &page.text;
    assert!(html.contains(r#"src="/docs/rapidoc-min.js""#) && html.contains(r#"spec-url="/openapi.json""#));
    assert!(!html.contains("http://") && !html.contains("https://"), "the page loads something from elsewhere");
    let script = get(&gateway, "/docs/rapidoc-min.js").await;
    assert_eq!(script.status, 200);
    assert!(script.header("content-type").starts_with("text/javascript"));
    assert!(script.text.starts_with("/*! RapiDoc"));
}
