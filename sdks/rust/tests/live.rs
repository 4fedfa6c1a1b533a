//! The SDK against a live gateway: create with files, stream, follow up, cancel,
//! artifacts, pages, webhooks, a 422 and a 429 — the real CLI and the scripted model,
//! the same scenario as the Python and TypeScript SDKs' live tests. They start a
//! gateway from `CCGATE_BIN`, so they are ignored by a plain `cargo test`;
//! scripts/test-sdks.sh runs them (`-- --ignored`) with it set.

mod support;

use std::collections::HashMap;
use std::pin::pin;
use std::time::{Duration, Instant, SystemTime};

use ccgate_client::types::{KeyRequest, WebhookEventName};
use ccgate_client::webhooks::{self, Verifier};
use ccgate_client::{
    ArchiveFormat, Client, CreateTask, Error, EventKind, ListFilters, ProblemKind, RetryPolicy, TaskEvent, TaskStatus,
    WebhookError,
};
use futures_util::{StreamExt, TryStreamExt};
use support::{Gateway, script};

fn client(gateway: &Gateway) -> Client {
    Client::new(&gateway.url, &gateway.key).expect("a client")
}

fn tar_gz(files: &[(&str, &[u8])]) -> Vec<u8> {
    let mut archive = tar::Builder::new(flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast()));
    for (name, content) in files {
        let mut header = tar::Header::new_gnu();
        header.set_size(content.len() as u64);
        header.set_mode(0o644);
        // Written by hand: `append_data` refuses the `..` a hostile archive needs.
        header.as_gnu_mut().expect("a GNU header").name[..name.len()].copy_from_slice(name.as_bytes());
        header.set_cksum();
        archive.append(&header, *content).expect("appended");
    }
    archive.into_inner().and_then(|gz| gz.finish()).expect("a tar.gz")
}

async fn collect(events: impl futures_util::Stream<Item = Result<TaskEvent, Error>>) -> Vec<TaskEvent> {
    events.try_collect().await.expect("the stream ends with the task")
}

fn api(error: Error) -> ccgate_client::ApiError {
    match error {
        Error::Api(api) => *api,
        other => panic!("expected a refusal, got {other:?}"),
    }
}

