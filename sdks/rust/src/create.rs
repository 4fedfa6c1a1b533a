//! A task to create: its JSON fields, and the files and archive that go with it as
//! multipart parts; with the idempotency key that every retry of the create repeats.

use std::path::{Path, PathBuf};

use bytes::Bytes;
use reqwest::multipart::{Form, Part};
use serde_json::{Map, Value};

use crate::error::Error;
use crate::types::{TaskOptionsRequest, WebhookEventName};

/// What the gateway unpacks as an archive; any other name is placed as a plain file.
pub const ARCHIVE_SUFFIXES: [&str; 3] = [".tar.gz", ".tgz", ".zip"];

/// The content of a file to upload: bytes or text, or a local file read when sent.
#[derive(Clone, Debug)]
pub enum FileSource {
    Bytes(Bytes),
    Path(PathBuf),
}

impl From<&str> for FileSource {
    fn from(text: &str) -> Self {
        Self::Bytes(Bytes::copy_from_slice(text.as_bytes()))
    }
}

impl From<String> for FileSource {
    fn from(text: String) -> Self {
        Self::Bytes(text.into())
    }
}

impl From<Vec<u8>> for FileSource {
    fn from(bytes: Vec<u8>) -> Self {
        Self::Bytes(bytes.into())
    }
}

impl From<&[u8]> for FileSource {
    fn from(bytes: &[u8]) -> Self {
        Self::Bytes(Bytes::copy_from_slice(bytes))
    }
}

impl From<Bytes> for FileSource {
    fn from(bytes: Bytes) -> Self {
        Self::Bytes(bytes)
    }
}

impl From<&Path> for FileSource {
    fn from(path: &Path) -> Self {
        Self::Path(path.to_path_buf())
    }
}

impl From<PathBuf> for FileSource {
    fn from(path: PathBuf) -> Self {
        Self::Path(path)
    }
}

impl FileSource {
    async fn read(self) -> Result<Bytes, Error> {
        match self {
            Self::Bytes(bytes) => Ok(bytes),
            Self::Path(path) => tokio::fs::read(&path).await.map(Bytes::from).map_err(Error::io(path)),
        }
    }
}

/// A task for `tasks().create(…)` or `execute(…)`: the prompt, then the request's other
/// fields and uploads by builder methods.
///
/// ```no_run
/// # use ccgate_client::CreateTask;
/// let task = CreateTask::new("Summarise notes/todo.txt")
///     .file("notes/todo.txt", "Ship the SDKs\n")
///     .metadata("ticket", "DEMO-1");
/// ```
#[derive(Clone, Debug)]
pub struct CreateTask {
    fields: Map<String, Value>,
    files: Vec<(String, FileSource)>,
    archive: Option<(String, FileSource)>,
    idempotency_key: Option<String>,
    invalid: Option<String>,
}

impl CreateTask {
    pub fn new(prompt: impl Into<String>) -> Self {
        let mut fields = Map::new();
        fields.insert("prompt".into(), Value::String(prompt.into()));
        Self { fields, files: Vec::new(), archive: None, idempotency_key: None, invalid: None }
    }

    /// A file placed in the workspace at `path` (relative), sent as a multipart part.
    pub fn file(mut self, path: impl Into<String>, content: impl Into<FileSource>) -> Self {
        self.files.push((path.into(), content.into()));
        self
    }

    /// An archive unpacked into the workspace; `name` tells its format (`….tar.gz`,
    /// `….tgz` or `….zip`).
    pub fn archive(mut self, name: impl Into<String>, content: impl Into<FileSource>) -> Self {
        self.archive = Some((name.into(), content.into()));
        self
    }

    /// A local archive, named as on disk.
    pub fn archive_file(self, path: impl Into<PathBuf>) -> Self {
        let path = path.into();
        let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
        self.archive(name, path)
    }

    /// A label to filter lists by (`metadata.KEY=VALUE`).
    pub fn metadata(mut self, key: impl Into<String>, value: impl Into<String>) -> Self {
        let metadata = self.fields.entry("metadata").or_insert_with(|| Value::Object(Map::new()));
        if let Value::Object(map) = metadata {
            map.insert(key.into(), Value::String(value.into()));
        }
        self
    }

