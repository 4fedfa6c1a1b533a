//! The client: a gateway's URL and a key, timeouts, and the one place requests are
//! sent (bearer key, retries of 429/503 after `Retry-After`, refusals made errors).

use std::sync::Arc;
use std::time::Duration;

use reqwest::header::{HeaderName, HeaderValue};
use reqwest::{Method, Url};
use serde::de::DeserializeOwned;

use crate::create::{CreateTask, Upload};
use crate::error::{ApiError, Error, retry_after};
use crate::keys::Keys;
use crate::retry::RetryPolicy;
use crate::tasks::Tasks;
use crate::types::TaskView;

pub const VERSION: &str = env!("CARGO_PKG_VERSION");

/// The longest `wait_seconds` a gateway takes by default (`tasks.max_wait_seconds`):
/// how long an `execute` without one may wait.
const MAX_WAIT_SECONDS: u64 = 600;

/// A gateway and the key to use it with. Cheap to clone: clones share connections.
#[derive(Clone)]
pub struct Client {
    inner: Arc<Inner>,
}

struct Inner {
    base: Url,
    key: String,
    http: reqwest::Client,
    retry: RetryPolicy,
    timeout: Duration,
}

/// How a [`Client`] is made: `Client::builder(url, key).timeout(…).retry(…).build()`.
pub struct ClientBuilder {
    base_url: String,
    api_key: String,
    timeout: Duration,
    connect_timeout: Duration,
    retry: RetryPolicy,
}

impl ClientBuilder {
    /// The longest wait for an answer, and between two chunks of a download (default
    /// 60 s). Event streams outlive it: the gateway sends a keep-alive every 15 s.
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// The longest wait for a connection (default 10 s).
    pub fn connect_timeout(mut self, timeout: Duration) -> Self {
        self.connect_timeout = timeout;
        self
    }

    /// Retries of 429 and 503 (default: 3, after `Retry-After`, at most 60 s each).
    pub fn retry(mut self, retry: RetryPolicy) -> Self {
        self.retry = retry;
        self
    }

    pub fn build(self) -> Result<Client, Error> {
        let mut base = Url::parse(self.base_url.trim_end_matches('/'))
            .map_err(|e| Error::Usage(format!("the gateway URL {:?} is not one: {e}", self.base_url)))?;
        if base.cannot_be_a_base() || !matches!(base.scheme(), "http" | "https") {
            return Err(Error::Usage(format!("the gateway URL {:?} is not http(s)", self.base_url)));
        }
        // Paths are appended segment by segment; a trailing slash would add an empty one.
        if base.path() == "/" {
            base.set_path("");
        }
        // https gateways: rustls with ring, as the gateway itself uses. A provider the
        // application installed first is kept.
        let _ = rustls::crypto::ring::default_provider().install_default();
        let http = reqwest::Client::builder()
            .connect_timeout(self.connect_timeout)
            .user_agent(format!("ccgate-client-rust/{VERSION}"))
            .build()?;
        Ok(Client {
            inner: Arc::new(Inner { base, key: self.api_key, http, retry: self.retry, timeout: self.timeout }),
        })
    }
}

impl Client {
    /// A client of the gateway at `base_url` (`http://127.0.0.1:8080`) with `api_key`.
    pub fn new(base_url: impl Into<String>, api_key: impl Into<String>) -> Result<Self, Error> {
        Self::builder(base_url, api_key).build()
    }

    pub fn builder(base_url: impl Into<String>, api_key: impl Into<String>) -> ClientBuilder {
        ClientBuilder {
            base_url: base_url.into(),
            api_key: api_key.into(),
            timeout: Duration::from_secs(60),
            connect_timeout: Duration::from_secs(10),
            retry: RetryPolicy::default(),
        }
    }

    /// From `CCGATE_URL` and `CCGATE_API_KEY`.
    pub fn from_env() -> Result<Self, Error> {
        let var = |name: &str| {
            std::env::var(name).ok().filter(|v| !v.is_empty()).ok_or_else(|| Error::Usage(format!("set {name}")))
        };
        Self::new(var("CCGATE_URL")?, var("CCGATE_API_KEY")?)
    }

    /// The key's tasks.
    pub fn tasks(&self) -> Tasks {
        Tasks::new(self.clone())
    }

    /// Webhook verification, as [`crate::webhooks::verify`].
    pub fn webhooks(&self) -> crate::webhooks::Webhooks {
        crate::webhooks::Webhooks
    }

    /// API keys (an admin key's calls).
    pub fn keys(&self) -> Keys {
        Keys::new(self.clone())
    }