#[tokio::test]
#[ignore = "starts a gateway from CCGATE_BIN: scripts/test-sdks.sh runs it"]
async fn create_with_files_stream_artifacts_and_webhook() {
    let gateway = live_gateway!();
    let client = client(gateway);
    let scratch = tempfile::tempdir().unwrap();
    let local = scratch.path().join("local.txt");
    std::fs::write(&local, "from disk\n").unwrap();
    let task = CreateTask::new(script(
        "Report",
        &["mkdir -p out && cat notes/todo.txt src/app.py local.txt > out/report.txt"],
        "Reported",
    ))
    .file("notes/todo.txt", "remember the milk\n")
    .file("local.txt", local.as_path())
    .file("bin/data", vec![0u8, 1])
    .archive("src.tar.gz", tar_gz(&[("src/app.py", b"print('hi')\n")]))
    .artifacts(["out/*"])
    .webhook(&gateway.receiver.url, [WebhookEventName::TaskCompleted]);
    let task = client.tasks().create(task).await.unwrap();
    assert_eq!(task.status, TaskStatus::Queued);

    let events = collect(client.tasks().stream(&task.id)).await;
    let seqs: Vec<u64> = events.iter().map(|e| e.seq).collect();
    assert!(seqs.windows(2).all(|w| w[0] < w[1]) && seqs[0] == 1, "{seqs:?}");
    let last = events.last().unwrap();
    assert!(last.is_terminal() && last.status() == Some(TaskStatus::Completed), "{last:?}");
    assert!(events.iter().any(|e| e.kind == EventKind::ToolUse && e.data["tool"] == "Bash"));

    let done = client.tasks().get(&task.id).await.unwrap();
    assert_eq!(done.status, TaskStatus::Completed);
    assert_eq!(done.result.and_then(|r| r.text).as_deref(), Some("Reported"));
    let expected = b"remember the milk\nprint('hi')\nfrom disk\n";
    let artifacts = client.tasks().list_artifacts(&task.id).await.unwrap();
    assert_eq!(artifacts.len(), 1, "{artifacts:?}");
    assert_eq!((artifacts[0].name.as_str(), artifacts[0].size), ("report.txt", expected.len() as i64));
    let saved = client.tasks().download_artifact(&task.id, "report.txt", scratch.path().join("a/report.txt")).await;
    assert_eq!(std::fs::read(saved.unwrap()).unwrap(), expected);
    let saved = client.tasks().download_file(&task.id, "out/report.txt", scratch.path().join("f.txt")).await;
    assert_eq!(std::fs::read(saved.unwrap()).unwrap(), expected);
    let saved = client
        .tasks()
        .download_archive(&task.id, scratch.path().join("ws.tar.gz"), ArchiveFormat::TarGz)
        .await
        .unwrap();
    let mut archive = tar::Archive::new(flate2::read::GzDecoder::new(std::fs::File::open(saved).unwrap()));
    let names: Vec<String> = archive
        .entries()
        .unwrap()
        .map(|e| e.unwrap().path().unwrap().to_string_lossy().trim_start_matches("./").to_string())
        .collect();
    assert!(names.contains(&"out/report.txt".to_string()), "{names:?}");
    let listing = client.tasks().list_files(&task.id).await.unwrap();
    let paths: Vec<&str> = listing.data.iter().map(|f| f.path.as_str()).collect();
    for path in ["notes/todo.txt", "src/app.py", "local.txt", "bin/data", "out/report.txt"] {
        assert!(paths.contains(&path), "{path} in {paths:?}");
    }
    let missing = client.tasks().download_file(&task.id, "absent.txt", scratch.path().join("absent.txt")).await;
    assert_eq!(api(missing.unwrap_err()).kind(), ProblemKind::NotFound);
    assert!(!scratch.path().join("absent.txt").exists(), "a refused download writes nothing");

    // The webhook the gateway sent for it verifies with the key's secret, and only so.
    let hook = gateway.receiver.wait_for(&task.id, Duration::from_secs(30));
    let headers = hook.headers.as_slice();
    let payload = webhooks::verify(&gateway.webhook_secret, headers, &hook.body).unwrap();
    assert_eq!(
        (payload["type"].as_str(), payload["data"]["status"].as_str()),
        (Some("task.completed"), Some("completed"))
    );
    let tampered = String::from_utf8(hook.body.clone()).unwrap().replace("completed", "failed");
    assert_eq!(webhooks::verify(&gateway.webhook_secret, headers, tampered.as_bytes()), Err(WebhookError::NoMatch));
    let later = Verifier::new([&gateway.webhook_secret]).at(SystemTime::now() + Duration::from_secs(3600));
    assert!(matches!(later.verify(headers, &hook.body), Err(WebhookError::OutsideTolerance(_))));
    let admin = Client::new(&gateway.url, &gateway.admin_key).unwrap();
    let other = admin.keys().create(&test_key("sdk-other", None)).await.unwrap().webhook_secret;
    assert_eq!(webhooks::verify(&other, headers, &hook.body), Err(WebhookError::NoMatch));
    // During a rotation, either secret verifies.
    let rotation = Verifier::new([other.as_str(), gateway.webhook_secret.as_str()]);
    assert_eq!(rotation.verify(headers, &hook.body).unwrap()["data"]["id"], task.id.as_str());
    let as_map: HashMap<String, String> = hook.headers.iter().cloned().collect();
    assert!(webhooks::verify(&gateway.webhook_secret, &as_map, &hook.body).is_ok());
    assert!(client.webhooks().verify(&gateway.webhook_secret, headers, &hook.body).is_ok(), "from the client too");
}

fn test_key(name: &str, rate_limit_per_minute: Option<u32>) -> KeyRequest {
    serde_json::from_value(serde_json::json!({
        "name": name, "environment": "test", "rate_limit_per_minute": rate_limit_per_minute,
    }))
    .expect("a key request")
}

