//! Writing the cache: records and their indexes, together.

use rustc_hash::{FxHashMap, FxHashSet};
use std::path::{Path, PathBuf};

use redb::{
    Database, MultimapTable, ReadTransaction, ReadableDatabase, ReadableMultimapTable,
    ReadableTable, ReadableTableMetadata, Table, TableError, WriteTransaction,
};

use super::FORMAT_VERSION;
use super::codec::{self, Hot, RecordBytes, StoredRun};
use super::files::{DirState, FileState, FileStates};
use super::hot_row::hot_row;
use super::key_lists::KeyDictionary;
use super::memory::{self, Remembers};
use super::pending::{IndexKeys, Pending, PendingRun};
use super::record_cache::{self, GENERATION_KEY};
use super::run_key::created_order;
use super::tables::{
    BY_STATUS, BY_TAG, BY_UPDATED, DIRS, FILES, HOT, KEY_LISTS, META, RUNS, updated_key,
};
use crate::error::{Error, Result};

const FORMAT_KEY: &str = "format_version";

/// The tables of one write transaction.
pub(crate) struct Writer<'txn> {
    path: PathBuf,
    runs: Table<'txn, (u64, &'static str), &'static [u8]>,
    hot: Table<'txn, &'static str, &'static [u8]>,
    by_tag: MultimapTable<'txn, &'static str, &'static str>,
    by_status: MultimapTable<'txn, &'static str, &'static str>,
    by_updated: Table<'txn, (i64, &'static str), ()>,
    files: Table<'txn, &'static [u8], &'static [u8]>,
    dirs: Table<'txn, &'static [u8], &'static [u8]>,
    meta: Table<'txn, &'static str, &'static [u8]>,
    key_lists: Table<'txn, u32, &'static [u8]>,
    /// The stored key lists, and the ids new records name them by.
    dictionary: KeyDictionary,
    /// When this transaction began with no run stored (a first build).
    first_build: Option<FirstBuild>,
    compact: bool,
    /// Something was written besides the generation stamp: the transaction
    /// has something to commit (see [`changed`](Writer::changed)).
    changed: bool,
}

/// A transaction that began with no run stored: rows are held back and
/// written in key order (see [`pending`](super::pending)).
#[derive(Default)]
struct FirstBuild {
    pending: Pending,
    /// The run ids written to the tables since the transaction began. A run
    /// id neither here nor pending has no record: its upsert looks none up.
    written: FxHashSet<Box<str>>,
}

/// Creates every table and stamps the format version in a new file, so that
/// readers never meet a missing table.
pub(super) fn initialize(db: &Database, path: &Path) -> Result<()> {
    let txn = db.begin_write().map_err(|e| Error::store(path, e))?;
    {
        let mut writer = Writer::open(&txn, path)?;
        writer.set_meta(FORMAT_KEY, &codec::encode_plain(&FORMAT_VERSION))?;
    }
    txn.commit().map_err(|e| Error::store(path, e))
}

/// The format version a file declares; `None` for a redb file that is not a
/// runreg cache.
pub(super) fn format_version(db: &Database, path: &Path) -> Result<Option<u32>> {
    let txn = db.begin_read().map_err(|e| Error::store(path, e))?;
    format_version_in(&txn, path)
}

/// [`format_version`] in an open read transaction.
pub(super) fn format_version_in(txn: &ReadTransaction, path: &Path) -> Result<Option<u32>> {
    let meta = match txn.open_table(META) {
        Ok(meta) => meta,
        Err(TableError::TableDoesNotExist(_)) => return Ok(None),
        Err(e) => return Err(Error::store(path, e)),
    };
    let Some(bytes) = meta.get(FORMAT_KEY).map_err(|e| Error::store(path, e))? else {
        return Ok(None);
    };
    codec::decode_plain(bytes.value())
        .map(Some)
        .map_err(|e| Error::cache_damaged(path, format_args!("format version: {e}")))
}

type StorageResult = std::result::Result<(), redb::StorageError>;

/// Inserts `runs` (sorted by run id) and their hot rows, each table in
/// key order.
fn insert_records(
    records: &mut Table<'_, (u64, &'static str), &'static [u8]>,
    hot: &mut Table<'_, &'static str, &'static [u8]>,
    runs: &[(Box<str>, PendingRun)],
) -> StorageResult {
    for (id, run) in runs {
        hot.insert(&**id, hot_row(&run.record).as_slice())?;
    }
    let mut by_key: Vec<(u64, &str, &[u8])> = runs
        .iter()
        .map(|(id, run)| (run.keys.order, &**id, run.record.as_slice()))
        .collect();
    by_key.sort_unstable_by(|a, b| (a.0, a.1).cmp(&(b.0, b.1)));
    for (order, id, record) in by_key {
        records.insert((order, id), record)?;
    }
    Ok(())
}

