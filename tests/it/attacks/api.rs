//! Attacks over the HTTP API with an ordinary `tasks` key, or with no key at all:
//! requests of a few kilobytes that once cost the gateway gigabytes, minutes of CPU,
//! every file descriptor or its audit trail. Each is now refused or bounded, and the
//! gateway keeps answering.

use std::time::{Duration, Instant};

use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::support::*;

/// A gateway with `config` (TOML) as its configuration file.
async fn gateway_with(model: &Model, config: &str) -> (Gateway, tempfile::NamedTempFile) {
    let file = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(file.path(), config).unwrap();
    let env = vec![("CCGATE_CONFIG".to_string(), file.path().display().to_string())];
    (Gateway::start(model, GatewayOptions { env, ..Default::default() }).await, file)
}

/// The chain that made validating an answer exponential: each definition refers to
/// the next twice, and an answer that fails every branch walks 2^depth paths.
fn ref_chain(depth: usize) -> Value {
    let mut defs = serde_json::Map::new();
    for i in 0..depth {
        let next = format!("#/$defs/d{}", i + 1);
        defs.insert(format!("d{i}"), json!({"anyOf": [{"$ref": next}, {"$ref": next}]}));
    }
    defs.insert(format!("d{depth}"), json!({"type": "integer", "minimum": 1}));
    json!({"$defs": defs, "$ref": "#/$defs/d0"})
}

async fn raw_post(gateway: &Gateway, path: &str, key: &str, body: String) -> (u16, String) {
    let response = gateway
        .request(reqwest::Method::POST, path, key)
        .header("content-type", "application/json")
        .body(body)
        .send()
        .await
        .unwrap();
    (response.status().as_u16(), response.text().await.unwrap())
}

