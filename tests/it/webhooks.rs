//! Webhooks against a real receiver on loopback: signatures checked by the
//! Standard Webhooks Python package, retries with the same `webhook-id`,
//! timeouts, redirects not followed, 410, SSRF refusals, and deliveries that
//! survive the receiver being down and the gateway restarting.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::http::{HeaderMap, StatusCode, Uri};
use axum::response::IntoResponse;
use serde_json::{Value, json};

use crate::support::*;

/// One request the receiver got.
#[derive(Debug, Clone)]
struct Received {
    path: String,
    headers: HashMap<String, String>,
    body: String,
}

/// A webhook receiver whose behaviour is chosen by the first path segment:
/// `ok`, `flaky` (500 twice, then 200), `slow` (answers after 3 s), `redirect`
/// (302 to `/ok/redirected`), `gone` (410), `busy` (503 with `Retry-After: 2`, then 200).
struct Receiver {
    url: String,
    received: Arc<Mutex<Vec<Received>>>,
    task: tokio::task::JoinHandle<()>,
}

impl Receiver {
    async fn start_on(listener: tokio::net::TcpListener) -> Receiver {
        let url = format!("http://{}", listener.local_addr().unwrap());
        let received: Arc<Mutex<Vec<Received>>> = Arc::default();
        let log = received.clone();
        let app = axum::Router::new().fallback(move |uri: Uri, headers: HeaderMap, body: String| {
            let log = log.clone();
            async move {
                let path = uri.path().to_string();
                let seen = {
                    let mut log = log.lock().unwrap();
                    let headers = headers
                        .iter()
                        .map(|(k, v)| (k.to_string(), v.to_str().unwrap_or_default().to_string()))
                        .collect();
                    log.push(Received { path: path.clone(), headers, body });
                    log.iter().filter(|r| r.path == path).count()
                };
                match path.split('/').nth(1).unwrap_or_default() {
                    "flaky" if seen <= 2 => StatusCode::INTERNAL_SERVER_ERROR.into_response(),
                    "slow" => {
                        tokio::time::sleep(Duration::from_secs(3)).await;
                        StatusCode::OK.into_response()
                    }
                    "redirect" => (StatusCode::FOUND, [("location", "/ok/redirected")]).into_response(),
                    "gone" => StatusCode::GONE.into_response(),
                    "busy" if seen == 1 => (StatusCode::SERVICE_UNAVAILABLE, [("retry-after", "2")]).into_response(),
                    _ => StatusCode::OK.into_response(),
                }
            }
        });
        let task = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Receiver { url, received, task }
    }

    async fn start() -> Receiver {
        Self::start_on(tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap()).await
    }

    fn requests_to(&self, path: &str) -> Vec<Received> {
        self.received.lock().unwrap().iter().filter(|r| r.path == path).cloned().collect()
    }