    /// Creates a task and waits for it on the gateway (`POST /v1/execute`): the finished
    /// task, or the running one when `wait_seconds` (default: the gateway's) ran out.
    pub async fn execute(&self, task: CreateTask, wait_seconds: Option<u64>) -> Result<TaskView, Error> {
        let upload = task.into_upload(wait_seconds.map(|s| ("wait_seconds", s.into()))).await?;
        // The gateway answers once the wait is over: the timeout starts after it.
        let timeout = self.inner.timeout + Duration::from_secs(wait_seconds.unwrap_or(MAX_WAIT_SECONDS));
        self.json(Call::upload("/v1/execute", upload).timeout(timeout)).await
    }

    pub(crate) fn timeout(&self) -> Duration {
        self.inner.timeout
    }

    /// The URL of `segments` below the base (each one percent-encoded, so no id or
    /// name can reach another route) with `query`. URLs resolve `.` and `..` however
    /// encoded, and an empty segment names no resource: those are refused.
    pub(crate) fn url(&self, segments: &[&str], query: &[(String, String)]) -> Result<Url, Error> {
        if let Some(bad) = segments.iter().find(|s| matches!(**s, "" | "." | "..")) {
            return Err(Error::Usage(format!("{bad:?} cannot be an id, a name or a path segment")));
        }
        let mut url = self.inner.base.clone();
        if let Ok(mut path) = url.path_segments_mut() {
            path.pop_if_empty().extend(segments);
        }
        if !query.is_empty() {
            url.query_pairs_mut().extend_pairs(query);
        }
        Ok(url)
    }

    /// Sends `call` and reads its JSON answer.
    pub(crate) async fn json<T: DeserializeOwned>(&self, call: Call) -> Result<T, Error> {
        let response = self.send(call).await?;
        let body = response.bytes().await?;
        serde_json::from_slice(&body).map_err(|e| Error::Decode(format!("{e}: {}", String::from_utf8_lossy(&body))))
    }

    /// The items of every page of the list at `segments`, in the list's order: the
    /// largest pages the API gives, each after the last's `next_cursor`.
    pub(crate) async fn every_page<T: DeserializeOwned>(&self, segments: &[&str]) -> Result<Vec<T>, Error> {
        #[derive(serde::Deserialize)]
        struct Page<T> {
            data: Vec<T>,
            next_cursor: Option<String>,
        }
        let mut items = Vec::new();
        let mut cursor: Option<String> = None;
        loop {
            let mut call = Call::get(segments).query("limit", 200);
            if let Some(cursor) = &cursor {
                call = call.query("cursor", cursor);
            }
            let page: Page<T> = self.json(call).await?;
            items.extend(page.data);
            match page.next_cursor {
                // A list that hands back the cursor it was asked with (a proxy caching
                // without the query) would never end.
                Some(next) if cursor.as_ref() == Some(&next) => {
                    return Err(Error::Decode(format!("the list answered the same page again (cursor {next})")));
                }
                Some(next) => cursor = Some(next),
                None => return Ok(items),
            }
        }
    }

    /// The answer to `call`: retried on 429 and 503 as the policy says; any other
    /// refusal, or one past the policy, is `Error::Api`.
    pub(crate) async fn send(&self, call: Call) -> Result<reqwest::Response, Error> {
        let url = self.url(&call.segments.iter().map(String::as_str).collect::<Vec<_>>(), &call.query)?;
        for attempt in 0.. {
            let mut request = self.inner.http.request(call.method.clone(), url.clone()).bearer_auth(&self.inner.key);
            for (name, value) in &call.headers {
                request = request.header(name, value);
            }
            request = match &call.body {
                Body::None => request,
                Body::Json(bytes) => request.header("content-type", "application/json").body(bytes.clone()),
                Body::Upload(upload) => upload.attach(request),
            };
            // Streams and downloads outlive any whole-answer timeout: their readers time
            // each chunk instead.
            let response = if call.streaming {
                let timeout = self.inner.timeout;
                tokio::time::timeout(timeout, request.send()).await.map_err(|_| Error::Timeout(timeout))??
            } else {
                request.timeout(call.timeout.unwrap_or(self.inner.timeout)).send().await?
            };
            let status = response.status().as_u16();
            if response.status().is_success() {
                return Ok(response);
            }
            let wait = retry_after(response.headers().get("retry-after").and_then(|v| v.to_str().ok()));
            let body = response.bytes().await.unwrap_or_default();
            match self.inner.retry.delay(status, wait, attempt) {
                Some(delay) => tokio::time::sleep(delay).await,
                None => return Err(Error::Api(Box::new(ApiError::from_response(status, wait, &body)))),
            }
        }
        unreachable!("the retry loop returns")
    }
}

