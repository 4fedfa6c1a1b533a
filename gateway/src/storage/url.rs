//! `storage.url`: where shared storage is, parsed once at start so that a bad
//! value stops the gateway with a message naming the setting.

use std::path::PathBuf;

/// A storage location the gateway can use.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StorageUrl {
    /// A local or shared directory (`file:///srv/ccgate/storage`).
    File(PathBuf),
    /// An S3 bucket and a key prefix within it (`s3://bucket/prefix`); the
    /// endpoint, region and credentials come from the standard `AWS_*` variables.
    S3 { bucket: String, prefix: String },
}

/// Why a `storage.url` was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid storage.url {url:?}: {reason}")]
pub struct UrlError {
    pub url: String,
    pub reason: String,
}

impl StorageUrl {
    /// The embedded default: a directory inside the data directory.
    pub fn default_for(data_dir: &std::path::Path) -> Self {
        let data_dir = std::path::absolute(data_dir).unwrap_or_else(|_| data_dir.to_path_buf());
        Self::File(data_dir.join("storage"))
    }

    /// `file:///absolute/path` or `s3://bucket[/prefix]`.
    pub fn parse(text: &str) -> Result<Self, UrlError> {
        let refuse = |reason: &str| UrlError { url: text.to_string(), reason: reason.to_string() };
        let url = url::Url::parse(text).map_err(|e| refuse(&format!("{e}; use file:///path or s3://bucket/prefix")))?;
        if url.query().is_some() || url.fragment().is_some() || !url.username().is_empty() || url.password().is_some() {
            return Err(refuse("must have no credentials, query or fragment (credentials come from AWS_* variables)"));
        }
        match url.scheme() {
            "file" => {
                if url.host_str().is_some_and(|h| !h.is_empty()) {
                    return Err(refuse("a file URL names no host: file:///absolute/path"));
                }
                // `..` segments are resolved by the parser: what is left is absolute.
                url.to_file_path().map(Self::File).map_err(|()| refuse("is not an absolute path"))
            }
            "s3" => {
                let bucket = url.host_str().unwrap_or_default().to_string();
                if url.port().is_some() {
                    return Err(refuse("an s3 URL names a bucket, not a server (set AWS_ENDPOINT for that)"));
                }
                if !bucket_name_ok(&bucket) {
                    return Err(refuse("the bucket name must be 3-63 lower-case letters, digits, '.' or '-'"));
                }
                // From the text as written: the parser would resolve `..` away.
                let written = text.split_once("://").map_or("", |(_, rest)| rest);
                let prefix = written.split_once('/').map_or("", |(_, path)| path).trim_end_matches('/');
                if !prefix.is_empty()
                    && prefix.split('/').any(|part| matches!(part, "" | "." | "..") || part.contains('%'))
                {
                    return Err(refuse(
                        "the prefix must be plain path segments, without empty ones, '.', '..' or escapes",
                    ));
                }
                Ok(Self::S3 { bucket, prefix: prefix.to_string() })
            }
            other => Err(refuse(&format!("scheme {other:?} is not supported; use file:///path or s3://bucket/prefix"))),
        }
    }

    /// The local directory, for a `file://` location.
    pub fn local_dir(&self) -> Option<&std::path::Path> {
        match self {
            Self::File(path) => Some(path),
            Self::S3 { .. } => None,
        }
    }
}

impl std::fmt::Display for StorageUrl {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::File(path) => write!(f, "file://{}", path.display()),
            Self::S3 { bucket, prefix } if prefix.is_empty() => write!(f, "s3://{bucket}"),
            Self::S3 { bucket, prefix } => write!(f, "s3://{bucket}/{prefix}"),
        }
    }
}

/// S3's rules for bucket names (the common subset every S3-compatible server takes).
fn bucket_name_ok(name: &str) -> bool {
    (3..=63).contains(&name.len())
        && name.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'.' || b == b'-')
        && name.starts_with(|c: char| c.is_ascii_alphanumeric())
        && name.ends_with(|c: char| c.is_ascii_alphanumeric())
        && !name.contains("..")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn file_and_s3_urls_parse() {
        assert_eq!(StorageUrl::parse("file:///srv/ccgate").unwrap(), StorageUrl::File("/srv/ccgate".into()));
        assert_eq!(
            StorageUrl::parse("s3://my-bucket/ccgate/prod/").unwrap(),
            StorageUrl::S3 { bucket: "my-bucket".into(), prefix: "ccgate/prod".into() }
        );
        assert_eq!(
            StorageUrl::parse("s3://my-bucket").unwrap(),
            StorageUrl::S3 { bucket: "my-bucket".into(), prefix: String::new() }
        );
        assert_eq!(StorageUrl::parse("s3://b12/p").unwrap().to_string(), "s3://b12/p");
        assert_eq!(StorageUrl::default_for("/data".as_ref()).to_string(), "file:///data/storage");
    }

    #[test]
    fn bad_urls_say_what_is_wrong() {
        for (bad, why) in [
            ("", "use file:///path or s3://bucket/prefix"),
            ("/srv/x", "use file:///path"),
            ("http://example.com/x", "scheme \"http\" is not supported"),
            ("file://host/x", "names no host"),
            ("s3://Upper/x", "bucket name"),
            ("s3://ab/x", "bucket name"),
            ("s3://bucket:9000/x", "not a server"),
            ("s3://key:secret@bucket/x", "no credentials"),
            ("s3://bucket/a/../b", "prefix"),
            ("s3://bucket/a%2Fb", "prefix"),
            ("s3://bucket/x?region=eu", "no credentials, query"),
        ] {
            let error = StorageUrl::parse(bad).unwrap_err().to_string();
            assert!(error.contains("storage.url") && error.contains(why), "{bad}: {error}");
        }
    }
}
