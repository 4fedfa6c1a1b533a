//! Idle followers: many SSE streams of one running task that prints nothing for
//! a while (a Bash step sleeping). What the gateway spends on them is what
//! followers cost while a task is quiet; then the task is cancelled and every
//! stream must end.

use std::fmt::Write as _;
use std::time::{Duration, Instant};

use serde_json::json;

use super::goals::Figure;
use super::process::{cpu_seconds, rss_mib};
use super::support::{Gateway, GatewayOptions, Model, busy_for, say, scripted};

/// Goals for the quiet window (issue: 1,000 followers of a quiet task).
const CPU_GOAL_SECONDS: f64 = 0.2;
const RSS_GOAL_MIB: f64 = 100.0;
/// The quiet window measured.
const WINDOW: Duration = Duration::from_secs(10);

pub struct Followers {
    followers: usize,
    connected: usize,
    cpu_seconds: f64,
    rss_before_mib: f64,
    rss_with_followers_mib: f64,
    ended_after_cancel: usize,
    end_ms: f64,
}

impl Followers {
    pub fn figures(&self) -> Vec<Figure> {
        vec![
            Figure {
                name: "gateway CPU with idle followers, per 10 s",
                value: self.cpu_seconds,
                goal: CPU_GOAL_SECONDS,
                unit: "s",
            },
            Figure {
                name: "gateway memory with idle followers",
                value: self.rss_with_followers_mib,
                goal: RSS_GOAL_MIB,
                unit: "MiB",
            },
            Figure {
                name: "followers not connected or not ended",
                value: (2 * self.followers - self.connected - self.ended_after_cancel) as f64,
                goal: 0.0,
                unit: "",
            },
        ]
    }

    pub fn to_markdown(&self) -> String {
        let mut out = format!(
            "## {} idle followers of one task\n\nOne running task whose Bash step sleeps; {} SSE streams of \
             its events (`GET /v1/tasks/{{id}}/events`), each connected once it has the replayed events. \
             The gateway process's CPU time (user + system, from `/proc`) over {} s of quiet, and its \
             resident memory:\n\n",
            self.followers,
            self.followers,
            WINDOW.as_secs()
        );
        out.push_str("| connected | CPU s per 10 s | RSS before (MiB) | RSS with followers (MiB) | ended after cancel | all ended in |\n");
        out.push_str("| ---: | ---: | ---: | ---: | ---: | ---: |\n");
        let _ = writeln!(
            out,
            "| {} | {:.3} | {:.1} | {:.1} | {} | {:.0} ms |\n",
            self.connected,
            self.cpu_seconds,
            self.rss_before_mib,
            self.rss_with_followers_mib,
            self.ended_after_cancel,
            self.end_ms
        );
        out
    }
}

pub async fn idle_followers(model: &Model, followers: usize) -> Followers {
    let config = tempfile::NamedTempFile::new().expect("config file");
    let limit = followers + 64;
    std::fs::write(
        config.path(),
        format!(
            "[http]\nmax_streams = {limit}\nmax_streams_per_key = {limit}\nmax_connections = {}\n\
             max_connections_per_address = {limit}\n",
            limit + 64
        ),
    )
    .expect("write config");
    let env = vec![("CCGATE_CONFIG".to_string(), config.path().display().to_string())];
    let gateway = Gateway::start(model, GatewayOptions { env, ..GatewayOptions::default() }).await;
    let key = gateway.create_key(&["--name", "bench", "--rate-limit", "1000000"]);
    let body = json!({"prompt": scripted(vec![busy_for(120), say("done")])});
    let (status, task) = gateway.post("/v1/tasks", &key, &body).await;
    assert_eq!(status, 202, "{task}");
    let id = task["id"].as_str().expect("task id").to_string();
    wait_for_tool(&gateway, &key, &id).await;

    let pid = gateway.pid();
    let rss_before_mib = rss_mib(pid);
    let client = reqwest::Client::builder().pool_max_idle_per_host(0).build().expect("http client");
    let url = format!("{}/v1/tasks/{id}/events", gateway.url);
    let (connected_tx, mut connected_rx) = tokio::sync::mpsc::unbounded_channel::<bool>();
    let (ended_tx, mut ended_rx) = tokio::sync::mpsc::unbounded_channel::<()>();
    for _ in 0..followers {
        let (client, url, key, connected_tx, ended_tx) =
            (client.clone(), url.clone(), key.clone(), connected_tx.clone(), ended_tx.clone());
        tokio::spawn(async move {
            let Ok(mut response) = client.get(&url).bearer_auth(&key).send().await else {
                let _ = connected_tx.send(false);
                return;
            };
            let first = response.status().is_success() && matches!(response.chunk().await, Ok(Some(_)));
            let _ = connected_tx.send(first);
            if first {
                while let Ok(Some(_)) = response.chunk().await {}
                let _ = ended_tx.send(());
            }
        });
    }
    let mut connected = 0;
    for _ in 0..followers {
        if connected_rx.recv().await == Some(true) {
            connected += 1;
        }
    }
    tokio::time::sleep(Duration::from_secs(2)).await; // the connections settle
    let before = cpu_seconds(pid);
    tokio::time::sleep(WINDOW).await;
    let cpu_seconds = cpu_seconds(pid) - before;
    let rss_with_followers_mib = rss_mib(pid);

    let cancelled = Instant::now();
    let (status, _) = gateway.post(&format!("/v1/tasks/{id}/cancel"), &key, &json!({})).await;
    assert!(status == 202 || status == 200, "cancel answered {status}");
    let mut ended_after_cancel = 0;
    while ended_after_cancel < connected {
        match tokio::time::timeout(Duration::from_secs(30), ended_rx.recv()).await {
            Ok(Some(())) => ended_after_cancel += 1,
            _ => break,
        }
    }
    let end_ms = cancelled.elapsed().as_secs_f64() * 1000.0;
    Followers { followers, connected, cpu_seconds, rss_before_mib, rss_with_followers_mib, ended_after_cancel, end_ms }
}

/// Waits until the task runs its Bash step: from then on it prints nothing.
async fn wait_for_tool(gateway: &Gateway, key: &str, id: &str) {
    let deadline = Instant::now() + Duration::from_secs(60);
    while Instant::now() < deadline {
        if sse_has_tool_use(gateway, key, id).await {
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("the task never started its Bash step");
}

/// Whether the task's stored events include its `tool_use` (read as a short SSE replay).
async fn sse_has_tool_use(gateway: &Gateway, key: &str, id: &str) -> bool {
    let response = gateway.request(reqwest::Method::GET, &format!("/v1/tasks/{id}/events"), key).send().await;
    let Ok(mut response) = response else { return false };
    let read = tokio::time::timeout(Duration::from_millis(500), async {
        let mut text = String::new();
        while let Ok(Some(chunk)) = response.chunk().await {
            text.push_str(&String::from_utf8_lossy(&chunk));
            if text.contains("event: tool_use") {
                return true;
            }
        }
        false
    });
    read.await.unwrap_or(false)
}