/// Inserts the index entries of `runs`, each index in key order.
fn insert_index_entries(
    by_tag: &mut MultimapTable<'_, &'static str, &'static str>,
    by_status: &mut MultimapTable<'_, &'static str, &'static str>,
    by_updated: &mut Table<'_, (i64, &'static str), ()>,
    runs: &[(Box<str>, PendingRun)],
) -> StorageResult {
    let mut tags: Vec<(&str, &str)> = runs
        .iter()
        .flat_map(|(id, run)| run.keys.tags.iter().map(move |t| (t.as_str(), &**id)))
        .collect();
    tags.sort_unstable();
    for (tag, id) in tags {
        by_tag.insert(tag, id)?;
    }
    let mut statuses: Vec<(&str, &str)> = runs
        .iter()
        .map(|(id, run)| (run.keys.status.as_str(), &**id))
        .collect();
    statuses.sort_unstable();
    for (status, id) in statuses {
        by_status.insert(status, id)?;
    }
    let mut updated: Vec<(i64, &str)> = runs
        .iter()
        .map(|(id, run)| (run.keys.updated, &**id))
        .collect();
    updated.sort_unstable();
    for key in updated {
        by_updated.insert(key, ())?;
    }
    Ok(())
}

/// Writes file or directory states held back (in key order; `None`: a
/// removal).
fn insert_states(
    table: &mut Table<'_, &'static [u8], &'static [u8]>,
    states: std::collections::BTreeMap<Vec<u8>, Option<Vec<u8>>>,
) -> StorageResult {
    for (key, state) in states {
        match state {
            Some(bytes) => table.insert(key.as_slice(), bytes.as_slice())?,
            None => table.remove(key.as_slice())?,
        };
    }
    Ok(())
}