    async fn wait_for(&self, path: &str, count: usize, limit: Duration) -> Vec<Received> {
        let deadline = std::time::Instant::now() + limit;
        loop {
            let got = self.requests_to(path);
            if got.len() >= count || std::time::Instant::now() > deadline {
                return got;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
}

impl Drop for Receiver {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// A gateway that may call loopback receivers, retrying after 1 s three times.
async fn gateway_for_webhooks(model: &Model, config: &tempfile::NamedTempFile) -> Gateway {
    std::fs::write(
        config.path(),
        "[webhooks]\nretry_schedule_seconds = [1, 1, 1]\ntimeout_seconds = 1\npoll_interval_ms = 100\n",
    )
    .unwrap();
    let env = vec![
        ("CCGATE_CONFIG".to_string(), config.path().display().to_string()),
        ("CCGATE_WEBHOOK_ALLOWED_HOSTS".to_string(), "127.0.0.1".to_string()),
    ];
    Gateway::start(model, GatewayOptions { env, ..Default::default() }).await
}

/// Verifies with the `standardwebhooks` Python package, not this project's code.
fn verify_independently(secret: &str, request: &Received) {
    let python = repo_root().join(".tools/venv/bin/python");
    assert!(python.exists(), "run scripts/setup.sh --no-serve --no-build --test-tools");
    let script = "import json, sys\nfrom standardwebhooks.webhooks import Webhook\n\
        secret, headers, body = sys.argv[1], json.loads(sys.argv[2]), sys.argv[3]\n\
        Webhook(secret).verify(body, headers)\nprint('verified')";
    let headers = json!({
        "webhook-id": request.headers["webhook-id"],
        "webhook-timestamp": request.headers["webhook-timestamp"],
        "webhook-signature": request.headers["webhook-signature"],
    });
    let output = std::process::Command::new(python)
        .args(["-c", script, secret, &headers.to_string(), &request.body])
        .output()
        .expect("run python");
    let said = String::from_utf8_lossy(&output.stdout).to_string() + &String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success() && said.contains("verified"), "{said}");
}

async fn deliveries(gateway: &Gateway, key: &str, id: &str) -> Vec<Value> {
    let (status, list) = gateway.get(&format!("/v1/tasks/{id}/webhook-deliveries"), key).await;
    assert_eq!(status, 200, "{list}");
    list["data"].as_array().unwrap().clone()
}

async fn wait_for_delivery_status(gateway: &Gateway, key: &str, id: &str, status: &str) -> Vec<Value> {
    for _ in 0..200 {
        let list = deliveries(gateway, key, id).await;
        if list.iter().any(|d| d["status"] == status) {
            return list;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("no delivery of {id} became {status}: {:?}", deliveries(gateway, key, id).await);
}

#[tokio::test(flavor = "multi_thread")]
async fn signed_deliveries_arrive_once_per_event_and_verify_independently() {
    let model = Model::start().await;
    let receiver = Receiver::start().await;
    let config = tempfile::NamedTempFile::new().unwrap();
    let gateway = gateway_for_webhooks(&model, &config).await;
    let created = gateway.create_key_json(&["--name", "dev", "--webhook-url", &format!("{}/ok/default", receiver.url)]);
    let (key, secret) = (created["secret"].as_str().unwrap(), created["webhook_secret"].as_str().unwrap());
    assert!(secret.starts_with("whsec_"), "{created}");

    let body = json!({"prompt": scripted(vec![say("done")]),
        "webhook": {"url": format!("{}/ok/task", receiver.url), "events": ["task.started", "task.completed"]}});
    let task = gateway.submit(key, body).await;
    let id = task["id"].as_str().unwrap();
    let got = receiver.wait_for("/ok/task", 2, Duration::from_secs(30)).await;
    assert_eq!(got.len(), 2, "{got:?}");
    let payloads: Vec<Value> = got.iter().map(|r| serde_json::from_str(&r.body).unwrap()).collect();
    assert_eq!(
        (payloads[0]["type"].as_str(), payloads[1]["type"].as_str()),
        (Some("task.started"), Some("task.completed"))
    );
    assert_eq!(payloads[1]["data"]["id"], id);
    assert_eq!(payloads[1]["data"]["status"], "completed");
    assert_eq!(payloads[1]["data"]["result"]["text"], "done");
    assert_ne!(got[0].headers["webhook-id"], got[1].headers["webhook-id"]);
    for request in &got {
        verify_independently(secret, request);
    }
    let listed = wait_for_delivery_status(&gateway, key, id, "delivered").await;
    let types: Vec<&str> = listed.iter().map(|d| d["event_type"].as_str().unwrap()).collect();
    assert_eq!(types, ["task.completed", "task.started"], "newest first: {listed:?}");
    assert!(listed.iter().all(|d| d["id"].as_str().is_some_and(|id| id.starts_with("whd_"))), "{listed:?}");
    assert_eq!(got[1].headers["webhook-id"], listed[0]["id"].as_str().unwrap(), "the id is the webhook-id");
    assert_eq!(listed[1]["attempts"][0]["status_code"], 200, "{listed:?}");
    // A page at a time: each delivery once, in the same order.
    let path = format!("/v1/tasks/{id}/webhook-deliveries?limit=1");
    let (_, first) = gateway.get(&path, key).await;
    let cursor = first["next_cursor"].as_str().expect("a next page").to_string();
    let (_, second) = gateway.get(&format!("{path}&cursor={cursor}"), key).await;
    assert_eq!((&first["data"][0]["id"], &second["data"][0]["id"]), (&listed[0]["id"], &listed[1]["id"]));
    assert!(second["next_cursor"].is_null(), "{second}");
    let (status, problem) = gateway.get(&format!("/v1/tasks/{id}/webhook-deliveries?cursor=tsk_1"), key).await;
    assert_eq!((status, problem["errors"][0]["pointer"].as_str()), (422, Some("/query/cursor")), "{problem}");
    assert!(receiver.requests_to("/ok/default").is_empty(), "a task's own webhook replaces the key's");

    // Without its own webhook, a task reports to the key's default one.
    let plain = gateway.submit(key, json!({"prompt": scripted(vec![say("plain")])})).await;
    let got = receiver.wait_for("/ok/default", 1, Duration::from_secs(30)).await;
    let payload: Value = serde_json::from_str(&got[0].body).unwrap();
    assert_eq!((payload["type"].as_str(), &payload["data"]["id"]), (Some("task.completed"), &plain["id"]));
    verify_independently(secret, &got[0]);

    // A rotation signs with both secrets for a while; either verifies.
    let key_id = created["id"].as_str().unwrap();
    let (status, rotated) =
        gateway.post(&format!("/v1/keys/{key_id}/webhook-secret"), &gateway.admin_key, &json!({})).await;
    assert_eq!(status, 200, "{rotated}");
    let new_secret = rotated["webhook_secret"].as_str().unwrap();
    gateway.submit(key, json!({"prompt": scripted(vec![say("after rotation")])})).await;
    let got = receiver.wait_for("/ok/default", 2, Duration::from_secs(30)).await;
    assert_eq!(got[1].headers["webhook-signature"].split(' ').count(), 2, "{:?}", got[1].headers);
    verify_independently(secret, &got[1]);
    verify_independently(new_secret, &got[1]);
}

#[tokio::test(flavor = "multi_thread")]
async fn failures_are_retried_with_the_same_id_and_every_attempt_is_recorded() {
    let model = Model::start().await;
    let receiver = Receiver::start().await;
    let config = tempfile::NamedTempFile::new().unwrap();
    let gateway = gateway_for_webhooks(&model, &config).await;
    let key = gateway.create_key(&["--name", "dev"]);
    let submit = |path: &str| json!({"prompt": scripted(vec![say("ok")]), "webhook": {"url": format!("{}{path}", receiver.url)}});
    let flaky = gateway.submit(&key, submit("/flaky/1")).await;
    let slow = gateway.submit(&key, submit("/slow/1")).await;
    let redirect = gateway.submit(&key, submit("/redirect/1")).await;
    let gone = gateway.submit(&key, submit("/gone/1")).await;
    let busy = gateway.submit(&key, submit("/busy/1")).await;

    let list = wait_for_delivery_status(&gateway, &key, flaky["id"].as_str().unwrap(), "delivered").await;
    let codes: Vec<&Value> = list[0]["attempts"].as_array().unwrap().iter().map(|a| &a["status_code"]).collect();
    assert_eq!(codes, [&json!(500), &json!(500), &json!(200)]);
    let ids: Vec<String> = receiver.requests_to("/flaky/1").iter().map(|r| r.headers["webhook-id"].clone()).collect();
    assert!(ids.len() == 3 && ids.iter().all(|i| *i == ids[0]), "one delivery, one id: {ids:?}");

    let list = wait_for_delivery_status(&gateway, &key, slow["id"].as_str().unwrap(), "failed").await;
    let attempts = list[0]["attempts"].as_array().unwrap();
    assert_eq!(attempts.len(), 4, "the first try and three retries: {list:?}");
    assert!(attempts.iter().all(|a| a["error"].as_str().unwrap().contains("no answer within")), "{list:?}");

    let list = wait_for_delivery_status(&gateway, &key, redirect["id"].as_str().unwrap(), "failed").await;
    assert_eq!(list[0]["attempts"][0]["status_code"], 302);
    assert!(receiver.requests_to("/ok/redirected").is_empty(), "redirects are not followed");

    let list = wait_for_delivery_status(&gateway, &key, gone["id"].as_str().unwrap(), "disabled").await;
    assert_eq!(list[0]["attempts"].as_array().unwrap().len(), 1, "410 is not retried");
    let (_, task) = gateway.get(&format!("/v1/tasks/{}", gone["id"].as_str().unwrap()), &key).await;
    assert_eq!(task["status"], "completed");

    let list = wait_for_delivery_status(&gateway, &key, busy["id"].as_str().unwrap(), "delivered").await;
    let metrics = gateway.http.get(format!("{}/metrics", gateway.url)).send().await.unwrap().text().await.unwrap();
    for outcome in ["delivered", "retry", "failed", "disabled"] {
        let line = format!("ccgate_webhook_attempts_total{{outcome=\"{outcome}\"}}");
        assert!(metrics.contains(&line), "{line} missing");
    }
    let busy_requests = receiver.requests_to("/busy/1");
    let gap = list[0]["attempts"].as_array().unwrap().len();
    assert_eq!((gap, busy_requests.len()), (2, 2));
    let first = time::OffsetDateTime::parse(
        list[0]["attempts"][0]["at"].as_str().unwrap(),
        &time::format_description::well_known::Rfc3339,
    )
    .unwrap();
    let second = time::OffsetDateTime::parse(
        list[0]["attempts"][1]["at"].as_str().unwrap(),
        &time::format_description::well_known::Rfc3339,
    )
    .unwrap();
    assert!(second - first >= time::Duration::seconds(2), "Retry-After: 2 is honoured");
}

#[tokio::test(flavor = "multi_thread")]
async fn webhook_urls_that_reach_private_networks_are_refused() {
    let model = Model::start().await;
    let gateway = Gateway::start(&model, GatewayOptions::default()).await;
    let key = gateway.create_key(&["--name", "dev"]);
    for url in [
        "http://127.0.0.1:9/x",
        "http://169.254.169.254/latest/meta-data",
        "http://localhost/",
        "http://[::1]/",
        "http://10.0.0.8/hook",
        "ftp://example.com/",
    ] {
        let body = json!({"prompt": "x", "webhook": {"url": url}});
        let (status, problem) = gateway.post("/v1/tasks", &key, &body).await;
        assert_eq!(status, 422, "{url}: {problem}");
        assert_eq!(problem["errors"][0]["pointer"], "/webhook/url", "{url}: {problem}");
    }
    let (status, problem) =
        gateway.post("/v1/keys", &gateway.admin_key, &json!({"name": "k", "webhook_url": "http://192.168.1.1/"})).await;
    assert_eq!(status, 422, "{problem}");
    assert_eq!(problem["errors"][0]["pointer"], "/webhook_url");
    let (status, problem) = gateway
        .post(
            "/v1/tasks",
            &key,
            &json!({"prompt": "x", "webhook": {"url": "https://example.com/", "events": ["task.done"]}}),
        )
        .await;
    assert_eq!((status, problem["errors"][0]["pointer"].as_str()), (422, Some("/webhook/events/0")), "{problem}");
    let (_, tasks) = gateway.get("/v1/tasks", &key).await;
    assert!(tasks["data"].as_array().unwrap().is_empty());
}

#[tokio::test(flavor = "multi_thread")]
async fn a_pending_delivery_survives_a_down_receiver_and_a_gateway_restart() {
    let model = Model::start().await;
    // A port bound but not listened on: the receiver is down. The same socket
    // listens later, so the port is never free for another test to take.
    let reserved = tokio::net::TcpSocket::new_v4().unwrap();
    reserved.bind("127.0.0.1:0".parse().unwrap()).unwrap();
    let addr = reserved.local_addr().unwrap();
    let config = tempfile::NamedTempFile::new().unwrap();
    let mut gateway = gateway_for_webhooks(&model, &config).await;
    std::fs::write(
        config.path(),
        "[webhooks]\nretry_schedule_seconds = [1, 1, 1, 1, 1, 1, 1, 1]\ntimeout_seconds = 1\npoll_interval_ms = 100\n",
    )
    .unwrap();
    gateway.stop();
    gateway.restart().await;
    let key = gateway.create_key(&["--name", "dev"]);
    let body = json!({"prompt": scripted(vec![say("ok")]), "webhook": {"url": format!("http://{addr}/ok/late")}});
    let task = gateway.submit(&key, body).await;
    let id = task["id"].as_str().unwrap();
    gateway.wait_done(&key, id).await;
    for _ in 0..100 {
        if deliveries(&gateway, &key, id).await[0]["attempts"].as_array().unwrap().len() >= 2 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let list = deliveries(&gateway, &key, id).await;
    assert_eq!(list[0]["status"], "pending", "{list:?}");
    assert!(list[0]["attempts"][0]["error"].as_str().unwrap().contains("onnect"), "{list:?}");

    gateway.stop();
    let receiver = Receiver::start_on(reserved.listen(64).unwrap()).await;
    gateway.restart().await;
    let got = receiver.wait_for("/ok/late", 1, Duration::from_secs(30)).await;
    assert_eq!(got.len(), 1);
    // Stored as delivered, a delivery is never attempted again.
    let list = wait_for_delivery_status(&gateway, &key, id, "delivered").await;
    assert_eq!(list.len(), 1, "{list:?}");
    assert_eq!(receiver.requests_to("/ok/late").len(), 1, "delivered once");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_keys_default_webhook_and_budgets_can_be_changed_and_cleared() {
    let model = Model::start().await;
    let receiver = Receiver::start().await;
    let config = tempfile::NamedTempFile::new().unwrap();
    let gateway = gateway_for_webhooks(&model, &config).await;
    let created = gateway.create_key_json(&["--name", "dev"]);
    let (key, key_id) = (created["secret"].as_str().unwrap(), created["id"].as_str().unwrap());
    let admin = gateway.admin_key.clone();
    let patch = |body: Value| {
        let request = gateway.request(reqwest::Method::PATCH, &format!("/v1/keys/{key_id}"), &admin).json(&body);
        async move {
            let response = request.send().await.unwrap();
            (response.status().as_u16(), response.json::<Value>().await.unwrap())
        }
    };
    let url = format!("{}/ok/patched", receiver.url);
    let (status, updated) = patch(json!({"webhook_url": url, "budget_usd_per_day": 5, "name": "renamed"})).await;
    assert_eq!(status, 200, "{updated}");
    assert_eq!(
        (updated["webhook_url"].as_str(), updated["budget_usd_per_day"].as_f64()),
        (Some(url.as_str()), Some(5.0))
    );
    assert_eq!(updated["name"], "renamed");
    gateway.submit(key, json!({"prompt": scripted(vec![say("one")])})).await;
    assert_eq!(receiver.wait_for("/ok/patched", 1, Duration::from_secs(30)).await.len(), 1);

    let (status, cleared) = patch(json!({"webhook_url": null, "budget_usd_per_day": null})).await;
    assert_eq!(status, 200, "{cleared}");
    assert!(cleared["webhook_url"].is_null() && cleared["budget_usd_per_day"].is_null(), "{cleared}");
    let task = gateway.submit(key, json!({"prompt": scripted(vec![say("two")])})).await;
    let id = task["id"].as_str().unwrap();
    gateway.wait_done(key, id).await;
    // A delivery is stored when the task is, so none stored means none will be sent.
    assert_eq!(deliveries(&gateway, key, id).await, Vec::<Value>::new(), "no default webhook any more");
    assert_eq!(receiver.requests_to("/ok/patched").len(), 1);

    // Refused changes and unknown keys: `tests/api/keys.rs`.
}

#[tokio::test(flavor = "multi_thread")]
async fn a_prompt_waiting_for_a_person_is_announced_and_can_be_decided_from_the_webhook() {
    let model = Model::start().await;
    let receiver = Receiver::start().await;
    let config = tempfile::NamedTempFile::new().unwrap();
    let gateway = gateway_for_webhooks(&model, &config).await;
    let created = gateway.create_key_json(&["--name", "dev"]);
    let key = created["secret"].as_str().unwrap();
    let body = json!({
        "prompt": scripted(vec![bash("touch approved.txt"), say("done")]),
        "options": {"approvals": {"mode": "ask", "timeout_seconds": 120}},
        "webhook": {"url": format!("{}/ok/approvals", receiver.url),
                    "events": ["task.approval_requested", "task.completed"]},
    });
    let task = gateway.submit(key, body).await;
    let id = task["id"].as_str().unwrap();
    // Nothing but the webhook says a prompt waits: the receiver decides from its payload.
    let announced = receiver.wait_for("/ok/approvals", 1, Duration::from_secs(60)).await;
    assert_eq!(announced.len(), 1, "no approval webhook came");
    verify_independently(created["webhook_secret"].as_str().unwrap(), &announced[0]);
    let payload: Value = serde_json::from_str(&announced[0].body).unwrap();
    assert_eq!(payload["type"], "task.approval_requested", "{payload}");
    assert_eq!(payload["data"]["id"], id);
    let approval = &payload["data"]["approval"];
    assert_eq!((approval["tool"].as_str(), approval["state"].as_str()), (Some("Bash"), Some("pending")), "{payload}");
    assert_eq!(approval["input"]["command"], "touch approved.txt");
    assert_eq!(payload["data"]["pending_approvals"][0]["id"], approval["id"]);
    let decision = format!("/v1/tasks/{id}/approvals/{}", approval["id"].as_str().unwrap());
    assert_eq!(gateway.post(&decision, key, &json!({"decision": "allow"})).await.0, 200);
    let task = gateway.wait_done(key, id).await;
    assert_eq!(task["status"], "completed", "{task}");
    let all = receiver.wait_for("/ok/approvals", 2, Duration::from_secs(30)).await;
    let types: Vec<String> =
        all.iter().map(|r| serde_json::from_str::<Value>(&r.body).unwrap()["type"].as_str().unwrap().into()).collect();
    assert_eq!(types, ["task.approval_requested", "task.completed"]);
    assert!(gateway.data.path().join(format!("tasks/{id}/workspace/approved.txt")).exists());
}

#[tokio::test(flavor = "multi_thread")]
async fn a_keys_default_webhook_hears_of_waiting_prompts_when_it_asks_to() {
    let model = Model::start().await;
    let receiver = Receiver::start().await;
    let config = tempfile::NamedTempFile::new().unwrap();
    let gateway = gateway_for_webhooks(&model, &config).await;
    let admin = gateway.admin_key.clone();
    let url = format!("{}/ok/key-default", receiver.url);
    // Bad lists are named and change nothing.
    let (status, problem) = gateway
        .post("/v1/keys", &admin, &json!({"name": "x", "webhook_url": url, "webhook_events": ["task.exploded"]}))
        .await;
    assert_eq!((status, problem["errors"][0]["pointer"].as_str()), (422, Some("/webhook_events")), "{problem}");
    let body = json!({"name": "asker", "webhook_url": url,
                      "webhook_events": ["task.approval_requested", "task.completed", "task.completed"]});
    let (status, created) = gateway.post("/v1/keys", &admin, &body).await;
    assert_eq!(status, 201, "{created}");
    assert_eq!(created["webhook_events"], json!(["task.completed", "task.approval_requested"]));
    let key = created["secret"].as_str().unwrap();
    let task = gateway
        .submit(
            key,
            json!({"prompt": scripted(vec![bash("touch k.txt"), say("done")]),
                   "options": {"approvals": {"mode": "ask", "timeout_seconds": 120}}}),
        )
        .await;
    let id = task["id"].as_str().unwrap();
    let announced = receiver.wait_for("/ok/key-default", 1, Duration::from_secs(60)).await;
    assert_eq!(announced.len(), 1, "the key's webhook heard nothing");
    verify_independently(created["webhook_secret"].as_str().unwrap(), &announced[0]);
    let payload: Value = serde_json::from_str(&announced[0].body).unwrap();
    assert_eq!(payload["type"], "task.approval_requested", "{payload}");
    let decision = format!("/v1/tasks/{id}/approvals/{}", payload["data"]["approval"]["id"].as_str().unwrap());
    assert_eq!(gateway.post(&decision, key, &json!({"decision": "allow"})).await.0, 200);
    assert_eq!(gateway.wait_done(key, id).await["status"], "completed");
    let all = receiver.wait_for("/ok/key-default", 2, Duration::from_secs(30)).await;
    assert_eq!(all.len(), 2);
    // `null` restores the defaults: no more prompts announced.
    let key_id = created["id"].as_str().unwrap();
    let request = gateway.request(reqwest::Method::PATCH, &format!("/v1/keys/{key_id}"), &admin);
    let restored: Value = request.json(&json!({"webhook_events": null})).send().await.unwrap().json().await.unwrap();
    assert_eq!(restored["webhook_events"], json!(["task.completed", "task.failed", "task.cancelled"]));
}
