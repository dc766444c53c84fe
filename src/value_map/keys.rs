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

/// Keys remembered by position, per kind of map: at most this many.
const MAX_RECENT: usize = 4096;

thread_local! {
    static SHARED: RefCell<FxHashSet<Arc<str>>> = RefCell::new(FxHashSet::default());
    /// The keys of the last map of each kind decoded on this thread.
    static RECENT: RefCell<[Vec<Arc<str>>; 3]> = const { RefCell::new([Vec::new(), Vec::new(), Vec::new()]) };
}

/// Which map of a record a key belongs to.
#[derive(Clone, Copy, Debug)]
pub(crate) enum MapKind {
    Summary = 0,
    Hparams = 1,
    Config = 2,
}

/// The shared key for the UTF-8 `bytes` of the `index`-th key of a stored
/// map of `kind`.
///
/// Records mostly list the same keys in the same order as the record
/// before: the key at the same place in the last map of that kind is
/// compared first, which spares the UTF-8 check and the hash lookup.
pub(crate) fn decoded_key(
    kind: MapKind,
    index: usize,
    bytes: &[u8],
) -> Result<Arc<str>, std::str::Utf8Error> {
    let reused = RECENT.try_with(|recent| {
        let recent = recent.borrow();
        recent[kind as usize]
            .get(index)
            .filter(|k| k.as_bytes() == bytes)
            .cloned()
    });
    if let Ok(Some(key)) = reused {
        return Ok(key);
    }
    let key = shared_key(std::str::from_utf8(bytes)?);
    let _ = RECENT.try_with(|recent| {
        let keys = &mut recent.borrow_mut()[kind as usize];
        if index < keys.len() {
            keys[index] = Arc::clone(&key);
        } else if index == keys.len() && index < MAX_RECENT {
            keys.push(Arc::clone(&key));
        }
    });
    Ok(key)
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

    #[test]
    fn decoded_keys_are_checked_and_reused_by_position() {
        let a = decoded_key(MapKind::Config, 0, b"optim.lr").unwrap();
        let b = decoded_key(MapKind::Config, 0, b"optim.lr").unwrap();
        assert!(Arc::ptr_eq(&a, &b));
        // Another key at that place replaces it; invalid UTF-8 is an error.
        assert_eq!(&*decoded_key(MapKind::Config, 0, b"seed").unwrap(), "seed");
        assert!(decoded_key(MapKind::Config, 1, b"\xff").is_err());
        assert!(decoded_key(MapKind::Config, 0, b"\xff").is_err());
    }
}
