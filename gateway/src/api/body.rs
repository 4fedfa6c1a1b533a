//! Response bodies streamed from files in 64 KiB chunks, never read whole.

use axum::body::{Body, Bytes};
use tokio::io::AsyncReadExt;

/// At most `limit` bytes of `file`, from where it is positioned.
pub fn file_body(file: tokio::fs::File, limit: u64) -> Body {
    let chunks = futures_util::stream::unfold(file.take(limit), |mut file| async move {
        let mut buffer = vec![0u8; 64 * 1024];
        match file.read(&mut buffer).await {
            Ok(0) => None,
            Ok(n) => {
                buffer.truncate(n);
                Some((Ok::<Bytes, std::io::Error>(Bytes::from(buffer)), file))
            }
            Err(e) => Some((Err(e), file)),
        }
    });
    Body::from_stream(chunks)
}
