//! Nodes on one PostgreSQL database wake each other through LISTEN/NOTIFY: with
//! their polls set to a minute, a task submitted to a node that claims nothing is
//! claimed at once by another, a follower on the first node sees the run's new
//! events and its end as they happen, not at the next poll, and a cancel asked of
//! the first node stops the run on the other at once.

use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::support::{Gateway, GatewayOptions, Model, bash, cluster_env, parse_sse, postgres, say, scripted};

/// Far past every deadline below: only a notification can be this quick.
const POLL_MS: &str = "60000";
const DEADLINE: Duration = Duration::from_secs(15);

fn node(database_url: &str, config: Option<&std::path::Path>, lease_seconds: u32) -> GatewayOptions {
    let mut env = vec![
        ("CCGATE_DATABASE_URL".to_string(), database_url.to_string()),
        ("CCGATE_LEASE_SECONDS".to_string(), lease_seconds.to_string()),
        ("CCGATE_POLL_INTERVAL_MS".to_string(), POLL_MS.to_string()),
    ];
    if let Some(config) = config {
        env.push(("CCGATE_CONFIG".to_string(), config.display().to_string()));
    }
    GatewayOptions { env, ..GatewayOptions::default() }
}

/// Reads an SSE response until `until` holds for what has arrived, or the deadline.
async fn read_until(
    response: &mut reqwest::Response,
    text: &mut String,
    until: impl Fn(&[(i64, String, Value)]) -> bool,
) -> bool {
    let deadline = Instant::now() + DEADLINE;
    loop {
        if until(&parse_sse(text)) {
            return true;
        }
        let left = deadline.saturating_duration_since(Instant::now());
        match tokio::time::timeout(left, response.chunk()).await {
            Ok(Ok(Some(chunk))) => text.push_str(&String::from_utf8_lossy(&chunk)),
            // The stream ended, or the deadline passed.
            Ok(_) | Err(_) => return until(&parse_sse(text)),
        }
    }
}

#[tokio::test]
async fn a_node_claims_at_once_what_another_queued_and_its_events_stream_live_from_there() {
    let Some(database) = postgres::database() else { return };
    let model = Model::start().await;
    // Node A claims nothing: its free-memory floor is out of reach.
    let config = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(config.path(), "[queue]\nmin_free_memory_mb = 100000000\n").unwrap();
    let a = Gateway::start(&model, node(&database.url, Some(config.path()), 5)).await;
    let b = Gateway::start(&model, node(&database.url, None, 5)).await;
    let key = a.create_key(&["--name", "cluster"]);
    // Let B's workers find the queue empty and settle into their minute-long wait.
    tokio::time::sleep(Duration::from_millis(500)).await;

    let script = scripted(vec![bash("while [ ! -e go ]; do sleep 0.05; done; echo released"), say("done")]);
    let (status, task) = a.post("/v1/tasks", &key, &json!({"prompt": script})).await;
    assert_eq!(status, 202, "{task}");
    let id = task["id"].as_str().unwrap().to_string();

    let mut stream =
        a.request(reqwest::Method::GET, &format!("/v1/tasks/{id}/events"), &key).send().await.expect("follow on A");
    assert_eq!(stream.status(), 200);
    let mut text = String::new();
    let started = read_until(&mut stream, &mut text, |events| events.iter().any(|e| e.1 == "tool_use")).await;
    assert!(started, "B did not claim the task A queued before the poll; A's stream:\n{text}");
    let running = a.get(&format!("/v1/tasks/{id}"), &key).await.1;
    assert_eq!(running["status"], "running", "{running}");
    let workspace = b.data.path().join("tasks").join(&id).join("workspace");
    assert!(workspace.is_dir(), "the run is B's");

    // What the run does now reaches A's follower through B's notification.
    std::fs::write(workspace.join("go"), "").unwrap();
    let released = read_until(&mut stream, &mut text, |events| {
        events.iter().any(|e| e.1 == "tool_result" && e.2.to_string().contains("released"))
    })
    .await;
    assert!(released, "A's follower did not see the run's new event before the poll:\n{text}");
    let ended = read_until(&mut stream, &mut text, |events| {
        events.iter().any(|e| e.1 == "status" && e.2["status"] == "completed")
    })
    .await;
    assert!(ended, "A's follower did not see the end:\n{text}");
    let seqs: Vec<i64> = parse_sse(&text).iter().map(|e| e.0).collect();
    assert_eq!(seqs, (1..=seqs.len() as i64).collect::<Vec<_>>(), "gapless, in order, once each");
}

