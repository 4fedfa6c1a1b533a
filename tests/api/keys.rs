//! Keys over HTTP: created (scopes checked), listed without secrets, changed and
//! cleared, revoked with immediate effect; secrets never reach the disk. (That a
//! changed default webhook is then used: `tests/it/webhooks.rs`.)

use axum::body::Body;
use axum::http::Method;
use serde_json::{Value, json};

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
    // A page at a time, newest first: the new key, then the admin key.
    let (_, first) = gateway.get("/v1/keys?limit=1", &gateway.admin_key).await;
    assert_eq!(first["data"][0]["id"], created["id"], "{first}");
    let cursor = first["next_cursor"].as_str().expect("a second page");
    let (_, rest) = gateway.get(&format!("/v1/keys?limit=1&cursor={cursor}"), &gateway.admin_key).await;
    assert_eq!((rest["data"][0]["name"].as_str(), &rest["next_cursor"]), (Some("admin"), &json!(null)), "{rest}");
    assert_eq!(listed["data"].as_array().map(Vec::len), Some(2));
    let (status, problem) = gateway.get("/v1/keys?limit=500&cursor=x&sort=name", &gateway.admin_key).await;
    let pointers: Vec<&str> =
        problem["errors"].as_array().unwrap().iter().filter_map(|e| e["pointer"].as_str()).collect();
    assert_eq!(status, 422, "{problem}");
    for pointer in ["/query/limit", "/query/cursor", "/query/sort"] {
        assert!(pointers.contains(&pointer), "{pointer} is named: {problem}");
    }
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

#[tokio::test]
async fn a_keys_fields_can_be_changed_and_cleared_and_a_bad_change_changes_nothing() {
    let gateway = TestGateway::with_config(|c| c.webhooks.allowed_hosts = vec!["127.0.0.1".into()]).await;
    let (key_id, _) = gateway.issue(KeyOptions::named("dev")).await;
    let patch = |path: String, body: Value| {
        let request = json_request(Method::PATCH, &path, &gateway.admin_key, &body, &[]);
        async { gateway.send(request).await }
    };
    let path = format!("/v1/keys/{key_id}");
    let url = "http://127.0.0.1:9/ok/patched";
    let updated = patch(path.clone(), json!({"webhook_url": url, "budget_usd_per_day": 5, "name": "renamed"})).await;
    assert_eq!(updated.status, 200, "{}", updated.text);
    let updated = updated.json;
    assert_eq!((updated["webhook_url"].as_str(), updated["budget_usd_per_day"].as_f64()), (Some(url), Some(5.0)));
    assert_eq!(updated["name"], "renamed");

    let cleared = patch(path.clone(), json!({"webhook_url": null, "budget_usd_per_day": null})).await;
    assert_eq!(cleared.status, 200, "{}", cleared.text);
    assert!(cleared.json["webhook_url"].is_null() && cleared.json["budget_usd_per_day"].is_null(), "{}", cleared.text);

    let (_, before) = gateway.get(&path, &gateway.admin_key).await;
    let refused = patch(path.clone(), json!({"rate_limit_per_minute": 0, "bogus": true})).await;
    assert_eq!(refused.status, 422, "{}", refused.text);
    assert_eq!(refused.json["errors"].as_array().unwrap().len(), 2);
    assert_eq!(gateway.get(&path, &gateway.admin_key).await.1, before, "a refused change changed the key");
    let missing = patch("/v1/keys/key_01NOSUCHKEY0000000000000000".into(), json!({"name": "x"})).await;
    assert_eq!(missing.status, 404);
}
