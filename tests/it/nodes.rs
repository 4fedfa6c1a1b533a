//! Several nodes on one database: an API-only node beside a worker node, the node
//! registry, draining a node for a rolling upgrade, and a drain's grace deadline.

use std::time::Duration;

use serde_json::json;

use crate::support::*;

/// Heartbeats every second (a third of the lease): drains are seen quickly.
fn node(name: &str, workers: usize, extra: &[(&str, &str)]) -> GatewayOptions {
    let mut env = vec![("CCGATE_LEASE_SECONDS".to_string(), "3".to_string()), ("CCGATE_NODE_NAME".into(), name.into())];
    env.extend(extra.iter().map(|(k, v)| (k.to_string(), v.to_string())));
    GatewayOptions { workers, env, ..Default::default() }
}

#[tokio::test(flavor = "multi_thread")]
async fn an_api_only_node_takes_tasks_that_a_worker_node_runs() {
    let model = Model::start().await;
    let worker = Gateway::start(&model, node("worker", 1, &[])).await;
    let api = worker.start_beside(&model, node("api", 0, &[])).await;
    let (status, ready) = api.readyz().await;
    assert_eq!(status, 200, "{ready}");
    assert_eq!(ready["checks"]["queue"]["workers"], 0, "{ready}");
    assert_eq!(ready["checks"]["queue"]["claims"], false, "{ready}");

    let key = api.create_key(&["--name", "dev"]);
    let mut ids = Vec::new();
    for n in 0..2 {
        let task = api.submit(&key, json!({"prompt": scripted(vec![say(&format!("done {n}"))])})).await;
        ids.push(task["id"].as_str().unwrap().to_string());
    }
    let (worker_id, api_id) = (worker.node_id().await, api.node_id().await);
    for id in &ids {
        let done = api.wait_done(&key, id).await;
        assert_eq!(done["status"], "completed", "{done}\n{}", worker.log());
        assert_eq!(api.run_nodes(id).await, std::slice::from_ref(&worker_id), "only the worker node claimed {id}");
    }
    assert!(!api.log().contains("run started"), "the API-only node ran something:\n{}", api.log());

    let (status, nodes) = api.get("/v1/nodes", &api.admin_key).await;
    assert_eq!(status, 200, "{nodes}");
    let listed = nodes["data"].as_array().unwrap();
    assert_eq!(listed.len(), 2, "{nodes}");
    assert_eq!(listed[0]["id"], api_id, "the latest started first: {nodes}");
    assert_eq!((listed[0]["workers"].as_i64(), listed[0]["this_node"].as_bool()), (Some(0), Some(true)));
    assert_eq!((listed[1]["name"].as_str(), listed[1]["workers"].as_i64()), (Some("worker"), Some(1)));
    assert!(listed.iter().all(|n| n["alive"] == true && n["state"] == "active"), "{nodes}");
    let (status, _) = api.get("/v1/nodes", &key).await;
    assert_eq!(status, 403, "the registry is for admin keys");
    let (status, missing) = api.post("/v1/nodes/node_missing/drain", &api.admin_key, &json!({})).await;
    assert_eq!(status, 404, "{missing}");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_rolling_upgrade_drains_a_node_while_another_takes_the_work() {
    let model = Model::start().await;
    let mut a = Gateway::start(&model, node("gw-a", 2, &[])).await;
    let key = a.create_key(&["--name", "dev"]);
    // Pinned to A (the only node yet) until the test releases it.
    let pinned = a.submit(&key, json!({"prompt": scripted(vec![bash(UNTIL_RELEASED), say("finished on A")])})).await;
    let pinned = pinned["id"].as_str().unwrap().to_string();
    a.wait_for(&key, &pinned, &["running"], Duration::from_secs(60)).await;
    let b = a.start_beside(&model, node("gw-b", 2, &[])).await;
    let (a_id, b_id) = (a.node_id().await, b.node_id().await);

    // Asked through B: A follows at its next heartbeat.
    let (status, asked) = b.post(&format!("/v1/nodes/{a_id}/drain"), &b.admin_key, &json!({})).await;
    assert_eq!(status, 200, "{asked}");
    assert!(asked["drain_requested_at"].is_string(), "{asked}");
    let draining = b.wait_for_node(&a_id, "draining").await;
    assert_eq!((draining["state"].as_str(), draining["running"].as_i64()), (Some("draining"), Some(1)), "{draining}");
    let (status, ready) = a.readyz().await;
    assert_eq!((status, ready["status"].as_str(), ready["reason"].as_str()), (503, Some("draining"), Some("draining")));
    let (again, _) = b.post(&format!("/v1/nodes/{a_id}/drain"), &b.admin_key, &json!({})).await;
    assert_eq!(again, 200, "draining twice is one drain");

    // New work goes to B, even when submitted to A.
    let meanwhile = a.submit(&key, json!({"prompt": scripted(vec![say("ran on B")])})).await;
    let meanwhile = meanwhile["id"].as_str().unwrap().to_string();
    let done = b.wait_done(&key, &meanwhile).await;
    assert_eq!(done["status"], "completed", "{done}");
    assert_eq!(b.run_nodes(&meanwhile).await, std::slice::from_ref(&b_id));

    a.release(&pinned).await;
    let done = a.wait_done(&key, &pinned).await;
    assert_eq!((done["status"].as_str(), done["attempts"].as_i64()), (Some("completed"), Some(1)), "{done}");
    assert_eq!(b.run_nodes(&pinned).await, std::slice::from_ref(&a_id), "it finished where it ran");
    b.wait_for_node(&a_id, "drained").await;

    let status = a.stop();
    assert!(status.success(), "A exits 0 on SIGTERM: {status:?}\n{}", a.log());
    let stopped = b.wait_for_node(&a_id, "stopped").await;
    assert_eq!((stopped["alive"].as_bool(), stopped["state"].as_str()), (Some(false), Some("gone")), "{stopped}");
    let (status, refused) = b.post(&format!("/v1/nodes/{a_id}/resume"), &b.admin_key, &json!({})).await;
    assert_eq!(status, 409, "a stopped node is not resumed: {refused}");
}

#[tokio::test(flavor = "multi_thread")]
async fn at_the_drain_deadline_a_run_goes_back_to_the_queue_and_completes_elsewhere() {
    let model = Model::start().await;
    let a = Gateway::start(&model, node("gw-a", 1, &[("CCGATE_DRAIN_GRACE_SECONDS", "2")])).await;
    let key = a.create_key(&["--name", "dev"]);
    let step = format!("echo started >> starts.txt; {UNTIL_RELEASED}");
    let task = a.submit(&key, json!({"prompt": scripted(vec![bash(&step), say("finished on B")])})).await;
    let id = task["id"].as_str().unwrap().to_string();
    a.wait_for(&key, &id, &["running"], Duration::from_secs(60)).await;
    let b = a.start_beside(&model, node("gw-b", 1, &[])).await;
    let (a_id, b_id) = (a.node_id().await, b.node_id().await);

    // Asked through A itself: it stops claiming at once.
    let (status, asked) = a.post(&format!("/v1/nodes/{a_id}/drain"), &a.admin_key, &json!({})).await;
    assert_eq!((status, asked["state"].as_str()), (200, Some("draining")), "{asked}");
    let starts_on_b = b.data.path().join(format!("tasks/{id}/workspace/starts.txt"));
    crate::cancel_and_timeout::wait_until(|| starts_on_b.exists(), "the handed-back run to start on B").await;
    b.release(&id).await;
    let done = b.wait_done(&key, &id).await;
    assert_eq!(done["status"], "completed", "{done}\n{}", a.log());
    assert_eq!(done["attempts"], 1, "handing back did not burn an attempt: {done}");
    assert_eq!(b.run_nodes(&id).await, [b_id, a_id.clone()], "newest first: B's run, then A's");
    assert!(a.log().contains("grace period is over"), "{}", a.log());
    a.wait_for_node(&a_id, "drained").await;

    let (status, resumed) = a.post(&format!("/v1/nodes/{a_id}/resume"), &a.admin_key, &json!({})).await;
    assert_eq!((status, resumed["state"].as_str()), (200, Some("active")), "{resumed}");
    let (status, ready) = a.readyz().await;
    assert_eq!((status, ready["checks"]["queue"]["claims"].as_bool()), (200, Some(true)), "{ready}");

    // `ccgate drain` on A's machine (A's configuration): A only, B keeps its own name.
    let output = a.cli(&["drain", "--wait"]);
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    let printed: serde_json::Value = serde_json::from_slice(&output.stdout).expect("one node as JSON");
    assert_eq!((printed["id"].as_str(), printed["phase"].as_str()), (Some(a_id.as_str()), Some("drained")));
    let (_, b_node) = b.get(&format!("/v1/nodes/{}", b.node_id().await), &b.admin_key).await;
    assert_eq!(b_node["state"], "active", "{b_node}");
}
