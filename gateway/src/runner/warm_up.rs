//! Warming a pool process up before its task comes.
//!
//! A CLI that has started still does work at its first message that no flag
//! skips: it builds its system prompt and its tools' schemas (about 20 ms with
//! 2.1.197 and 15 ms with 2.1.332, between the prompt and the first model request).
//! A `get_context_usage` control request does that work without a prompt and
//! without a model request, so the pool sends one to each new process and waits
//! for the answer before a task may take it. Its token counts go to the model
//! proxy, which refuses them for a process without a task (`parked`): the CLI then
//! estimates them, and nothing leaves the gateway. A process is taken once it has
//! answered; one whose CLI does not answer is taken after a while, and its token
//! counts stay refused (`RunToken::warm_up_flag`): none can reach the API under a
//! task's key.

use std::sync::{Arc, OnceLock};
use std::time::Instant;

use serde_json::{Map, Value, json};
use tokio::io::AsyncReadExt;
use tokio::net::UnixStream;
use tokio::sync::oneshot;
use tokio::task::{JoinError, JoinHandle};

use super::stdio::write_now;

/// The `request_id` of the warm-up request: its answer is the pool's, not an event
/// of the run (the run drops it, should it still be in the stream).
pub const WARM_UP_REQUEST_ID: &str = "ccgate-warm-up";

/// How much a waiting CLI may print before the pool stops looking for the answer
/// (the answer is about 26 KiB; the process is then taken only after its wait).
const MAX_READ: usize = 1 << 20;

/// Whether a `control_response` answers the warm-up request (a refusal included).
pub fn is_warm_up_answer(object: &Map<String, Value>) -> bool {
    let request_id = object.get("response").and_then(|r| r.get("request_id")).and_then(Value::as_str);
    object.get("type").and_then(Value::as_str) == Some("control_response") && request_id == Some(WARM_UP_REQUEST_ID)
}

fn request_line() -> String {
    let request = json!({"type": "control_request", "request_id": WARM_UP_REQUEST_ID,
                         "request": {"subtype": "get_context_usage"}});
    format!("{request}\n")
}

/// A warm process's stdout, read until the CLI has answered the warm-up request.
pub(super) struct WarmUp {
    answered: Arc<OnceLock<Instant>>,
    /// Dropped to stop the reading.
    stop: Option<oneshot::Sender<()>>,
    reader: JoinHandle<(UnixStream, Vec<u8>)>,
}

impl WarmUp {
    /// Sends the warm-up request on `stdin` and reads `stdout` for its answer;
    /// `on_answer` runs when it has come.
    pub(super) fn start(
        stdin: &UnixStream,
        stdout: UnixStream,
        on_answer: impl FnOnce() + Send + 'static,
    ) -> std::io::Result<Self> {
        write_now(stdin, request_line().as_bytes())?;
        let answered = Arc::new(OnceLock::new());
        let (stop, stopped) = oneshot::channel();
        let reader = tokio::spawn(read_until_answer(stdout, stopped, answered.clone(), on_answer));
        Ok(Self { answered, stop: Some(stop), reader })
    }

    /// When the CLI answered, if it has.
    pub(super) fn answered_at(&self) -> Option<Instant> {
        self.answered.get().copied()
    }

    /// Stops the reading: the stream, and what was read from it besides the answer
    /// (the run reads that first).
    pub(super) async fn finish(mut self) -> Result<(UnixStream, Vec<u8>), JoinError> {
        drop(self.stop.take());
        (&mut self.reader).await
    }
}

