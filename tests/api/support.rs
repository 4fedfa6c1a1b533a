//! The in-process harness: the whole gateway's router over a temporary SQLite
//! store, with no worker started, no Claude Code and no sandbox process. Requests go
//! through `tower::ServiceExt::oneshot`, as from 127.0.0.1; keys are issued as
//! `ccgate keys create` issues them.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

use axum::Router;
use axum::body::Body;
use axum::extract::ConnectInfo;
use axum::http::{HeaderMap, Method, Request};
use ccgate::auth::{KeySpec, Scope};
use ccgate::config::Config;
use ccgate::sandbox::{Sandbox, SandboxMode};
use ccgate::server::{App, Machine};
use ccgate::store::AuditEntry;
use serde_json::Value;
use tower::ServiceExt as _;

/// Where every request comes from.
pub const CLIENT: SocketAddr = SocketAddr::new(std::net::IpAddr::V4(std::net::Ipv4Addr::LOCALHOST), 40_000);

/// The repository's root (for the committed `openapi.json`).
pub fn repo_root() -> PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR")).parent().expect("gateway/ has a parent").to_path_buf()
}

/// A gateway assembled in this process; dropping it removes its data directory.
pub struct TestGateway {
    pub app: App,
    pub router: Router,
    pub data: tempfile::TempDir,
    pub admin_key: String,
}

/// A key to issue: `ccgate keys create`'s flags.
pub struct KeyOptions<'a> {
    pub name: &'a str,
    pub scopes: &'a [Scope],
    pub rate_limit: Option<u32>,
}

impl<'a> KeyOptions<'a> {
    pub fn named(name: &'a str) -> Self {
        Self { name, scopes: &[Scope::Tasks], rate_limit: None }
    }
}

/// An answer: status, headers and the body parsed as JSON (`Null` when it is not).
pub struct Answer {
    pub status: u16,
    pub headers: HeaderMap,
    pub text: String,
    pub json: Value,
}

impl Answer {
    pub fn header(&self, name: &str) -> &str {
        self.headers.get(name).and_then(|v| v.to_str().ok()).unwrap_or_else(|| panic!("no {name} header"))
    }
}

impl TestGateway {
    pub async fn start() -> Self {
        Self::with_config(|_| {}).await
    }

    /// A gateway on the default configuration as `change` leaves it.
    pub async fn with_config(change: impl FnOnce(&mut Config)) -> Self {
        let data = tempfile::tempdir().expect("temp dir");
        let mut config = Config { data_dir: data.path().to_path_buf(), ..Config::default() };
        // Runs never start here: nothing to confine, so nothing to probe.
        config.sandbox.mode = SandboxMode::None;
        change(&mut config);
        let (store, hasher) = ccgate::server::open(&config).await.expect("open the store");
        store.migrate().await.expect("migrate");
        let supervisor = PathBuf::from(env!("CARGO_BIN_EXE_ccgate"));
        let sandbox = Sandbox::start(&config.sandbox, data.path(), supervisor.clone(), &[], &config.pricing)
            .await
            .expect("an unconfined sandbox");
        let machine = Machine {
            claude_bin: PathBuf::from(&config.claude.bin),
            claude_version: None,
            supervisor,
            passthrough: Vec::new(),
            sandbox: Arc::new(sandbox),
        };
        let app = App::build(config, store, hasher, machine, data.path().to_path_buf()).await.expect("build the app");
        let router = app.router();
        let mut gateway = Self { app, router, data, admin_key: String::new() };
        gateway.admin_key = gateway.key(KeyOptions { scopes: &[Scope::Admin], ..KeyOptions::named("admin") }).await;
        gateway
    }

    /// Issues a key as `ccgate keys create` does; returns its secret.
    pub async fn key(&self, options: KeyOptions<'_>) -> String {
        self.issue(options).await.1
    }

    /// Issues a key as `ccgate keys create` does; returns its id and secret.
    pub async fn issue(&self, options: KeyOptions<'_>) -> (String, String) {
        let mut spec = KeySpec::new(options.name.into(), ccgate::auth::Environment::Live, &self.app.state.config.keys);
        spec.scopes = options.scopes.to_vec();
        spec.rate_limit_per_minute = options.rate_limit.unwrap_or(spec.rate_limit_per_minute);
        let audit = AuditEntry { client_addr: Some("cli".into()), ..AuditEntry::new("key.create", "ok") };
        let (key, secret) = self.app.state.keys.issue(spec, audit).await.expect("issue a key");
        (key.id, secret)
    }

    /// A request to `path` with `key` as its bearer (none when empty).
    pub fn request(method: Method, path: &str, key: &str) -> axum::http::request::Builder {
        let builder = Request::builder().method(method).uri(path);
        if key.is_empty() { builder } else { builder.header("authorization", format!("Bearer {key}")) }
    }

    /// Sends `request` through the router, as from [`CLIENT`].
    pub async fn send(&self, mut request: Request<Body>) -> Answer {
        request.extensions_mut().insert(ConnectInfo(CLIENT));
        let response = self.router.clone().oneshot(request).await.expect("the router answers");
        let (parts, body) = response.into_parts();
        let bytes = axum::body::to_bytes(body, 64 * 1024 * 1024).await.expect("read the answer");
        let text = String::from_utf8_lossy(&bytes).into_owned();
        Answer {
            status: parts.status.as_u16(),
            headers: parts.headers,
            json: serde_json::from_str(&text).unwrap_or(Value::Null),
            text,
        }
    }

    pub async fn get(&self, path: &str, key: &str) -> (u16, Value) {
        let answer = self.send(Self::request(Method::GET, path, key).body(Body::empty()).expect("a request")).await;
        (answer.status, answer.json)
    }

    /// POST a JSON body; returns (status, body).
    pub async fn post(&self, path: &str, key: &str, body: &Value) -> (u16, Value) {
        let answer = self.send(json_request(Method::POST, path, key, body, &[])).await;
        (answer.status, answer.json)
    }
}

/// A JSON request with extra `headers`.
pub fn json_request(method: Method, path: &str, key: &str, body: &Value, headers: &[(&str, &str)]) -> Request<Body> {
    let mut builder = TestGateway::request(method, path, key).header("content-type", "application/json");
    for (name, value) in headers {
        builder = builder.header(*name, *value);
    }
    builder.body(Body::from(body.to_string())).expect("a request")
}
