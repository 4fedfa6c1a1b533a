//! The client's requests: bearer key, JSON in and out, problems turned into errors,
//! event streams and downloads read as they arrive.

use std::io::Write;
use std::path::Path;
use std::time::Duration;

use futures_util::StreamExt;
use serde_json::Value;

/// Why a command could not do its work.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    /// Set-up or arguments: no URL or key, a file that cannot be read.
    #[error("{0}")]
    Usage(String),
    #[error("cannot reach {url}: {source}")]
    Unreachable { url: String, source: reqwest::Error },
    /// The gateway answered with a problem.
    #[error("{status}: {detail}")]
    Refused { status: u16, detail: String },
    #[error("{0}")]
    Io(#[from] std::io::Error),
}

/// A gateway and the key to use it with.
pub struct Client {
    base: String,
    key: String,
    http: reqwest::Client,
}

/// How often `wait_until_finished` asks.
const POLL: Duration = Duration::from_millis(500);

impl Client {
    /// From `CCGATE_URL` and `CCGATE_API_KEY`.
    pub fn from_env() -> Result<Self, ClientError> {
        let var = |name: &str| std::env::var(name).ok().filter(|v| !v.is_empty());
        let base = var("CCGATE_URL").ok_or_else(|| ClientError::Usage("set CCGATE_URL (http://host:port)".into()))?;
        let key = var("CCGATE_API_KEY").ok_or_else(|| ClientError::Usage("set CCGATE_API_KEY".into()))?;
        // https gateways: rustls with ring, as the gateway itself uses.
        let _ = rustls::crypto::ring::default_provider().install_default();
        let http = reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(10))
            .build()
            .map_err(|e| ClientError::Usage(format!("cannot set up HTTP: {e}")))?;
        Ok(Self { base: base.trim_end_matches('/').to_string(), key, http })
    }

    pub async fn get_json(&self, path: &str) -> Result<Value, ClientError> {
        json_of(self.send(self.http.get(self.url(path))).await?).await
    }

    pub async fn post_json(&self, path: &str, body: &Value) -> Result<Value, ClientError> {
        let request = self
            .http
            .post(self.url(path))
            .header("content-type", "application/json")
            .body(serde_json::to_vec(body).unwrap_or_default());
        json_of(self.send(request).await?).await
    }

    /// Polls the task until it is completed, failed or cancelled.
    pub async fn wait_until_finished(&self, id: &str) -> Result<Value, ClientError> {
        loop {
            let task = self.get_json(&format!("/v1/tasks/{id}")).await?;
            if matches!(task["status"].as_str(), Some("completed" | "failed" | "cancelled")) {
                return Ok(task);
            }
            tokio::time::sleep(POLL).await;
        }
    }

    /// Writes the task's events to `out`, one line each (`seq`, type, data), until
    /// the gateway ends the stream with the task.
    pub async fn stream_events(&self, id: &str, out: &mut impl Write) -> Result<(), ClientError> {
        let request = self.http.get(self.url(&format!("/v1/tasks/{id}/events"))).header("accept", "text/event-stream");
        let response = self.send(request).await?;
        let mut events = super::sse::Events::default();
        let mut body = response.bytes_stream();
        while let Some(chunk) = body.next().await {
            let chunk = chunk.map_err(|source| ClientError::Unreachable { url: self.base.clone(), source })?;
            for event in events.feed(&chunk) {
                writeln!(out, "{}\t{}\t{}", event.id, event.kind, event.data)?;
            }
            out.flush()?;
        }
        Ok(())
    }

    /// Saves the answer's body to `output` as it arrives; returns its size.
    pub async fn download(&self, path: &str, output: &Path) -> Result<u64, ClientError> {
        let response = self.send(self.http.get(self.url(path))).await?;
        let mut file = std::fs::File::create(output)?;
        let mut written = 0u64;
        let mut body = response.bytes_stream();
        while let Some(chunk) = body.next().await {
            let chunk = chunk.map_err(|source| ClientError::Unreachable { url: self.base.clone(), source })?;
            file.write_all(&chunk)?;
            written += chunk.len() as u64;
        }
        Ok(written)
    }

    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// Sends with the key; a non-2xx answer becomes `Refused` with its problem's detail.
    async fn send(&self, request: reqwest::RequestBuilder) -> Result<reqwest::Response, ClientError> {
        let response = request
            .bearer_auth(&self.key)
            .send()
            .await
            .map_err(|source| ClientError::Unreachable { url: self.base.clone(), source })?;
        if response.status().is_success() {
            return Ok(response);
        }
        let status = response.status().as_u16();
        let body = response.bytes().await.unwrap_or_default();
        let problem: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
        let detail = problem["detail"]
            .as_str()
            .map(String::from)
            .unwrap_or_else(|| String::from_utf8_lossy(&body[..body.len().min(512)]).trim().to_string());
        Err(ClientError::Refused { status, detail })
    }
}

async fn json_of(response: reqwest::Response) -> Result<Value, ClientError> {
    let status = response.status().as_u16();
    let body = response.bytes().await.unwrap_or_default();
    serde_json::from_slice(&body).map_err(|e| ClientError::Refused { status, detail: format!("not JSON: {e}") })
}