#[tokio::test]
#[ignore = "starts a gateway from CCGATE_BIN: scripts/test-sdks.sh runs it"]
async fn keys_are_managed_and_a_rotated_secret_signs_twice() {
    let gateway = live_gateway!();
    let admin = Client::new(&gateway.url, &gateway.admin_key).unwrap();
    let key = admin.keys().create(&test_key("sdk-rotating", None)).await.unwrap();
    let old = key.webhook_secret.clone();
    let new = admin.keys().rotate_webhook_secret(&key.id).await.unwrap().webhook_secret;
    assert_ne!(old, new);
    let client = Client::new(&gateway.url, &key.secret).unwrap();
    let task = CreateTask::new("Say rotated").webhook(&gateway.receiver.url, []);
    let task = client.tasks().create(task).await.unwrap();
    let hook = gateway.receiver.wait_for(&task.id, Duration::from_secs(60));
    let headers = hook.headers.as_slice();
    let signature = headers.iter().find(|(n, _)| n == "webhook-signature").map(|(_, v)| v.as_str()).unwrap();
    assert_eq!(signature.split(' ').count(), 2, "{signature}");
    for secret in [&old, &new] {
        assert_eq!(webhooks::verify(secret, headers, &hook.body).unwrap()["data"]["id"], task.id.as_str());
    }
    let update = serde_json::from_value(serde_json::json!({ "name": "sdk-renamed" })).unwrap();
    assert_eq!(admin.keys().update(&key.id, &update).await.unwrap().name, "sdk-renamed");
    assert_eq!(admin.keys().get(&key.id).await.unwrap().name, "sdk-renamed");
    assert!(admin.keys().list().await.unwrap().data.iter().any(|k| k.id == key.id));
    let not_admin = client.keys().list().await.unwrap_err();
    assert_eq!(api(not_admin).kind(), ProblemKind::Forbidden);
    admin.keys().revoke(&key.id).await.unwrap();
    let revoked = client.tasks().get(&task.id).await.unwrap_err();
    assert_eq!(api(revoked).kind(), ProblemKind::Unauthorized);
}

#[tokio::test]
#[ignore = "starts a gateway from CCGATE_BIN: scripts/test-sdks.sh runs it"]
async fn follow_up_continues_the_workspace() {
    let gateway = live_gateway!();
    let client = client(gateway);
    let task = client.tasks().create(CreateTask::new(script("Write", &["echo hello > hello.txt"], "Wrote"))).await;
    let task = task.unwrap();
    let done = client.tasks().wait(&task.id, Some(Duration::from_secs(60))).await.unwrap();
    assert_eq!(done.status, TaskStatus::Completed);
    let prompt = script("Append", &["echo world >> hello.txt"], "Appended");
    let queued = client.tasks().send_message(&task.id, &prompt, None).await.unwrap();
    assert_eq!(queued.status, TaskStatus::Queued);
    let done = client.tasks().wait(&task.id, Some(Duration::from_secs(60))).await.unwrap();
    assert_eq!(done.status, TaskStatus::Completed);
    assert_eq!(done.turns.len(), 2);
    assert_eq!(done.result.and_then(|r| r.text).as_deref(), Some("Appended"));
    let listing = client.tasks().list_files(&task.id).await.unwrap();
    let hello = listing.data.iter().find(|f| f.path == "hello.txt").expect("hello.txt");
    assert_eq!(hello.size, "hello\nworld\n".len() as i64);
}

#[tokio::test]
#[ignore = "starts a gateway from CCGATE_BIN: scripts/test-sdks.sh runs it"]
async fn cancel_a_slow_task() {
    let gateway = live_gateway!();
    let client = client(gateway);
    let slow =
        client.tasks().create(CreateTask::new(script("Wait", &["echo busy && sleep 60"], "waited"))).await.unwrap();
    let mut events = pin!(client.tasks().stream_from(&slow.id, None, Some(Duration::from_secs(30))));
    while let Some(event) = events.next().await {
        if event.unwrap().kind == EventKind::ToolUse {
            break;
        }
    }
    let cancelled = client.tasks().cancel(&slow.id).await.unwrap();
    assert_eq!(cancelled.status, TaskStatus::Cancelled);
    let done = client.tasks().wait(&slow.id, Some(Duration::from_secs(30))).await.unwrap();
    assert_eq!(done.status, TaskStatus::Cancelled);
    // A wait that cannot end in time says so.
    let again =
        client.tasks().create(CreateTask::new(script("Wait", &["echo busy && sleep 60"], "waited"))).await.unwrap();
    let started = Instant::now();
    let timed_out = client.tasks().wait(&again.id, Some(Duration::from_secs(2))).await;
    assert!(matches!(timed_out, Err(Error::Timeout(_))), "{timed_out:?}");
    assert!(started.elapsed() < Duration::from_secs(10));
    client.tasks().cancel(&again.id).await.unwrap();
}

