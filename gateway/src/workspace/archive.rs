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
    each_file(root, |path, file, size| {
        let mut header = tar::Header::new_gnu();
        header.set_size(size);
        header.set_mode(0o644);
        header.set_mtime(0);
        header.set_cksum();
        tar.append_data(&mut header, path, file.take(size))
    })?;
    tar.into_inner()?.finish()?.flush()
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
