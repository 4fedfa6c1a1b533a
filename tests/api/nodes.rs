//! The node registry through the API: listing, draining and resuming this node,
//! and what `/readyz` says meanwhile (an API-only node here: no Claude Code).

use serde_json::json;

use crate::support::*;

#[tokio::test]
async fn an_api_only_node_is_listed_drains_at_once_and_resumes() {
    let gateway = TestGateway::with_config(|config| config.queue.workers = 0).await;
    gateway.app.node.register().await.expect("register");
    let id = gateway.app.node.id().to_string();
    let admin = &gateway.admin_key;

    let (status, ready) = gateway.get("/readyz", "").await;
    assert_eq!(status, 200, "an API-only node is ready without Claude Code: {ready}");
    assert_eq!(
        (ready["checks"]["queue"]["workers"].as_u64(), ready["checks"]["queue"]["claims"].as_bool()),
        (Some(0), Some(false))
    );

    let (status, nodes) = gateway.get("/v1/nodes", admin).await;
    assert_eq!(status, 200, "{nodes}");
    let listed = &nodes["data"][0];
    assert_eq!((listed["id"].as_str(), listed["state"].as_str()), (Some(id.as_str()), Some("active")), "{nodes}");
    assert_eq!(
        (listed["alive"].as_bool(), listed["this_node"].as_bool(), listed["workers"].as_i64()),
        (Some(true), Some(true), Some(0))
    );

    let (status, drained) = gateway.post(&format!("/v1/nodes/{id}/drain"), admin, &json!({})).await;
    assert_eq!(
        (status, drained["state"].as_str(), drained["phase"].as_str()),
        (200, Some("draining"), Some("drained")),
        "nothing runs here: {drained}"
    );
    let requested = drained["drain_requested_at"].clone();
    assert!(requested.is_string(), "{drained}");
    let (status, again) = gateway.post(&format!("/v1/nodes/{id}/drain"), admin, &json!({})).await;
    assert_eq!((status, &again["drain_requested_at"]), (200, &requested), "one drain: {again}");
    let (status, ready) = gateway.get("/readyz", "").await;
    assert_eq!((status, ready["status"].as_str(), ready["reason"].as_str()), (503, Some("draining"), Some("draining")));
    assert_eq!(ready["checks"]["queue"]["state"], "drained", "{ready}");

    let (status, resumed) = gateway.post(&format!("/v1/nodes/{id}/resume"), admin, &json!({})).await;
    assert_eq!((status, resumed["state"].as_str()), (200, Some("active")), "{resumed}");
    assert!(resumed["drain_requested_at"].is_null(), "{resumed}");
    let (status, ready) = gateway.get("/readyz", "").await;
    assert_eq!((status, &ready["reason"]), (200, &json!(null)), "{ready}");
    for action in ["node.drain", "node.resume"] {
        let (_, audit) = gateway.get(&format!("/v1/audit?action={action}"), admin).await;
        let targets: Vec<&str> =
            audit["data"].as_array().unwrap().iter().map(|e| e["target"].as_str().unwrap()).collect();
        let expected = if action == "node.drain" { vec![id.as_str(); 2] } else { vec![id.as_str()] };
        assert_eq!(targets, expected, "who asked is audited: {audit}");
    }
}

#[tokio::test]
async fn the_registry_is_for_admins_and_names_what_is_wrong() {
    let gateway = TestGateway::start().await;
    let tasks_key = gateway.key(KeyOptions::named("dev")).await;
    let admin = &gateway.admin_key;
    for (method, path) in [("GET", "/v1/nodes"), ("GET", "/v1/nodes/node_x"), ("POST", "/v1/nodes/node_x/drain")] {
        let (status, problem) = match method {
            "GET" => gateway.get(path, &tasks_key).await,
            _ => gateway.post(path, &tasks_key, &json!({})).await,
        };
        assert_eq!(status, 403, "{method} {path}: {problem}");
    }
    for path in ["/v1/nodes/node_missing/drain", "/v1/nodes/node_missing/resume"] {
        let (status, problem) = gateway.post(path, admin, &json!({})).await;
        assert_eq!((status, problem["type"].as_str()), (404, Some("https://ccgate.dev/errors/not-found")), "{problem}");
    }
    let (status, problem) = gateway.get("/v1/nodes/node_missing", admin).await;
    assert_eq!(status, 404, "{problem}");
    let (status, problem) = gateway.get("/v1/nodes?limit=0&colour=red", admin).await;
    assert_eq!(status, 422, "{problem}");
    let pointers: Vec<&str> =
        problem["errors"].as_array().unwrap().iter().map(|e| e["pointer"].as_str().unwrap()).collect();
    assert!(pointers.contains(&"/query/limit") && pointers.contains(&"/query/colour"), "{problem}");
    let (status, empty) = gateway.get("/v1/nodes", admin).await;
    assert_eq!(
        (status, empty["data"].as_array().map(Vec::len)),
        (200, Some(0)),
        "not registered (no work started): {empty}"
    );
}