#[tokio::test]
async fn a_cancel_asked_of_one_node_stops_the_run_on_another_at_once() {
    let Some(database) = postgres::database() else { return };
    let model = Model::start().await;
    let config = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(config.path(), "[queue]\nmin_free_memory_mb = 100000000\n").unwrap();
    // Leases of five minutes: B's lease keeper renews (and so reads the cancel flag)
    // every 100 s, and its poll is a minute; only a notification is quicker.
    let a = Gateway::start(&model, node(&database.url, Some(config.path()), 300)).await;
    let b = Gateway::start(&model, node(&database.url, None, 300)).await;
    let key = a.create_key(&["--name", "cluster"]);
    let script = scripted(vec![bash("while [ ! -e go ]; do sleep 0.05; done"), say("never")]);
    let (status, task) = a.post("/v1/tasks", &key, &json!({"prompt": script})).await;
    assert_eq!(status, 202, "{task}");
    let id = task["id"].as_str().unwrap().to_string();
    a.wait_for(&key, &id, &["running"], DEADLINE).await;
    assert!(b.data.path().join("tasks").join(&id).is_dir(), "the run is B's");

    let (status, answer) = a.post(&format!("/v1/tasks/{id}/cancel"), &key, &json!({})).await;
    assert!(status == 200 || status == 202, "{status}: {answer}");
    // Past the deadline, B did not hear the cancel before its poll.
    a.wait_for(&key, &id, &["cancelled"], DEADLINE).await;
}

#[tokio::test]
async fn a_task_created_on_one_node_streams_live_from_a_second_and_is_cancelled_from_a_third() {
    let Some(database) = postgres::database() else { return };
    let model = Model::start().await;
    let storage = tempfile::tempdir().unwrap();
    // One key pepper and one storage for all three; only A runs tasks.
    let three = |workers: usize| {
        let mut options = node(&database.url, None, 300);
        options.workers = workers;
        options.env.extend(cluster_env(&database.url, &format!("file://{}", storage.path().display())));
        options
    };
    let a = Gateway::start(&model, three(2)).await;
    let b = Gateway::start(&model, three(0)).await;
    let c = Gateway::start(&model, three(0)).await;
    let key = a.create_key(&["--name", "three"]);
    let script = scripted(vec![bash("while [ ! -e go ]; do sleep 0.05; done"), say("never")]);
    let (status, task) = a.post("/v1/tasks", &key, &json!({"prompt": script})).await;
    assert_eq!(status, 202, "{task}");
    let id = task["id"].as_str().unwrap().to_string();

    let mut stream =
        b.request(reqwest::Method::GET, &format!("/v1/tasks/{id}/events"), &key).send().await.expect("follow on B");
    assert_eq!(stream.status(), 200);
    let mut text = String::new();
    let started = read_until(&mut stream, &mut text, |events| events.iter().any(|e| e.1 == "tool_use")).await;
    assert!(started, "B's follower did not see A's run live:\n{text}");

    let asked = Instant::now();
    let (status, answer) = c.post(&format!("/v1/tasks/{id}/cancel"), &key, &json!({})).await;
    assert!(status == 200 || status == 202, "{status}: {answer}");
    let ended = read_until(&mut stream, &mut text, |events| {
        events.iter().any(|e| e.1 == "status" && e.2["status"] == "cancelled")
    })
    .await;
    assert!(ended, "B's follower did not see the cancel asked of C before the poll:\n{text}");
    eprintln!("cancel asked of C, seen on B's stream after {} ms", asked.elapsed().as_millis());
}
