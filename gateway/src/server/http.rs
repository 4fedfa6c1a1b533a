//! The HTTP listener. Accepts connections within a global cap and a cap per client
//! address (one more is answered 503 and closed), serves HTTP/1.1 on each with a
//! deadline for a request's headers, and fails a request whose body stalls. Without
//! these, clients that send half a header or stop in the middle of an upload hold
//! file descriptors, memory and disk for as long as they like.

use std::net::{IpAddr, SocketAddr};
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::extract::ConnectInfo;
use bytes::Bytes;
use http_body::{Frame, SizeHint};
use hyper::body::Incoming;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::service::TowerToHyperService;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{Semaphore, watch};
use tower::ServiceExt as _;

use crate::config::HttpConfig;
use crate::in_flight::InFlight;

/// How long a shutdown waits for open connections to finish their requests.
const DRAIN_CONNECTIONS: Duration = Duration::from_secs(10);

/// What the listener enforces.
#[derive(Debug, Clone)]
pub struct HttpLimits {
    pub max_connections: usize,
    pub max_connections_per_address: usize,
    pub header_read_timeout: Duration,
    pub body_idle_timeout: Duration,
}

impl From<&HttpConfig> for HttpLimits {
    fn from(config: &HttpConfig) -> Self {
        Self {
            max_connections: config.max_connections,
            max_connections_per_address: config.max_connections_per_address,
            header_read_timeout: Duration::from_secs(config.header_read_timeout_seconds),
            body_idle_timeout: Duration::from_secs(config.body_idle_timeout_seconds),
        }
    }
}

/// Serves `app` on `listener` until `shutdown` completes, then lets open
/// connections finish their requests for a while.
pub async fn serve(
    listener: TcpListener,
    app: Router,
    limits: HttpLimits,
    shutdown: impl std::future::Future<Output = ()>,
) -> std::io::Result<()> {
    let connections = Arc::new(Semaphore::new(limits.max_connections));
    let per_address: Arc<InFlight<IpAddr>> = Arc::default();
    let (closing, closed) = watch::channel(false);
    let mut shutdown = std::pin::pin!(shutdown);
    loop {
        let (stream, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                // Out of descriptors or the like: wait a moment rather than spin.
                Err(e) => {
                    tracing::warn!(error = %e, "cannot accept a connection");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            () = &mut shutdown => break,
        };
        let Ok(permit) = connections.clone().try_acquire_owned() else {
            refuse(stream, "the gateway has as many connections as it takes (http.max_connections)");
            continue;
        };
        let network = crate::api::client_network(peer.ip());
        let Some(slot) = per_address.take(&network, limits.max_connections_per_address) else {
            refuse(stream, "this address has as many connections as it may have (http.max_connections_per_address)");
            continue;
        };
        let _ = stream.set_nodelay(true);
        let connection = serve_connection(stream, peer, app.clone(), &limits, closed.clone());
        tokio::spawn(async move {
            connection.await;
            drop((permit, slot));
        });
    }
    closing.send_replace(true);
    let all = u32::try_from(limits.max_connections).unwrap_or(u32::MAX);
    if tokio::time::timeout(DRAIN_CONNECTIONS, connections.acquire_many(all)).await.is_err() {
        tracing::warn!("connections still open after the shutdown's wait; closing them");
    }
    Ok(())
}

fn serve_connection(
    stream: TcpStream,
    peer: SocketAddr,
    app: Router,
    limits: &HttpLimits,
    mut closed: watch::Receiver<bool>,
) -> impl std::future::Future<Output = ()> + Send + 'static {
    let idle = limits.body_idle_timeout;
    let service = app.map_request(move |request: hyper::Request<Incoming>| {
        let mut request = request.map(|body| Body::new(IdleTimeoutBody::new(body, idle)));
        request.extensions_mut().insert(ConnectInfo(peer));
        request
    });
    let mut builder = hyper::server::conn::http1::Builder::new();
    builder.timer(TokioTimer::new()).header_read_timeout(limits.header_read_timeout);
    async move {
        let connection = builder.serve_connection(TokioIo::new(stream), TowerToHyperService::new(service));
        let mut connection = std::pin::pin!(connection);
        tokio::select! {
            _ = connection.as_mut() => return,
            _ = closed.wait_for(|closing| *closing) => connection.as_mut().graceful_shutdown(),
        }
        let _ = connection.await;
    }
}