impl<'txn> Writer<'txn> {
    /// The tables of `txn`, which is stamped with a new generation: records
    /// that readers kept from before it commits are not used after.
    pub(super) fn open(txn: &'txn WriteTransaction, path: &Path) -> Result<Writer<'txn>> {
        let err = |e: TableError| Error::store(path, e);
        let mut writer = Writer {
            path: path.to_owned(),
            runs: txn.open_table(RUNS).map_err(err)?,
            hot: txn.open_table(HOT).map_err(err)?,
            by_tag: txn.open_multimap_table(BY_TAG).map_err(err)?,
            by_status: txn.open_multimap_table(BY_STATUS).map_err(err)?,
            by_updated: txn.open_table(BY_UPDATED).map_err(err)?,
            files: txn.open_table(FILES).map_err(err)?,
            dirs: txn.open_table(DIRS).map_err(err)?,
            meta: txn.open_table(META).map_err(err)?,
            key_lists: txn.open_table(KEY_LISTS).map_err(err)?,
            dictionary: KeyDictionary::default(),
            first_build: None,
            compact: false,
            changed: false,
        };
        writer.dictionary = KeyDictionary::load(&writer.key_lists).map_err(|e| writer.err(e))?;
        if writer.is_empty()? {
            writer.first_build = Some(FirstBuild::default());
        }
        writer.set_meta(
            GENERATION_KEY,
            &codec::encode_plain(&record_cache::new_generation()),
        )?;
        // The stamp alone is not a change: a transaction with nothing else
        // is not committed, and the stamp it would have set is not needed.
        writer.changed = false;
        Ok(writer)
    }

    fn err(&self, e: impl Into<redb::Error>) -> Error {
        Error::store(&self.path, e)
    }

    /// Whether anything was written in this transaction (besides the
    /// generation stamp). One that wrote nothing is dropped, not committed:
    /// the file is left as it was, with no write and no fsync.
    pub fn changed(&self) -> bool {
        self.changed
    }

    /// Whether no run is stored.
    pub fn is_empty(&self) -> Result<bool> {
        let held = self.pending().is_some_and(|p| !p.runs.is_empty());
        Ok(!held && self.runs.is_empty().map_err(|e| self.err(e))?)
    }

    fn pending(&self) -> Option<&Pending> {
        self.first_build.as_ref().map(|b| &b.pending)
    }

    /// The rows held back, when they are (see [`pending`](super::pending)).
    fn pending_mut(&mut self) -> Option<&mut Pending> {
        self.first_build.as_mut().map(|b| &mut b.pending)
    }

    /// Writes the rows held back, in key order. Called before the
    /// transaction commits, and whenever they fill their budget.
    pub(super) fn flush(&mut self) -> Result<()> {
        let Some(build) = &mut self.first_build else {
            return Ok(());
        };
        if build.pending.is_empty() {
            return Ok(());
        }
        let pending = std::mem::take(&mut build.pending);
        let mut runs: Vec<(Box<str>, PendingRun)> = pending.runs.into_iter().collect();
        runs.sort_unstable_by(|a, b| a.0.cmp(&b.0));
        // Two threads, each on tables of its own (redb allows it): the
        // records here, where their pages are allocated (a helper thread's
        // allocations stay in a malloc arena of their own: 40 MB more at
        // 100,000 runs); the index entries and the file and directory
        // states on a helper. A scan waits for each flush, so the second
        // core halves the wait.
        let (records, hot) = (&mut self.runs, &mut self.hot);
        let (by_tag, by_status, by_updated) =
            (&mut self.by_tag, &mut self.by_status, &mut self.by_updated);
        let (files, dirs) = (&mut self.files, &mut self.dirs);
        let (rest_written, records_written) = std::thread::scope(|scope| {
            let rest = scope.spawn(|| {
                insert_index_entries(by_tag, by_status, by_updated, &runs)?;
                insert_states(files, pending.files)?;
                insert_states(dirs, pending.dirs)
            });
            let records = insert_records(records, hot, &runs);
            (rest.join(), records)
        });
        let written = match rest_written {
            Ok(written) => written.and(records_written),
            Err(panic) => std::panic::resume_unwind(panic),
        };
        written.map_err(|e| Error::store(&self.path, e))?;
        build.written.extend(runs.into_iter().map(|(id, _)| id));
        Ok(())
    }

    /// Holds back a file or directory state (`None`: a removal), or writes
    /// it at once when rows are not held back.
    fn put_state(&mut self, dir: bool, key: &[u8], state: Option<Vec<u8>>) -> Result<()> {
        self.changed = true;
        if let Some(pending) = self.pending_mut() {
            if dir {
                pending.put_dir(key, state);
            } else {
                pending.put_file(key, state);
            }
            return self.flush_if_full();
        }
        let table = if dir { &mut self.dirs } else { &mut self.files };
        match state {
            Some(bytes) => table.insert(key, bytes.as_slice()).map(|_| ()),
            None => table.remove(key).map(|_| ()),
        }
        .map_err(|e| Error::store(&self.path, e))
    }

    fn flush_if_full(&mut self) -> Result<()> {
        if self.pending().is_some_and(Pending::is_full) {
            self.flush()?;
        }
        Ok(())
    }

    /// Asks for the file to be compacted after this transaction commits
    /// (after rewriting most records, whose old pages are then free).
    pub fn request_compaction(&mut self) {
        self.compact = true;
    }

    pub(super) fn compaction_requested(&self) -> bool {
        self.compact
    }

    /// Every remembered sidecar path and its state, in path order. Entries
    /// that cannot be decoded are dropped (their sidecars are then simply
    /// read again).
    pub fn files(&self) -> Result<FileStates> {
        let mut out = memory::load_files(&self.files, &self.path)?;
        for (path, state) in self.pending().map(|p| &p.files).into_iter().flatten() {
            match state.as_deref().map(codec::decode_plain::<FileState>) {
                Some(Ok(state)) => out.insert(path.clone(), state),
                _ => out.swap_remove(path),
            };
        }
        Ok(out)
    }

    pub fn put_file(&mut self, path: &[u8], state: &FileState) -> Result<()> {
        self.put_state(false, path, Some(codec::encode_plain(state)))
    }

    pub fn remove_file(&mut self, path: &[u8]) -> Result<()> {
        self.put_state(false, path, None)
    }

    /// Every remembered directory and its state (undecodable entries are
    /// dropped: those directories are then read again).
    pub fn dirs(&self) -> Result<FxHashMap<Vec<u8>, DirState>> {
        let mut out = memory::load_dirs(&self.dirs, &self.path)?;
        for (path, state) in self.pending().map(|p| &p.dirs).into_iter().flatten() {
            match state.as_deref().map(codec::decode_plain::<DirState>) {
                Some(Ok(state)) => out.insert(path.clone(), state),
                _ => out.remove(path),
            };
        }
        Ok(out)
    }

    pub fn put_dir(&mut self, path: &[u8], state: &DirState) -> Result<()> {
        self.put_state(true, path, Some(codec::encode_plain(state)))
    }

    pub fn remove_dir(&mut self, path: &[u8]) -> Result<()> {
        self.put_state(true, path, None)
    }

    /// The hot part of a stored run, read from its hot row.
    pub fn hot(&self, run_id: &str) -> Result<Option<Hot>> {
        let decoded = match self.pending().and_then(|p| p.runs.get(run_id)) {
            Some(held) => RecordBytes::new(&held.record, &self.dictionary).hot(),
            None => match self.hot.get(run_id).map_err(|e| self.err(e))? {
                Some(row) => RecordBytes::new(row.value(), &self.dictionary).hot(),
                None => return Ok(None),
            },
        };
        decoded
            .map(Some)
            .map_err(|e| Error::corrupt_record(&self.path, run_id, e))
    }

    /// A stored run, whole.
    pub fn record(&self, run_id: &str) -> Result<Option<StoredRun>> {
        let decoded = match self.pending().and_then(|p| p.runs.get(run_id)) {
            Some(held) => RecordBytes::new(&held.record, &self.dictionary).whole(),
            None => {
                let Some(order) = self.key_order(run_id)? else {
                    return Ok(None);
                };
                match self.runs.get((order, run_id)).map_err(|e| self.err(e))? {
                    Some(bytes) => RecordBytes::new(bytes.value(), &self.dictionary).whole(),
                    None => return Ok(None),
                }
            }
        };
        decoded
            .map(Some)
            .map_err(|e| Error::corrupt_record(&self.path, run_id, e))
    }

    /// Inserts or replaces a run and its index entries.
    pub fn upsert(&mut self, run_id: &str, run: &StoredRun) -> Result<()> {
        let (dictionary, key_lists) = (&mut self.dictionary, &mut self.key_lists);
        let bytes = codec::encode_record_with(run, &mut |block| dictionary.id_of(block, key_lists));
        self.changed = true;
        if let Some(build) = &mut self.first_build
            && !build.written.contains(run_id)
        {
            let keys = IndexKeys::of(&run.hot);
            build.pending.put_run(
                run_id,
                PendingRun {
                    record: bytes,
                    keys,
                },
            );
            return self.flush_if_full();
        }
        let order = created_order(run.hot.created_at);
        let old = self.reindex(run_id, Some(&run.hot))?;
        let err = |e| Error::store(&self.path, e);
        if let Some(old) = old
            && old != order
        {
            self.runs.remove((old, run_id)).map_err(err)?;
        }
        self.runs
            .insert((order, run_id), bytes.as_slice())
            .map_err(err)?;
        self.hot
            .insert(run_id, hot_row(&bytes).as_slice())
            .map_err(err)?;
        Ok(())
    }

    /// Removes a run and its index entries; `false` when it was not there.
    pub fn remove(&mut self, run_id: &str) -> Result<bool> {
        self.changed = true;
        if let Some(build) = &mut self.first_build
            && !build.written.contains(run_id)
        {
            return Ok(build.pending.remove_run(run_id));
        }
        let old = self.reindex(run_id, None)?;
        let err = |e| Error::store(&self.path, e);
        if let Some(old) = old {
            self.runs.remove((old, run_id)).map_err(err)?;
        }
        self.hot.remove(run_id).map_err(err)?;
        Ok(old.is_some())
    }

    /// Brings the index entries of `run_id` from those of its stored record
    /// to those of `new` (none when `None`), touching only the entries that
    /// differ: a rescan that changes a metric rewrites no index. Returns
    /// the order of the stored record's key in the runs table, if one was
    /// stored (see `run_key`); `None` too for a record whose hot row cannot
    /// be read at all, which is swept from the runs table.
    fn reindex(&mut self, run_id: &str, new: Option<&Hot>) -> Result<Option<u64>> {
        // Only runs written to the tables get here (see `upsert`).
        let (old, stored) = match self.hot(run_id) {
            Ok(old) => {
                let stored = old.as_ref().map(|h| created_order(h.created_at));
                (old, stored)
            }
            // An undecodable record is replaced; its stale index entries are
            // found by a sweep of the indexes. Its key, from the head of its
            // hot row if that still reads (a damaged key list spoils names,
            // not times), else by a pass over the runs table.
            Err(_) => {
                self.sweep_indexes(run_id)?;
                let stored = self.key_order(run_id).ok().flatten();
                if stored.is_none() {
                    self.sweep_records(run_id)?;
                }
                (None, stored)
            }
        };
        let path = &self.path;
        let err = |e: redb::StorageError| Error::store(path, e);
        let no_tags: &[String] = &[];
        let old_tags = old.as_ref().map_or(no_tags, |h| h.tags.as_slice());
        let new_tags = new.map_or(no_tags, |h| h.tags.as_slice());
        // Sets, not slices: a run may hold a million tags, and looking each
        // up in the other list would be quadratic. A repeated tag is one
        // index entry (the multimap keeps one), so the sets lose nothing.
        let old_set: FxHashSet<&str> = old_tags.iter().map(String::as_str).collect();
        let new_set: FxHashSet<&str> = new_tags.iter().map(String::as_str).collect();
        for &tag in old_set.iter().filter(|t| !new_set.contains(*t)) {
            self.by_tag.remove(tag, run_id).map_err(err)?;
        }
        for &tag in new_set.iter().filter(|t| !old_set.contains(*t)) {
            self.by_tag.insert(tag, run_id).map_err(err)?;
        }
        let old_status = old.as_ref().map(|h| h.status.as_str());
        let new_status = new.map(|h| h.status.as_str());
        if old_status != new_status {
            if let Some(status) = old_status {
                self.by_status.remove(status, run_id).map_err(err)?;
            }
            if let Some(status) = new_status {
                self.by_status.insert(status, run_id).map_err(err)?;
            }
        }
        let old_updated = old.as_ref().map(|h| updated_key(h.updated_at));
        let new_updated = new.map(|h| updated_key(h.updated_at));
        if old_updated != new_updated {
            if let Some(key) = old_updated {
                self.by_updated.remove((key, run_id)).map_err(err)?;
            }
            if let Some(key) = new_updated {
                self.by_updated.insert((key, run_id), ()).map_err(err)?;
            }
        }
        Ok(stored)
    }

    /// Removes every index entry naming `run_id`, whatever its key: the slow
    /// path for a record that cannot be decoded.
    fn sweep_indexes(&mut self, run_id: &str) -> Result<()> {
        for table in [&mut self.by_tag, &mut self.by_status] {
            let mut keys = Vec::new();
            for entry in table.iter().map_err(|e| Error::store(&self.path, e))? {
                let (key, values) = entry.map_err(|e| Error::store(&self.path, e))?;
                for value in values {
                    let value = value.map_err(|e| Error::store(&self.path, e))?;
                    if value.value() == run_id {
                        keys.push(key.value().to_owned());
                    }
                }
            }
            for key in keys {
                table
                    .remove(key.as_str(), run_id)
                    .map_err(|e| Error::store(&self.path, e))?;
            }
        }
        let mut stale = Vec::new();
        for entry in self
            .by_updated
            .iter()
            .map_err(|e| Error::store(&self.path, e))?
        {
            let (key, _) = entry.map_err(|e| Error::store(&self.path, e))?;
            let (ns, id) = key.value();
            if id == run_id {
                stale.push(ns);
            }
        }
        for ns in stale {
            self.by_updated
                .remove((ns, run_id))
                .map_err(|e| Error::store(&self.path, e))?;
        }
        Ok(())
    }

    /// The order of `run_id`'s key in the runs table, read from the head of
    /// its stored hot row (status and times, no names: a damaged key list
    /// does not hide it); `None` when no row is stored.
    fn key_order(&self, run_id: &str) -> Result<Option<u64>> {
        let Some(row) = self.hot.get(run_id).map_err(|e| self.err(e))? else {
            return Ok(None);
        };
        let head = RecordBytes::new(row.value(), &self.dictionary).hot_ref(false);
        head.map(|hot| Some(created_order(hot.created_at)))
            .map_err(|e| Error::corrupt_record(&self.path, run_id, e))
    }

    /// Removes every record of `run_id` from the runs table, whatever its
    /// key: a pass over the whole table.
    fn sweep_records(&mut self, run_id: &str) -> Result<()> {
        let mut stale = Vec::new();
        for entry in self.runs.iter().map_err(|e| Error::store(&self.path, e))? {
            let (key, _) = entry.map_err(|e| Error::store(&self.path, e))?;
            let (order, id) = key.value();
            if id == run_id {
                stale.push(order);
            }
        }
        for order in stale {
            self.runs
                .remove((order, run_id))
                .map_err(|e| Error::store(&self.path, e))?;
        }
        Ok(())
    }

    /// The run ids whose status is `status`, sorted.
    pub fn run_ids_with_status(&self, status: &str) -> Result<Vec<String>> {
        let mut ids = Vec::new();
        for id in self.by_status.get(status).map_err(|e| self.err(e))? {
            ids.push(id.map_err(|e| self.err(e))?.value().to_owned());
        }
        if let Some(pending) = self.pending() {
            let held = pending.runs.iter().filter(|(_, r)| r.keys.status == status);
            ids.extend(held.map(|(id, _)| id.to_string()));
            ids.sort_unstable();
        }
        Ok(ids)
    }

    pub fn meta(&self, key: &str) -> Result<Option<Vec<u8>>> {
        Ok(self
            .meta
            .get(key)
            .map_err(|e| Error::store(&self.path, e))?
            .map(|v| v.value().to_vec()))
    }

    pub fn set_meta(&mut self, key: &str, value: &[u8]) -> Result<()> {
        self.changed = true;
        self.meta
            .insert(key, value)
            .map_err(|e| Error::store(&self.path, e))?;
        Ok(())
    }

    /// A float kept in the meta table (scan times).
    pub fn meta_f64(&self, key: &str) -> Result<Option<f64>> {
        Ok(self.meta(key)?.and_then(|b| codec::decode_plain(&b).ok()))
    }

    pub fn set_meta_f64(&mut self, key: &str, value: f64) -> Result<()> {
        self.set_meta(key, &codec::encode_plain(&value))
    }
}

impl Remembers for Writer<'_> {
    fn no_runs(&self) -> Result<bool> {
        self.is_empty()
    }

