//! Nodes on one PostgreSQL database (`BENCH_ONLY=cluster`; the bench starts its own
//! PostgreSQL as the tests do): how soon a task submitted to an API-only node runs
//! on an idle worker node (woken by LISTEN/NOTIFY, not by its poll), and how many
//! queued tasks per second three worker nodes drain with a model that answers at once.

use std::fmt::Write as _;
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use super::goals::Figure;
use super::support::{Gateway, GatewayOptions, Model, cluster_env, postgres, say, scripted};

/// Goal for pickup: submitted to one node, running on another (issue: under 20 ms).
const PICKUP_GOAL_MS: f64 = 20.0;
const WORKER_NODES: usize = 3;
const WORKERS_PER_NODE: usize = 2;

pub struct Cluster {
    pickups_ms: Vec<f64>,
    drained: usize,
    drain_seconds: f64,
}

impl Cluster {
    pub fn figures(&self) -> Vec<Figure> {
        vec![Figure {
            name: "pickup across nodes, p50",
            value: super::percentile(&self.pickups_ms, 0.5),
            goal: PICKUP_GOAL_MS,
            unit: "ms",
        }]
    }

    pub fn to_markdown(&self) -> String {
        let mut out = String::from("## Nodes on PostgreSQL\n\n");
        let p = |q| super::percentile(&self.pickups_ms, q);
        let _ = write!(
            out,
            "Pickup: {} tasks submitted one at a time to an API-only node, each claimed by one of \
             {WORKER_NODES} idle worker nodes; from the task's `queued` event to its `running` event \
             (both stamped by the database's writers on this machine): p50 {:.1} ms, p90 {:.1} ms, \
             max {:.1} ms (goal: p50 under {PICKUP_GOAL_MS} ms).\n\n",
            self.pickups_ms.len(),
            p(0.5),
            p(0.9),
            p(1.0),
        );
        let _ = write!(
            out,
            "Drain: {} tasks queued while the worker nodes were drained, then all {WORKER_NODES} resumed \
             ({WORKERS_PER_NODE} workers each, the real CLI, a model that answers at once): all completed \
             in {:.1} s, {:.2} tasks/s.\n\n",
            self.drained,
            self.drain_seconds,
            self.drained as f64 / self.drain_seconds,
        );
        out
    }
}

fn node(database_url: &str, storage: &std::path::Path, workers: usize) -> GatewayOptions {
    GatewayOptions {
        workers,
        env: cluster_env(database_url, &format!("file://{}", storage.display())),
        ..GatewayOptions::default()
    }
}

/// The `at` of the task's first event of `status`, in ms.
fn status_at(events: &[(i64, String, Value)], status: &str) -> Option<i64> {
    let event = events.iter().find(|e| e.1 == "status" && e.2["status"] == status)?;
    ccgate::timestamp::parse_rfc3339(event.2["at"].as_str()?)
}

/// `None` when PostgreSQL is not installed here.
pub async fn cluster(model: &Model, pickups: usize, drained: usize) -> Option<Cluster> {
    let database = postgres::database()?;
    let storage = tempfile::tempdir().expect("temp dir");
    let api = Gateway::start(model, node(&database.url, storage.path(), 0)).await;
    let mut workers = Vec::new();
    for _ in 0..WORKER_NODES {
        workers.push(Gateway::start(model, node(&database.url, storage.path(), WORKERS_PER_NODE)).await);
    }
    let key = api.create_key(&[
        "--name",
        "cluster",
        "--max-concurrent",
        "100",
        "--max-queued",
        "100000",
        "--rate-limit",
        "1000000",
    ]);
    // Let every worker find the queue empty and wait.
    tokio::time::sleep(Duration::from_secs(1)).await;

    let mut pickups_ms = Vec::new();
    for n in 0..pickups {
        let task = api.submit(&key, json!({"prompt": scripted(vec![say(&format!("pickup {n}"))])})).await;
        let id = task["id"].as_str().expect("task id").to_string();
        let done = api.wait_done(&key, &id).await;
        assert_eq!(done["status"], "completed", "{done}");
        let events = api.events(&key, &id, None).await;
        let (queued, running) = (status_at(&events, "queued"), status_at(&events, "running"));
        if let (Some(queued), Some(running)) = (queued, running) {
            pickups_ms.push((running - queued) as f64);
        }
        // Idle again before the next.
        tokio::time::sleep(Duration::from_millis(200)).await;
    }

    let admin = api.admin_key.clone();
    let mut ids = Vec::new();
    for worker in &workers {
        ids.push(worker.node_id().await);
    }
    for id in &ids {
        let (status, node) = api.post(&format!("/v1/nodes/{id}/drain"), &admin, &json!({})).await;
        assert!(status < 300, "drain {id}: {status} {node}");
    }
    let mut tasks = Vec::new();
    for n in 0..drained {
        let task = api.submit(&key, json!({"prompt": scripted(vec![say(&format!("drain {n}"))])})).await;
        tasks.push(task["id"].as_str().expect("task id").to_string());
    }
    let started = Instant::now();
    for id in &ids {
        let (status, node) = api.post(&format!("/v1/nodes/{id}/resume"), &admin, &json!({})).await;
        assert!(status < 300, "resume {id}: {status} {node}");
    }
    loop {
        let (_, queued) = api.get("/v1/tasks?status=queued&limit=1", &key).await;
        let (_, running) = api.get("/v1/tasks?status=running&limit=1", &key).await;
        let open = queued["data"].as_array().map_or(0, Vec::len) + running["data"].as_array().map_or(0, Vec::len);
        if open == 0 {
            break;
        }
        assert!(started.elapsed() < Duration::from_secs(1800), "the cluster did not drain the queue");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let drain_seconds = started.elapsed().as_secs_f64();
    for id in &tasks {
        let (_, task) = api.get(&format!("/v1/tasks/{id}"), &key).await;
        assert_eq!(task["status"], "completed", "{task}");
    }
    Some(Cluster { pickups_ms, drained, drain_seconds })
}
