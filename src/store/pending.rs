//! Rows of a first build, held back to be written in key order.
//!
//! A full scan into an empty cache meets runs in walk order, which is
//! random in run id. Inserted in that order, the rows of 100,000 runs cost
//! redb about 3 s (leaves split half full, are evicted from its page cache,
//! read back and split again); the same rows in key order cost 1.3 s
//! (`examples/write_floor.rs`). So while the runs table is empty, a
//! [`Writer`](super::Writer) keeps the rows it is given here and writes them
//! sorted when its transaction ends, or sooner once they hold
//! [`PENDING_BYTES`].

use std::collections::BTreeMap;

use rustc_hash::FxHashMap;

use super::codec::Hot;
use super::run_key::created_order;
use super::tables::updated_key;

/// Bytes of rows held back before they are written. Each flush is sorted,
/// so even a first build of a million runs writes its pages in order, pass
/// after pass; a larger budget saves little time (100,000 runs, about 80 MB
/// of rows: 4.5 s whole or in five passes) and costs its size in memory.
pub(super) const PENDING_BYTES: usize = 16 << 20;

/// What a run's index entries are keyed by.
pub(super) struct IndexKeys {
    pub tags: Vec<String>,
    pub status: String,
    pub updated: i64,
    /// The order of the record's key in the runs table (see `run_key`).
    pub order: u64,
}

impl IndexKeys {
    pub fn of(hot: &Hot) -> IndexKeys {
        IndexKeys {
            tags: hot.tags.clone(),
            status: hot.status.as_str().to_owned(),
            updated: updated_key(hot.updated_at),
            order: created_order(hot.created_at),
        }
    }

    fn bytes(&self) -> usize {
        self.status.len() + self.tags.iter().map(|t| t.len() + 24).sum::<usize>() + 64
    }
}

/// A run held back: its encoded record and index keys.
pub(super) struct PendingRun {
    pub record: Vec<u8>,
    pub keys: IndexKeys,
}

/// Rows held back. A file or directory state of `None` is a removal.
#[derive(Default)]
pub(super) struct Pending {
    pub runs: FxHashMap<Box<str>, PendingRun>,
    pub files: BTreeMap<Vec<u8>, Option<Vec<u8>>>,
    pub dirs: BTreeMap<Vec<u8>, Option<Vec<u8>>>,
    /// About how much memory the rows take.
    bytes: usize,
}

/// Bytes an entry of a map costs besides its key and value.
const ENTRY: usize = 48;

impl Pending {
    pub fn is_empty(&self) -> bool {
        self.runs.is_empty() && self.files.is_empty() && self.dirs.is_empty()
    }

    pub fn is_full(&self) -> bool {
        self.bytes >= PENDING_BYTES
    }

    pub fn put_run(&mut self, run_id: &str, run: PendingRun) {
        self.bytes += run_id.len() + run.record.len() + run.keys.bytes() + ENTRY;
        if let Some(old) = self.runs.insert(run_id.into(), run) {
            self.bytes -= run_id.len() + old.record.len() + old.keys.bytes() + ENTRY;
        }
    }

    /// Whether `run_id` was held.
    pub fn remove_run(&mut self, run_id: &str) -> bool {
        match self.runs.remove(run_id) {
            Some(old) => {
                self.bytes -= run_id.len() + old.record.len() + old.keys.bytes() + ENTRY;
                true
            }
            None => false,
        }
    }

    pub fn put_file(&mut self, path: &[u8], state: Option<Vec<u8>>) {
        Self::put(&mut self.files, &mut self.bytes, path, state);
    }

    pub fn put_dir(&mut self, path: &[u8], state: Option<Vec<u8>>) {
        Self::put(&mut self.dirs, &mut self.bytes, path, state);
    }

    fn put(
        map: &mut BTreeMap<Vec<u8>, Option<Vec<u8>>>,
        bytes: &mut usize,
        path: &[u8],
        state: Option<Vec<u8>>,
    ) {
        let size = |s: &Option<Vec<u8>>| path.len() + s.as_ref().map_or(0, Vec::len) + ENTRY;
        *bytes += size(&state);
        if let Some(old) = map.insert(path.to_vec(), state) {
            *bytes -= size(&old);
        }
    }
}
