//! Shared storage (`storage.url`): a local or shared directory, or an S3 bucket,
//! through the `object_store` crate, so that gateway nodes can share what they
//! keep (artifacts). A small typed API over it: put from a reader (hashed as it
//! goes), get as a stream, head, delete by prefix.
//!
//! Every object is written whole or not at all: a local put writes a temporary
//! file and renames it, an S3 put is one request (or a multipart upload that only
//! completes at the end). Remote failures are `Unavailable`, for the API's 503.

mod error;
mod url;

use std::ops::Range;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use futures_util::stream::{BoxStream, StreamExt, TryStreamExt};
use object_store::path::{Path as ObjectPath, PathPart};
use object_store::{GetOptions, ObjectStore, ObjectStoreExt, PutPayload};
use sha2::{Digest, Sha256};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWriteExt};

pub use self::error::StorageError;
pub use self::url::{StorageUrl, UrlError};

/// The key of an object: `/`-joined segments, each escaped as `object_store` does.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Key(ObjectPath);

impl Key {
    /// A key from its segments; a segment holding `/` or another reserved
    /// character is escaped, so it can never reach outside its parent.
    pub fn new<'a>(segments: impl IntoIterator<Item = &'a str>) -> Self {
        Self(ObjectPath::from_iter(segments.into_iter().map(PathPart::from)))
    }
}

impl std::fmt::Display for Key {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.0.fmt(f)
    }
}

/// Bytes of an object, as they arrive.
pub type ByteStream = BoxStream<'static, Result<Bytes, StorageError>>;

/// An open storage location.
#[derive(Clone)]
pub struct Storage {
    store: Arc<dyn ObjectStore>,
    location: StorageUrl,
}

/// How long a remote request may take to connect, and to finish.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
const REQUEST_TIMEOUT: Duration = Duration::from_secs(300);
/// Objects up to this size are one put; larger ones a multipart upload.
const SINGLE_PUT_BYTES: usize = 8 * 1024 * 1024;

impl Storage {
    /// Opens `location`: a directory is created if missing; an S3 bucket takes its
    /// endpoint, region and credentials from the `AWS_*` variables. Nothing is
    /// contacted yet: `check` does that.
    pub fn open(location: StorageUrl) -> Result<Self, StorageError> {
        Self::open_with_env(location, std::env::vars())
    }

    /// `open`, with the `AWS_*` settings taken from `vars` rather than the process.
    pub fn open_with_env(
        location: StorageUrl,
        vars: impl IntoIterator<Item = (String, String)>,
    ) -> Result<Self, StorageError> {
        let refuse =
            |e: object_store::Error| StorageError::Url(UrlError { url: location.to_string(), reason: e.to_string() });
        let store: Arc<dyn ObjectStore> = match &location {
            StorageUrl::File(dir) => {
                std::fs::create_dir_all(dir).map_err(|e| {
                    StorageError::Url(UrlError {
                        url: location.to_string(),
                        reason: format!("cannot create {}: {e}", dir.display()),
                    })
                })?;
                // Synced like a remote store's acknowledged write; deletes leave no empty folders.
                let local = object_store::local::LocalFileSystem::new_with_prefix(dir).map_err(refuse)?;
                Arc::new(local.with_fsync(true).with_automatic_cleanup(true))
            }
            StorageUrl::S3 { bucket, prefix } => {
                let mut builder = object_store::aws::AmazonS3Builder::new()
                    .with_bucket_name(bucket)
                    .with_client_options(
                        object_store::ClientOptions::new()
                            .with_connect_timeout(CONNECT_TIMEOUT)
                            .with_timeout(REQUEST_TIMEOUT),
                    )
                    // A few quick retries: a request should fail fast (a 503 to the
                    // client) rather than hold its caller for minutes.
                    .with_retry(object_store::RetryConfig {
                        backoff: object_store::BackoffConfig::default(),
                        max_retries: 3,
                        retry_timeout: Duration::from_secs(20),
                    });
                // After the client options, which they add to (AWS_ALLOW_HTTP).
                for (name, value) in vars.into_iter().filter(|(name, _)| name.starts_with("AWS_")) {
                    // Variables it has no setting for are not its business.
                    if let Ok(key) = name.to_ascii_lowercase().parse() {
                        builder = builder.with_config(key, value);
                    }
                }
                let s3 = builder.build().map_err(refuse)?;
                if prefix.is_empty() {
                    Arc::new(s3)
                } else {
                    Arc::new(object_store::prefix::PrefixStore::new(s3, prefix.as_str()))
                }
            }
        };
        Ok(Self { store, location })
    }

    pub fn location(&self) -> &StorageUrl {
        &self.location
    }

