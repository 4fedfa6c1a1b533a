//! Archive entries of exactly their declared length, with their SHA-256.

use std::io::Read;

use sha2::{Digest, Sha256};

/// Yields exactly `len` bytes of `inner` — zeros after it ends early (a file that
/// shrank while it was archived), nothing past `len` (one that grew) — and hashes
/// what it yields, so the archive stays well-formed and its manifest true.
pub struct Exactly<R> {
    inner: R,
    left: u64,
    hasher: Sha256,
}

impl<R: Read> Exactly<R> {
    pub fn new(inner: R, len: u64) -> Self {
        Self { inner, left: len, hasher: Sha256::new() }
    }

    pub fn sha256(self) -> String {
        crate::hashing::hex(&self.hasher.finalize())
    }
}

impl<R: Read> Read for Exactly<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        if self.left == 0 {
            return Ok(0);
        }
        let want = buf.len().min(usize::try_from(self.left).unwrap_or(usize::MAX));
        let mut got = self.inner.read(&mut buf[..want])?;
        if got == 0 {
            buf[..want].fill(0);
            got = want;
        }
        self.hasher.update(&buf[..got]);
        self.left -= got as u64;
        Ok(got)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_file_that_changed_while_archived_still_yields_its_declared_length() {
        let mut short = Exactly::new(&b"abc"[..], 5);
        let mut out = Vec::new();
        short.read_to_end(&mut out).unwrap();
        assert_eq!(out, b"abc\0\0");
        let mut long = Exactly::new(&b"abcdef"[..], 2);
        let mut out = Vec::new();
        long.read_to_end(&mut out).unwrap();
        assert_eq!(out, b"ab");
        let (size, sha) = crate::hashing::copy_hashed(&b"ab"[..], std::io::sink()).unwrap();
        assert_eq!((size, sha), (2, long.sha256()));
    }
}