#[tokio::test]
#[ignore = "starts a gateway from CCGATE_BIN: scripts/test-sdks.sh runs it"]
async fn execute_and_pages_of_the_list() {
    let gateway = live_gateway!();
    let client = client(gateway);
    let tag = format!("{:?}", Instant::now()).replace(|c: char| !c.is_ascii_alphanumeric(), "");
    let mut made = Vec::new();
    for n in 0..3 {
        let task = CreateTask::new(format!("Say {n}")).metadata("batch", &tag);
        let done = client.execute(task, Some(60)).await.unwrap();
        assert_eq!(done.status, TaskStatus::Completed);
        assert_eq!(done.result.as_ref().and_then(|r| r.text.as_deref()), Some(format!("ok: Say {n}").as_str()));
        made.push(done.id);
    }
    let filters = ListFilters::default().limit(2).metadata("batch", &tag);
    let first = client.tasks().page(&filters, None).await.unwrap();
    assert_eq!(first.data.len(), 2);
    assert!(first.next_cursor.is_some());
    let listed: Vec<String> = client.tasks().list(filters).map_ok(|t| t.id).try_collect().await.unwrap();
    made.reverse();
    assert_eq!(listed, made, "newest first, across two pages");
    let completed = ListFilters::default().status(TaskStatus::Completed).metadata("batch", &tag);
    assert_eq!(client.tasks().list(completed).count().await, 3);
}

#[tokio::test]
#[ignore = "starts a gateway from CCGATE_BIN: scripts/test-sdks.sh runs it"]
async fn a_retried_create_makes_one_task() {
    let gateway = live_gateway!();
    let client = client(gateway);
    let key = format!("sdk-rust-{}", std::process::id());
    let first = client.tasks().create(CreateTask::new("Say once").idempotency_key(&key)).await.unwrap();
    let again = client.tasks().create(CreateTask::new("Say once").idempotency_key(&key)).await.unwrap();
    assert_eq!(first.id, again.id);
    let other = client.tasks().create(CreateTask::new("Say once")).await.unwrap();
    assert_ne!(first.id, other.id, "a generated key is new for every create");
}

#[tokio::test]
#[ignore = "starts a gateway from CCGATE_BIN: scripts/test-sdks.sh runs it"]
async fn validation_errors_name_the_field() {
    let gateway = live_gateway!();
    let client = client(gateway);
    let refused = api(client.tasks().create(CreateTask::new("   ")).await.unwrap_err());
    assert_eq!((refused.status, refused.kind()), (422, ProblemKind::Validation));
    assert!(refused.pointers().contains(&"/prompt"), "{refused:?}");
    let escape = CreateTask::new("Unpack").archive("src.tgz", tar_gz(&[("../escape.txt", b"x")]));
    let refused = api(client.tasks().create(escape).await.unwrap_err());
    assert!(refused.pointers().contains(&"/parts/archive"), "{refused:?}");
    let absolute = CreateTask::new("Place").file("ok.txt", "fine").file("/etc/passwd", "no");
    let refused = api(client.tasks().create(absolute).await.unwrap_err());
    assert!(refused.pointers().contains(&"/parts/file1"), "{refused:?}");
    let rar = client.tasks().create(CreateTask::new("Unpack").archive("src.rar", b"x".as_slice())).await;
    assert!(matches!(rar, Err(Error::Usage(message)) if message.contains(".tar.gz, .tgz or .zip")));
    let unknown = client.tasks().create(CreateTask::new("Say hi").field("colour", "blue".into())).await;
    assert!(api(unknown.unwrap_err()).pointers().contains(&"/colour"));
    let missing = api(client.tasks().get("tsk_00000000000000000000000000").await.unwrap_err());
    assert_eq!(missing.kind(), ProblemKind::NotFound);
}