/// Answers 503 without reading the request, and closes.
fn refuse(stream: TcpStream, why: &str) {
    crate::telemetry::metrics::connection_refused();
    let body = serde_json::json!({
        "type": "https://ccgate.dev/errors/overloaded",
        "title": "Overloaded",
        "status": 503,
        "detail": why,
    })
    .to_string();
    // The request is never read, so a client's own id cannot be echoed: this one is
    // the gateway's, as on every answer.
    let request_id = crate::ids::new_id("req");
    let response = format!(
        "HTTP/1.1 503 Service Unavailable\r\ncontent-type: application/problem+json\r\nretry-after: 1\r\n\
         x-request-id: {request_id}\r\nconnection: close\r\ncontent-length: {}\r\n\r\n{body}",
        body.len()
    );
    // Best effort and never waits: a client that does not read gets nothing.
    let _ = stream.try_write(response.as_bytes());
}

/// Why a request body ended early.
#[derive(Debug, thiserror::Error)]
#[error("the request body sent nothing for {} s (http.body_idle_timeout_seconds)", .0.as_secs())]
pub struct BodyStalled(Duration);

/// A request body that fails once it has sent nothing for `idle` while being read.
struct IdleTimeoutBody<B> {
    inner: B,
    idle: Duration,
    /// Armed at the first read, so a handler that reads late is not blamed on the client.
    deadline: Option<Pin<Box<tokio::time::Sleep>>>,
}

impl<B> IdleTimeoutBody<B> {
    fn new(inner: B, idle: Duration) -> Self {
        Self { inner, idle, deadline: None }
    }
}

impl<B> http_body::Body for IdleTimeoutBody<B>
where
    B: http_body::Body<Data = Bytes> + Unpin,
    B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    type Data = Bytes;
    type Error = Box<dyn std::error::Error + Send + Sync>;

    fn poll_frame(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Result<Frame<Bytes>, Self::Error>>> {
        let this = self.get_mut();
        let idle = this.idle;
        let deadline = this.deadline.get_or_insert_with(|| Box::pin(tokio::time::sleep(idle)));
        match Pin::new(&mut this.inner).poll_frame(cx) {
            Poll::Ready(frame) => {
                deadline.as_mut().reset(tokio::time::Instant::now() + idle);
                Poll::Ready(frame.map(|result| result.map_err(Into::into)))
            }
            Poll::Pending => match deadline.as_mut().poll(cx) {
                Poll::Ready(()) => Poll::Ready(Some(Err(Box::new(BodyStalled(idle))))),
                Poll::Pending => Poll::Pending,
            },
        }
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Sends one frame, then nothing ever again.
    struct OneThenStall(Option<Bytes>);

    impl http_body::Body for OneThenStall {
        type Data = Bytes;
        type Error = std::convert::Infallible;

        fn poll_frame(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<Option<Result<Frame<Bytes>, Self::Error>>> {
            match self.get_mut().0.take() {
                Some(bytes) => Poll::Ready(Some(Ok(Frame::data(bytes)))),
                None => Poll::Pending,
            }
        }
    }

    #[tokio::test]
    async fn a_stalled_body_fails_after_the_idle_time() {
        use http_body::Body as _;
        let mut body = IdleTimeoutBody::new(OneThenStall(Some(Bytes::from_static(b"part"))), Duration::from_millis(50));
        let first = std::future::poll_fn(|cx| Pin::new(&mut body).poll_frame(cx)).await.unwrap().unwrap();
        assert_eq!(first.into_data().unwrap(), "part");
        let next = std::future::poll_fn(|cx| Pin::new(&mut body).poll_frame(cx));
        let stalled = tokio::time::timeout(Duration::from_secs(10), next).await.unwrap().unwrap().unwrap_err();
        assert!(stalled.to_string().contains("http.body_idle_timeout_seconds"), "{stalled}");
    }
}
