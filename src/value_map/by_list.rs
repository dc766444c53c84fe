//! [`ByKeyList`]: what is made once for each stored key list met (its
//! names laid out as JSON, their columns, the kinds found under them),
//! found again by the list's address instead of by its names.

use std::sync::Arc;

use rustc_hash::FxHashMap;

use super::KeyList;

/// A `T` for each key list met, by the list's address. The list is kept
/// with its `T`, so that no other list can take that address meanwhile; a
/// list with the same names loaded again (by another snapshot) is another
/// entry.
pub(crate) struct ByKeyList<T> {
    entries: FxHashMap<usize, (KeyList, T)>,
}

impl<T> Default for ByKeyList<T> {
    fn default() -> Self {
        ByKeyList {
            entries: FxHashMap::default(),
        }
    }
}

impl<T> ByKeyList<T> {
    /// The `T` of `list`, made by `make` the first time.
    pub fn get_or_make(&mut self, list: &KeyList, make: impl FnOnce(&KeyList) -> T) -> &mut T {
        &mut self
            .entries
            .entry(Arc::as_ptr(list) as usize)
            .or_insert_with(|| (Arc::clone(list), make(list)))
            .1
    }

    /// How many lists were met.
    #[cfg(test)]
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Every list met with its `T`, in no order; none is left.
    pub fn drain(&mut self) -> impl Iterator<Item = (KeyList, T)> + '_ {
        self.entries.drain().map(|(_, entry)| entry)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn list(names: &[&str]) -> KeyList {
        Arc::new(names.iter().map(|n| Arc::from(*n)).collect())
    }

    #[test]
    fn a_list_is_found_by_its_address_not_its_names() {
        let (a, same_names) = (list(&["lr", "seed"]), list(&["lr", "seed"]));
        let mut made = 0;
        let mut by_list = ByKeyList::default();
        for l in [&a, &a, &same_names, &a] {
            *by_list.get_or_make(l, |_| {
                made += 1;
                0
            }) += 1;
        }
        assert_eq!((made, by_list.len()), (2, 2));
        let mut counts: Vec<(usize, i32)> = by_list
            .drain()
            .map(|(l, n)| (usize::from(Arc::ptr_eq(&l, &a)), n))
            .collect();
        counts.sort();
        assert_eq!(counts, [(0, 1), (1, 3)]);
        assert_eq!(by_list.drain().count(), 0);
    }

    #[test]
    fn a_list_dropped_by_its_owner_is_kept_alive_with_its_entry() {
        let mut by_list = ByKeyList::default();
        let a = list(&["x"]);
        by_list.get_or_make(&a, |l| l.len());
        drop(a);
        // The address stays taken: a new list cannot be mistaken for it.
        let b = list(&["y", "z"]);
        assert_eq!(*by_list.get_or_make(&b, |l| l.len()), 2);
    }
}
