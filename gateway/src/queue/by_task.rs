//! Shared handles by task id (a task's wake-up, its event feed), held by whoever
//! uses them: the map keeps only weak references, and entries whose handles are
//! all dropped are swept out as it grows.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, Weak};

/// Entries past which dropped ones are swept out on the next insert.
const SWEEP_PAST: usize = 1024;

pub(crate) struct ByTask<T>(Mutex<HashMap<String, Weak<T>>>);

impl<T> Default for ByTask<T> {
    fn default() -> Self {
        Self(Mutex::default())
    }
}

impl<T> ByTask<T> {
    /// The task's handle, if someone still holds it.
    pub(crate) fn get(&self, task_id: &str) -> Option<Arc<T>> {
        self.0.lock().unwrap_or_else(|p| p.into_inner()).get(task_id).and_then(Weak::upgrade)
    }

    /// The task's handle if someone still holds it, else the one `make` makes;
    /// and whether it was made here.
    pub(crate) fn get_or_insert(&self, task_id: &str, make: impl FnOnce() -> Arc<T>) -> (Arc<T>, bool) {
        let mut handles = self.0.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(existing) = handles.get(task_id).and_then(Weak::upgrade) {
            return (existing, false);
        }
        if handles.len() > SWEEP_PAST {
            handles.retain(|_, weak| weak.strong_count() > 0);
        }
        let made = make();
        handles.insert(task_id.to_string(), Arc::downgrade(&made));
        (made, true)
    }

    /// Every handle someone still holds.
    pub(crate) fn live(&self) -> Vec<Arc<T>> {
        self.0.lock().unwrap_or_else(|p| p.into_inner()).values().filter_map(Weak::upgrade).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_handle_is_shared_while_held_and_made_anew_once_dropped() {
        let handles = ByTask::<u32>::default();
        let (first, made) = handles.get_or_insert("tsk_1", || Arc::new(1));
        assert!(made);
        let (again, made) = handles.get_or_insert("tsk_1", || Arc::new(2));
        assert!(!made && Arc::ptr_eq(&first, &again));
        assert_eq!(handles.live().len(), 1);
        drop((first, again));
        assert!(handles.get("tsk_1").is_none() && handles.live().is_empty());
        assert_eq!(*handles.get_or_insert("tsk_1", || Arc::new(3)).0, 3);
    }
}
