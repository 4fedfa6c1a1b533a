//! API key secrets: `ccg_<live|test>_<48 hex chars>`, 192 random bits.
//!
//! Only a keyed BLAKE3 hash of a secret is stored. A slow password hash would buy
//! nothing for secrets this random and cost every request; the key (the "pepper")
//! means a leaked database alone is not enough to check guesses offline.

use std::io::Write;
use std::path::Path;

/// A freshly generated key secret, shown once.
pub struct GeneratedKey {
    pub secret: String,
    pub prefix: String,
}

/// Makes a new secret for the `live` or `test` environment.
pub fn generate_key(environment: &str) -> GeneratedKey {
    let random = crate::ids::random_bytes::<24>();
    let secret = format!("ccg_{environment}_{}", crate::hashing::hex(&random));
    let prefix = secret[..secret.len().min(environment.len() + 9)].to_string();
    GeneratedKey { secret, prefix }
}

/// Whether `text` has the shape of a key secret (checked before any lookup).
pub fn is_well_formed(text: &str) -> bool {
    let rest = text.strip_prefix("ccg_live_").or_else(|| text.strip_prefix("ccg_test_"));
    rest.is_some_and(|r| r.len() == 48 && r.bytes().all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase()))
}

/// Computes the stored hash of a secret.
#[derive(Clone)]
pub struct KeyHasher {
    key: [u8; 32],
}

impl KeyHasher {
    pub fn new(pepper: &str) -> Self {
        Self { key: blake3::derive_key("ccgate 2026-11 api key hash", pepper.as_bytes()) }
    }

    pub fn hash(&self, secret: &str) -> String {
        blake3::keyed_hash(&self.key, secret.as_bytes()).to_hex().to_string()
    }
}

/// The pepper from the config, or from `<data_dir>/key-pepper`, created on first use.
pub fn load_or_create_pepper(configured: &str, data_dir: &Path) -> std::io::Result<String> {
    if !configured.is_empty() {
        return Ok(configured.to_string());
    }
    let path = data_dir.join("key-pepper");
    match std::fs::read_to_string(&path) {
        Ok(text) if !text.trim().is_empty() => return Ok(text.trim().to_string()),
        Ok(_) => {}
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => return Err(e),
    }
    std::fs::create_dir_all(data_dir)?;
    let pepper = crate::hashing::hex(&crate::ids::random_bytes::<32>());
    let mut file = {
        use std::os::unix::fs::OpenOptionsExt;
        std::fs::OpenOptions::new().write(true).create_new(true).mode(0o600).open(&path)
    };
    match &mut file {
        Ok(file) => {
            file.write_all(pepper.as_bytes())?;
            file.sync_all()?;
            Ok(pepper)
        }
        // Another process created it first: use theirs.
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
            Ok(std::fs::read_to_string(&path)?.trim().to_string())
        }
        Err(_) => Err(file.err().unwrap_or_else(|| std::io::Error::other("cannot create the key pepper"))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_well_formed_and_hashes_depend_on_the_pepper() {
        let key = generate_key("live");
        assert!(is_well_formed(&key.secret), "{}", key.secret);
        assert!(key.secret.starts_with(&key.prefix));
        assert!(!is_well_formed("ccg_live_zz"));
        assert!(!is_well_formed(&key.secret.replace("live", "prod")));
        let a = KeyHasher::new("one").hash(&key.secret);
        assert_eq!(a, KeyHasher::new("one").hash(&key.secret));
        assert_ne!(a, KeyHasher::new("two").hash(&key.secret));
    }

    #[test]
    fn pepper_is_created_once() {
        let dir = tempfile::tempdir().unwrap();
        let first = load_or_create_pepper("", dir.path()).unwrap();
        assert_eq!(first, load_or_create_pepper("", dir.path()).unwrap());
        assert_eq!(load_or_create_pepper("set", dir.path()).unwrap(), "set");
    }
}
