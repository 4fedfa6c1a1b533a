//! SHA-256 of what is copied, and hex as the API shows digests.

use std::io::{Read, Write};

use sha2::{Digest, Sha256};

/// Copies `from` into `to`; returns the bytes copied and their SHA-256 (hex).
pub fn copy_hashed(mut from: impl Read, mut to: impl Write) -> std::io::Result<(u64, String)> {
    let mut hasher = Sha256::new();
    let mut buffer = vec![0u8; 64 * 1024];
    let mut total = 0u64;
    loop {
        let n = from.read(&mut buffer)?;
        if n == 0 {
            return Ok((total, hex(&hasher.finalize())));
        }
        hasher.update(&buffer[..n]);
        to.write_all(&buffer[..n])?;
        total += n as u64;
    }
}

/// Lower-case hex of `bytes`.
pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}