    /// Workspace globs collected as artifacts after each turn.
    pub fn artifacts<S: Into<String>>(mut self, globs: impl IntoIterator<Item = S>) -> Self {
        let globs = globs.into_iter().map(|glob| Value::String(glob.into())).collect();
        self.fields.insert("artifacts".into(), Value::Array(globs));
        self
    }

    /// Where to POST the task when it reaches the subscribed states (all terminal ones
    /// when `events` is empty).
    pub fn webhook(mut self, url: impl Into<String>, events: impl IntoIterator<Item = WebhookEventName>) -> Self {
        let mut webhook = Map::new();
        webhook.insert("url".into(), Value::String(url.into()));
        let events: Vec<Value> = events.into_iter().map(|event| Value::String(event.to_string())).collect();
        if !events.is_empty() {
            webhook.insert("events".into(), Value::Array(events));
        }
        self.fields.insert("webhook".into(), Value::Object(webhook));
        self
    }

    /// Higher runs first (-10 to 10).
    pub fn priority(mut self, priority: i32) -> Self {
        self.fields.insert("priority".into(), priority.into());
        self
    }

    pub fn options(self, options: &TaskOptionsRequest) -> Self {
        let value = serde_json::to_value(options);
        self.value_field("options", value)
    }

    /// Any other field of the request body (`TaskRequest`), as JSON.
    pub fn field(mut self, name: impl Into<String>, value: Value) -> Self {
        self.fields.insert(name.into(), value);
        self
    }

    /// Sent as `Idempotency-Key`; generated when not given. Retries repeat it, so a
    /// retried create makes one task.
    pub fn idempotency_key(mut self, key: impl Into<String>) -> Self {
        self.idempotency_key = Some(key.into());
        self
    }

    fn value_field(mut self, name: &str, value: serde_json::Result<Value>) -> Self {
        match value {
            Ok(value) => {
                self.fields.insert(name.into(), value);
            }
            Err(error) => self.invalid = Some(format!("cannot encode {name}: {error}")),
        }
        self
    }

    /// What is sent: the files read, the archive's name checked, the key chosen.
    pub(crate) async fn into_upload(mut self, extra: Option<(&str, Value)>) -> Result<Upload, Error> {
        if let Some(invalid) = self.invalid {
            return Err(Error::Usage(invalid));
        }
        if let Some((name, value)) = extra {
            self.fields.insert(name.into(), value);
        }
        let idempotency_key = match self.idempotency_key {
            Some(key) => key,
            None => generated_key()?,
        };
        let task = Bytes::from(serde_json::to_vec(&self.fields).map_err(|e| Error::Usage(e.to_string()))?);
        if self.files.is_empty() && self.archive.is_none() {
            return Ok(Upload { idempotency_key, task, parts: None });
        }
        let mut files = Vec::with_capacity(self.files.len());
        for (path, source) in self.files {
            files.push((path, source.read().await?));
        }
        let archive = match self.archive {
            Some((name, source)) => {
                check_archive_name(&name)?;
                Some((name, source.read().await?))
            }
            None => None,
        };
        Ok(Upload { idempotency_key, task, parts: Some(Parts { files, archive }) })
    }
}

/// Under any other name the gateway would place the archive as a plain file.
pub fn check_archive_name(name: &str) -> Result<(), Error> {
    let lower = name.to_ascii_lowercase();
    if ARCHIVE_SUFFIXES.iter().any(|suffix| lower.len() > suffix.len() && lower.ends_with(suffix)) {
        return Ok(());
    }
    Err(Error::Usage(format!("an archive needs a name ending with .tar.gz, .tgz or .zip (got {name:?})")))
}

