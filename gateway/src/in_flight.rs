//! Counts of things in progress per owner (connections per client address, uploads
//! or event streams per key) with a cap: taking a slot past the cap fails, and a
//! slot gives its place back when it is dropped, however its holder ends.

use std::collections::HashMap;
use std::hash::Hash;
use std::sync::{Arc, Mutex};

/// In-progress counts per owner `K`.
pub struct InFlight<K: Hash + Eq + Clone>(Mutex<HashMap<K, usize>>);

impl<K: Hash + Eq + Clone> Default for InFlight<K> {
    fn default() -> Self {
        Self(Mutex::new(HashMap::new()))
    }
}

/// One place in an [`InFlight`], given back when dropped.
pub struct Slot<K: Hash + Eq + Clone> {
    counts: Arc<InFlight<K>>,
    owner: K,
}

impl<K: Hash + Eq + Clone> InFlight<K> {
    /// A slot of `owner`'s, unless it already holds `cap`.
    pub fn take(self: &Arc<Self>, owner: &K, cap: usize) -> Option<Slot<K>> {
        let mut counts = self.0.lock().unwrap_or_else(|p| p.into_inner());
        let count = counts.entry(owner.clone()).or_insert(0);
        if *count >= cap {
            return None;
        }
        *count += 1;
        Some(Slot { counts: self.clone(), owner: owner.clone() })
    }

    /// How many slots `owner` holds.
    pub fn count(&self, owner: &K) -> usize {
        self.0.lock().unwrap_or_else(|p| p.into_inner()).get(owner).copied().unwrap_or(0)
    }
}

impl<K: Hash + Eq + Clone> Drop for Slot<K> {
    fn drop(&mut self) {
        let mut counts = self.counts.0.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(count) = counts.get_mut(&self.owner) {
            *count -= 1;
            if *count == 0 {
                counts.remove(&self.owner);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_owner_gets_its_slots_back() {
        let counts = Arc::new(InFlight::default());
        let first = counts.take(&"a", 2).unwrap();
        let _second = counts.take(&"a", 2).unwrap();
        assert!(counts.take(&"a", 2).is_none(), "a third is over the cap");
        assert!(counts.take(&"b", 2).is_some(), "other owners have their own");
        drop(first);
        assert_eq!(counts.count(&"a"), 1);
        assert!(counts.take(&"a", 2).is_some());
    }
}
