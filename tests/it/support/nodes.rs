//! Several gateway nodes on one database: a second `ccgate serve` beside a first,
//! sharing its database (its SQLite file, or its PostgreSQL database), its key
//! pepper and its storage, with a data directory of its own.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::Value;

use super::{Gateway, GatewayOptions, Model};

/// The key pepper of test clusters: keys are hashed with it, so every node needs the same.
const CLUSTER_PEPPER: &str = "0f1e2d3c4b5a69788796a5b4c3d2e1f00f1e2d3c4b5a69788796a5b4c3d2e1f0";

/// What the nodes of one cluster share, as their environment: the database, the key
/// pepper and the storage (`storage_url`; an S3 one also needs the `AWS_*` variables).
pub fn cluster_env(database_url: &str, storage_url: &str) -> Vec<(String, String)> {
    vec![
        ("CCGATE_DATABASE_URL".to_string(), database_url.to_string()),
        ("CCGATE_KEY_PEPPER".to_string(), CLUSTER_PEPPER.to_string()),
        ("CCGATE_STORAGE_URL".to_string(), storage_url.to_string()),
    ]
}

impl Gateway {
    /// Starts another node on this gateway's database and storage.
    pub async fn start_beside(&self, model: &Model, options: GatewayOptions) -> Gateway {
        let mut options = options;
        options.env.extend([
            ("CCGATE_DATABASE_URL".to_string(), self.shared_database_url()),
            ("CCGATE_STORAGE_URL".to_string(), format!("file://{}/storage", self.data.path().display())),
        ]);
        let mut gateway = Gateway {
            url: String::new(),
            data: Arc::new(tempfile::tempdir().expect("temp dir")),
            http: self.http.clone(),
            admin_key: self.admin_key.clone(),
            model_url: model.url.clone(),
            options,
            database: None,
            child: None,
            log: Arc::new(Mutex::new(Vec::new())),
        };
        // Keys are hashed with the pepper: every node of a database needs the same.
        std::fs::copy(self.data.path().join("key-pepper"), gateway.data.path().join("key-pepper"))
            .expect("share the key pepper");
        gateway.spawn().await;
        gateway
    }

    /// The URL another node opens this gateway's database with (read and write).
    pub fn shared_database_url(&self) -> String {
        match &self.database {
            Some(database) => database.url.clone(),
            None => format!("sqlite://{}?mode=rwc", self.data.path().join("ccgate.db").display()),
        }
    }

    /// This node's id, as `/readyz` says it.
    pub async fn node_id(&self) -> String {
        let ready = self.readyz().await.1;
        ready["checks"]["workers"]["node"].as_str().expect("readyz names the node").to_string()
    }

    /// `/readyz`: (status, body).
    pub async fn readyz(&self) -> (u16, Value) {
        let response = self.http.get(format!("{}/readyz", self.url)).send().await.expect("GET /readyz");
        (response.status().as_u16(), response.json().await.unwrap_or(Value::Null))
    }

    /// Waits until node `id`, as this gateway lists it, is in `phase`.
    pub async fn wait_for_node(&self, id: &str, phase: &str) -> Value {
        let started = Instant::now();
        loop {
            let (status, node) = self.get(&format!("/v1/nodes/{id}"), &self.admin_key).await;
            if status == 200 && node["phase"] == phase {
                return node;
            }
            assert!(started.elapsed() < Duration::from_secs(60), "node {id} is not {phase}: {node}\n{}", self.log());
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// The node each run of task `id` started on, from the audit log (`run.start`).
    pub async fn run_nodes(&self, id: &str) -> Vec<String> {
        let (status, page) = self.get(&format!("/v1/audit?action=run.start&target={id}"), &self.admin_key).await;
        assert_eq!(status, 200, "{page}");
        let entries = page["data"].as_array().expect("audit entries");
        entries.iter().map(|e| e["details"]["node"].as_str().expect("a node").to_string()).collect()
    }
}
