//! The key's tasks: create, read, list page by page, follow up, cancel, stream their
//! events, wait for them, and download what they made.

use std::path::{Path, PathBuf};
use std::pin::pin;
use std::time::{Duration, Instant};

use futures_util::{Stream, StreamExt};
use reqwest::header::HeaderValue;

use crate::client::{Call, Client};
use crate::create::CreateTask;
use crate::download::save;
use crate::error::Error;
use crate::events::{Resume, SseParser, TaskEvent, is_terminal};
use crate::types::{Artifact, Delivery, DeliveryList, FileListing, TaskPage, TaskStatus, TaskView};

/// `client.tasks()`.
#[derive(Clone)]
pub struct Tasks {
    client: Client,
}

/// Which tasks `page` and `list` return (all of the key's, newest first, by default).
#[derive(Clone, Debug, Default)]
pub struct ListFilters {
    pub status: Option<TaskStatus>,
    /// RFC 3339: only tasks created after it.
    pub created_after: Option<String>,
    /// Tasks per page.
    pub limit: Option<u32>,
    /// Only tasks with all these labels.
    pub metadata: Vec<(String, String)>,
}

impl ListFilters {
    pub fn status(mut self, status: TaskStatus) -> Self {
        self.status = Some(status);
        self
    }

    pub fn created_after(mut self, at: impl Into<String>) -> Self {
        self.created_after = Some(at.into());
        self
    }

    pub fn limit(mut self, limit: u32) -> Self {
        self.limit = Some(limit);
        self
    }

    pub fn metadata(mut self, key: impl Into<String>, value: impl Into<String>) -> Self {
        self.metadata.push((key.into(), value.into()));
        self
    }
}

/// The format of a whole-workspace download.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum ArchiveFormat {
    #[default]
    TarGz,
    Zip,
}

impl ArchiveFormat {
    fn as_str(self) -> &'static str {
        match self {
            Self::TarGz => "tar.gz",
            Self::Zip => "zip",
        }
    }
}

/// How often `wait` looks again when a stream ended with the task not yet finished
/// (it moved back to `queued` for a follow-up between two reads).
const REWAIT: Duration = Duration::from_millis(200);

impl Tasks {
    pub(crate) fn new(client: Client) -> Self {
        Self { client }
    }

    /// Queues a task (`POST /v1/tasks`): JSON, or multipart when it has files or an
    /// archive; with an `Idempotency-Key` that retries repeat.
    pub async fn create(&self, task: CreateTask) -> Result<TaskView, Error> {
        let upload = task.into_upload(None).await?;
        self.client.json(Call::upload("/v1/tasks", upload)).await
    }

    pub async fn get(&self, id: &str) -> Result<TaskView, Error> {
        self.client.json(Call::get(&["v1", "tasks", id])).await
    }

    /// Stops the task's run (its whole process tree) and cancels what it had queued.
    pub async fn cancel(&self, id: &str) -> Result<TaskView, Error> {
        self.client.json(Call::post(&["v1", "tasks", id, "cancel"])).await
    }

    /// A follow-up: the next turn of a finished task (`Queue` or `Interrupt` speak to a
    /// running one).
    pub async fn send_message(&self, id: &str, prompt: &str, delivery: Option<Delivery>) -> Result<TaskView, Error> {
        let body = serde_json::json!({ "prompt": prompt, "delivery": delivery });
        self.client.json(Call::post(&["v1", "tasks", id, "messages"]).json(&body)?).await
    }

    /// One page of the key's tasks, newest first; `cursor` is the previous page's
    /// `next_cursor`.
    pub async fn page(&self, filters: &ListFilters, cursor: Option<&str>) -> Result<TaskPage, Error> {
        let mut call = Call::get(&["v1", "tasks"]);
        if let Some(status) = filters.status {
            call = call.query("status", status);
        }
        if let Some(at) = &filters.created_after {
            call = call.query("created_after", at);
        }
        if let Some(limit) = filters.limit {
            call = call.query("limit", limit);
        }
        for (key, value) in &filters.metadata {
            call = call.query(&format!("metadata.{key}"), value);
        }
        if let Some(cursor) = cursor {
            call = call.query("cursor", cursor);
        }
        self.client.json(call).await
    }

