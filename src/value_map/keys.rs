//! Shared map keys: equal names become one `Arc<str>` per thread.
//!
//! The runs of a tree mostly share their hparam and metric names, so a
//! query materializing 75,000 records would otherwise allocate (and free)
//! the same 60 strings 75,000 times. Each thread keeps the names it has
//! seen; a key is then a reference count bump.

use std::cell::RefCell;
use std::sync::Arc;

use rustc_hash::FxHashSet;

/// Names a thread remembers at most; later ones are allocated per use, so a
/// tree with millions of distinct names cannot grow the set without bound.
const MAX_SHARED: usize = 1 << 16;
/// Longer names are not worth remembering.
const MAX_SHARED_LEN: usize = 128;

thread_local! {
    static SHARED: RefCell<FxHashSet<Arc<str>>> = RefCell::new(FxHashSet::default());
}

/// `key` as a shared `Arc<str>`: the same allocation for every equal key on
/// this thread (up to [`MAX_SHARED`] distinct keys).
pub(crate) fn shared_key(key: &str) -> Arc<str> {
    if key.len() > MAX_SHARED_LEN {
        return Arc::from(key);
    }
    SHARED
        .try_with(|shared| {
            let mut shared = shared.borrow_mut();
            if let Some(found) = shared.get(key) {
                return Arc::clone(found);
            }
            let new: Arc<str> = Arc::from(key);
            if shared.len() < MAX_SHARED {
                shared.insert(Arc::clone(&new));
            }
            new
        })
        // The thread is being torn down: no sharing.
        .unwrap_or_else(|_| Arc::from(key))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn equal_keys_are_one_allocation_and_long_ones_are_not_kept() {
        let a = shared_key("summary.val_acc");
        let b = shared_key(&String::from("summary.val_acc"));
        assert!(Arc::ptr_eq(&a, &b));
        let long = "k".repeat(MAX_SHARED_LEN + 1);
        assert!(!Arc::ptr_eq(&shared_key(&long), &shared_key(&long)));
        assert_eq!(&*shared_key(&long), long);
    }
}
