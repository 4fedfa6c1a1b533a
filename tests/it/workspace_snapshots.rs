//! Nodes with data directories of their own on one PostgreSQL database and one S3
//! bucket (moto): a task's input files, and its workspace and Claude session after
//! each turn, are saved to storage, so the task is not tied to the node that ran
//! it. An API-only node takes the task and its files; another runs it; after that
//! node is gone, a third runs the next turn in the same session with the same files
//! (an executable stays executable), or reruns the turn it was running when it
//! died; and every node serves the files.

use std::time::Duration;

use serde_json::{Value, json};

use crate::support::s3::S3Server;
use crate::support::{Gateway, GatewayOptions, Model, UNTIL_RELEASED, bash, cluster_env, postgres, say, scripted};

fn node(database_url: &str, s3: &S3Server, workers: usize) -> GatewayOptions {
    let mut env = s3.aws_env();
    env.extend(cluster_env(database_url, &format!("s3://{}/cluster", crate::support::s3::BUCKET)));
    env.push(("CCGATE_LEASE_SECONDS".to_string(), "5".to_string()));
    GatewayOptions { workers, env, ..GatewayOptions::default() }
}

async fn file(node: &Gateway, key: &str, id: &str, path: &str) -> (u16, String) {
    let response = node
        .request(reqwest::Method::GET, &format!("/v1/tasks/{id}/files/{path}"), key)
        .send()
        .await
        .expect("GET file");
    (response.status().as_u16(), response.text().await.unwrap_or_default())
}

/// What the task's Bash steps printed, in order.
async fn tool_output(node: &Gateway, key: &str, id: &str) -> String {
    let events = node.events(key, id, None).await;
    events.iter().filter(|e| e.1 == "tool_result").map(|e| e.2.to_string()).collect::<Vec<_>>().join("\n")
}

async fn follow_up(node: &Gateway, key: &str, id: &str, prompt: String) {
    let (status, queued) = node.post(&format!("/v1/tasks/{id}/messages"), key, &json!({"prompt": prompt})).await;
    assert_eq!(status, 202, "{queued}");
}

fn session(task: &Value) -> String {
    task["result"]["session_id"].as_str().expect("a session").to_string()
}

/// An API-only node and a node with workers, on a new database and bucket.
struct Cluster {
    database: postgres::TestDatabase,
    s3: S3Server,
    model: Model,
    api: Gateway,
    b: Gateway,
    key: String,
}

