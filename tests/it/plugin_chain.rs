//! The plugin chain under change and failure: a reload while a slow call is in
//! flight (the call finishes on the version it started on, new calls use the new
//! one), and one failing plugin among several (the others still run; the task
//! goes on or is refused as that plugin's `on_error` says).

use std::time::{Duration, Instant};

use serde_json::json;

use crate::plugins::{events_of_type, gateway_with, toml_path};
use crate::support::*;

/// The hostile policy plugin with `behaviour`, as the chain entry `name` of key `k-NAME`.
fn hostile_entry(name: &str, behaviour: &str, extra: &str) -> String {
    let hostile = toml_path(&plugin_wasm("ccgate_test_hostile_policy"));
    format!(
        "[[plugins.chain]]\nname = \"{name}\"\npath = {hostile}\nkeys = [\"k-open\", \"k-closed\"]\n{extra}\n\
         [plugins.chain.config]\nbehaviour = \"{behaviour}\"\n"
    )
}

#[tokio::test(flavor = "multi_thread")]
async fn a_reload_leaves_a_call_in_flight_on_the_version_it_started_on() {
    let model = Model::start().await;
    let config = tempfile::NamedTempFile::new().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let wasm = dir.path().join("gate.wasm");
    std::fs::copy(plugin_wasm("ccgate_test_hostile_policy"), &wasm).unwrap();
    // Version 1: a call that takes its whole 2.5 s budget, then is skipped (fail open).
    let slow = format!(
        "[[plugins.chain]]\nname = \"gate\"\npath = {}\ntimeout_ms = 2500\non_error = \"fail_open\"\n\
         [plugins.chain.config]\nbehaviour = \"sleep\"\n",
        toml_path(&wasm)
    );
    let gateway = gateway_with(&model, &config, &slow).await;
    let key = gateway.create_key(&["--name", "k"]);
    let forbidden = json!({"prompt": scripted(vec![say("forbidden fruit")])});

    let started = Instant::now();
    let in_flight = {
        let (http, url, key, body) = (gateway.http.clone(), gateway.url.clone(), key.clone(), forbidden.clone());
        tokio::spawn(async move {
            let response = http.post(format!("{url}/v1/tasks")).bearer_auth(key).json(&body).send().await.unwrap();
            let status = response.status().as_u16();
            (status, response.json::<serde_json::Value>().await.unwrap(), Instant::now())
        })
    };
    // Well inside the slow call: the policy runs first thing when a task is submitted.
    tokio::time::sleep(Duration::from_millis(700)).await;

    // Version 2, replaced whole and reloaded: another plugin, which denies "forbidden"
    // and fails closed.
    let partial = dir.path().join("gate.wasm.partial");
    std::fs::copy(plugin_wasm("ccgate_test_wit_0_1_0"), &partial).unwrap();
    std::fs::rename(&partial, &wasm).unwrap();
    std::fs::write(config.path(), format!("[[plugins.chain]]\nname = \"gate\"\npath = {}\n", toml_path(&wasm)))
        .unwrap();
    let (status, reloaded) = gateway.post("/v1/plugins/reload", &gateway.admin_key, &json!({})).await;
    assert_eq!(status, 200, "{reloaded}");
    let reloaded_at = Instant::now();
    assert_eq!(gateway.post("/v1/tasks", &key, &forbidden).await.0, 422, "new calls use the new version");

    let (status, task, answered_at) = in_flight.await.unwrap();
    assert!(answered_at > reloaded_at, "the call was still in flight when the reload finished");
    assert!(answered_at - started >= Duration::from_millis(2500), "it ran its whole budget on version 1");
    assert_eq!(status, 202, "version 1 fails open; version 2 would have refused: {task}");
    let id = task["id"].as_str().unwrap();
    assert_eq!(gateway.wait_done(&key, id).await["status"], "completed");
    let events = gateway.events(&key, id, None).await;
    let calls = events_of_type(&events, "plugin");
    assert_eq!(calls[0]["outcome"], "skipped", "{calls:?}");
    assert!(calls[0]["message"].as_str().unwrap().contains("time budget"), "{calls:?}");
    let allowed = json!({"prompt": scripted(vec![say("fine")])});
    assert_eq!(gateway.post("/v1/tasks", &key, &allowed).await.0, 202);
    let health = gateway.http.get(format!("{}/healthz", gateway.url)).send().await.unwrap();
    assert_eq!(health.status(), 200, "nothing crashed");
}

#[tokio::test(flavor = "multi_thread")]
async fn one_failing_plugin_in_a_chain_costs_only_its_own_call() {
    let model = Model::start().await;
    let config = tempfile::NamedTempFile::new().unwrap();
    // Each key's chain: rewrite, a plugin that traps, rewrite again.
    let toml = [
        hostile_entry("first", "rewrite", ""),
        hostile_entry("broken", "trap", "on_error = \"fail_open\"").replace("\"k-open\", \"k-closed\"", "\"k-open\""),
        hostile_entry("broken-closed", "trap", "").replace("\"k-open\", \"k-closed\"", "\"k-closed\""),
        hostile_entry("last", "rewrite", ""),
    ]
    .join("\n");
    let gateway = gateway_with(&model, &config, &toml).await;
    let prompt = scripted(vec![say("fine")]);

    // Fail open: the plugins before and after the broken one still run.
    let open = gateway.create_key(&["--name", "k-open"]);
    let task = gateway.submit(&open, json!({"prompt": prompt})).await;
    assert_eq!(task["prompt"], format!("rewritten: rewritten: {prompt}"), "{task}");
    let id = task["id"].as_str().unwrap();
    assert_eq!(gateway.wait_done(&open, id).await["status"], "completed");
    let events = gateway.events(&open, id, None).await;
    let outcomes: Vec<_> = events_of_type(&events, "plugin").iter().map(|e| e["outcome"].clone()).collect();
    assert_eq!(outcomes, [json!("rewritten"), json!("skipped"), json!("rewritten")], "{events:?}");

    // Fail closed: refused naming the broken plugin, nothing stored.
    let closed = gateway.create_key(&["--name", "k-closed"]);
    let (status, problem) = gateway.post("/v1/tasks", &closed, &json!({"prompt": prompt})).await;
    assert_eq!(status, 503, "{problem}");
    assert!(problem["detail"].as_str().unwrap().contains("broken-closed"), "{problem}");
    let (_, listed) = gateway.get("/v1/tasks", &closed).await;
    assert!(listed["data"].as_array().unwrap().is_empty(), "{listed}");
}