/// `sdk-` and a random UUID (version 4).
fn generated_key() -> Result<String, Error> {
    let mut bytes = [0u8; 16];
    getrandom::fill(&mut bytes).map_err(|e| Error::Usage(format!("no random source for an idempotency key: {e}")))?;
    bytes[6] = (bytes[6] & 0x0f) | 0x40;
    bytes[8] = (bytes[8] & 0x3f) | 0x80;
    let hex: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
    Ok(format!("sdk-{}-{}-{}-{}-{}", &hex[..8], &hex[8..12], &hex[12..16], &hex[16..20], &hex[20..]))
}

/// A create ready to send, as often as it is retried.
pub(crate) struct Upload {
    idempotency_key: String,
    task: Bytes,
    parts: Option<Parts>,
}

struct Parts {
    files: Vec<(String, Bytes)>,
    archive: Option<(String, Bytes)>,
}

impl Upload {
    pub(crate) fn idempotency_key(&self) -> &str {
        &self.idempotency_key
    }

    /// The body on `request`: the task's JSON, or a form of a `task` part, a
    /// `file<N>` part per file (its file name is its workspace path), and `archive`.
    pub(crate) fn attach(&self, request: reqwest::RequestBuilder) -> reqwest::RequestBuilder {
        let Some(parts) = &self.parts else {
            return request.header("content-type", "application/json").body(self.task.clone());
        };
        let mut form = Form::new().part("task", Part::bytes(self.task.to_vec()));
        for (n, (path, content)) in parts.files.iter().enumerate() {
            form = form.part(format!("file{n}"), Part::bytes(content.to_vec()).file_name(path.clone()));
        }
        if let Some((name, content)) = &parts.archive {
            form = form.part("archive", Part::bytes(content.to_vec()).file_name(name.clone()));
        }
        request.multipart(form)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn archives_are_named_by_their_format() {
        for name in ["src.tar.gz", "SRC.TGZ", "a.zip"] {
            assert!(check_archive_name(name).is_ok(), "{name}");
        }
        for name in ["src.rar", "tar.gz", ".zip", "src.tar", ""] {
            assert!(check_archive_name(name).is_err(), "{name}");
        }
    }

    #[test]
    fn generated_keys_are_distinct_version_4_uuids() {
        let (a, b) = (generated_key().unwrap(), generated_key().unwrap());
        assert_ne!(a, b);
        let uuid = a.strip_prefix("sdk-").unwrap();
        assert_eq!(uuid.len(), 36);
        assert_eq!(&uuid[14..15], "4");
        assert!(matches!(&uuid[19..20], "8" | "9" | "a" | "b"));
    }

    #[tokio::test]
    async fn a_task_without_uploads_is_json_and_metadata_accumulates() {
        let upload = CreateTask::new("Say hi")
            .metadata("a", "1")
            .metadata("b", "2")
            .priority(3)
            .idempotency_key("k")
            .into_upload(Some(("wait_seconds", 5.into())))
            .await
            .unwrap();
        assert!(upload.parts.is_none());
        assert_eq!(upload.idempotency_key(), "k");
        let json: Value = serde_json::from_slice(&upload.task).unwrap();
        assert_eq!(
            json,
            serde_json::json!({"prompt": "Say hi", "metadata": {"a": "1", "b": "2"}, "priority": 3, "wait_seconds": 5})
        );
    }

    #[tokio::test]
    async fn uploads_read_local_files_and_refuse_an_unknown_archive_format() {
        let dir = tempfile::tempdir().unwrap();
        let local = dir.path().join("local.txt");
        std::fs::write(&local, "from disk").unwrap();
        let upload = CreateTask::new("p").file("a.txt", "text").file("b.txt", local.as_path()).into_upload(None).await;
        let parts = upload.unwrap().parts.unwrap();
        assert_eq!(parts.files, [("a.txt".into(), Bytes::from("text")), ("b.txt".into(), Bytes::from("from disk"))]);

        let refused = CreateTask::new("p").archive("src.rar", b"x".as_slice()).into_upload(None).await;
        assert!(matches!(refused, Err(Error::Usage(message)) if message.contains(".tar.gz, .tgz or .zip")));
        let missing = CreateTask::new("p").file("x", dir.path().join("absent")).into_upload(None).await;
        assert!(matches!(missing, Err(Error::Io { .. })));
    }
}
