//! The backup of a gateway on PostgreSQL with its artifacts in an object store, done
//! as docs/operations.md says: `pg_dump` while the gateway serves, the key pepper and
//! the workspaces copied from the data directory, the bucket left as it is (its own
//! versioning keeps it). Restored into a fresh database, a new gateway on it serves
//! the old tasks, their events, files and artifacts, and runs again the task that was
//! running when the dump was taken.

use std::path::Path;
use std::process::Command;
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::json;

use crate::support::postgres;
use crate::support::s3::{BUCKET, S3Server};
use crate::support::*;

fn run(command: &mut Command) {
    let output = command.output().unwrap_or_else(|e| panic!("{command:?}: {e}"));
    assert!(output.status.success(), "{command:?}: {}", String::from_utf8_lossy(&output.stderr));
}

/// What the procedure copies from the data directory: the key pepper and the
/// workspaces (`tasks/`).
fn copy_data_dir(from: &Path, to: &Path) {
    std::fs::copy(from.join("key-pepper"), to.join("key-pepper")).expect("the data directory has a key pepper");
    run(Command::new("cp").arg("-a").arg(from.join("tasks")).arg(to));
}

#[tokio::test(flavor = "multi_thread")]
async fn a_pg_dump_taken_while_serving_restores_into_a_fresh_database_that_serves_the_old_tasks() {
    let (Some(source), Some(target), Some(pg_dump), Some(pg_restore)) =
        (postgres::database(), postgres::database(), postgres::tool("pg_dump"), postgres::tool("pg_restore"))
    else {
        return;
    };
    // The test's own HTTP clients (moto's bucket) start before a gateway installs it.
    let _ = rustls::crypto::ring::default_provider().install_default();
    let s3 = S3Server::start().await;
    let model = Model::start().await;
    let options = |url: &str| {
        let mut env = s3.gateway_env(&format!("s3://{BUCKET}/gw"));
        env.extend([("CCGATE_DATABASE_URL".into(), url.to_string()), ("CCGATE_LEASE_SECONDS".into(), "5".into())]);
        GatewayOptions { env, ..Default::default() }
    };
    let mut old = Gateway::start(&model, options(&source.url)).await;
    let key = old.create_key(&["--name", "dev"]);
    let make = "mkdir -p out && printf 'made before the backup' > out/report.md && echo kept > notes.txt";
    let body = json!({"prompt": scripted(vec![bash(make), say("made")]), "artifacts": ["out/**"], "wait_seconds": 60});
    let (status, done) = old.post("/v1/execute", &key, &body).await;
    assert_eq!((status, done["status"].as_str()), (200, Some("completed")), "{done}");
    let done_id = done["id"].as_str().unwrap().to_string();
    let running = old.submit(&key, task_body(vec![bash(UNTIL_RELEASED), say("ran again")])).await;
    let running_id = running["id"].as_str().unwrap().to_string();
    old.wait_for(&key, &running_id, &["running"], Duration::from_secs(60)).await;

    // The dump, while the gateway serves a run, reads and a new submission.
    let dump_dir = tempfile::tempdir().unwrap();
    let dump = dump_dir.path().join("ccgate.dump");
    let mut dumping = Command::new(&pg_dump);
    dumping.args(["--format=custom", "--no-owner", "--file"]).arg(&dump).arg(format!("--dbname={}", source.url));
    let dumped = tokio::task::spawn_blocking(move || run(&mut dumping));
    let during = old.submit(&key, task_body(vec![say("submitted during the dump")])).await;
    let (status, _) = old.get(&format!("/v1/tasks/{done_id}"), &key).await;
    assert_eq!(status, 200);
    dumped.await.unwrap();
    let restored_data = Arc::new(tempfile::tempdir().unwrap());
    copy_data_dir(old.data.path(), restored_data.path());
    old.wait_done(&key, during["id"].as_str().unwrap()).await;
    old.stop();

    let mut restoring = Command::new(&pg_restore);
    restoring.args(["--no-owner", "--exit-on-error"]).arg(format!("--dbname={}", target.url)).arg(&dump);
    run(&mut restoring);
    let new = Gateway::start_in(&model, options(&target.url), restored_data).await;

    // The old key, the old task, its events, workspace files and artifacts.
    let (status, task) = new.get(&format!("/v1/tasks/{done_id}"), &key).await;
    assert_eq!((status, task["status"].as_str()), (200, Some("completed")), "{task}");
    assert_eq!(task["result"]["text"], "made");
    let events = new.events(&key, &done_id, None).await;
    assert!(events.iter().any(|(_, kind, _)| kind == "result"), "{events:?}");
    let file = new.request(reqwest::Method::GET, &format!("/v1/tasks/{done_id}/files/notes.txt"), &key);
    assert_eq!(file.send().await.unwrap().text().await.unwrap(), "kept\n");
    let (status, artifacts) = new.get(&format!("/v1/tasks/{done_id}/artifacts"), &key).await;
    assert_eq!(status, 200, "{artifacts}");
    let report = new.request(reqwest::Method::GET, &format!("/v1/tasks/{done_id}/artifacts/report.md"), &key);
    let report = report.send().await.unwrap();
    assert_eq!(report.status(), 200);
    assert_eq!(report.text().await.unwrap(), "made before the backup");

    // The run in progress at dump time is recovered once its lease expires, and runs again.
    // (Its copied workspace may be made afresh for the new run: the release file is
    // written until the run ends.)
    let workspace = new.data.path().join("tasks").join(&running_id).join("workspace");
    let deadline = Instant::now() + Duration::from_secs(90);
    let rerun = loop {
        let (_, task) = new.get(&format!("/v1/tasks/{running_id}"), &key).await;
        if ["completed", "failed", "cancelled"].iter().any(|s| task["status"] == *s) {
            break task;
        }
        assert!(Instant::now() < deadline, "the task did not run again: {task}\nlog:\n{}", new.log());
        let _ = std::fs::write(workspace.join("release"), "");
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert_eq!(rerun["status"], "completed", "{rerun}\nlog:\n{}", new.log());
    assert_eq!(rerun["result"]["text"], "ran again");
}