#[tokio::test]
#[ignore = "starts a gateway from CCGATE_BIN: scripts/test-sdks.sh runs it"]
async fn rate_limits_are_retried_after_retry_after() {
    let gateway = live_gateway!();
    let admin = Client::new(&gateway.url, &gateway.admin_key).unwrap();
    let limited = admin.keys().create(&test_key("limited", Some(30))).await.unwrap().secret;
    let impatient = Client::builder(&gateway.url, &limited).retry(RetryPolicy::none()).build().unwrap();
    let filters = ListFilters::default().limit(1);
    let mut refused = None;
    for _ in 0..40 {
        if let Err(error) = impatient.tasks().page(&filters, None).await {
            refused = Some(api(error));
            break;
        }
    }
    let refused = refused.expect("40 requests at 30 a minute are refused");
    assert_eq!((refused.status, refused.kind()), (429, ProblemKind::RateLimited));
    assert!(refused.retry_after.is_some_and(|wait| wait >= Duration::from_secs(1)), "{refused:?}");
    // The default policy waits as told and then gets its answer: every request
    // succeeds, and once the bucket is empty again one of them waits for it.
    let patient = Client::new(&gateway.url, &limited).unwrap();
    let mut waited = Duration::ZERO;
    for _ in 0..40 {
        let started = Instant::now();
        assert!(patient.tasks().page(&filters, None).await.unwrap().data.is_empty());
        waited = waited.max(started.elapsed());
        if waited >= Duration::from_millis(900) {
            break;
        }
    }
    assert!(waited >= Duration::from_millis(900), "no request waited for the rate limit: {waited:?}");
}

#[tokio::test]
#[ignore = "starts a gateway from CCGATE_BIN: scripts/test-sdks.sh runs it"]
async fn a_dropped_stream_resumes_after_the_last_event() {
    let gateway = live_gateway!();
    let client = client(gateway);
    let task = client.tasks().create(CreateTask::new(script("Two steps", &["echo one"], "Done"))).await.unwrap();
    client.tasks().wait(&task.id, Some(Duration::from_secs(60))).await.unwrap();
    let expected: Vec<u64> = collect(client.tasks().stream(&task.id)).await.iter().map(|e| e.seq).collect();
    let proxy = support::proxy::DropAfterFirstEvent::start(&gateway.url).await;
    let flaky = Client::new(&proxy.url, &gateway.key).unwrap();
    let seen: Vec<u64> = collect(flaky.tasks().stream(&task.id)).await.iter().map(|e| e.seq).collect();
    assert_eq!(seen, expected);
    let resumed_with = proxy.resumed_with.lock().unwrap().clone();
    assert_eq!(resumed_with[..2], [None, Some("1".to_string())]);
    // `after` starts later; nothing comes twice.
    let tail = collect(client.tasks().stream_from(&task.id, Some(expected[1]), None)).await;
    assert_eq!(tail.iter().map(|e| e.seq).collect::<Vec<_>>(), expected[2..]);
}

#[tokio::test]
#[ignore = "starts a gateway from CCGATE_BIN: scripts/test-sdks.sh runs it"]
async fn the_first_task_example_runs() {
    let gateway = live_gateway!();
    // cargo builds the examples with the tests: target/debug/examples, beside deps/.
    let deps = std::env::current_exe().unwrap().parent().unwrap().to_path_buf();
    let example = deps.parent().unwrap().join("examples/first_task");
    let output = tokio::process::Command::new(&example)
        .env("CCGATE_URL", &gateway.url)
        .env("CCGATE_API_KEY", &gateway.key)
        .output()
        .await
        .unwrap_or_else(|e| panic!("{}: {e}", example.display()));
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(output.status.success(), "{stdout}{}", String::from_utf8_lossy(&output.stderr));
    let lines: Vec<&str> = stdout.lines().collect();
    assert_eq!(lines.first(), Some(&"1 Status"), "{stdout}");
    assert_eq!(lines.last(), Some(&"completed ok: Summarise notes/todo.txt"), "{stdout}");
}
