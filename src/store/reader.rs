//! Reading the cache: point lookups, index lookups and full passes.

use std::path::{Path, PathBuf};

use redb::{
    ReadOnlyMultimapTable, ReadOnlyTable, ReadTransaction, ReadableMultimapTable, ReadableTable,
    ReadableTableMetadata, TableError,
};

use super::codec::{self, RecordBytes};
use super::tables::{BY_STATUS, BY_TAG, META, RUNS};
use crate::error::{Error, Result};

/// The tables of one read snapshot.
pub(crate) struct Reader<'txn> {
    path: PathBuf,
    runs: ReadOnlyTable<&'static str, &'static [u8]>,
    by_tag: ReadOnlyMultimapTable<&'static str, &'static str>,
    by_status: ReadOnlyMultimapTable<&'static str, &'static str>,
    meta: ReadOnlyTable<&'static str, &'static [u8]>,
    _txn: std::marker::PhantomData<&'txn ReadTransaction>,
}

impl<'txn> Reader<'txn> {
    pub(super) fn open(txn: &'txn ReadTransaction, path: &Path) -> Result<Reader<'txn>> {
        let err = |e: TableError| Error::store(path, e);
        Ok(Reader {
            path: path.to_owned(),
            runs: txn.open_table(RUNS).map_err(err)?,
            by_tag: txn.open_multimap_table(BY_TAG).map_err(err)?,
            by_status: txn.open_multimap_table(BY_STATUS).map_err(err)?,
            meta: txn.open_table(META).map_err(err)?,
            _txn: std::marker::PhantomData,
        })
    }

    fn err(&self, e: impl std::fmt::Display) -> Error {
        Error::store(&self.path, e)
    }

    /// The error for a record that cannot be decoded.
    pub fn corrupt(&self, run_id: &str, e: impl std::fmt::Display) -> Error {
        self.err(format_args!("run {run_id}: {e}"))
    }

    pub(super) fn format_version(&self) -> Result<Option<u32>> {
        match self.meta.get("format_version").map_err(|e| self.err(e))? {
            Some(bytes) => Ok(codec::decode_plain(bytes.value()).ok()),
            None => Ok(None),
        }
    }

    /// Number of runs.
    pub fn len(&self) -> Result<u64> {
        self.runs.len().map_err(|e| self.err(e))
    }

    /// Calls `visit` with the stored record of `run_id`, if any.
    pub fn with_run<T>(
        &self,
        run_id: &str,
        visit: impl FnOnce(RecordBytes<'_>) -> Result<T>,
    ) -> Result<Option<T>> {
        match self.runs.get(run_id).map_err(|e| self.err(e))? {
            Some(bytes) => visit(RecordBytes(bytes.value())).map(Some),
            None => Ok(None),
        }
    }

    /// Calls `visit` for every run, in run_id order.
    pub fn for_each_run(
        &self,
        mut visit: impl FnMut(&str, RecordBytes<'_>) -> Result<()>,
    ) -> Result<()> {
        for entry in self.runs.iter().map_err(|e| self.err(e))? {
            let (id, bytes) = entry.map_err(|e| self.err(e))?;
            visit(id.value(), RecordBytes(bytes.value()))?;
        }
        Ok(())
    }

    /// The run ids carrying `tag` (exactly), sorted.
    pub fn run_ids_with_tag(&self, tag: &str) -> Result<Vec<String>> {
        self.multimap_ids(&self.by_tag, tag)
    }

    /// The run ids whose status is `status`, sorted.
    pub fn run_ids_with_status(&self, status: &str) -> Result<Vec<String>> {
        self.multimap_ids(&self.by_status, status)
    }

    fn multimap_ids(
        &self,
        table: &ReadOnlyMultimapTable<&'static str, &'static str>,
        key: &str,
    ) -> Result<Vec<String>> {
        let mut ids = Vec::new();
        for id in table.get(key).map_err(|e| self.err(e))? {
            ids.push(id.map_err(|e| self.err(e))?.value().to_owned());
        }
        Ok(ids)
    }

    /// Every tag with the number of runs carrying it, in tag order.
    pub fn tag_counts(&self) -> Result<Vec<(String, u64)>> {
        let mut out = Vec::new();
        for entry in self.by_tag.iter().map_err(|e| self.err(e))? {
            let (tag, ids) = entry.map_err(|e| self.err(e))?;
            out.push((tag.value().to_owned(), ids.len()));
        }
        Ok(out)
    }
}
