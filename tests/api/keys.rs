//! Keys over HTTP: created (scopes checked), listed without secrets, revoked with
//! immediate effect; secrets never reach the disk.

use axum::body::Body;
use axum::http::Method;
use serde_json::json;

use crate::support::*;

#[tokio::test]
async fn keys_are_managed_over_http_and_revocation_takes_effect() {
    let gateway = TestGateway::start().await;
    let (status, problem) = gateway.post("/v1/keys", &gateway.admin_key, &json!({"scopes": ["root"]})).await;
    assert_eq!(status, 422);
    assert_eq!(problem["errors"].as_array().unwrap().len(), 2, "{problem}");
    let (status, created) =
        gateway.post("/v1/keys", &gateway.admin_key, &json!({"name": "ci", "scopes": ["tasks"]})).await;
    assert_eq!(status, 201);
    let secret = created["secret"].as_str().unwrap().to_string();
    assert!(secret.starts_with("ccg_live_"));
    let (status, _) = gateway.get("/v1/tasks", &secret).await;
    assert_eq!(status, 200);
    let (_, listed) = gateway.get("/v1/keys", &gateway.admin_key).await;
    assert!(listed.to_string().contains("\"ci\""));
    assert!(!listed.to_string().contains(&secret), "a listing never shows a secret");
    let id = created["id"].as_str().unwrap();
    let revoke = TestGateway::request(Method::DELETE, &format!("/v1/keys/{id}"), &gateway.admin_key);
    assert_eq!(gateway.send(revoke.body(Body::empty()).unwrap()).await.status, 204);
    let (status, problem) = gateway.get("/v1/tasks", &secret).await;
    assert_eq!(status, 401);
    assert!(problem["detail"].as_str().unwrap().contains("revoked"));
    // The secret is not on disk anywhere: the database nor its write-ahead log.
    assert!(gateway.data.path().join("ccgate.db").is_file());
    for entry in std::fs::read_dir(gateway.data.path()).unwrap() {
        let path = entry.unwrap().path();
        if path.is_file() {
            let bytes = std::fs::read(&path).unwrap();
            assert!(!bytes.windows(secret.len()).any(|w| w == secret.as_bytes()), "{} holds it", path.display());
        }
    }
}