#[tokio::test(flavor = "multi_thread")]
#[ignore = "heavy: scripts/test.sh runs it alone after the main run"]
async fn output_schemas_are_capped_and_a_schema_bomb_costs_one_killed_checker() {
    let model = Model::start().await;
    let gateway = Gateway::start(&model, GatewayOptions::default()).await;
    let key = gateway.create_key(&["--name", "dev"]);

    // Size: a 1 MB description (the attack used 40 MB) is refused by name; nothing stored.
    let huge = json!({"type": "object", "description": "x".repeat(1024 * 1024)});
    let (status, problem) =
        gateway.post("/v1/tasks", &key, &json!({"prompt": "p", "options": {"output_schema": huge}})).await;
    assert_eq!(status, 422, "{problem}");
    assert_eq!(problem["errors"][0]["pointer"], "/options/output_schema");
    assert!(problem["errors"][0]["message"].as_str().unwrap().contains("tasks.output_schema.max_bytes"), "{problem}");
    // Count: 40,000 `pattern` nodes once took 21 s and 6 GB to compile.
    let patterns: Vec<Value> = (0..40_000).map(|i| json!({"pattern": format!("^a{i}$")})).collect();
    let (status, problem) = gateway
        .post("/v1/tasks", &key, &json!({"prompt": "p", "options": {"output_schema": {"anyOf": patterns}}}))
        .await;
    assert_eq!(status, 422, "{problem}");
    assert!(problem.to_string().contains("tasks.output_schema.max_"), "{problem}");
    let (_, page) = gateway.get("/v1/tasks", &key).await;
    assert_eq!(page["data"].as_array().unwrap().len(), 0, "refused requests store nothing");

    // The 3 KB chain passes the caps and compiles; the agent's answer "x" would take
    // 2^24 paths to validate. The checker is killed at its budget, the task fails
    // output_schema_mismatch saying why, and the gateway answers all the while.
    let task = gateway
        // Answered in text twice: the CLI nudges once for the StructuredOutput tool.
        .submit(
            &key,
            json!({"prompt": scripted(vec![say("\"x\""), say("\"x\"")]), "options": {"output_schema": ref_chain(24)}}),
        )
        .await;
    let id = task["id"].as_str().unwrap();
    let started = Instant::now();
    loop {
        let response =
            gateway.http.get(format!("{}/healthz", gateway.url)).timeout(Duration::from_secs(2)).send().await;
        assert!(response.is_ok_and(|r| r.status() == 200), "/healthz stopped answering while the schema was checked");
        let (_, task) = gateway.get(&format!("/v1/tasks/{id}"), &key).await;
        if task["status"] == "failed" {
            assert_eq!(task["error"]["kind"], "output_schema_mismatch", "{task}");
            let message = task["error"]["message"].as_str().unwrap();
            assert!(message.contains("tasks.output_schema.check_"), "{message}");
            assert_eq!(task["attempts"], 1, "a schema over budget is not retried: {task}");
            break;
        }
        assert!(task["status"] != "completed", "{task}");
        assert!(started.elapsed() < Duration::from_secs(90), "the task did not end: {task}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let rss = gateway_rss_kib(gateway.pid());
    assert!(rss < 1024 * 1024, "the gateway grew to {rss} KiB");
}

/// The gateway's resident memory, in KiB.
fn gateway_rss_kib(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap()
}

#[tokio::test(flavor = "multi_thread")]
async fn a_body_of_many_bad_values_gets_a_small_answer() {
    let model = Model::start().await;
    let gateway = Gateway::start(&model, GatewayOptions::default()).await;
    let key = gateway.create_key(&["--name", "dev"]);
    // 2 MB of `1, ` once produced a 124 MB problem and a 1.2 GB peak.
    let tools = vec!["1"; 700_000].join(",");
    let (status, text) =
        raw_post(&gateway, "/v1/tasks", &key, format!(r#"{{"prompt":"p","options":{{"allowed_tools":[{tools}]}}}}"#))
            .await;
    assert_eq!(status, 422);
    assert!(text.len() < 4096, "the answer is {} bytes", text.len());
    assert!(text.contains("/options/allowed_tools") && text.contains("at most 128"), "{text}");
    // A body of a hundred thousand unknown fields: a few named, the rest counted.
    let fields: Vec<String> = (0..100_000).map(|i| format!(r#""f{i}":0"#)).collect();
    let (status, text) =
        raw_post(&gateway, "/v1/tasks", &key, format!(r#"{{"prompt":"p",{}}}"#, fields.join(","))).await;
    assert_eq!(status, 422);
    let problem: Value = serde_json::from_str(&text).unwrap();
    let errors = problem["errors"].as_array().unwrap();
    assert!(errors.len() <= 50 && text.len() < 8192, "{} errors, {} bytes", errors.len(), text.len());
    assert!(text.contains("99990 more unknown fields"), "{text}");
    // Keys: scopes and fields are bounded the same way.
    let scopes = vec![r#""tasks""#; 100_000].join(",");
    let (status, text) =
        raw_post(&gateway, "/v1/keys", &gateway.admin_key, format!(r#"{{"name":"k","scopes":[{scopes}]}}"#)).await;
    assert_eq!(status, 422);
    assert!(text.len() < 4096 && text.contains("/scopes"), "{text}");
}

#[tokio::test(flavor = "multi_thread")]
async fn artifact_globs_are_capped_in_total() {
    let model = Model::start().await;
    let gateway = Gateway::start(&model, GatewayOptions::default()).await;
    let key = gateway.create_key(&["--name", "dev"]);
    // 32 patterns of 64 alternatives each held both workers for two minutes.
    let alternatives: Vec<String> = (0..64).map(|i| format!("a{i}")).collect();
    let pattern = format!("**/*{{{}}}*", alternatives.join(","));
    let (status, problem) =
        gateway.post("/v1/tasks", &key, &json!({"prompt": "p", "artifacts": vec![pattern.clone(); 32]})).await;
    assert_eq!(status, 422, "{problem}");
    assert!(problem.to_string().contains("tasks.max_artifact_alternatives"), "{problem}");
    // Two such patterns are within the cap.
    let (status, problem) = gateway
        .post("/v1/tasks", &key, &json!({"prompt": scripted(vec![say("ok")]), "artifacts": vec![pattern; 2]}))
        .await;
    assert_eq!(status, 202, "{problem}");
}

#[tokio::test(flavor = "multi_thread")]
async fn slow_and_greedy_clients_are_cut_off() {
    let model = Model::start().await;
    let config = "[http]\nheader_read_timeout_seconds = 1\nbody_idle_timeout_seconds = 1\nmax_uploads_per_key = 2\n\
                  max_connections_per_address = 40\n";
    let (gateway, _config) = gateway_with(&model, config).await;
    let key = gateway.create_key(&["--name", "dev"]);
    let addr = gateway.url.trim_start_matches("http://").to_string();

    // Half a header: the connection is closed at the header deadline.
    let mut half = tokio::net::TcpStream::connect(&addr).await.unwrap();
    half.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Slow: ").await.unwrap();
    let mut buffer = Vec::new();
    let closed = tokio::time::timeout(Duration::from_secs(15), half.read_to_end(&mut buffer)).await;
    assert!(closed.is_ok(), "a connection with half a header stayed open");

    // Connections past the per-address cap are answered 503 and closed at once.
    let mut held = Vec::new();
    for _ in 0..40 {
        held.push(tokio::net::TcpStream::connect(&addr).await.unwrap());
    }
    let mut refused = tokio::net::TcpStream::connect(&addr).await.unwrap();
    let mut answer = String::new();
    tokio::time::timeout(Duration::from_secs(10), refused.read_to_string(&mut answer)).await.unwrap().unwrap();
    assert!(answer.starts_with("HTTP/1.1 503") && answer.contains("http.max_connections_per_address"), "{answer}");
    assert!(answer.contains("\r\nx-request-id: req_"), "every answer has a request id: {answer}");
    drop(held);
    let healthy = wait_until(Duration::from_secs(10), || async {
        gateway.http.get(format!("{}/healthz", gateway.url)).send().await.is_ok_and(|r| r.status() == 200)
    })
    .await;
    assert!(healthy, "the gateway did not take connections again");

    // Uploads that stall: two in flight are the key's cap, a third is 429 at once;
    // the stalled ones fail at the body deadline and leave nothing in data/uploads.
    let mut stalled = Vec::new();
    for _ in 0..2 {
        let mut stream = tokio::net::TcpStream::connect(&addr).await.unwrap();
        let head = format!(
            "POST /v1/tasks HTTP/1.1\r\nHost: {addr}\r\nAuthorization: Bearer {key}\r\n\
             Content-Type: multipart/form-data; boundary=XyZ\r\nContent-Length: 31457280\r\n\r\n\
             --XyZ\r\nContent-Disposition: form-data; name=\"f\"; filename=\"big.bin\"\r\n\r\n"
        );
        stream.write_all(head.as_bytes()).await.unwrap();
        stream.write_all(&vec![b'a'; 256 * 1024]).await.unwrap();
        stalled.push(stream);
    }
    let uploads = gateway.data.path().join("uploads");
    let staged = wait_until(Duration::from_secs(10), || async { entries_in(&uploads) == 2 }).await;
    assert!(staged, "the two uploads were not being received");
    let form = reqwest::multipart::Form::new()
        .text("task", json!({"prompt": "p"}).to_string())
        .part("f", reqwest::multipart::Part::bytes(b"x".to_vec()).file_name("x.txt"));
    let third = gateway.request(reqwest::Method::POST, "/v1/tasks", &key).multipart(form).send().await.unwrap();
    assert_eq!(third.status(), 429);
    assert!(third.text().await.unwrap().contains("http.max_uploads_per_key"));
    for mut stream in stalled {
        let mut answer = Vec::new();
        let _ = tokio::time::timeout(Duration::from_secs(15), stream.read_to_end(&mut answer)).await;
        let text = String::from_utf8_lossy(&answer);
        assert!(text.starts_with("HTTP/1.1 400"), "{text}");
    }
    let cleaned = wait_until(Duration::from_secs(10), || async { entries_in(&uploads) == 0 }).await;
    assert!(cleaned, "stalled uploads left {} entries in data/uploads", entries_in(&uploads));
}

#[tokio::test(flavor = "multi_thread")]
async fn guessing_keys_is_slowed_per_address() {
    let model = Model::start().await;
    let (gateway, _config) = gateway_with(&model, "[http]\nmax_auth_failures_per_minute = 5\n").await;
    let used = gateway.create_key(&["--name", "used"]);
    let fresh = gateway.create_key(&["--name", "fresh"]);
    assert_eq!(gateway.get("/v1/tasks", &used).await.0, 200);
    let bogus = "ccg_live_0123456789abcdef0123456789abcdef0123456789abcdef";
    for _ in 0..5 {
        assert_eq!(gateway.get("/v1/tasks", bogus).await.0, 401);
    }
    let (status, problem) = gateway.get("/v1/tasks", bogus).await;
    assert_eq!(status, 429, "{problem}");
    assert!(problem["detail"].as_str().unwrap().contains("http.max_auth_failures_per_minute"), "{problem}");
    // Past the cap the database is not asked: a key verified recently still works,
    // any other key from this address waits.
    assert_eq!(gateway.get("/v1/tasks", &used).await.0, 200);
    assert_eq!(gateway.get("/v1/tasks", &fresh).await.0, 429);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_flood_of_bad_keys_cannot_blind_the_audit_log() {
    let model = Model::start().await;
    let gateway = Gateway::start(&model, GatewayOptions::default()).await;
    let key = gateway.create_key(&["--name", "dev"]);
    // Both keys verified before the flood: past the address's cap of failed look-ups,
    // recently verified keys still pass.
    assert_eq!(gateway.get("/v1/tasks", &key).await.0, 200);
    assert_eq!(gateway.get("/v1/audit", &gateway.admin_key).await.0, 200);
    let bogus = "ccg_live_0123456789abcdef0123456789abcdef0123456789abcdef";
    // Refusals with 60 KB paths, then a flood of 1,000 without a valid key.
    let long_path = format!("/v1/tasks/{}", "x".repeat(60 * 1024));
    for _ in 0..3 {
        assert_eq!(gateway.get(&long_path, bogus).await.0, 401);
    }
    let mut flood = Vec::new();
    for _ in 0..1000 {
        let request = gateway.request(reqwest::Method::GET, "/v1/tasks", bogus);
        flood.push(tokio::spawn(async move { request.send().await.map(|r| r.status().as_u16()) }));
        if flood.len() >= 64 {
            for f in flood.drain(..) {
                let _ = f.await;
            }
        }
    }
    for f in flood {
        let _ = f.await;
    }
    // Then a real key is refused twenty times, with its own request id.
    for _ in 0..20 {
        let response = gateway
            .request(reqwest::Method::GET, "/v1/keys", &key)
            .header("x-request-id", "client-chosen-id")
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 403);
        assert_eq!(response.headers()["x-request-id"], "client-chosen-id", "the client's id is echoed");
    }
    let key_id = gateway.get("/v1/tasks", &key).await; // the key still works
    assert_eq!(key_id.0, 200);
    let recorded = wait_until(Duration::from_secs(10), || async {
        let (_, log) = gateway.get("/v1/audit?action=request.denied&limit=200", &gateway.admin_key).await;
        log["data"].as_array().unwrap().iter().filter(|e| e["details"]["status"] == 403).count() == 20
    })
    .await;
    assert!(recorded, "the key's 20 refusals are not all in the audit log");
    let (_, log) = gateway.get("/v1/audit?action=request.denied&limit=200", &gateway.admin_key).await;
    let entries = log["data"].as_array().unwrap();
    let forbidden = entries.iter().find(|e| e["details"]["status"] == 403).unwrap();
    assert_eq!(forbidden["target"], "GET /v1/keys");
    assert_eq!(forbidden["client_request_id"], "client-chosen-id");
    assert!(forbidden["request_id"].as_str().unwrap().starts_with("req_"), "{forbidden}");
    // No raw path is stored: route templates and ids of at most 64 bytes.
    assert!(log.to_string().len() < 200 * 1024, "the audit page is {} bytes", log.to_string().len());
    for entry in entries {
        assert!(entry["target"].as_str().unwrap_or_default().len() < 64, "{entry}");
        assert!(entry["details"]["id"].as_str().unwrap_or_default().len() <= 64, "{entry}");
    }
    assert!(entries.iter().any(|e| e["target"] == "GET /v1/tasks/{id}"), "the long paths are recorded by route");
}

#[tokio::test(flavor = "multi_thread")]
async fn requests_that_once_made_server_errors_get_client_errors() {
    let model = Model::start().await;
    let gateway = Gateway::start(&model, GatewayOptions::default()).await;
    let key = gateway.create_key(&["--name", "dev"]);
    let task = gateway
        .submit(&key, json!({"prompt": scripted(vec![say("ok")]), "files": [{"path": "hello.txt", "content": "hi"}]}))
        .await;
    let id = task["id"].as_str().unwrap();
    gateway.wait_done(&key, id).await;
    // A path that continues past a file (ENOTDIR) and one longer than the kernel takes.
    for path in ["hello.txt/".to_string(), "hello.txt/more".to_string(), "a/".repeat(3000)] {
        let (status, problem) = gateway.get(&format!("/v1/tasks/{id}/files/{path}"), &key).await;
        assert_eq!(status, 404, "{path}: {problem}");
    }
    // 1,500 metadata filters: past SQLite's expression depth once; now a cap.
    let filters: Vec<String> = (0..1500).map(|i| format!("metadata.k{i}=v")).collect();
    let (status, problem) = gateway.get(&format!("/v1/tasks?{}", filters.join("&")), &key).await;
    assert_eq!(status, 422, "{problem}");
    assert!(problem["detail"].as_str().unwrap().contains("at most 16"), "{problem}");
    // Inline file names with a newline or an escape are refused like `..`.
    for name in ["a\nb.txt", "\u{1b}[31mred.txt"] {
        let body = json!({"prompt": "p", "files": [{"path": name, "content": "x"}]});
        let (status, problem) = gateway.post("/v1/tasks", &key, &body).await;
        assert_eq!(status, 422, "{problem}");
        assert_eq!(problem["errors"][0]["pointer"], "/files/0/path");
    }
    // A zip whose link target is 5,000 bytes (ENAMETOOLONG when written).
    let mut writer = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    writer.add_symlink("link", "a/".repeat(2500), zip::write::SimpleFileOptions::default()).unwrap();
    let archive = writer.finish().unwrap().into_inner();
    let form = reqwest::multipart::Form::new()
        .text("task", json!({"prompt": "p"}).to_string())
        .part("archive", reqwest::multipart::Part::bytes(archive).file_name("a.zip"));
    let response = gateway.request(reqwest::Method::POST, "/v1/tasks", &key).multipart(form).send().await.unwrap();
    assert_eq!(response.status(), 422);
    assert!(response.text().await.unwrap().contains("longer than"));
}

#[tokio::test(flavor = "multi_thread")]
async fn a_page_of_large_tasks_ends_early_with_a_cursor() {
    let model = Model::start().await;
    let gateway = Gateway::start(&model, GatewayOptions::default()).await;
    // One task at a time, held by a blocker: the large ones stay queued.
    let key = gateway.create_key(&["--name", "dev", "--max-concurrent", "1"]);
    let marker = gateway.data.path().join("release");
    let blocker = format!("while [ ! -e {} ]; do sleep 0.1; done", marker.display());
    let blocker = gateway.submit(&key, task_body(vec![bash(&blocker), say("released")])).await;
    let mut ids = vec![blocker["id"].as_str().unwrap().to_string()];
    for i in 0..20 {
        let prompt = format!("large {i}\n{}", "p".repeat(250 * 1024));
        ids.push(gateway.submit(&key, json!({"prompt": prompt})).await["id"].as_str().unwrap().to_string());
    }
    let mut seen = Vec::new();
    let mut path = "/v1/tasks?limit=200".to_string();
    let mut pages = 0;
    loop {
        let response = gateway.request(reqwest::Method::GET, &path, &key).send().await.unwrap();
        let text = response.text().await.unwrap();
        assert!(text.len() < 6 * 1024 * 1024, "a page of {} bytes", text.len());
        let page: Value = serde_json::from_str(&text).unwrap();
        pages += 1;
        seen.extend(page["data"].as_array().unwrap().iter().map(|t| t["id"].as_str().unwrap().to_string()));
        match page["next_cursor"].as_str() {
            Some(cursor) => path = format!("/v1/tasks?limit=200&cursor={cursor}"),
            None => break,
        }
    }
    assert!(pages > 1, "21 tasks of 250 KB came in one page");
    seen.sort();
    ids.sort();
    assert_eq!(seen, ids, "every task is on exactly one page");
    std::fs::write(&marker, "").unwrap();
}

fn entries_in(dir: &std::path::Path) -> usize {
    std::fs::read_dir(dir).map(|d| d.count()).unwrap_or(0)
}

/// Polls `check` until it holds or `limit` passes.
async fn wait_until<F, Fut>(limit: Duration, check: F) -> bool
where
    F: Fn() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let started = Instant::now();
    while started.elapsed() < limit {
        if check().await {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    false
}

/// A task that runs until `marker` exists.
async fn blocker(gateway: &Gateway, key: &str, marker: &std::path::Path) -> String {
    let wait = format!("while [ ! -e {} ]; do sleep 0.1; done", marker.display());
    let task = gateway.submit(key, task_body(vec![bash(&wait), say("released")])).await;
    let id = task["id"].as_str().unwrap().to_string();
    gateway.wait_for(key, &id, &["running"], Duration::from_secs(60)).await;
    id
}

#[tokio::test(flavor = "multi_thread")]
async fn event_streams_are_capped_per_key_and_end_when_the_key_is_revoked() {
    let model = Model::start().await;
    let (gateway, _config) = gateway_with(&model, "[http]\nmax_streams_per_key = 2\n").await;
    let created = gateway.create_key_json(&["--name", "dev"]);
    let key = created["secret"].as_str().unwrap().to_string();
    let key_id = created["id"].as_str().unwrap().to_string();
    let other = gateway.create_key(&["--name", "other"]);
    let marker = gateway.data.path().join("release");
    let id = blocker(&gateway, &key, &marker).await;
    let events = format!("/v1/tasks/{id}/events");
    let mut open = Vec::new();
    for _ in 0..2 {
        let response = gateway.request(reqwest::Method::GET, &events, &key).send().await.unwrap();
        assert_eq!(response.status(), 200);
        open.push(response);
    }
    let (status, problem) = gateway.get(&events, &key).await;
    assert_eq!(status, 429, "{problem}");
    assert!(problem["detail"].as_str().unwrap().contains("http.max_streams_per_key"), "{problem}");
    // Another key has its own streams (on its own task).
    let theirs = blocker(&gateway, &other, &marker).await;
    let response = gateway.request(reqwest::Method::GET, &format!("/v1/tasks/{theirs}/events"), &other).send().await;
    assert_eq!(response.unwrap().status(), 200);
    // A stream that ends gives its place back.
    drop(open.pop());
    let reopened = wait_until(Duration::from_secs(10), || async {
        match gateway.request(reqwest::Method::GET, &events, &key).send().await {
            Ok(response) if response.status() == 200 => {
                drop(response);
                true
            }
            _ => false,
        }
    })
    .await;
    assert!(reopened, "a closed stream's place did not come back");

    // Revoking the key ends its open stream while the task still runs.
    let revoked =
        gateway.request(reqwest::Method::DELETE, &format!("/v1/keys/{key_id}"), &gateway.admin_key).send().await;
    assert_eq!(revoked.unwrap().status(), 204);
    let mut stream = open.pop().unwrap();
    let ended =
        tokio::time::timeout(Duration::from_secs(10), async { while let Ok(Some(_)) = stream.chunk().await {} }).await;
    // The task cannot have ended: it waits for the marker, written only now.
    assert!(ended.is_ok(), "the revoked key's stream stayed open");
    std::fs::write(&marker, "").unwrap();
}

#[tokio::test(flavor = "multi_thread")]
async fn metrics_take_a_token_or_a_listener_of_their_own() {
    let model = Model::start().await;
    let (gateway, _config) = gateway_with(&model, "[metrics]\ntoken = \"scrape-secret\"\n").await;
    let metrics = format!("{}/metrics", gateway.url);
    assert_eq!(gateway.http.get(&metrics).send().await.unwrap().status(), 401);
    assert_eq!(gateway.http.get(&metrics).bearer_auth("wrong").send().await.unwrap().status(), 401);
    let scraped = gateway.http.get(&metrics).bearer_auth("scrape-secret").send().await.unwrap();
    assert_eq!(scraped.status(), 200);
    assert!(scraped.text().await.unwrap().contains("ccgate_"));

    let (gateway, _config) = gateway_with(&model, "[metrics]\nlisten = \"127.0.0.1:0\"\n").await;
    let (status, problem) = gateway.get("/metrics", "").await;
    assert_eq!(status, 404, "{problem}");
    assert!(problem["detail"].as_str().unwrap().contains("metrics.listen"));
    let log = gateway.log();
    let at = log.find("metrics on http://").expect("the metrics address is logged") + "metrics on ".len();
    let url: String = log[at..].chars().take_while(|c| !c.is_whitespace() && *c != '"').collect();
    let scraped = gateway.http.get(&url).send().await.unwrap();
    assert_eq!(scraped.status(), 200, "{url}");
    assert!(scraped.text().await.unwrap().contains("ccgate_"));
    let other = gateway.http.get(url.replace("/metrics", "/v1/tasks")).send().await.unwrap();
    assert_eq!(other.status(), 404, "the metrics listener serves nothing else");
}