    /// Whether the store answers: lists its top level (a missing bucket, bad
    /// credentials or an unreachable endpoint fail here).
    pub async fn check(&self) -> Result<(), StorageError> {
        self.store.list_with_delimiter(None).await.map(|_| ()).map_err(|e| self.error("/", e))
    }

    /// Stores what `content` yields as `key`; returns its size and SHA-256 (hex).
    /// The object appears only once complete.
    pub async fn put(&self, key: &Key, mut content: impl AsyncRead + Unpin) -> Result<(u64, String), StorageError> {
        let mut out =
            object_store::buffered::BufWriter::with_capacity(self.store.clone(), key.0.clone(), SINGLE_PUT_BYTES);
        let mut hasher = Sha256::new();
        let mut buffer = vec![0u8; 64 * 1024];
        let mut total = 0u64;
        let written: Result<(), StorageError> = async {
            loop {
                let n = content.read(&mut buffer).await.map_err(StorageError::Source)?;
                if n == 0 {
                    return out.shutdown().await.map_err(|e| self.io_error(key, e));
                }
                hasher.update(&buffer[..n]);
                out.write_all(&buffer[..n]).await.map_err(|e| self.io_error(key, e))?;
                total += n as u64;
            }
        }
        .await;
        if let Err(e) = written {
            // Drops a multipart upload begun on the store; nothing was made visible.
            let _ = out.abort().await;
            return Err(e);
        }
        Ok((total, crate::hashing::hex(&hasher.finalize())))
    }

    /// Stores `bytes` as `key`, replacing what was there.
    pub async fn put_bytes(&self, key: &Key, bytes: Vec<u8>) -> Result<(), StorageError> {
        self.store.put(&key.0, PutPayload::from(bytes)).await.map(|_| ()).map_err(|e| self.error(key, e))
    }

    /// The whole object, for small ones.
    pub async fn get_bytes(&self, key: &Key) -> Result<Bytes, StorageError> {
        let got = self.store.get(&key.0).await.map_err(|e| self.error(key, e))?;
        got.bytes().await.map_err(|e| self.error(key, e))
    }

    /// The object's bytes in `range` (all when `None`), as a stream.
    pub async fn get(&self, key: &Key, range: Option<Range<u64>>) -> Result<ByteStream, StorageError> {
        let options = GetOptions { range: range.map(Into::into), ..Default::default() };
        let got = self.store.get_opts(&key.0, options).await.map_err(|e| self.error(key, e))?;
        let (this, key) = (self.clone(), key.clone());
        Ok(got.into_stream().map_err(move |e| this.error(&key, e)).boxed())
    }

    /// The object's size.
    pub async fn head(&self, key: &Key) -> Result<u64, StorageError> {
        self.store.head(&key.0).await.map(|meta| meta.size).map_err(|e| self.error(key, e))
    }

    /// Deletes the object `key`; one that is not there is no error.
    pub async fn delete(&self, key: &Key) -> Result<(), StorageError> {
        match self.store.delete(&key.0).await {
            Ok(()) | Err(object_store::Error::NotFound { .. }) => Ok(()),
            Err(e) => Err(self.error(key, e)),
        }
    }

    /// Deletes every object under `prefix` (a whole segment: `a/b` is not a prefix
    /// of `a/bc`); returns how many.
    pub async fn delete_prefix(&self, prefix: &Key) -> Result<usize, StorageError> {
        let listed = self.store.list(Some(&prefix.0)).map_ok(|meta| meta.location).boxed();
        let mut deleted = self.store.delete_stream(listed);
        let mut count = 0;
        while let Some(result) = deleted.next().await {
            match result {
                Ok(_) => count += 1,
                Err(object_store::Error::NotFound { .. }) => {}
                Err(e) => return Err(self.error(prefix, e)),
            }
        }
        Ok(count)
    }

    fn error(&self, key: impl std::fmt::Display, error: object_store::Error) -> StorageError {
        let location = self.location.to_string();
        match (error, &self.location) {
            (object_store::Error::NotFound { .. }, _) => StorageError::NotFound { key: key.to_string() },
            (source, StorageUrl::S3 { .. }) => StorageError::Unavailable { location, source },
            (source, StorageUrl::File(_)) => StorageError::Failed { location, source },
        }
    }

    /// A `BufWriter` failure: an `object_store` error wrapped in `io::Error`.
    fn io_error(&self, key: &Key, error: std::io::Error) -> StorageError {
        let source = match error.downcast::<object_store::Error>() {
            Ok(inner) => inner,
            Err(other) => object_store::Error::Generic { store: "storage", source: Box::new(other) },
        };
        self.error(key, source)
    }
}

#[cfg(test)]
mod tests;
