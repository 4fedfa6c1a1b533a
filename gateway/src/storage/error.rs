//! What can go wrong with shared storage, sorted by what a caller does about it:
//! a missing object, a store that cannot be reached (try again later: 503), a
//! local failure, or the content being stored failing to read.

/// A storage operation that failed.
#[derive(Debug, thiserror::Error)]
pub enum StorageError {
    #[error(transparent)]
    Url(#[from] super::UrlError),
    #[error("{key} is not in storage")]
    NotFound { key: String },
    /// The remote store did not answer, or answered with an error.
    #[error("storage at {location} is unavailable: {source}")]
    Unavailable { location: String, source: object_store::Error },
    /// The local directory failed (permissions, a full disk).
    #[error("storage at {location} failed: {source}")]
    Failed { location: String, source: object_store::Error },
    /// Reading what was to be stored failed.
    #[error("reading the content to store: {0}")]
    Source(std::io::Error),
}

impl StorageError {
    pub fn is_not_found(&self) -> bool {
        matches!(self, Self::NotFound { .. })
    }
}
