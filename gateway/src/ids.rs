//! Opaque, type-prefixed identifiers (`tsk_…`, `key_…`).
//!
//! The part after the prefix is a ULID: 48 bits of milliseconds then 80 random
//! bits, Crockford base32. Ids made by one process are strictly increasing (the
//! random part is incremented within a millisecond), so ordering tasks by id is
//! ordering them by creation time, which the list cursor relies on.

use std::sync::Mutex;

const ALPHABET: &[u8; 32] = b"0123456789ABCDEFGHJKMNPQRSTVWXYZ";

static LAST: Mutex<(u64, u128)> = Mutex::new((0, 0));

/// A new id: `prefix` + `_` + 26 characters.
pub fn new_id(prefix: &str) -> String {
    let now = crate::timestamp::now_ms().max(0) as u64;
    let value = {
        let mut last = LAST.lock().unwrap_or_else(|poison| poison.into_inner());
        let random = if now <= last.0 {
            // Same (or earlier, if the clock stepped back) millisecond: keep order.
            last.1.wrapping_add(1) & ((1u128 << 80) - 1)
        } else {
            random_u80()
        };
        let ms = now.max(last.0);
        *last = (ms, random);
        (u128::from(ms) << 80) | random
    };
    let mut out = String::with_capacity(prefix.len() + 27);
    out.push_str(prefix);
    out.push('_');
    for i in (0..26).rev() {
        let digit = ((value >> (i * 5)) & 0x1f) as usize;
        out.push(ALPHABET[digit] as char);
    }
    out
}

/// `n` bytes from the operating system's CSPRNG.
pub fn random_bytes<const N: usize>() -> [u8; N] {
    let mut bytes = [0u8; N];
    // getrandom only fails when the OS has no entropy source at all; nothing can run then.
    getrandom::fill(&mut bytes).expect("the operating system's random source failed");
    bytes
}

fn random_u80() -> u128 {
    let bytes = random_bytes::<10>();
    bytes.iter().fold(0u128, |acc, b| (acc << 8) | u128::from(*b))
}

/// Whether `id` has the shape of an id with this prefix (cheap pre-check before a lookup).
pub fn looks_like(id: &str, prefix: &str) -> bool {
    id.len() == prefix.len() + 27
        && id.starts_with(prefix)
        && id.as_bytes()[prefix.len()] == b'_'
        && id[prefix.len() + 1..].bytes().all(|b| ALPHABET.contains(&b))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_increasing_and_well_formed() {
        let ids: Vec<String> = (0..1000).map(|_| new_id("tsk")).collect();
        assert!(ids.windows(2).all(|w| w[0] < w[1]));
        assert!(ids.iter().all(|id| looks_like(id, "tsk")));
        assert!(!looks_like("tsk_../../etc", "tsk"));
        assert!(!looks_like(&new_id("key"), "tsk"));
    }
}
