//! A webhook receiver on loopback: every POST it gets, in order.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

#[derive(Clone, Debug)]
pub struct Webhook {
    /// Lower-cased names.
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

pub struct Receiver {
    pub address: String,
    pub url: String,
    received: Arc<(Mutex<Vec<Webhook>>, Condvar)>,
}

impl Receiver {
    pub fn start() -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").expect("a loopback port");
        let address = listener.local_addr().expect("its address").to_string();
        let received: Arc<(Mutex<Vec<Webhook>>, Condvar)> = Arc::default();
        let shared = received.clone();
        std::thread::spawn(move || {
            for stream in listener.incoming().map_while(Result::ok) {
                let shared = shared.clone();
                std::thread::spawn(move || {
                    let mut reader = BufReader::new(stream);
                    // One request per connection: the answer closes it.
                    if let Some(hook) = read_request(&mut reader) {
                        let _ = reader
                            .get_mut()
                            .write_all(b"HTTP/1.1 204 No Content\r\ncontent-length: 0\r\nconnection: close\r\n\r\n");
                        let (hooks, arrived) = &*shared;
                        hooks.lock().expect("not poisoned").push(hook);
                        arrived.notify_all();
                    }
                });
            }
        });
        Self { url: format!("http://{address}/hook"), address, received }
    }

    /// The first webhook whose body mentions `needle`, waiting up to `timeout`.
    pub fn wait_for(&self, needle: &str, timeout: Duration) -> Webhook {
        let deadline = Instant::now() + timeout;
        let (hooks, arrived) = &*self.received;
        let mut hooks = hooks.lock().expect("not poisoned");
        loop {
            if let Some(hook) = hooks.iter().find(|h| String::from_utf8_lossy(&h.body).contains(needle)) {
                return hook.clone();
            }
            let left = deadline.saturating_duration_since(Instant::now());
            assert!(!left.is_zero(), "no webhook for {needle} within {timeout:?}");
            hooks = arrived.wait_timeout(hooks, left).expect("not poisoned").0;
        }
    }
}

fn read_request(reader: &mut BufReader<std::net::TcpStream>) -> Option<Webhook> {
    let mut headers = Vec::new();
    let mut line = String::new();
    reader.read_line(&mut line).ok()?;
    loop {
        line.clear();
        reader.read_line(&mut line).ok()?;
        let trimmed = line.trim_end();
        if trimmed.is_empty() {
            break;
        }
        let (name, value) = trimmed.split_once(':')?;
        headers.push((name.trim().to_ascii_lowercase(), value.trim().to_string()));
    }
    let length = headers.iter().find(|(n, _)| n == "content-length").and_then(|(_, v)| v.parse().ok())?;
    let mut body = vec![0; length];
    reader.read_exact(&mut body).ok()?;
    Some(Webhook { headers, body })
}
