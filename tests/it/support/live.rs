//! A task's event stream read while it arrives, so a test can act on an event while
//! the run is still going (a stream held back until the end fails such a test).

use std::time::{Duration, Instant};

use serde_json::Value;

use super::{Gateway, parse_sse};

/// One event: (id, type, data).
pub type Event = (i64, String, Value);

pub struct LiveEvents {
    response: reqwest::Response,
    /// Everything received so far.
    text: String,
}

impl LiveEvents {
    /// Opens `GET /v1/tasks/{id}/events`.
    pub async fn open(gateway: &Gateway, key: &str, id: &str) -> LiveEvents {
        let request = gateway.request(reqwest::Method::GET, &format!("/v1/tasks/{id}/events"), key);
        let response = request.send().await.expect("GET events");
        assert_eq!(response.status(), 200);
        LiveEvents::from_response(response)
    }

    /// Reads an event stream some other request opened (`POST /v1/execute`, say).
    pub fn from_response(response: reqwest::Response) -> LiveEvents {
        LiveEvents { response, text: String::new() }
    }

    /// The complete events received so far.
    pub fn events(&self) -> Vec<Event> {
        let complete = self.text.rfind("\n\n").map_or("", |end| &self.text[..end]);
        parse_sse(complete)
    }

    /// Reads until an event that `wanted` accepts has arrived (failing after 60 s or if
    /// the stream ends first); returns it.
    pub async fn until(&mut self, wanted: impl Fn(&Event) -> bool) -> Event {
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            if let Some(found) = self.events().into_iter().find(|e| wanted(e)) {
                return found;
            }
            let left = deadline.saturating_duration_since(Instant::now());
            let chunk = tokio::time::timeout(left, self.response.chunk()).await;
            let chunk = chunk.unwrap_or_else(|_| panic!("the awaited event did not come:\n{}", self.text));
            match chunk.expect("event stream chunk") {
                Some(bytes) => self.text.push_str(&String::from_utf8_lossy(&bytes)),
                None => panic!("the stream ended before the awaited event:\n{}", self.text),
            }
        }
    }

    /// Reads to the end of the stream; returns everything received (raw text too).
    pub async fn rest(mut self) -> (Vec<Event>, String) {
        let read = async {
            while let Some(bytes) = self.response.chunk().await.expect("event stream chunk") {
                self.text.push_str(&String::from_utf8_lossy(&bytes));
            }
        };
        tokio::time::timeout(Duration::from_secs(90), read).await.expect("the stream ends");
        (parse_sse(&self.text), self.text)
    }
}
