//! Backup and restore of a live embedded gateway: `ccgate backup` while it serves,
//! `ccgate restore` into another directory, and a gateway there serves the old
//! tasks, files, artifacts and keys; a task that was running comes back queued and
//! runs. A damaged archive, or a directory in use, is refused and writes nothing.

use std::time::Duration;

use serde_json::json;

use crate::support::*;

#[tokio::test(flavor = "multi_thread")]
async fn a_backup_taken_while_serving_restores_into_a_gateway_that_serves_it() {
    let model = Model::start().await;
    let mut gateway = Gateway::start(&model, GatewayOptions::default()).await;
    let key = gateway.create_key(&["--name", "dev"]);
    let done = gateway
        .submit(
            &key,
            json!({"prompt": scripted(vec![bash("mkdir -p out && echo report > out/r.md"), say("kept")]),
                             "files": [{"path": "in.txt", "content": "input"}], "artifacts": ["out/**"]}),
        )
        .await;
    let done_id = done["id"].as_str().unwrap().to_string();
    assert_eq!(gateway.wait_done(&key, &done_id).await["status"], "completed");
    // Running while the backup is taken: it waits for a file in its workspace.
    let running = gateway
        .submit(
            &key,
            task_body(vec![bash("while [ ! -e release ]; do sleep 0.1; done; echo ran > ran.txt"), say("ran")]),
        )
        .await;
    let running_id = running["id"].as_str().unwrap().to_string();
    gateway.wait_for(&key, &running_id, &["running"], Duration::from_secs(60)).await;

    let backups = tempfile::tempdir().unwrap();
    let archive = backups.path().join("ccgate.tar.gz");
    let output = gateway.cli(&["backup", "--to", archive.to_str().unwrap()]);
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    let report: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(report["counts"]["tasks"], 2, "{report}");
    assert!(report["schema"].as_str().unwrap().starts_with("m2026"), "{report}");
    // The gateway went on serving through it.
    assert_eq!(gateway.get("/v1/tasks", &key).await.0, 200);
    gateway.kill();

    // A truncated copy is refused and leaves nothing behind.
    let bytes = std::fs::read(&archive).unwrap();
    let truncated = backups.path().join("truncated.tar.gz");
    std::fs::write(&truncated, &bytes[..bytes.len() / 2]).unwrap();
    let nowhere = backups.path().join("nowhere");
    let output =
        gateway.cli(&["restore", "--from", truncated.to_str().unwrap(), "--data-dir", nowhere.to_str().unwrap()]);
    assert!(!output.status.success());
    assert!(String::from_utf8_lossy(&output.stderr).contains("not a usable backup"), "{output:?}");
    assert!(!nowhere.exists(), "a refused restore wrote its directory");
    assert_eq!(std::fs::read_dir(backups.path()).unwrap().count(), 2, "nothing staged is left");
    // A directory in use is refused without --force.
    let used = gateway.data.path().to_str().unwrap().to_string();
    let output = gateway.cli(&["restore", "--from", archive.to_str().unwrap(), "--data-dir", &used]);
    assert!(String::from_utf8_lossy(&output.stderr).contains("is not empty"), "{output:?}");

    let restored = backups.path().join("restored");
    let output =
        gateway.cli(&["restore", "--from", archive.to_str().unwrap(), "--data-dir", restored.to_str().unwrap()]);
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    // (Empty directories are not kept: the runner makes a task's directories.)
    let workspace = restored.join(format!("tasks/{running_id}/workspace"));
    std::fs::create_dir_all(&workspace).unwrap();
    std::fs::write(workspace.join("release"), "").unwrap();
    let env = vec![("CCGATE_DATA_DIR".to_string(), restored.display().to_string())];
    let again = Gateway::start(&model, GatewayOptions { env, ..Default::default() }).await;
    // The old key (hashed with the restored pepper) and the old task, its files and artifacts.
    let (status, task) = again.get(&format!("/v1/tasks/{done_id}"), &key).await;
    assert_eq!((status, task["result"]["text"].as_str()), (200, Some("kept")), "{task}");
    let file = again.request(reqwest::Method::GET, &format!("/v1/tasks/{done_id}/files/in.txt"), &key);
    assert_eq!(file.send().await.unwrap().text().await.unwrap(), "input");
    let artifact = again.request(reqwest::Method::GET, &format!("/v1/tasks/{done_id}/artifacts/r.md"), &key);
    assert_eq!(artifact.send().await.unwrap().text().await.unwrap(), "report\n");
    // The running task came back queued, its lost attempt not counted, and runs here.
    let task = again.wait_done(&key, &running_id).await;
    assert_eq!((task["status"].as_str(), task["attempts"].as_i64()), (Some("completed"), Some(1)), "{task}");
    let events = again.events(&key, &running_id, None).await;
    assert!(
        events.iter().any(|(_, _, data)| data["line"].as_str().is_some_and(|l| l.contains("restored from a backup")))
    );
}
