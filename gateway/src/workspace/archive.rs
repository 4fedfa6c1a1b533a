//! The whole workspace as one archive (`.tar.gz` or `.zip`), written on a blocking
//! thread into a channel so the response streams and is never held in memory.
//! Only regular files are packed, each opened beneath the workspace.

use std::io::{Read, Write};
use std::path::{Path, PathBuf};

use bytes::Bytes;
use tokio::sync::mpsc;

use super::Root;

/// Archive formats clients can ask for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ArchiveFormat {
    TarGz,
    Zip,
}

impl ArchiveFormat {
    pub fn content_type(self) -> &'static str {
        match self {
            Self::TarGz => "application/gzip",
            Self::Zip => "application/zip",
        }
    }

    pub fn extension(self) -> &'static str {
        match self {
            Self::TarGz => "tar.gz",
            Self::Zip => "zip",
        }
    }
}

/// Starts packing `root`; the archive's bytes arrive on the returned channel.
pub fn stream_archive(root: PathBuf, format: ArchiveFormat) -> mpsc::Receiver<std::io::Result<Bytes>> {
    let (tx, rx) = mpsc::channel(16);
    tokio::task::spawn_blocking(move || {
        let writer = ChannelWriter { tx: tx.clone() };
        let result = match format {
            ArchiveFormat::TarGz => write_tar_gz(&root, writer),
            ArchiveFormat::Zip => write_zip(&root, writer),
        };
        if let Err(e) = result {
            // The client sees a broken stream rather than a truncated archive that looks whole.
            let _ = tx.blocking_send(Err(e));
        }
    });
    rx
}

fn write_tar_gz(root: &Path, writer: ChannelWriter) -> std::io::Result<()> {
    let gzip = flate2::write::GzEncoder::new(writer, flate2::Compression::fast());
    let mut tar = tar::Builder::new(gzip);
    each_file(root, |path, file, size| append_file(&mut tar, path, 0o644, size, file))?;
    tar.into_inner()?.finish()?.flush()
}

/// Appends `size` bytes of `data` to `tar` as the file `path` with `mode` and no
/// time. Data that ends short (a file that shrank while it was read: the run still
/// writes) fails the append, where a short entry would misalign every one after it.
pub(crate) fn append_file<W: Write>(
    tar: &mut tar::Builder<W>,
    path: &str,
    mode: u32,
    size: u64,
    data: impl Read,
) -> std::io::Result<()> {
    let mut header = tar::Header::new_gnu();
    header.set_size(size);
    header.set_mode(mode);
    header.set_mtime(0);
    header.set_cksum();
    tar.append_data(&mut header, path, Exact { inner: data.take(size), left: size })
}

/// A reader that must yield exactly `left` more bytes.
struct Exact<R> {
    inner: R,
    left: u64,
}

impl<R: Read> Read for Exact<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        if n == 0 && self.left > 0 && !buf.is_empty() {
            return Err(std::io::Error::new(std::io::ErrorKind::UnexpectedEof, "a file shrank while it was read"));
        }
        self.left -= n as u64;
        Ok(n)
    }
}

fn write_zip(root: &Path, writer: ChannelWriter) -> std::io::Result<()> {
    let mut zip = zip::ZipWriter::new_stream(writer);
    let options =
        zip::write::SimpleFileOptions::default().compression_method(zip::CompressionMethod::Deflated).large_file(true);
    each_file(root, |path, mut file, size| {
        zip.start_file(path, options).map_err(std::io::Error::other)?;
        std::io::copy(&mut (&mut file).take(size), &mut zip).map(drop)
    })?;
    zip.finish().map_err(std::io::Error::other)?.flush()
}

/// Hands `pack` the workspace's regular files one at a time, each opened beneath
/// the root as it is packed, with its path and size; none for a missing workspace.
fn each_file(
    root: &Path,
    mut pack: impl FnMut(&str, std::fs::File, u64) -> std::io::Result<()>,
) -> std::io::Result<()> {
    let Some(root) = Root::open_if_present(root)? else { return Ok(()) };
    let listed = root.list()?;
    if listed.truncated {
        return Err(std::io::Error::other("the workspace has too many entries to archive"));
    }
    root.read_each(&listed.files, |listed, file, size| pack(&listed.path, file, size))
}

/// A `Write` that hands each buffer to the async side.
struct ChannelWriter {
    tx: mpsc::Sender<std::io::Result<Bytes>>,
}

impl Write for ChannelWriter {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.tx
            .blocking_send(Ok(Bytes::copy_from_slice(buf)))
            .map_err(|_| std::io::Error::new(std::io::ErrorKind::BrokenPipe, "the client went away"))?;
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_file_that_shrinks_while_it_is_read_fails_the_append() {
        let mut tar = tar::Builder::new(Vec::new());
        let short = append_file(&mut tar, "a.txt", 0o644, 5, &b"abc"[..]);
        assert_eq!(short.unwrap_err().kind(), std::io::ErrorKind::UnexpectedEof);
        let mut tar = tar::Builder::new(Vec::new());
        append_file(&mut tar, "a.txt", 0o755, 5, &b"abcdefgh"[..]).unwrap();
        let bytes = tar.into_inner().unwrap();
        let mut archive = tar::Archive::new(bytes.as_slice());
        let mut entry = archive.entries().unwrap().next().unwrap().unwrap();
        assert_eq!(entry.header().mode().unwrap(), 0o755);
        let mut body = String::new();
        entry.read_to_string(&mut body).unwrap();
        assert_eq!(body, "abcde", "no more than its size");
    }
}
