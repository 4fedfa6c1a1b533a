//! Downloads to a path: streamed to a temporary file beside the destination and
//! renamed over it once complete, so `dest` is written whole or not at all.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use futures_util::StreamExt;
use tokio::io::AsyncWriteExt;

use crate::client::{Call, Client};
use crate::error::Error;

static PARTIALS: AtomicU64 = AtomicU64::new(0);

pub(crate) async fn save(client: &Client, call: Call, dest: &Path) -> Result<PathBuf, Error> {
    let response = client.send(call.streaming()).await?;
    let name = dest.file_name().ok_or_else(|| Error::Usage(format!("{} names no file", dest.display())))?;
    if let Some(parent) = dest.parent().filter(|p| !p.as_os_str().is_empty()) {
        tokio::fs::create_dir_all(parent).await.map_err(Error::io(parent))?;
    }
    // Unique per download, so two saving to one place never write into each other.
    let n = PARTIALS.fetch_add(1, Ordering::Relaxed);
    let partial = dest.with_file_name(format!(".{}.partial-{}-{n}", name.to_string_lossy(), std::process::id()));
    let written = write(client, response, &partial).await;
    if written.is_err() {
        let _ = tokio::fs::remove_file(&partial).await;
        return written.map(|_| dest.to_path_buf());
    }
    tokio::fs::rename(&partial, dest).await.map_err(Error::io(dest))?;
    Ok(dest.to_path_buf())
}

async fn write(client: &Client, response: reqwest::Response, partial: &Path) -> Result<(), Error> {
    let mut file = tokio::fs::File::create(partial).await.map_err(Error::io(partial))?;
    let mut body = response.bytes_stream();
    let timeout = client.timeout();
    loop {
        let chunk = tokio::time::timeout(timeout, body.next()).await.map_err(|_| Error::Timeout(timeout))?;
        match chunk {
            Some(chunk) => file.write_all(&chunk?).await.map_err(Error::io(partial))?,
            None => break,
        }
    }
    file.flush().await.map_err(Error::io(partial))?;
    file.sync_all().await.map_err(Error::io(partial))
}
