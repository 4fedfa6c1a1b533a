//! Artifacts with the real CLI: globs, caps, a planted link and FIFO left alone,
//! downloads with ETag and ranges, and retention deleting files (410 after).

use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use crate::support::*;

fn config_file(text: &str) -> (tempfile::NamedTempFile, Vec<(String, String)>) {
    let file = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(file.path(), text).unwrap();
    let env = vec![("CCGATE_CONFIG".to_string(), file.path().display().to_string())];
    (file, env)
}

#[tokio::test(flavor = "multi_thread")]
async fn matching_files_are_collected_and_downloaded_with_ranges() {
    let model = Model::start().await;
    let (_config, env) = config_file("[artifacts]\nmax_files = 3\n");
    let gateway = Gateway::start(&model, GatewayOptions { env, ..Default::default() }).await;
    let key = gateway.create_key(&["--name", "dev"]);
    let make = "mkdir -p out/data && printf '# Report' > out/report.md && head -c 300000 /dev/urandom > out/data/blob.bin \
        && echo fix > a.patch && echo more > z.patch && echo no > notes.txt \
        && ln -s /etc/passwd out/passwd && mkfifo out/pipe";
    let body = json!({"prompt": scripted(vec![bash(make), say("made")]), "artifacts": ["out/**", "*.patch"],
                      "wait_seconds": 60});
    let (status, task) = gateway.post("/v1/execute", &key, &body).await;
    assert_eq!((status, task["status"].as_str()), (200, Some("completed")), "{task}");
    let id = task["id"].as_str().unwrap();
    let paths: Vec<&str> = task["artifacts"].as_array().unwrap().iter().map(|a| a["path"].as_str().unwrap()).collect();
    assert_eq!(paths, ["a.patch", "out/data/blob.bin", "out/report.md"], "the cap of 3 keeps the first three: {task}");
    let events = gateway.events(&key, id, None).await;
    assert!(
        events
            .iter()
            .any(|(_, _, e)| e["line"].as_str().is_some_and(|l| l.contains("z.patch: past the cap of 3 files"))),
        "the skipped file is noted"
    );

    let (_, listed) = gateway.get(&format!("/v1/tasks/{id}/artifacts"), &key).await;
    assert_eq!(listed["data"], task["artifacts"]);
    assert!(listed["next_cursor"].is_null(), "{listed}");
    let (_, first) = gateway.get(&format!("/v1/tasks/{id}/artifacts?limit=2"), &key).await;
    let cursor = first["next_cursor"].as_str().expect("a second page");
    let (_, rest) = gateway.get(&format!("/v1/tasks/{id}/artifacts?limit=2&cursor={cursor}"), &key).await;
    let paged: Vec<Value> = [&first, &rest].iter().flat_map(|p| p["data"].as_array().unwrap().clone()).collect();
    assert_eq!((json!(paged), &rest["next_cursor"]), (listed["data"].clone(), &json!(null)), "two pages, in order");
    let report = gateway.request(reqwest::Method::GET, &format!("/v1/tasks/{id}/artifacts/report.md"), &key);
    let report = report.send().await.unwrap();
    assert_eq!(report.status(), 200);
    assert_eq!(report.headers()["content-type"], "text/markdown");
    assert_eq!(report.headers()["content-disposition"], "attachment; filename=\"report.md\"");
    assert_eq!(report.headers()["x-content-type-options"], "nosniff");
    let sha: String = Sha256::digest(b"# Report").iter().map(|b| format!("{b:02x}")).collect();
    assert_eq!(report.headers()["etag"].to_str().unwrap(), format!("\"{sha}\""));
    assert_eq!(report.text().await.unwrap(), "# Report");
    let cached = gateway
        .request(reqwest::Method::GET, &format!("/v1/tasks/{id}/artifacts/report.md"), &key)
        .header("if-none-match", format!("\"{sha}\""))
        .send()
        .await
        .unwrap();
    assert_eq!(cached.status(), 304);

    let blob_path = gateway.data.path().join(format!("tasks/{id}/workspace/out/data/blob.bin"));
    let blob = std::fs::read(blob_path).unwrap();
    let ranged = gateway
        .request(reqwest::Method::GET, &format!("/v1/tasks/{id}/artifacts/blob.bin"), &key)
        .header("range", "bytes=100000-199999")
        .send()
        .await
        .unwrap();
    assert_eq!(ranged.status(), 206);
    assert_eq!(ranged.headers()["content-range"], "bytes 100000-199999/300000");
    assert_eq!(ranged.headers()["content-length"], "100000");
    assert_eq!(&ranged.bytes().await.unwrap()[..], &blob[100_000..200_000]);
    let outside = gateway
        .request(reqwest::Method::GET, &format!("/v1/tasks/{id}/artifacts/blob.bin"), &key)
        .header("range", "bytes=300000-")
        .send()
        .await
        .unwrap();
    assert_eq!(outside.status(), 416);
    assert_eq!(outside.headers()["content-range"], "bytes */300000");
    for missing in ["passwd", "pipe", "notes.txt", "..%2F..%2Fccgate.db"] {
        let (status, _) = gateway.get(&format!("/v1/tasks/{id}/artifacts/{missing}"), &key).await;
        assert_eq!(status, 404, "{missing}");
    }
    let (status, problem) =
        gateway.post("/v1/tasks", &key, &json!({"prompt": "x", "artifacts": ["../etc/*", "/abs"]})).await;
    assert_eq!(status, 422, "{problem}");
    let pointers: Vec<&str> =
        problem["errors"].as_array().unwrap().iter().map(|e| e["pointer"].as_str().unwrap()).collect();
    assert_eq!(pointers, ["/artifacts/0", "/artifacts/1"]);
}

