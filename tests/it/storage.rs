//! Shared storage (`storage.url`): the storage module on an S3 server, a task's
//! artifacts kept in S3 and served from it, retention deleting them there, a bad
//! URL refused at start, an unreachable store answered with 503, and artifacts an
//! older version kept in the data directory moved into storage on start.

use std::time::{Duration, Instant};

use ccgate::storage::{Key, Storage, StorageUrl};
use futures_util::TryStreamExt;
use serde_json::json;
use sha2::{Digest, Sha256};

use crate::support::s3::{BUCKET, S3Server};
use crate::support::*;

fn sha256_hex(bytes: &[u8]) -> String {
    Sha256::digest(bytes).iter().map(|b| format!("{b:02x}")).collect()
}

async fn read(storage: &Storage, key: &Key, range: Option<std::ops::Range<u64>>) -> Vec<u8> {
    let chunks: Vec<bytes::Bytes> = storage.get(key, range).await.unwrap().try_collect().await.unwrap();
    chunks.concat()
}

/// `GET` of an artifact, with a `Range` header when `range` is given.
async fn download_range(gateway: &Gateway, key: &str, id: &str, name: &str, range: Option<&str>) -> reqwest::Response {
    let request = gateway.request(reqwest::Method::GET, &format!("/v1/tasks/{id}/artifacts/{name}"), key);
    let request = match range {
        Some(range) => request.header("range", range),
        None => request,
    };
    request.send().await.unwrap()
}

async fn download(gateway: &Gateway, key: &str, id: &str, name: &str) -> reqwest::Response {
    download_range(gateway, key, id, name, None).await
}

/// A gateway whose artifacts go to `s3`, under the prefix `gw`, with `config` as its file.
async fn gateway_on_s3(model: &Model, s3: &S3Server, config: &str) -> (Gateway, tempfile::NamedTempFile) {
    let file = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(file.path(), config).unwrap();
    let mut env = s3.gateway_env(&format!("s3://{BUCKET}/gw"));
    env.push(("CCGATE_CONFIG".into(), file.path().display().to_string()));
    env.push(("AWS_SECRET_ACCESS_KEY".into(), "s3-secret-canary".into()));
    (Gateway::start(model, GatewayOptions { env, ..Default::default() }).await, file)
}

#[tokio::test(flavor = "multi_thread")]
async fn the_storage_module_puts_gets_and_deletes_on_s3() {
    let s3 = S3Server::start().await;
    let location = StorageUrl::parse(&format!("s3://{BUCKET}/unit")).unwrap();
    let storage = Storage::open_with_env(location, s3.aws_env()).unwrap();
    storage.check().await.unwrap();
    let key = Key::new(["artifacts", "tsk_1", "set_a", "report #1.md"]);
    let (size, sha256) = storage.put(&key, &b"# Report"[..]).await.unwrap();
    assert_eq!((size, sha256), (8, sha256_hex(b"# Report")));
    assert_eq!(storage.head(&key).await.unwrap(), 8);
    assert_eq!(read(&storage, &key, None).await, b"# Report");
    assert_eq!(read(&storage, &key, Some(2..5)).await, b"Rep");
    // Past one put's size: a multipart upload.
    let big: Vec<u8> = (0..9 * 1024 * 1024u32).map(|i| (i % 251) as u8).collect();
    let big_key = Key::new(["artifacts", "tsk_1", "set_a", "big.bin"]);
    assert_eq!(storage.put(&big_key, big.as_slice()).await.unwrap(), (big.len() as u64, sha256_hex(&big)));
    assert_eq!(read(&storage, &big_key, Some(5_000_000..5_000_010)).await, &big[5_000_000..5_000_010]);
    storage.put_bytes(&Key::new(["artifacts", "tsk_10", "x"]), b"other".to_vec()).await.unwrap();
    let mut keys = s3.keys("unit/").await;
    keys.sort();
    assert_eq!(
        keys,
        ["unit/artifacts/tsk_1/set_a/big.bin", "unit/artifacts/tsk_1/set_a/report %231.md", "unit/artifacts/tsk_10/x"],
        "every key under the URL's prefix, a segment's reserved characters escaped"
    );

    assert_eq!(storage.delete_prefix(&Key::new(["artifacts", "tsk_1"])).await.unwrap(), 2);
    assert_eq!(s3.keys("unit/").await, ["unit/artifacts/tsk_10/x"], "a prefix is whole segments");
    assert!(storage.head(&key).await.unwrap_err().is_not_found());

    let missing = StorageUrl::parse("s3://no-such-bucket/x").unwrap();
    let error = Storage::open_with_env(missing, s3.aws_env()).unwrap().check().await.unwrap_err();
    assert!(matches!(error, ccgate::storage::StorageError::Unavailable { .. }), "{error}");
    assert!(error.to_string().contains("NoSuchBucket"), "{error}");
}