impl Cluster {
    async fn start() -> Option<Cluster> {
        let database = postgres::database()?;
        let s3 = S3Server::start().await;
        let model = Model::start().await;
        let api = Gateway::start(&model, node(&database.url, &s3, 0)).await;
        let b = Gateway::start(&model, node(&database.url, &s3, 2)).await;
        let key = api.create_key(&["--name", "snapshots"]);
        Some(Cluster { database, s3, model, api, b, key })
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_follow_up_after_the_node_that_ran_the_task_is_gone_runs_elsewhere_in_the_same_session() {
    let Some(Cluster { database, s3, model, api, mut b, key }) = Cluster::start().await else { return };

    let first =
        "cat input.txt; echo turn1 > made.txt; printf '#!/bin/sh\\necho tool ran\\n' > tool.sh; chmod +x tool.sh";
    let body = json!({
        "prompt": scripted(vec![bash(first), say("turn one")]),
        "files": [{"path": "input.txt", "content": "from the client"}],
    });
    let task = api.submit(&key, body).await;
    let id = task["id"].as_str().unwrap().to_string();
    let done = api.wait_done(&key, &id).await;
    assert_eq!(done["status"], "completed", "{done}\n{}", b.log());
    let b_node = b.node_id().await;
    assert_eq!(api.run_nodes(&id).await, std::slice::from_ref(&b_node));
    assert!(tool_output(&api, &key, &id).await.contains("from the client"), "B ran on the inputs the API node took");
    assert_eq!(file(&api, &key, &id, "made.txt").await, (200, "turn1\n".to_string()), "served by the API node");
    assert!(!s3.keys("cluster/workspaces/").await.is_empty());

    b.kill();
    let c = Gateway::start(&model, node(&database.url, &s3, 2)).await;
    let second = "cat made.txt; ./tool.sh; echo turn2 >> made.txt";
    follow_up(&api, &key, &id, scripted(vec![bash(second), say("turn two")])).await;
    let again = api.wait_done(&key, &id).await;
    assert_eq!(again["status"], "completed", "{again}\n{}", c.log());
    assert_eq!(again["result"]["text"], "turn two");
    assert_eq!(session(&again), session(&done), "the same Claude session, resumed on C");
    assert_eq!(api.run_nodes(&id).await, [c.node_id().await, b_node], "newest first");
    let printed = tool_output(&api, &key, &id).await;
    assert!(printed.contains("turn1") && printed.contains("tool ran"), "{printed}");
    for node in [&api, &c] {
        assert_eq!(file(node, &key, &id, "made.txt").await, (200, "turn1\nturn2\n".to_string()));
    }
    // One snapshot is kept per task: the one of its last turn.
    assert_eq!(s3.keys(&format!("cluster/workspaces/{id}/")).await.len(), 1);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_turn_whose_node_died_reruns_elsewhere_from_the_last_turns_snapshot() {
    let Some(Cluster { database, s3, model, api, mut b, key }) = Cluster::start().await else { return };
    let task = api.submit(&key, json!({"prompt": scripted(vec![bash("echo turn1 > made.txt"), say("one")])})).await;
    let id = task["id"].as_str().unwrap().to_string();
    let done = api.wait_done(&key, &id).await;
    assert_eq!(done["status"], "completed", "{done}");

    // Turn two dies with B, half done.
    let second = format!("echo turn2 >> made.txt; {UNTIL_RELEASED}");
    follow_up(&api, &key, &id, scripted(vec![bash(&second), say("two")])).await;
    api.wait_for(&key, &id, &["running"], Duration::from_secs(60)).await;
    let b_workspace = b.data.path().join("tasks").join(&id).join("workspace");
    let written = std::time::Instant::now();
    while std::fs::read_to_string(b_workspace.join("made.txt")).unwrap_or_default() != "turn1\nturn2\n" {
        assert!(written.elapsed() < Duration::from_secs(60), "turn two did not start on B");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    b.kill();

    // C recovers it once B's lease is out, from turn one's files and session.
    let c = Gateway::start(&model, node(&database.url, &s3, 2)).await;
    c.release(&id).await;
    let again = api.wait_done(&key, &id).await;
    assert_eq!(again["status"], "completed", "{again}\n{}", c.log());
    assert_eq!(again["result"]["text"], "two");
    assert_eq!(session(&again), session(&done), "turn one's session, resumed on C");
    assert_eq!(
        file(&api, &key, &id, "made.txt").await,
        (200, "turn1\nturn2\n".to_string()),
        "turn two ran once on C's copy"
    );
    let events = api.events(&key, &id, None).await;
    let seqs: Vec<i64> = events.iter().map(|e| e.0).collect();
    assert_eq!(seqs, (1..=seqs.len() as i64).collect::<Vec<_>>(), "gapless, in order, once each");
}

/// A node on a port chosen here, advertised at it, relaying with `secret`.
fn advertised(database_url: &str, s3: &S3Server, workers: usize, secret: &str) -> GatewayOptions {
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let mut options = node(database_url, s3, workers);
    options.env.extend([
        ("CCGATE_LISTEN".to_string(), format!("127.0.0.1:{port}")),
        ("CCGATE_ADVERTISE_URL".to_string(), format!("http://127.0.0.1:{port}")),
        ("CCGATE_CLUSTER_SECRET".to_string(), secret.to_string()),
    ]);
    options
}

#[tokio::test(flavor = "multi_thread")]
async fn the_files_of_a_task_running_on_another_node_are_read_live_through_it() {
    let Some(database) = postgres::database() else { return };
    let s3 = S3Server::start().await;
    let model = Model::start().await;
    let secret = "a-cluster-secret-for-the-relay-test-0123456789";
    let api = Gateway::start(&model, advertised(&database.url, &s3, 0, secret)).await;
    let runner = Gateway::start(&model, advertised(&database.url, &s3, 2, secret)).await;
    let key = api.create_key(&["--name", "relay"]);
    let script = scripted(vec![bash(&format!("echo live > live.txt; {UNTIL_RELEASED}")), say("done")]);
    let task = api.submit(&key, json!({"prompt": script})).await;
    let id = task["id"].as_str().unwrap().to_string();
    let live = runner.data.path().join("tasks").join(&id).join("workspace/live.txt");
    let started = std::time::Instant::now();
    while !live.exists() {
        assert!(started.elapsed() < Duration::from_secs(60), "the run did not start:\n{}", runner.log());
        tokio::time::sleep(Duration::from_millis(50)).await;
    }

    // The API node has no copy of it (no snapshot yet): what it serves comes from the runner.
    assert_eq!(file(&api, &key, &id, "live.txt").await, (200, "live\n".to_string()));
    let (status, listing) = api.get(&format!("/v1/tasks/{id}/files"), &key).await;
    assert_eq!(status, 200, "{listing}");
    assert!(listing["data"].as_array().unwrap().iter().any(|f| f["path"] == "live.txt"), "{listing}");
    let archive = api.request(reqwest::Method::GET, &format!("/v1/tasks/{id}/archive"), &key).send().await.unwrap();
    assert_eq!(archive.status(), 200);
    let entries = crate::support::tar_gz_entries(&archive.bytes().await.unwrap());
    assert!(entries.iter().any(|(path, body)| path == "live.txt" && body == "live\n"), "{entries:?}");
    // So does the dashboard, signed in on the API node with the task's key: the
    // runner is asked for the key whose session it is.
    let mut browser = crate::dashboard::Browser::new(&api);
    browser.sign_in(&key).await;
    let (status, body, _) = browser.get(&format!("/dashboard/tasks/{id}/files/live.txt")).await;
    assert_eq!((status.as_u16(), body.as_str()), (200, "live\n"), "a dashboard download");
    let (status, page, _) = browser.get(&format!("/dashboard/tasks/{id}")).await;
    assert!(status == 200 && page.contains("live.txt"), "the task's page lists the live files:\n{page}");
    // The three relayed requests were counted against the key's rate limit on the
    // API node only: the runner counts its first direct one.
    let direct = runner.request(reqwest::Method::GET, &format!("/v1/tasks/{id}"), &key).send().await.unwrap();
    let header = |name: &str| direct.headers()[name].to_str().unwrap().parse::<u64>().unwrap();
    assert_eq!(header("ratelimit-remaining"), header("ratelimit-limit") - 1, "relayed requests counted twice");
    // The runner checks the key itself: a relay signature alone is no way in.
    let forged = reqwest::Client::new()
        .get(format!("{}/v1/tasks/{id}/files/live.txt", runner.url))
        .header("x-ccgate-relay", "1.00")
        .send()
        .await
        .unwrap();
    assert_eq!(forged.status(), 401);
    // Nor is a key's hash with a signature that is not the cluster's.
    let forged = reqwest::Client::new()
        .get(format!("{}/v1/tasks/{id}/files/live.txt", runner.url))
        .header(
            "x-ccgate-relay",
            format!("{}.00", std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_millis()),
        )
        .header("x-ccgate-relay-key", "0".repeat(64))
        .send()
        .await
        .unwrap();
    assert_eq!(forged.status(), 401, "a forged relay for a key");
    runner.release(&id).await;
    assert_eq!(api.wait_done(&key, &id).await["status"], "completed");
    // Finished: served from the snapshot, the runner not asked.
    assert_eq!(file(&api, &key, &id, "live.txt").await, (200, "live\n".to_string()));
}