async fn read_until_answer(
    mut stdout: UnixStream,
    mut stopped: oneshot::Receiver<()>,
    answered: Arc<OnceLock<Instant>>,
    on_answer: impl FnOnce(),
) -> (UnixStream, Vec<u8>) {
    let mut read = Vec::new();
    // `read[..scanned]` holds whole lines that are not the answer.
    let mut scanned = 0;
    let mut chunk = vec![0u8; 64 * 1024];
    loop {
        // A read that loses the race takes nothing from the socket.
        let got = tokio::select! {
            _ = &mut stopped => return (stdout, read),
            got = stdout.read(&mut chunk) => got,
        };
        match got {
            Ok(0) | Err(_) => return (stdout, read), // the run sees the end too
            Ok(n) => read.extend_from_slice(&chunk[..n]),
        }
        while let Some(end) = read[scanned..].iter().position(|b| *b == b'\n').map(|at| scanned + at) {
            let line = serde_json::from_slice::<Map<String, Value>>(&read[scanned..end]);
            if line.is_ok_and(|object| is_warm_up_answer(&object)) {
                read.drain(scanned..=end);
                let _ = answered.set(Instant::now());
                on_answer();
                return (stdout, read);
            }
            scanned = end + 1;
        }
        if read.len() > MAX_READ {
            return (stdout, read);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::AsyncWriteExt;

    fn answer(subtype: &str) -> String {
        let line = json!({"type": "control_response",
                          "response": {"subtype": subtype, "request_id": WARM_UP_REQUEST_ID, "response": {}}});
        format!("{line}\n")
    }

    async fn pair() -> (UnixStream, UnixStream) {
        UnixStream::pair().unwrap()
    }

    #[tokio::test]
    async fn the_request_is_sent_and_the_answer_taken_out_of_the_stream() {
        let (stdin, mut cli_stdin) = pair().await;
        let (stdout, mut cli_stdout) = pair().await;
        let (told, mut heard) = tokio::sync::mpsc::unbounded_channel();
        let warm_up = WarmUp::start(&stdin, stdout, move || told.send(()).unwrap()).unwrap();
        let mut request = vec![0u8; 4096];
        let n = cli_stdin.read(&mut request).await.unwrap();
        let request: Value = serde_json::from_slice(&request[..n]).unwrap();
        assert_eq!(request["request"]["subtype"], "get_context_usage");
        assert_eq!(request["request_id"], WARM_UP_REQUEST_ID);
        assert!(warm_up.answered_at().is_none());
        // Something else first, then the answer in two pieces, then the run's own output.
        let other = "{\"type\":\"system\",\"subtype\":\"other\"}\n";
        let answer = answer("success");
        let (first, second) = answer.split_at(10);
        cli_stdout.write_all(format!("{other}{first}").as_bytes()).await.unwrap();
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        assert!(warm_up.answered_at().is_none(), "half an answer is no answer");
        cli_stdout.write_all(format!("{second}{{\"type\":\"after\"}}\n").as_bytes()).await.unwrap();
        heard.recv().await.unwrap();
        assert!(warm_up.answered_at().is_some());
        let (_stdout, kept) = warm_up.finish().await.unwrap();
        assert_eq!(String::from_utf8(kept).unwrap(), format!("{other}{{\"type\":\"after\"}}\n"));
    }

    #[tokio::test]
    async fn a_refusal_is_an_answer_and_a_stop_hands_back_what_was_read() {
        let (stdin, _cli_stdin) = pair().await;
        let (stdout, mut cli_stdout) = pair().await;
        let warm_up = WarmUp::start(&stdin, stdout, || {}).unwrap();
        cli_stdout.write_all(b"{\"type\":\"partial").await.unwrap();
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        let (mut stdout, kept) = warm_up.finish().await.unwrap();
        assert_eq!(kept, b"{\"type\":\"partial");
        // The stream goes on where the reading stopped.
        cli_stdout.write_all(b"\"}\n").await.unwrap();
        let mut rest = [0u8; 3];
        stdout.read_exact(&mut rest).await.unwrap();
        assert_eq!(&rest, b"\"}\n");

        let object = serde_json::from_str::<Map<String, Value>>(&answer("error")).unwrap();
        assert!(is_warm_up_answer(&object));
        let other = json!({"type": "control_response", "response": {"request_id": "ccgate-initialize"}});
        assert!(!is_warm_up_answer(other.as_object().unwrap()));
    }
}