    /// Every task matching `filters`, newest first, fetching pages as it goes.
    pub fn list(&self, filters: ListFilters) -> impl Stream<Item = Result<TaskView, Error>> + Send + 'static {
        struct Pages {
            tasks: Tasks,
            filters: ListFilters,
            cursor: Option<String>,
            buffered: std::vec::IntoIter<TaskView>,
            last_page: bool,
        }
        let pages =
            Pages { tasks: self.clone(), filters, cursor: None, buffered: Vec::new().into_iter(), last_page: false };
        futures_util::stream::unfold(pages, |mut pages| async move {
            loop {
                if let Some(task) = pages.buffered.next() {
                    return Some((Ok(task), pages));
                }
                if pages.last_page {
                    return None;
                }
                match pages.tasks.page(&pages.filters, pages.cursor.as_deref()).await {
                    // A list that hands back the cursor it was asked with (a proxy
                    // caching without the query) would never end.
                    Ok(page) if page.next_cursor.is_some() && page.next_cursor == pages.cursor => {
                        pages.last_page = true;
                        let cursor = page.next_cursor.unwrap_or_default();
                        let repeated =
                            Error::Decode(format!("the list answered the same page again (cursor {cursor})"));
                        return Some((Err(repeated), pages));
                    }
                    Ok(page) => {
                        pages.cursor = page.next_cursor;
                        pages.last_page = pages.cursor.is_none();
                        pages.buffered = page.data.into_iter();
                    }
                    Err(error) => {
                        pages.last_page = true;
                        return Some((Err(error), pages));
                    }
                }
            }
        })
    }

    /// The task's events from the start, live until it finishes. See `stream_from`.
    pub fn stream(&self, id: &str) -> impl Stream<Item = Result<TaskEvent, Error>> + Send + 'static {
        self.stream_from(id, None, None)
    }

    /// The task's events after `after`, live until it finishes. A dropped connection
    /// resumes after the last event with `Last-Event-ID`; no event comes twice. Past
    /// `timeout` the stream ends with `Error::Timeout`; dropping it closes the
    /// connection.
    pub fn stream_from(
        &self,
        id: &str,
        after: Option<u64>,
        timeout: Option<Duration>,
    ) -> impl Stream<Item = Result<TaskEvent, Error>> + Send + 'static {
        let events = EventStream {
            client: self.client.clone(),
            id: id.to_string(),
            resume: Resume::new(after, timeout),
            body: None,
            parser: SseParser::default(),
            ready: std::collections::VecDeque::new(),
            done: false,
        };
        futures_util::stream::unfold(events, |mut events| async move {
            let next = events.next().await?;
            Some((next, events))
        })
    }

    /// The task once it has finished (completed, failed or cancelled), followed by its
    /// event stream rather than polled; `Error::Timeout` past `timeout`.
    pub async fn wait(&self, id: &str, timeout: Option<Duration>) -> Result<TaskView, Error> {
        let deadline = timeout.map(|t| (Instant::now() + t, t));
        let mut task = self.get(id).await?;
        let mut after = None;
        while !is_terminal(task.status) {
            let remaining = deadline.map(|(at, _)| at.saturating_duration_since(Instant::now()));
            if let (Some(Duration::ZERO), Some((_, timeout))) = (remaining, deadline) {
                return Err(Error::Timeout(timeout));
            }
            let before = after;
            let mut events = pin!(self.stream_from(id, after, remaining));
            while let Some(event) = events.next().await {
                after = Some(event?.seq);
            }
            task = self.get(id).await?;
            if after == before && !is_terminal(task.status) {
                tokio::time::sleep(REWAIT).await;
            }
        }
        Ok(task)
    }

    /// The workspace's files (paths, sizes).
    pub async fn list_files(&self, id: &str) -> Result<FileListing, Error> {
        self.client.json(Call::get(&["v1", "tasks", id, "files"])).await
    }

    /// The artifacts collected after the last turn, by name (every page).
    pub async fn list_artifacts(&self, id: &str) -> Result<Vec<Artifact>, Error> {
        self.client.every_page(&["v1", "tasks", id, "artifacts"]).await
    }

    /// The task's webhook deliveries and their attempts, newest first (every page;
    /// `next_cursor` is null).
    pub async fn webhook_deliveries(&self, id: &str) -> Result<DeliveryList, Error> {
        let data = self.client.every_page(&["v1", "tasks", id, "webhook-deliveries"]).await?;
        Ok(DeliveryList { data, next_cursor: None })
    }

    /// Saves the workspace file `path` to `dest` (written whole or not at all).
    pub async fn download_file(&self, id: &str, path: &str, dest: impl AsRef<Path>) -> Result<PathBuf, Error> {
        let mut segments = vec!["v1", "tasks", id, "files"];
        segments.extend(path.split('/').filter(|s| !s.is_empty()));
        save(&self.client, Call::get(&segments), dest.as_ref()).await
    }

    /// Saves the whole workspace to `dest` as `format`.
    pub async fn download_archive(
        &self,
        id: &str,
        dest: impl AsRef<Path>,
        format: ArchiveFormat,
    ) -> Result<PathBuf, Error> {
        let call = Call::get(&["v1", "tasks", id, "archive"]).query("format", format.as_str());
        save(&self.client, call, dest.as_ref()).await
    }

    /// Saves the artifact `name` (see `list_artifacts`) to `dest`.
    pub async fn download_artifact(&self, id: &str, name: &str, dest: impl AsRef<Path>) -> Result<PathBuf, Error> {
        save(&self.client, Call::get(&["v1", "tasks", id, "artifacts", name]), dest.as_ref()).await
    }
}

