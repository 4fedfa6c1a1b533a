//! `server::serve` in the test process, on a listener and a shutdown future the test
//! owns, running a task with the real CLI; when the future completes, it drains and
//! returns.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use ccgate::auth::{KeyService, KeySpec};
use ccgate::config::Config;
use ccgate::store::AuditEntry;
use serde_json::{Value, json};

use crate::support::*;

#[tokio::test(flavor = "multi_thread")]
async fn serve_runs_in_process_until_its_shutdown_future_completes() {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let model = Model::start().await;
    let data = tempfile::tempdir().unwrap();
    let mut config = Config { data_dir: data.path().to_path_buf(), ..Config::default() };
    config.claude.bin = claude_bin().display().to_string();
    for (name, value) in [
        ("ANTHROPIC_BASE_URL", model.url.as_str()),
        ("ANTHROPIC_API_KEY", MODEL_KEY),
        ("CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC", "1"),
    ] {
        config.claude.env.insert(name.into(), value.into());
    }
    config.queue.shutdown_grace_seconds = 2;
    let (store, hasher) = ccgate::server::open(&config).await.unwrap();
    store.migrate().await.unwrap();
    let spec = KeySpec::new("in-process".into(), ccgate::auth::Environment::Live, &config.keys);
    let keys = KeyService::new(store.clone(), hasher.clone(), None);
    let (_, key) = keys.issue(spec, AuditEntry::new("key.create", "ok")).await.unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let supervisor = PathBuf::from(env!("CARGO_BIN_EXE_ccgate"));
    let serving = ccgate::server::serve(config, false, listener, async { stopped.await.unwrap_or(()) }, supervisor);

    let client = async {
        let http = reqwest::Client::new();
        let deadline = Instant::now() + Duration::from_secs(60);
        while !http.get(format!("{url}/readyz")).send().await.is_ok_and(|r| r.status() == 200) {
            assert!(Instant::now() < deadline, "the in-process gateway never became ready");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        let body = json!({"prompt": scripted(vec![say("in process")]), "wait_seconds": 60});
        let response = http.post(format!("{url}/v1/execute")).bearer_auth(&key).json(&body).send().await.unwrap();
        let task: Value = response.json().await.unwrap();
        assert_eq!((task["status"].as_str(), task["result"]["text"].as_str()), (Some("completed"), Some("in process")));
        stop.send(()).unwrap();
    };
    let (served, ()) = tokio::time::timeout(Duration::from_secs(90), async { tokio::join!(serving, client) })
        .await
        .expect("serve returned after its shutdown future completed");
    served.unwrap();
    assert!(reqwest::get(format!("{url}/healthz")).await.is_err(), "still listening after shutdown");
}