/// One request, as data, so that every retry sends it anew.
pub(crate) struct Call {
    method: Method,
    segments: Vec<String>,
    query: Vec<(String, String)>,
    headers: Vec<(HeaderName, HeaderValue)>,
    body: Body,
    timeout: Option<Duration>,
    streaming: bool,
}

enum Body {
    None,
    Json(bytes::Bytes),
    Upload(Upload),
}

impl Call {
    pub(crate) fn new(method: Method, segments: &[&str]) -> Self {
        Self {
            method,
            segments: segments.iter().map(|s| s.to_string()).collect(),
            query: Vec::new(),
            headers: Vec::new(),
            body: Body::None,
            timeout: None,
            streaming: false,
        }
    }

    pub(crate) fn get(segments: &[&str]) -> Self {
        Self::new(Method::GET, segments)
    }

    pub(crate) fn post(segments: &[&str]) -> Self {
        Self::new(Method::POST, segments)
    }

    /// A create: JSON or multipart, with its idempotency key.
    pub(crate) fn upload(path: &str, upload: Upload) -> Self {
        let segments: Vec<&str> = path.trim_start_matches('/').split('/').collect();
        let key = HeaderValue::from_str(upload.idempotency_key()).ok();
        let mut call = Self::post(&segments);
        call.headers.extend(key.map(|key| (HeaderName::from_static("idempotency-key"), key)));
        call.body = Body::Upload(upload);
        call
    }

    pub(crate) fn json(mut self, value: &impl serde::Serialize) -> Result<Self, Error> {
        let bytes = serde_json::to_vec(value).map_err(|e| Error::Usage(format!("cannot encode the request: {e}")))?;
        self.body = Body::Json(bytes.into());
        Ok(self)
    }

    pub(crate) fn query(mut self, name: &str, value: impl ToString) -> Self {
        self.query.push((name.to_string(), value.to_string()));
        self
    }

    pub(crate) fn header(mut self, name: &'static str, value: HeaderValue) -> Self {
        self.headers.push((HeaderName::from_static(name), value));
        self
    }

    /// An answer read as it arrives (events, downloads): only its headers are timed here.
    pub(crate) fn streaming(mut self) -> Self {
        self.streaming = true;
        self
    }

    /// The longest wait for the whole answer.
    pub(crate) fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = Some(timeout);
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::ProblemKind;

    #[test]
    fn ids_stay_in_their_segment_below_the_base_path() {
        let client = Client::new("http://127.0.0.1:1/gw/", "k").unwrap();
        let url = |segments: &[&str]| client.url(segments, &[]).unwrap().to_string();
        assert_eq!(url(&["v1", "tasks", "tsk_1"]), "http://127.0.0.1:1/gw/v1/tasks/tsk_1");
        assert_eq!(url(&["v1", "tasks", "../keys"]), "http://127.0.0.1:1/gw/v1/tasks/..%2Fkeys");
        assert_eq!(url(&["v1", "tasks", "a?b#c d"]), "http://127.0.0.1:1/gw/v1/tasks/a%3Fb%23c%20d");
        for bad in ["", ".", ".."] {
            assert!(matches!(client.url(&["v1", "tasks", bad], &[]), Err(Error::Usage(_))), "{bad:?}");
        }
        let root = Client::new("http://127.0.0.1:1", "k").unwrap();
        let query = [("metadata.batch".to_string(), "a&b".to_string())];
        assert_eq!(
            root.url(&["v1", "tasks"], &query).unwrap().to_string(),
            "http://127.0.0.1:1/v1/tasks?metadata.batch=a%26b"
        );
    }

    /// A server that answers each connection's one request with the next of `answers`,
    /// and hands back what it received (head and body, as text).
    async fn serve(answers: Vec<String>) -> (String, tokio::task::JoinHandle<Vec<String>>) {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let server = tokio::spawn(async move {
            let mut received = Vec::new();
            for answer in answers {
                let (mut stream, _) = listener.accept().await.unwrap();
                let mut request = Vec::new();
                let mut buffer = [0u8; 8192];
                // Until the head and as many body bytes as its content-length.
                loop {
                    let n = stream.read(&mut buffer).await.unwrap();
                    request.extend_from_slice(&buffer[..n]);
                    let text = String::from_utf8_lossy(&request).to_string();
                    let Some(head_end) = text.find("\r\n\r\n") else { continue };
                    let length = text[..head_end]
                        .lines()
                        .find_map(|l| {
                            l.to_ascii_lowercase().strip_prefix("content-length:").map(|v| v.trim().to_string())
                        })
                        .and_then(|v| v.parse::<usize>().ok())
                        .unwrap_or(0);
                    if n == 0 || request.len() >= head_end + 4 + length {
                        break;
                    }
                }
                received.push(String::from_utf8_lossy(&request).to_string());
                stream.write_all(answer.as_bytes()).await.unwrap();
            }
            received
        });
        (url, server)
    }

