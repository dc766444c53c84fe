//! What the scanner remembers (file and directory states, scan times),
//! read from a read-only open of the cache or from a write transaction.
//!
//! Opening redb for writing is not free: it marks the file as in use and,
//! on close, saves its allocator state, each with an fsync. A rescan that
//! will find nothing to write first looks through a read-only open, which
//! writes nothing (see [`Store::write_unless`](super::Store::write_unless)).

use std::path::{Path, PathBuf};

use redb::{ReadOnlyTable, ReadTransaction, ReadableTable, ReadableTableMetadata, TableError};
use rustc_hash::FxHashMap;

use super::codec;
use super::files::{DirState, FileState, FileStates};
use super::tables::{DIRS, FILES, META, RUNS};
use crate::error::{Error, Result};

/// What a scan reads of the cache before it reconciles: implemented by the
/// write transaction's [`Writer`](super::Writer) and by [`Memory`].
pub(crate) trait Remembers {
    /// Whether no run is stored.
    fn no_runs(&self) -> Result<bool>;
    /// Every remembered sidecar path and its state, in path order.
    fn file_states(&self) -> Result<FileStates>;
    /// Every remembered directory and its state.
    fn dir_states(&self) -> Result<FxHashMap<Vec<u8>, DirState>>;
    /// A float kept in the meta table (scan times).
    fn meta_float(&self, key: &str) -> Result<Option<f64>>;
}

/// The scanner's tables in one read snapshot.
pub(crate) struct Memory {
    path: PathBuf,
    runs: ReadOnlyTable<(u64, &'static str), &'static [u8]>,
    files: ReadOnlyTable<&'static [u8], &'static [u8]>,
    dirs: ReadOnlyTable<&'static [u8], &'static [u8]>,
    meta: ReadOnlyTable<&'static str, &'static [u8]>,
}

impl Memory {
    pub(super) fn open(txn: &ReadTransaction, path: &Path) -> Result<Memory> {
        let err = |e: TableError| Error::store(path, e);
        Ok(Memory {
            path: path.to_owned(),
            runs: txn.open_table(RUNS).map_err(err)?,
            files: txn.open_table(FILES).map_err(err)?,
            dirs: txn.open_table(DIRS).map_err(err)?,
            meta: txn.open_table(META).map_err(err)?,
        })
    }
}

impl Remembers for Memory {
    fn no_runs(&self) -> Result<bool> {
        self.runs
            .is_empty()
            .map_err(|e| Error::store(&self.path, e))
    }

    fn file_states(&self) -> Result<FileStates> {
        load_files(&self.files, &self.path)
    }

    fn dir_states(&self) -> Result<FxHashMap<Vec<u8>, DirState>> {
        load_dirs(&self.dirs, &self.path)
    }

    fn meta_float(&self, key: &str) -> Result<Option<f64>> {
        let bytes = self
            .meta
            .get(key)
            .map_err(|e| Error::store(&self.path, e))?;
        Ok(bytes.and_then(|b| codec::decode_plain(b.value()).ok()))
    }
}

/// The file states stored in `table`, in path order. Entries that cannot
/// be decoded are dropped (their sidecars are then simply read again).
pub(super) fn load_files(
    table: &impl ReadableTable<&'static [u8], &'static [u8]>,
    path: &Path,
) -> Result<FileStates> {
    let len = table.len().map_err(|e| Error::store(path, e))?;
    let mut out = FileStates::with_capacity_and_hasher(len as usize, Default::default());
    for entry in table.iter().map_err(|e| Error::store(path, e))? {
        let (key, state) = entry.map_err(|e| Error::store(path, e))?;
        if let Ok(state) = codec::decode_plain::<FileState>(state.value()) {
            out.insert(key.value().to_vec(), state);
        }
    }
    Ok(out)
}

/// The directory states stored in `table` (undecodable entries are
/// dropped: those directories are then read again).
pub(super) fn load_dirs(
    table: &impl ReadableTable<&'static [u8], &'static [u8]>,
    path: &Path,
) -> Result<FxHashMap<Vec<u8>, DirState>> {
    let len = table.len().map_err(|e| Error::store(path, e))?;
    let mut out = FxHashMap::with_capacity_and_hasher(len as usize, Default::default());
    for entry in table.iter().map_err(|e| Error::store(path, e))? {
        let (key, state) = entry.map_err(|e| Error::store(path, e))?;
        if let Ok(state) = codec::decode_plain::<DirState>(state.value()) {
            out.insert(key.value().to_vec(), state);
        }
    }
    Ok(out)
}
