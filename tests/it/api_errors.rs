//! Bad input of each kind gets a specific problem+json answer and changes nothing.

use serde_json::{Value, json};

use crate::support::*;

async fn raw(gateway: &Gateway, key: Option<&str>, content_type: &str, body: Vec<u8>) -> (u16, String, Value) {
    let mut request =
        gateway.http.post(format!("{}/v1/tasks", gateway.url)).header("content-type", content_type).body(body);
    if let Some(key) = key {
        request = request.bearer_auth(key);
    }
    let response = request.send().await.unwrap();
    let status = response.status().as_u16();
    let kind = response.headers().get("content-type").map(|v| v.to_str().unwrap().to_string()).unwrap_or_default();
    (status, kind, response.json().await.unwrap_or(Value::Null))
}

#[tokio::test(flavor = "multi_thread")]
async fn bad_requests_are_problems_that_name_every_field() {
    let model = Model::start().await;
    let gateway = Gateway::start(&model, GatewayOptions::default()).await;
    let key = gateway.create_key(&["--name", "dev"]);

    let body = json!({"prompt": "", "priority": 99, "options": {"timeout_seconds": 10_000_000, "network": "lan"},
                      "metadata": {"n": 1}, "files": [{"path": "../../etc/passwd", "content": "x"}], "surprise": 1});
    let (status, kind, problem) = raw(&gateway, Some(&key), "application/json", body.to_string().into_bytes()).await;
    assert_eq!(status, 422);
    assert_eq!(kind, "application/problem+json");
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

    let (status, _, problem) = raw(&gateway, Some(&key), "application/json", b"{not json".to_vec()).await;
    assert_eq!(status, 400);
    assert!(problem["detail"].as_str().unwrap().contains("not valid JSON"));
    let (status, _, _) = raw(&gateway, Some(&key), "text/plain", b"hi".to_vec()).await;
    assert_eq!(status, 415);
    let (status, _, problem) = raw(&gateway, None, "application/json", b"{}".to_vec()).await;
    assert_eq!(status, 401);
    assert_eq!(problem["type"], "https://ccgate.dev/errors/unauthorized");
    let (status, _, _) = raw(
        &gateway,
        Some("ccg_live_0000000000000000000000000000000000000000000000ff"),
        "application/json",
        b"{}".to_vec(),
    )
    .await;
    assert_eq!(status, 401);
    let (status, _, _) = raw(&gateway, Some("not-a-key"), "application/json", b"{}".to_vec()).await;
    assert_eq!(status, 401);
    // A body announced larger than the limit is refused before it is read.
    let (status, body) = announce_huge_body(&gateway, &key).await;
    assert_eq!(status, 413, "{body}");
    assert!(body.contains("payload-too-large"), "{body}");

    // Nothing was created by any of that.
    let (_, list) = gateway.get("/v1/tasks", &key).await;
    assert_eq!(list["data"].as_array().unwrap().len(), 0);
    assert!(
        !gateway.data.path().join("tasks").exists()
            || std::fs::read_dir(gateway.data.path().join("tasks")).unwrap().next().is_none()
    );

    // Routing errors and scopes.
    let response = gateway.http.get(format!("{}/v1/nope", gateway.url)).bearer_auth(&key).send().await.unwrap();
    assert_eq!(response.status(), 404);
    assert_eq!(response.headers()["content-type"], "application/problem+json");
    assert!(response.headers().contains_key("x-request-id"));
    let response = gateway.http.delete(format!("{}/v1/tasks", gateway.url)).bearer_auth(&key).send().await.unwrap();
    assert_eq!(response.status(), 405);
    let (status, problem) = gateway.get("/v1/keys", &key).await;
    assert_eq!(status, 403, "{problem}");
    let (status, _) = gateway.get("/v1/keys", &gateway.admin_key).await;
    assert_eq!(status, 200);
    let (status, _) = gateway.get("/v1/tasks/tsk_01JD3XNOTAREALTASKIDATALL0", &key).await;
    assert_eq!(status, 404);
    let response =
        gateway.http.get(format!("{}/healthz", gateway.url)).header("x-request-id", "abc-123").send().await.unwrap();
    assert_eq!(response.headers()["x-request-id"], "abc-123");
    let (status, ready) = gateway.get("/readyz", "").await;
    assert_eq!(status, 200, "{ready}");
    assert_eq!(ready["checks"]["claude"]["version"], "2.1.197");
}

#[tokio::test(flavor = "multi_thread")]
async fn keys_are_managed_over_http_and_revocation_takes_effect() {
    let model = Model::start().await;
    let gateway = Gateway::start(&model, GatewayOptions::default()).await;
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
    let response =
        gateway.request(reqwest::Method::DELETE, &format!("/v1/keys/{id}"), &gateway.admin_key).send().await.unwrap();
    assert_eq!(response.status(), 204);
    let (status, problem) = gateway.get("/v1/tasks", &secret).await;
    assert_eq!(status, 401);
    assert!(problem["detail"].as_str().unwrap().contains("revoked"));
    // The secret is not on disk anywhere.
    let db = std::fs::read(gateway.data.path().join("ccgate.db")).unwrap();
    assert!(!db.windows(secret.len()).any(|w| w == secret.as_bytes()));
}

/// Sends headers announcing a 64 MiB JSON body, then only its first bytes, and
/// reads the answer: the gateway must answer without waiting for the rest.
async fn announce_huge_body(gateway: &Gateway, key: &str) -> (u16, String) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let addr = gateway.url.trim_start_matches("http://");
    let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
    let head = format!(
        "POST /v1/tasks HTTP/1.1\r\nHost: {addr}\r\nAuthorization: Bearer {key}\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{{\"prompt\": \"",
        64 * 1024 * 1024
    );
    stream.write_all(head.as_bytes()).await.unwrap();
    let mut answer = Vec::new();
    let read = tokio::time::timeout(std::time::Duration::from_secs(10), async {
        let mut buffer = [0u8; 4096];
        loop {
            let n = stream.read(&mut buffer).await.unwrap_or(0);
            answer.extend_from_slice(&buffer[..n]);
            let text = String::from_utf8_lossy(&answer);
            if n == 0 || (text.contains("\r\n\r\n") && text.contains("}")) {
                break;
            }
        }
    });
    read.await.expect("the gateway answered without reading the body");
    let text = String::from_utf8_lossy(&answer).to_string();
    let status = text.split_whitespace().nth(1).and_then(|s| s.parse().ok()).unwrap_or(0);
    (status, text)
}