    #[tokio::test]
    async fn a_retried_upload_repeats_its_idempotency_key_and_its_parts() {
        let busy = "HTTP/1.1 503 Service Unavailable\r\nretry-after: 0\r\ncontent-type: application/problem+json\r\n\
                    content-length: 2\r\nconnection: close\r\n\r\n{}";
        let done = "HTTP/1.1 202 Accepted\r\ncontent-length: 2\r\nconnection: close\r\n\r\n{}";
        let (url, server) = serve(vec![busy.into(), busy.into(), done.into()]).await;
        let client = Client::new(&url, "ccg_test_key").unwrap();
        let task = CreateTask::new("Say hi").file("notes/todo.txt", "remember the milk");
        let upload = task.into_upload(None).await.unwrap();
        let key = upload.idempotency_key().to_string();
        let response = client.send(Call::upload("/v1/tasks", upload)).await.unwrap();
        assert_eq!(response.status(), 202);
        let received = server.await.unwrap();
        assert_eq!(received.len(), 3);
        for request in &received {
            let lower = request.to_ascii_lowercase();
            assert!(request.starts_with("POST /v1/tasks HTTP/1.1"), "{request}");
            assert!(lower.contains(&format!("idempotency-key: {key}")), "{request}");
            assert!(lower.contains("authorization: bearer ccg_test_key"), "{request}");
            assert!(request.contains("filename=\"notes/todo.txt\"") && request.contains("remember the milk"));
            assert!(request.contains(r#"{"prompt":"Say hi"}"#), "{request}");
        }
    }

    #[tokio::test]
    async fn a_refusal_past_the_policy_is_the_problem() {
        let body = r#"{"type":"https://ccgate.dev/errors/rate-limited","title":"Slow","status":429,"detail":"x"}"#;
        let limited = format!(
            "HTTP/1.1 429 Too Many Requests\r\nretry-after: 120\r\ncontent-type: application/problem+json\r\n\
             content-length: {}\r\nconnection: close\r\n\r\n{body}",
            body.len()
        );
        let (url, server) = serve(vec![limited]).await;
        let client = Client::new(&url, "k").unwrap();
        let error = client.send(Call::get(&["v1", "tasks"])).await.unwrap_err();
        let api = error.api().expect("a refusal");
        // 120 s is past the policy's 60 s at a time: returned at once, not waited for.
        assert_eq!((api.kind(), api.retry_after), (ProblemKind::RateLimited, Some(Duration::from_secs(120))));
        assert_eq!(api.problem.title, "Slow");
        assert_eq!(server.await.unwrap().len(), 1);
    }

    #[tokio::test]
    async fn a_list_read_whole_follows_every_page() {
        let page = |body: &str| {
            format!("HTTP/1.1 200 OK\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}", body.len())
        };
        let (url, server) =
            serve(vec![page(r#"{"data":[3,2],"next_cursor":"c2"}"#), page(r#"{"data":[1],"next_cursor":null}"#)]).await;
        let client = Client::new(&url, "k").unwrap();
        let items: Vec<u32> = client.every_page(&["v1", "keys"]).await.unwrap();
        assert_eq!(items, [3, 2, 1]);
        let received = server.await.unwrap();
        assert!(received[0].starts_with("GET /v1/keys?limit=200 HTTP/1.1"), "{}", received[0]);
        assert!(received[1].starts_with("GET /v1/keys?limit=200&cursor=c2 HTTP/1.1"), "{}", received[1]);

        // A list that answers the same page again is an error, not an endless loop.
        let same = page(r#"{"data":[1],"next_cursor":"c1"}"#);
        let (url, _server) = serve(vec![same.clone(), same]).await;
        let client = Client::new(&url, "k").unwrap();
        let error = client.every_page::<u32>(&["v1", "keys"]).await.unwrap_err();
        assert!(error.to_string().contains("same page again"), "{error}");
    }

    #[test]
    fn only_http_urls_make_a_client() {
        for bad in ["127.0.0.1:8080", "ftp://host", "not a url", "mailto:a@b"] {
            assert!(matches!(Client::new(bad, "k"), Err(Error::Usage(_))), "{bad}");
        }
    }
}