#[tokio::test(flavor = "multi_thread")]
async fn retention_deletes_workspaces_and_artifacts_and_downloads_answer_410() {
    let model = Model::start().await;
    let (_config, env) = config_file(
        "[retention]\nworkspace_ttl = \"1s\"\nartifact_ttl = \"3s\"\nsweep_interval_seconds = 1\n\
         [artifacts]\ndefault_patterns = [\"*.txt\"]\n",
    );
    let gateway = Gateway::start(&model, GatewayOptions { env, ..Default::default() }).await;
    let key = gateway.create_key(&["--name", "dev"]);
    let body = json!({"prompt": scripted(vec![bash("echo kept > result.txt"), say("ok")]), "wait_seconds": 60});
    let (_, task) = gateway.post("/v1/execute", &key, &body).await;
    let id = task["id"].as_str().unwrap().to_string();
    assert_eq!(task["artifacts"][0]["name"], "result.txt", "the server's default globs apply: {task}");
    let workspace = gateway.data.path().join(format!("tasks/{id}"));
    assert!(workspace.exists());
    let artifacts = gateway.data.path().join(format!("storage/artifacts/{id}"));
    assert!(artifacts.exists(), "artifacts are kept in the storage directory");

    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    let expired = loop {
        let (_, task) = gateway.get(&format!("/v1/tasks/{id}"), &key).await;
        if task["artifacts_expired_at"].is_string() || std::time::Instant::now() > deadline {
            break task;
        }
        tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    };
    assert!(expired["workspace_expired_at"].is_string() && expired["artifacts_expired_at"].is_string(), "{expired}");
    assert!(!workspace.exists(), "the workspace and Claude's state are deleted");
    // Marked expired first (downloads answer 410 from then on), then deleted.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while artifacts.exists() && std::time::Instant::now() < deadline {
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert!(!artifacts.exists(), "the artifacts are deleted from storage");
    assert_eq!(expired["artifacts"], json!([]));
    for path in ["files", "files/result.txt", "archive", "artifacts", "artifacts/result.txt"] {
        let (status, problem) = gateway.get(&format!("/v1/tasks/{id}/{path}"), &key).await;
        assert_eq!(status, 410, "{path}: {problem}");
        assert_eq!(problem["type"], "https://ccgate.dev/errors/gone");
    }
    let (status, _) = gateway.post(&format!("/v1/tasks/{id}/messages"), &key, &json!({"prompt": "more"})).await;
    assert_eq!(status, 410, "no follow-up without the workspace");
}
