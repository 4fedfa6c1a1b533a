//! `ccgate run` and `ccgate tasks …` against a real gateway, with a test key: a task
//! with a file, followed to the end; a failing one exits non-zero; listing, getting,
//! events, download and cancel.

use std::process::Output;

use tokio::io::AsyncBufReadExt;

use crate::support::*;

/// The client with the gateway's URL and `key`, run from `dir`.
fn command(gateway: &Gateway, key: &str, dir: &std::path::Path, args: &[&str]) -> tokio::process::Command {
    let mut command = tokio::process::Command::new(env!("CARGO_BIN_EXE_ccgate"));
    command
        .args(args)
        .current_dir(dir)
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("CCGATE_URL", &gateway.url)
        .env("CCGATE_API_KEY", key)
        .kill_on_drop(true);
    command
}

/// Runs the client with the gateway's URL and `key`, from `dir`.
async fn client(gateway: &Gateway, key: &str, dir: &std::path::Path, args: &[&str]) -> Output {
    command(gateway, key, dir, args).output().await.expect("run the ccgate client")
}

fn out(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).to_string()
}

fn err(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).to_string()
}

#[tokio::test(flavor = "multi_thread")]
async fn the_command_line_client_runs_follows_lists_downloads_and_cancels() {
    let model = Model::start().await;
    let gateway = Gateway::start(&model, GatewayOptions::default()).await;
    let key = gateway.create_key(&["--name", "terminal", "--test"]);
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join("notes")).unwrap();
    std::fs::write(dir.path().join("notes/todo.txt"), "ship it\n").unwrap();
    // An absolute path goes in under its file name.
    let elsewhere = tempfile::tempdir().unwrap();
    let absolute = elsewhere.path().join("absolute.txt");
    std::fs::write(&absolute, "by name\n").unwrap();
    let absolute = absolute.display().to_string();

    // A file goes in at its relative path; --follow prints the events as they come
    // (the Bash step waits until the test has seen its call printed); the result last.
    let step = format!("cat notes/todo.txt > seen.txt; {UNTIL_RELEASED}");
    let prompt = scripted(vec![bash(&step), say("Read the notes")]);
    let mut following = command(
        &gateway,
        &key,
        dir.path(),
        &["run", &prompt, "--file", "notes/todo.txt", "--file", &absolute, "--follow"],
    )
    .stdout(std::process::Stdio::piped())
    .stderr(std::process::Stdio::piped())
    .spawn()
    .expect("run the ccgate client");
    let mut lines = tokio::io::BufReader::new(following.stdout.take().unwrap()).lines();
    let mut printed = String::new();
    let seen_call = tokio::time::timeout(std::time::Duration::from_secs(60), async {
        while let Some(line) = lines.next_line().await.unwrap() {
            printed.push_str(&line);
            printed.push('\n');
            if line.contains("\ttool_use\t") {
                return true;
            }
        }
        false
    });
    assert!(seen_call.await.unwrap_or(false), "no tool call printed while the task ran: {printed}");
    let (_, running) = gateway.get("/v1/tasks?status=running", &key).await;
    let id = running["data"][0]["id"].as_str().unwrap_or_else(|| panic!("the followed task runs: {running}"));
    let id = id.to_string();
    gateway.release(&id).await;
    while let Some(line) = lines.next_line().await.unwrap() {
        printed.push_str(&line);
        printed.push('\n');
    }
    let run = following.wait_with_output().await.unwrap();
    assert!(run.status.success(), "{printed}\n{}", err(&run));
    assert!(printed.contains("\ttool_use\t") && printed.contains("\tresult\t"), "{printed}");
    assert!(printed.trim_end().ends_with("Read the notes"), "{printed}");
    assert!(err(&run).contains(&id), "{}", err(&run));

    // A task that fails (the model refuses a broken script) exits 1.
    let broken = "Fail\n\n```ccgate-script\n{\"steps\": [{\"bogus\": 1}]}\n```";
    let failed = client(&gateway, &key, dir.path(), &["run", broken]).await;
    assert_eq!(failed.status.code(), Some(1), "{}\n{}", out(&failed), err(&failed));

    let listed = client(&gateway, &key, dir.path(), &["tasks", "list"]).await;
    assert!(out(&listed).contains(&format!("{id}\tcompleted")), "{}", out(&listed));
    let got = client(&gateway, &key, dir.path(), &["tasks", "get", &id]).await;
    let task: serde_json::Value = serde_json::from_slice(&got.stdout).unwrap();
    assert_eq!((task["status"].as_str(), task["environment"].as_str()), (Some("completed"), Some("test")));
    let events = client(&gateway, &key, dir.path(), &["tasks", "events", &id]).await;
    assert!(out(&events).lines().next().unwrap_or_default().starts_with("1\tstatus\t"), "{}", out(&events));
    let archive = dir.path().join("workspace.tar.gz");
    let archive_arg = archive.display().to_string();
    let saved = client(&gateway, &key, dir.path(), &["tasks", "download", &id, "--output", &archive_arg]).await;
    assert!(saved.status.success(), "{}", err(&saved));
    let entries = tar_gz_entries(&std::fs::read(&archive).unwrap());
    assert!(entries.contains(&("seen.txt".to_string(), "ship it\n".to_string())), "{entries:?}");
    assert!(entries.contains(&("absolute.txt".to_string(), "by name\n".to_string())), "{entries:?}");

    // Cancel a busy task; an unknown one is the gateway's 404, exit 1.
    let slow = gateway.submit(&key, task_body(vec![busy_for(60), say("late")])).await;
    let slow = slow["id"].as_str().unwrap();
    gateway.wait_for(&key, slow, &["running"], std::time::Duration::from_secs(30)).await;
    let cancelled = client(&gateway, &key, dir.path(), &["tasks", "cancel", slow]).await;
    assert_eq!(out(&cancelled).trim(), "cancelled", "{}", err(&cancelled));
    let unknown = client(&gateway, &key, dir.path(), &["tasks", "get", "tsk_01JDX3N8Q6W2V0M1R5T7Y9B4C2"]).await;
    assert_eq!(unknown.status.code(), Some(1));
    assert!(err(&unknown).contains("404"), "{}", err(&unknown));

    // Without a URL or key it says what to set, and exits 2.
    let unset = tokio::process::Command::new(env!("CARGO_BIN_EXE_ccgate")).args(["tasks", "list"]).env_clear().output();
    let unset = unset.await.unwrap();
    assert_eq!(unset.status.code(), Some(2));
    assert!(err(&unset).contains("CCGATE_URL"), "{}", err(&unset));
}
