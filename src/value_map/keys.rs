//! Shared strings: equal names and short string values become one
//! `Arc<str>` per thread, and equal lists of names decoded from the cache
//! one shared [`KeyList`].
//!
//! The runs of a tree mostly share their hparam and metric names, and their
//! categorical values (`"adamw"`, `"resnet50"`), so a query materializing
//! 75,000 records would otherwise allocate (and free) the same 70 strings
//! 75,000 times, or count 60 references per map. Each thread keeps the
//! strings it has seen, and the last key lists it decoded.

use std::cell::RefCell;
use std::sync::Arc;

use rustc_hash::FxHashSet;

use super::KeyList;

/// Strings a thread remembers at most; later ones are allocated per use, so
/// a tree with millions of distinct names or values cannot grow the set
/// without bound (at most ~5 MB a thread).
const MAX_SHARED: usize = 1 << 15;
/// Longer strings are not worth remembering.
const MAX_SHARED_LEN: usize = 128;

/// Key lists remembered per kind of map, most recently used first.
const RECENT_LISTS: usize = 4;
/// Longer stored key lists are not remembered.
const MAX_RECENT_BYTES: usize = 64 << 10;

/// Key lists with the stored bytes they were decoded from, most recently
/// used first.
type Recent = Vec<(Box<[u8]>, KeyList)>;

thread_local! {
    static SHARED: RefCell<FxHashSet<Arc<str>>> = RefCell::new(FxHashSet::default());
    /// The last key lists decoded on this thread, per kind of map, with the
    /// stored bytes they were decoded from.
    static RECENT: RefCell<[Recent; 3]> =
        const { RefCell::new([Vec::new(), Vec::new(), Vec::new()]) };
    /// The key list last built on this thread from parsed names, per kind
    /// of map.
    static PARSED: RefCell<[Option<KeyList>; 3]> = const { RefCell::new([None, None, None]) };
}

/// Which map of a record a key list belongs to.
#[derive(Clone, Copy, Debug)]
pub(crate) enum MapKind {
    Summary = 0,
    Hparams = 1,
    Config = 2,
}

/// The key list last decoded on this thread from exactly `stored` (the
/// stored form of a map's keys), if it is still remembered.
///
/// Runs mostly share their names, so a map's keys are compared with a few
/// lists decoded before as one block of bytes, instead of being checked,
/// hashed and counted name by name.
pub(crate) fn recent_keys(kind: MapKind, stored: &[u8]) -> Option<KeyList> {
    RECENT
        .try_with(|recent| {
            let lists = &mut recent.borrow_mut()[kind as usize];
            let at = lists.iter().position(|(bytes, _)| **bytes == *stored)?;
            // Most recently used first.
            lists[..=at].rotate_right(1);
            Some(Arc::clone(&lists[0].1))
        })
        .ok()
        .flatten()
}

/// Remembers that `stored` decodes to `keys`, for [`recent_keys`].
pub(crate) fn remember_keys(kind: MapKind, stored: &[u8], keys: &KeyList) {
    if stored.len() > MAX_RECENT_BYTES {
        return;
    }
    let _ = RECENT.try_with(|recent| {
        let lists = &mut recent.borrow_mut()[kind as usize];
        lists.truncate(RECENT_LISTS - 1);
        lists.insert(0, (stored.into(), Arc::clone(keys)));
    });
}

/// `names` (sorted and unique) as a key list: the one last built on this
/// thread for the same kind of map when it holds the same names, else a new
/// one, remembered in its place. Sidecars read one after the other mostly
/// repeat their names, so most maps parsed cost a comparison of names, not
/// an allocation each.
pub(crate) fn parsed_keys<'n>(
    kind: MapKind,
    names: impl ExactSizeIterator<Item = &'n str> + Clone,
) -> KeyList {
    let same = |list: &KeyList| {
        list.len() == names.len() && list.iter().zip(names.clone()).all(|(a, b)| **a == *b)
    };
    let last = PARSED.try_with(|parsed| parsed.borrow()[kind as usize].clone());
    if let Ok(Some(list)) = last
        && same(&list)
    {
        return list;
    }
    let list: KeyList = Arc::new(names.map(shared_str).collect());
    let _ = PARSED.try_with(|parsed| parsed.borrow_mut()[kind as usize] = Some(Arc::clone(&list)));
    list
}

/// `key` (a map key, or a short string value) as a shared `Arc<str>`: the
/// same allocation for every equal string on this thread (up to
/// [`MAX_SHARED`] distinct ones).
pub(crate) fn shared_str(key: &str) -> Arc<str> {
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
            // Full: start over, so that strings met once (run names) do
            // not keep the recurring ones out for good.
            if shared.len() >= MAX_SHARED {
                shared.clear();
            }
            shared.insert(Arc::clone(&new));
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
        let a = shared_str("summary.val_acc");
        let b = shared_str(&String::from("summary.val_acc"));
        assert!(Arc::ptr_eq(&a, &b));
        let long = "k".repeat(MAX_SHARED_LEN + 1);
        assert!(!Arc::ptr_eq(&shared_str(&long), &shared_str(&long)));
        assert_eq!(&*shared_str(&long), long);
    }

    #[test]
    fn a_full_set_starts_over_and_keeps_sharing_what_recurs() {
        // Strings met once fill the set; one met after them is still shared.
        for i in 0..MAX_SHARED + 1 {
            shared_str(&format!("met-once-{i}"));
        }
        assert!(SHARED.with(|s| s.borrow().len()) <= MAX_SHARED);
        let (a, b) = (shared_str("optim.name"), shared_str("optim.name"));
        assert!(Arc::ptr_eq(&a, &b));
    }

    #[test]
    fn key_lists_are_found_by_their_stored_bytes_most_recent_first() {
        let list =
            |names: &[&str]| -> KeyList { Arc::new(names.iter().map(|n| shared_str(n)).collect()) };
        let (a, b) = (list(&["lr"]), list(&["lr", "seed"]));
        remember_keys(MapKind::Config, b"A", &a);
        remember_keys(MapKind::Config, b"B", &b);
        assert!(Arc::ptr_eq(
            &recent_keys(MapKind::Config, b"A").unwrap(),
            &a
        ));
        assert!(Arc::ptr_eq(
            &recent_keys(MapKind::Config, b"B").unwrap(),
            &b
        ));
        // Per kind of map, and by exact bytes.
        assert!(recent_keys(MapKind::Summary, b"A").is_none());
        assert!(recent_keys(MapKind::Config, b"AB").is_none());
        // Only the most recently used few are kept: "B" was used last, so
        // "A" is the one forgotten.
        recent_keys(MapKind::Config, b"A");
        recent_keys(MapKind::Config, b"B");
        for other in 0..RECENT_LISTS - 1 {
            remember_keys(MapKind::Config, &[b'x', other as u8], &a);
        }
        assert!(recent_keys(MapKind::Config, b"A").is_none());
        assert!(recent_keys(MapKind::Config, b"x\0").is_some());
        // A huge stored list is not kept.
        let huge = vec![b'k'; MAX_RECENT_BYTES + 1];
        remember_keys(MapKind::Config, &huge, &a);
        assert!(recent_keys(MapKind::Config, &huge).is_none());
    }
}
