//! A proxy to the gateway that breaks the first event stream after its first event,
//! as a network would, and records the `Last-Event-ID` of every stream request.

use std::sync::{Arc, Mutex};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

pub struct DropAfterFirstEvent {
    pub url: String,
    /// `Last-Event-ID` of each `/events` request, in order (`None`: not sent).
    pub resumed_with: Arc<Mutex<Vec<Option<String>>>>,
}

impl DropAfterFirstEvent {
    pub async fn start(upstream: &str) -> Self {
        let upstream = upstream.trim_start_matches("http://").to_string();
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("a loopback port");
        let url = format!("http://{}", listener.local_addr().expect("its address"));
        let resumed_with: Arc<Mutex<Vec<Option<String>>>> = Arc::default();
        let seen = resumed_with.clone();
        tokio::spawn(async move {
            while let Ok((client, _)) = listener.accept().await {
                tokio::spawn(relay(client, upstream.clone(), seen.clone()));
            }
        });
        Self { url, resumed_with }
    }
}

async fn relay(mut client: TcpStream, upstream: String, seen: Arc<Mutex<Vec<Option<String>>>>) {
    let Ok(mut server) = TcpStream::connect(&upstream).await else { return };
    // The request's head (a GET: no body follows).
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") {
        match client.read(&mut byte).await {
            Ok(1) => head.push(byte[0]),
            _ => return,
        }
    }
    let text = String::from_utf8_lossy(&head).to_string();
    let streams = text.lines().next().is_some_and(|line| line.contains("/events"));
    let first = streams && {
        let last_event_id = text
            .lines()
            .find_map(|line| line.split_once(':').filter(|(n, _)| n.eq_ignore_ascii_case("last-event-id")))
            .map(|(_, v)| v.trim().to_string());
        let mut seen = seen.lock().expect("not poisoned");
        seen.push(last_event_id);
        seen.len() == 1
    };
    if server.write_all(&head).await.is_err() {
        return;
    }
    if !first {
        let _ = tokio::io::copy_bidirectional(&mut client, &mut server).await;
        return;
    }
    // Forward the answer up to the end of its first event, then drop both sides.
    let mut answer = Vec::new();
    let mut chunk = [0u8; 4096];
    loop {
        let Ok(n) = server.read(&mut chunk).await else { return };
        if n == 0 {
            return;
        }
        answer.extend_from_slice(&chunk[..n]);
        let body = answer.windows(4).position(|w| w == b"\r\n\r\n").map(|at| at + 4);
        let event_end = body.and_then(|at| answer[at..].windows(2).position(|w| w == b"\n\n").map(|end| at + end + 2));
        if let Some(end) = event_end {
            let _ = client.write_all(&answer[..end]).await;
            return;
        }
    }
}