type Body = std::pin::Pin<Box<dyn Stream<Item = reqwest::Result<bytes::Bytes>> + Send>>;

/// The state of `stream_from`: the connection, the parser, events parsed but not yet
/// yielded.
struct EventStream {
    client: Client,
    id: String,
    resume: Resume,
    body: Option<Body>,
    parser: SseParser,
    ready: std::collections::VecDeque<TaskEvent>,
    done: bool,
}

impl EventStream {
    async fn next(&mut self) -> Option<Result<TaskEvent, Error>> {
        let item = self.advance().await;
        if matches!(item, None | Some(Err(_))) {
            self.done = true;
            self.body = None;
        }
        item
    }

    async fn advance(&mut self) -> Option<Result<TaskEvent, Error>> {
        loop {
            if self.done {
                return None;
            }
            if let Some(event) = self.ready.pop_front() {
                return Some(Ok(event));
            }
            if let Err(error) = self.resume.check_deadline() {
                return Some(Err(error));
            }
            let Some(body) = self.body.as_mut() else {
                match connect(&self.client, &self.id, self.resume.last_seq).await {
                    Ok(body) => {
                        self.body = Some(body);
                        self.parser = SseParser::default();
                    }
                    Err(error @ Error::Http(_)) => {
                        if let Err(error) = self.broken(error).await {
                            return Some(Err(error));
                        }
                    }
                    Err(error) => return Some(Err(error)),
                }
                continue;
            };
            // The gateway sends a keep-alive every 15 s: silence for the client's
            // timeout is a dead connection.
            let idle = self.client.timeout().min(self.resume.remaining().unwrap_or(Duration::MAX));
            match tokio::time::timeout(idle, body.next()).await {
                Ok(Some(Ok(chunk))) => match self.parser.feed(&chunk) {
                    Ok(events) => self.ready.extend(events.into_iter().filter(|e| self.resume.accept(e))),
                    Err(error) => return Some(Err(error)),
                },
                Ok(Some(Err(error))) => {
                    if let Err(error) = self.broken(Error::Http(error)).await {
                        return Some(Err(error));
                    }
                }
                Ok(None) => {
                    self.body = None;
                    if !self.resume.ended() {
                        return None;
                    }
                }
                Err(_) if self.resume.check_deadline().is_err() => {}
                Err(_) => {
                    let silent = Error::Decode(format!("no data from the event stream for {idle:?}"));
                    if let Err(error) = self.broken(silent).await {
                        return Some(Err(error));
                    }
                }
            }
        }
    }

    /// The connection broke: drop it and wait before resuming, or give up.
    async fn broken(&mut self, error: Error) -> Result<(), Error> {
        self.body = None;
        let wait = self.resume.failed(&error)?;
        tokio::time::sleep(wait.min(self.resume.remaining().unwrap_or(Duration::MAX))).await;
        Ok(())
    }
}

/// A new connection to the task's events, after `last_seq` when there is one.
async fn connect(client: &Client, id: &str, last_seq: Option<u64>) -> Result<Body, Error> {
    let mut call = Call::get(&["v1", "tasks", id, "events"])
        .header("accept", HeaderValue::from_static("text/event-stream"))
        .streaming();
    if let Some(seq) = last_seq {
        call = call.header("last-event-id", HeaderValue::from(seq));
    }
    let response = client.send(call).await?;
    Ok(Box::pin(response.bytes_stream()))
}