    fn file_states(&self) -> Result<FileStates> {
        self.files()
    }

    fn dir_states(&self) -> Result<FxHashMap<Vec<u8>, DirState>> {
        self.dirs()
    }

    fn meta_float(&self, key: &str) -> Result<Option<f64>> {
        self.meta_f64(key)
    }
}

#[cfg(test)]
impl Writer<'_> {
    /// Stores arbitrary bytes as a run's record, indexed under `tag`: a
    /// corrupt record for tests.
    /// Overwrites the stored key list `id` with arbitrary bytes: a damaged
    /// dictionary for tests.
    pub fn put_raw_key_list(&mut self, id: u32, bytes: &[u8]) -> Result<()> {
        self.changed = true;
        self.key_lists
            .insert(id, bytes)
            .map_err(|e| Error::store(&self.path, e))?;
        Ok(())
    }

    /// The number of stored key lists, and the size of `run_id`'s record.
    pub fn key_lists_and_record_len(&self, run_id: &str) -> Result<(u64, Option<usize>)> {
        let lists = self.key_lists.len().map_err(|e| self.err(e))?;
        if let Some(held) = self.pending().and_then(|p| p.runs.get(run_id)) {
            return Ok((lists, Some(held.record.len())));
        }
        let Some(order) = self.key_order(run_id)? else {
            return Ok((lists, None));
        };
        let record = self.runs.get((order, run_id)).map_err(|e| self.err(e))?;
        Ok((lists, record.map(|r| r.value().len())))
    }

    pub fn put_raw_record(&mut self, run_id: &str, tag: &str, bytes: &[u8]) -> Result<()> {
        self.changed = true;
        if let Some(build) = &mut self.first_build {
            build.pending.remove_run(run_id);
            build.written.insert(run_id.into());
        }
        // In place of its record, under the key its hot part gives if that
        // can be read (a reader finds it there), else first.
        self.sweep_records(run_id)?;
        let order = RecordBytes::new(bytes, &self.dictionary)
            .hot()
            .map_or(0, |hot| created_order(hot.created_at));
        self.runs
            .insert((order, run_id), bytes)
            .map_err(|e| Error::store(&self.path, e))?;
        self.hot
            .insert(run_id, bytes)
            .map_err(|e| Error::store(&self.path, e))?;
        self.by_tag
            .insert(tag, run_id)
            .map_err(|e| Error::store(&self.path, e))?;
        self.by_status
            .insert("running", run_id)
            .map_err(|e| Error::store(&self.path, e))?;
        Ok(())
    }
}