#[tokio::test(flavor = "multi_thread")]
async fn artifacts_are_kept_in_s3_served_from_it_and_expired_from_it() {
    let s3 = S3Server::start().await;
    let model = Model::start().await;
    let (gateway, _config) =
        gateway_on_s3(&model, &s3, "[retention]\nartifact_ttl = \"8s\"\nsweep_interval_seconds = 1\n").await;
    let key = gateway.create_key(&["--name", "dev"]);
    // 9 MiB: stored with a multipart upload. The run must not see the store's credentials.
    let make = "mkdir -p out && printf '# Report' > out/report.md && head -c 9437184 /dev/urandom > out/big.bin \
        && (env | grep -c s3-secret-canary || true) > out/leaks.txt";
    let body = json!({"prompt": scripted(vec![bash(make), say("made")]), "artifacts": ["out/**"], "wait_seconds": 60});
    let (status, task) = gateway.post("/v1/execute", &key, &body).await;
    assert_eq!((status, task["status"].as_str()), (200, Some("completed")), "{task}");
    let id = task["id"].as_str().unwrap().to_string();

    let mut keys = s3.keys(&format!("gw/artifacts/{id}/")).await;
    keys.sort();
    let names: Vec<&str> = keys.iter().map(|k| k.rsplit('/').next().unwrap()).collect();
    assert_eq!(names.len(), 4, "{keys:?}");
    for name in ["big.bin", "leaks.txt", "report.md", "current-set"] {
        assert!(names.contains(&name), "{name} is in the bucket: {keys:?}");
    }
    assert!(!gateway.data.path().join("storage").exists(), "nothing is kept on the node's disk");

    let report = download(&gateway, &key, &id, "report.md").await;
    assert_eq!(report.status(), 200);
    assert_eq!(report.text().await.unwrap(), "# Report");
    assert_eq!(download(&gateway, &key, &id, "leaks.txt").await.text().await.unwrap().trim(), "0");
    let big = std::fs::read(gateway.data.path().join(format!("tasks/{id}/workspace/out/big.bin"))).unwrap();
    let whole = download(&gateway, &key, &id, "big.bin").await;
    assert_eq!(whole.headers()["etag"].to_str().unwrap(), format!("\"{}\"", sha256_hex(&big)));
    assert_eq!(sha256_hex(&whole.bytes().await.unwrap()), sha256_hex(&big));
    let ranged = download_range(&gateway, &key, &id, "big.bin", Some("bytes=9000000-")).await;
    assert_eq!(ranged.status(), 206);
    assert_eq!(&ranged.bytes().await.unwrap()[..], &big[9_000_000..]);

    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let (_, task) = gateway.get(&format!("/v1/tasks/{id}"), &key).await;
        if task["artifacts_expired_at"].is_string() {
            break;
        }
        assert!(Instant::now() < deadline, "the artifacts did not expire: {task}");
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
    let deadline = Instant::now() + Duration::from_secs(10);
    while !s3.keys(&format!("gw/artifacts/{id}/")).await.is_empty() {
        assert!(Instant::now() < deadline, "retention left the task's objects in the bucket");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert_eq!(download(&gateway, &key, &id, "report.md").await.status(), 410);
}

#[tokio::test(flavor = "multi_thread")]
async fn downloads_answer_503_while_the_store_is_unreachable() {
    let mut s3 = S3Server::start().await;
    let model = Model::start().await;
    let (gateway, _config) = gateway_on_s3(&model, &s3, "").await;
    let key = gateway.create_key(&["--name", "dev"]);
    let body = json!({"prompt": scripted(vec![bash("echo kept > result.txt"), say("ok")]), "artifacts": ["*.txt"],
                      "wait_seconds": 60});
    let (_, task) = gateway.post("/v1/execute", &key, &body).await;
    let id = task["id"].as_str().unwrap().to_string();
    assert_eq!(download(&gateway, &key, &id, "result.txt").await.text().await.unwrap(), "kept\n");

    s3.stop();
    let started = Instant::now();
    let refused = download(&gateway, &key, &id, "result.txt").await;
    assert_eq!(refused.status(), 503);
    assert!(started.elapsed() < Duration::from_secs(30), "an unreachable store fails fast");
    assert_eq!(refused.headers()["content-type"], "application/problem+json");
    assert!(refused.headers().contains_key("retry-after"));
    let problem: serde_json::Value = refused.json().await.unwrap();
    assert_eq!(problem["type"], "https://ccgate.dev/errors/storage-unavailable", "{problem}");
    let (status, listed) = gateway.get(&format!("/v1/tasks/{id}/artifacts"), &key).await;
    assert_eq!((status, listed["data"][0]["name"].as_str()), (200, Some("result.txt")), "the list is the database's");
}

/// `ccgate serve` with `storage_url`, expected to stop at start: what it printed.
fn refused_start(extra_env: &[(String, String)], storage_url: &str) -> String {
    let data = tempfile::tempdir().unwrap();
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_ccgate"))
        .arg("serve")
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("CCGATE_DATA_DIR", data.path())
        .env("CCGATE_LISTEN", "127.0.0.1:0")
        .env("CCGATE_CLAUDE_BIN", claude_bin())
        .env("CCGATE_STORAGE_URL", storage_url)
        .envs(extra_env.iter().cloned())
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(60);
    while child.try_wait().unwrap().is_none() {
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("the gateway started with storage.url {storage_url:?}");
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    let output = child.wait_with_output().unwrap();
    assert!(!output.status.success());
    String::from_utf8_lossy(&output.stderr).into_owned()
}

#[tokio::test(flavor = "multi_thread")]
async fn a_bad_storage_url_stops_the_start_with_a_clear_message() {
    let said = refused_start(&[], "http://example.com/x");
    assert!(said.contains("storage.url") && said.contains(r#"scheme "http" is not supported"#), "{said}");
    let said = refused_start(&[], "s3://Bad_Bucket/x");
    assert!(said.contains("storage.url") && said.contains("bucket name"), "{said}");
    let s3 = S3Server::start().await;
    let said = refused_start(&s3.aws_env(), "s3://no-such-bucket/x");
    assert!(said.contains("storage at s3://no-such-bucket/x is unavailable"), "{said}");
    assert!(said.contains("The specified bucket does not exist") && said.contains("check storage.url"), "{said}");
}

#[tokio::test(flavor = "multi_thread")]
async fn artifacts_an_older_version_kept_in_the_data_directory_move_into_storage() {
    let model = Model::start().await;
    let mut gateway = Gateway::start(&model, GatewayOptions::default()).await;
    let key = gateway.create_key(&["--name", "dev"]);
    let body = json!({"prompt": scripted(vec![bash("echo old > kept.txt"), say("ok")]), "artifacts": ["*.txt"],
                      "wait_seconds": 60});
    let (_, task) = gateway.post("/v1/execute", &key, &body).await;
    let id = task["id"].as_str().unwrap().to_string();
    gateway.stop();
    // Lay the data directory out the old way: <data>/artifacts/<task>/current/<name>.
    let data_dir = gateway.data.clone();
    let data = data_dir.path();
    let old = data.join(format!("artifacts/{id}/current"));
    std::fs::create_dir_all(&old).unwrap();
    std::fs::write(old.join("kept.txt"), "old\n").unwrap();
    std::fs::remove_dir_all(data.join("storage")).unwrap();

    gateway.restart().await;
    assert_eq!(download(&gateway, &key, &id, "kept.txt").await.text().await.unwrap(), "old\n");
    assert!(!data.join("artifacts").exists(), "moved, not copied");
    assert!(data.join(format!("storage/artifacts/{id}/current-set")).is_file());
}
