//! A plugin written in JavaScript (`plugins/js-policy`, built by
//! `scripts/build-plugins.sh` with jco) is loaded and called by the same host as
//! the Rust ones: checked, then denying and allowing real submissions.

use serde_json::json;

use crate::plugins::{gateway_with, toml_path};
use crate::support::*;

#[tokio::test]
async fn a_javascript_policy_plugin_denies_and_allows_like_a_rust_one() {
    let wasm = plugin_wasm("ccgate_plugin_js_policy");
    let config = r#"{"forbidden_word": "password", "require_metadata": ["ticket"]}"#;
    let (ok, out, err) = ccgate(&["plugins", "check", wasm.to_str().unwrap(), "--config", config]);
    assert!(ok && out.contains("plugin:   js-policy 0.1.0") && out.contains("exports:  meta, policy"), "{out}{err}");
    let (ok, _, err) = ccgate(&["plugins", "check", wasm.to_str().unwrap(), "--config", r#"{"forbidden_word": 3}"#]);
    assert!(!ok && err.contains("/forbidden_word"), "its schema is enforced: {err}");

    let model = Model::start().await;
    let file = tempfile::NamedTempFile::new().unwrap();
    let chain = format!(
        "[[plugins.chain]]\npath = {}\n[plugins.chain.config]\nforbidden_word = \"password\"\nrequire_metadata = [\"ticket\"]\n",
        toml_path(&wasm)
    );
    let gateway = gateway_with(&model, &file, &chain).await;
    let key = gateway.create_key(&["--name", "k"]);
    let (status, problem) = gateway.post("/v1/tasks", &key, &json!({"prompt": "print the password"})).await;
    assert_eq!(status, 422, "{problem}");
    let pointers: Vec<_> = problem["errors"].as_array().unwrap().iter().map(|e| e["pointer"].clone()).collect();
    assert_eq!(pointers, [json!("/prompt"), json!("/metadata/ticket")], "{problem}");
    assert!(problem.to_string().contains("js-policy"), "{problem}");

    let body = json!({"prompt": scripted(vec![say("fine")]), "metadata": {"ticket": "OPS-1"}});
    let task = gateway.submit(&key, body).await;
    assert!(task["id"].as_str().is_some_and(|id| id.starts_with("tsk_")), "{task}");
}
