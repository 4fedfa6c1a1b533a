//! A throwaway S3-compatible server for tests: moto's server mode
//! (`moto_server`, installed into `.tools/venv` by `scripts/setup.sh --test-tools`),
//! on a free loopback port, working in a temp dir, with one bucket made.
//! What the gateway uses of S3 and moto serves: PutObject, the multipart upload
//! calls, GetObject (with Range), HeadObject, ListObjectsV2 and DeleteObjects.

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use super::repo_root;

/// The bucket every server starts with.
pub const BUCKET: &str = "ccgate-test";

pub struct S3Server {
    pub endpoint: String,
    child: Child,
    _dir: tempfile::TempDir,
}

impl S3Server {
    /// Starts moto and makes `BUCKET`. Never skipped: a missing moto fails the test.
    pub async fn start() -> S3Server {
        // Its own requests use reqwest's rustls, whose provider is chosen at run time.
        let _ = rustls::crypto::ring::default_provider().install_default();
        let program = repo_root().join(".tools/venv/bin/moto_server");
        assert!(
            program.exists(),
            "{} is missing: run scripts/setup.sh --no-serve --no-build --test-tools",
            program.display()
        );
        let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let dir = tempfile::tempdir().unwrap();
        let child = Command::new(program)
            .args(["-H", "127.0.0.1", "-p", &port.to_string()])
            .current_dir(dir.path())
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start moto_server");
        let server = S3Server { endpoint: format!("http://127.0.0.1:{port}"), child, _dir: dir };
        let http = reqwest::Client::new();
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            // moto checks no signatures: an unsigned PUT makes the bucket.
            match http.put(format!("{}/{BUCKET}", server.endpoint)).send().await {
                Ok(made) if made.status().is_success() => return server,
                Ok(made) => panic!("moto refused to make the bucket: {}", made.status()),
                Err(_) if Instant::now() < deadline => tokio::time::sleep(Duration::from_millis(200)).await,
                Err(e) => panic!("moto_server did not start: {e}"),
            }
        }
    }

    /// The `AWS_*` variables that point a client at this server.
    pub fn aws_env(&self) -> Vec<(String, String)> {
        [
            ("AWS_ENDPOINT", self.endpoint.as_str()),
            ("AWS_ALLOW_HTTP", "true"),
            ("AWS_REGION", "us-east-1"),
            ("AWS_ACCESS_KEY_ID", "testing"),
            ("AWS_SECRET_ACCESS_KEY", "testing"),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
    }

    /// A gateway's environment: the `AWS_*` variables and `CCGATE_STORAGE_URL`.
    pub fn gateway_env(&self, storage_url: &str) -> Vec<(String, String)> {
        let mut env = self.aws_env();
        env.push(("CCGATE_STORAGE_URL".into(), storage_url.into()));
        env
    }

    /// The keys under `prefix` in `BUCKET`, read with a plain ListObjectsV2
    /// (not through the gateway's code).
    pub async fn keys(&self, prefix: &str) -> Vec<String> {
        let url = format!("{}/{BUCKET}?list-type=2&prefix={prefix}", self.endpoint);
        let listing = reqwest::get(url).await.unwrap().text().await.unwrap();
        listing
            .split("<Key>")
            .skip(1)
            .filter_map(|rest| rest.split_once("</Key>"))
            .map(|(k, _)| k.to_string())
            .collect()
    }

    /// Stops the server: the store becomes unreachable.
    pub fn stop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for S3Server {
    fn drop(&mut self) {
        self.stop();
    }
}
