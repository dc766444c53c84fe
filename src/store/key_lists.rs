//! Key lists stored apart from the records: a dictionary of map names.
//!
//! The runs of a tree mostly share a few lists of hparam and metric names
//! (~1.1 KB for 57 hparams), which made up two thirds of every record. A
//! list is stored once, in [`KEY_LISTS`](super::tables::KEY_LISTS), under
//! an id that records name instead (see `codec`): records shrink from ~1.75
//! KB to ~0.55 KB, several to a page, so scans write and queries read a
//! third of the pages.
//!
//! Lists are only ever added, under the next id, in the transaction that
//! first writes a record naming them; a cache rebuilt from the sidecars
//! starts a new dictionary. At most [`MAX_LISTS`] lists of at most
//! [`MAX_LIST_BYTES`] are stored: past that (a tree whose runs all have
//! names of their own), keys stay in the records, as before.

use std::sync::OnceLock;

use redb::{ReadOnlyTable, ReadableTable, Table};
use rustc_hash::FxHashMap;

use super::codec::{KeyLists, parse_key_list};
use crate::value_map::KeyList;

/// Most lists a cache stores.
pub(crate) const MAX_LISTS: u32 = 4096;
/// Longest list stored, in bytes.
pub(crate) const MAX_LIST_BYTES: usize = 16 << 10;

/// The stored lists a snapshot reads, each loaded (and checked) the first
/// time a record names it.
pub(crate) struct StoredKeyLists {
    table: ReadOnlyTable<u32, &'static [u8]>,
    /// By id - 1; a list that cannot be read is `None`, and a record naming
    /// it is corrupt.
    loaded: Vec<OnceLock<Option<KeyList>>>,
}

impl StoredKeyLists {
    pub fn new(
        table: ReadOnlyTable<u32, &'static [u8]>,
    ) -> Result<StoredKeyLists, redb::StorageError> {
        let last = table.last()?.map_or(0, |(id, _)| id.value());
        let mut loaded = Vec::new();
        loaded.resize_with(last.min(MAX_LISTS) as usize, OnceLock::new);
        Ok(StoredKeyLists { table, loaded })
    }
}

impl KeyLists for StoredKeyLists {
    fn key_list(&self, id: u32) -> Option<&KeyList> {
        let slot = self.loaded.get((id as usize).checked_sub(1)?)?;
        slot.get_or_init(|| {
            let stored = self.table.get(id).ok().flatten()?;
            parse_key_list(stored.value()).ok()
        })
        .as_ref()
    }
}

/// The lists a write transaction knows, all loaded when it starts, and the
/// ids of their stored bytes, to give new records.
#[derive(Default)]
pub(crate) struct KeyDictionary {
    ids: FxHashMap<Box<[u8]>, u32>,
    /// By id - 1.
    lists: Vec<Option<KeyList>>,
}

impl KeyDictionary {
    pub fn load(
        table: &Table<'_, u32, &'static [u8]>,
    ) -> Result<KeyDictionary, redb::StorageError> {
        let mut dictionary = KeyDictionary::default();
        for entry in table.iter()? {
            let (id, stored) = entry?;
            let (id, stored) = (id.value(), stored.value());
            // Ids are 1, 2, 3...; should damage leave a gap or a stray id,
            // new lists still go after the last one, never over another.
            let Some(index) = (id as usize).checked_sub(1) else {
                continue;
            };
            if index >= MAX_LISTS as usize {
                dictionary.lists.resize(MAX_LISTS as usize, None);
                continue;
            }
            if dictionary.lists.len() <= index {
                dictionary.lists.resize(index + 1, None);
            }
            dictionary.lists[index] = parse_key_list(stored).ok();
            dictionary.ids.insert(stored.into(), id);
        }
        Ok(dictionary)
    }

    /// The id of the list stored as `block`, storing it under the next id
    /// if it is new and there is room; `None`: keep the keys in the record.
    pub fn id_of(
        &mut self,
        block: &[u8],
        table: &mut Table<'_, u32, &'static [u8]>,
    ) -> Option<u32> {
        if let Some(&id) = self.ids.get(block) {
            return Some(id);
        }
        let id = u32::try_from(self.lists.len() + 1).ok()?;
        if id > MAX_LISTS || block.len() > MAX_LIST_BYTES {
            return None;
        }
        let list = parse_key_list(block).ok()?;
        table.insert(id, block).ok()?;
        self.lists.push(Some(list));
        self.ids.insert(block.into(), id);
        Some(id)
    }
}

impl KeyLists for KeyDictionary {
    fn key_list(&self, id: u32) -> Option<&KeyList> {
        self.lists.get((id as usize).checked_sub(1)?)?.as_ref()
    }
}
