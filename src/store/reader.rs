//! Reading the cache: point lookups, index lookups and full passes.

use std::ops::Bound;
use std::path::{Path, PathBuf};

use redb::{
    ReadOnlyMultimapTable, ReadOnlyTable, ReadTransaction, ReadableMultimapTable, ReadableTable,
    ReadableTableMetadata, TableError,
};

use parking_lot::Mutex;

use super::FORMAT_VERSION;
use super::codec::{self, RecordBytes};
use super::hot_row::hot_row;
use super::key_lists::StoredKeyLists;
use super::record_cache::{GENERATION_KEY, RecordCache};
use super::run_key::RunKey;
use super::tables::{BY_STATUS, BY_TAG, BY_UPDATED, HOT, KEY_LISTS, META, RUNS};
use crate::error::{Error, Result};

/// The error for a file whose format version (`found`) is not this runreg's.
fn other_format(path: &Path, found: Option<u32>) -> Error {
    Error::CacheFormat {
        path: path.to_owned(),
        found,
        expected: FORMAT_VERSION,
    }
}

/// The tables of one read snapshot.
pub(crate) struct Reader<'txn> {
    path: PathBuf,
    runs: ReadOnlyTable<(u64, &'static str), &'static [u8]>,
    hot: ReadOnlyTable<&'static str, &'static [u8]>,
    by_tag: ReadOnlyMultimapTable<&'static str, &'static str>,
    by_status: ReadOnlyMultimapTable<&'static str, &'static str>,
    by_updated: ReadOnlyTable<(i64, &'static str), ()>,
    meta: ReadOnlyTable<&'static str, &'static [u8]>,
    key_lists: StoredKeyLists,
    records: &'txn Mutex<RecordCache>,
    _txn: std::marker::PhantomData<&'txn ReadTransaction>,
}

impl<'txn> Reader<'txn> {
    /// The tables of `txn`, once its format version is found to be this
    /// runreg's: a file of another version may lack tables, or hold them in
    /// another layout.
    pub(super) fn open(
        txn: &'txn ReadTransaction,
        path: &Path,
        records: &'txn Mutex<RecordCache>,
    ) -> Result<Reader<'txn>> {
        let err = |e: TableError| Error::store(path, e);
        let meta = match txn.open_table(META) {
            Ok(meta) => meta,
            Err(TableError::TableDoesNotExist(_)) => return Err(other_format(path, None)),
            Err(e) => return Err(err(e)),
        };
        let version = match meta
            .get("format_version")
            .map_err(|e| Error::store(path, e))?
        {
            Some(bytes) => codec::decode_plain(bytes.value()).ok(),
            None => None,
        };
        if version != Some(FORMAT_VERSION) {
            return Err(other_format(path, version));
        }
        Ok(Reader {
            path: path.to_owned(),
            runs: txn.open_table(RUNS).map_err(err)?,
            hot: txn.open_table(HOT).map_err(err)?,
            by_tag: txn.open_multimap_table(BY_TAG).map_err(err)?,
            by_status: txn.open_multimap_table(BY_STATUS).map_err(err)?,
            by_updated: txn.open_table(BY_UPDATED).map_err(err)?,
            meta,
            key_lists: StoredKeyLists::new(txn.open_table(KEY_LISTS).map_err(err)?)
                .map_err(|e| Error::store(path, e))?,
            records,
            _txn: std::marker::PhantomData,
        })
    }

    fn err(&self, e: impl Into<redb::Error>) -> Error {
        Error::store(&self.path, e)
    }

    /// The error for a record that cannot be decoded.
    pub fn corrupt(&self, run_id: &str, e: impl std::fmt::Display) -> Error {
        Error::corrupt_record(&self.path, run_id, e)
    }

    /// The stamp of the last write transaction (see [`RecordCache`]); `None`
    /// for a cache written before stamps, or an unreadable one.
    pub(crate) fn generation(&self) -> Result<Option<u64>> {
        match self.meta.get(GENERATION_KEY).map_err(|e| self.err(e))? {
            Some(bytes) => Ok(codec::decode_plain(bytes.value()).ok()),
            None => Ok(None),
        }
    }

    /// The stored key lists records may name.
    pub fn key_lists(&self) -> &StoredKeyLists {
        &self.key_lists
    }

    /// Number of runs.
    pub fn len(&self) -> Result<u64> {
        self.runs.len().map_err(|e| self.err(e))
    }

    /// The key of `run_id`'s record in the runs table, read from its hot
    /// row; `None` when the run is not cached.
    pub fn key_of<'a>(&self, run_id: &'a str) -> Result<Option<RunKey<'a>>> {
        match self.hot.get(run_id).map_err(|e| self.err(e))? {
            Some(row) => RecordBytes::new(row.value(), &self.key_lists)
                .hot_ref(false)
                .map(|hot| Some(RunKey::new(hot.created_at, run_id)))
                .map_err(|e| self.corrupt(run_id, e)),
            None => Ok(None),
        }
    }

    /// Calls `visit` with the stored record of `run_id`, if any: its key
    /// is looked up first (see [`Reader::key_of`]).
    pub fn with_run<T>(
        &self,
        run_id: &str,
        visit: impl FnOnce(RecordBytes<'_>) -> Result<T>,
    ) -> Result<Option<T>> {
        match self.key_of(run_id)? {
            Some(key) => self.with_run_at(key, visit),
            None => Ok(None),
        }
    }

    /// Calls `visit` with the record stored under `key`, if any.
    pub fn with_run_at<T>(
        &self,
        key: RunKey<'_>,
        visit: impl FnOnce(RecordBytes<'_>) -> Result<T>,
    ) -> Result<Option<T>> {
        let found = self.runs.get((key.order, key.run_id));
        match found.map_err(|e| self.err(e))? {
            Some(bytes) => visit(RecordBytes::new(bytes.value(), &self.key_lists)).map(Some),
            None => Ok(None),
        }
    }

    /// [`Reader::with_run`] for a lookup by id that is likely to be repeated
    /// (`get`): the record is kept, and taken from what was kept, while the
    /// cache is unchanged.
    pub fn with_run_kept<T>(
        &self,
        run_id: &str,
        visit: impl FnOnce(RecordBytes<'_>) -> Result<T>,
    ) -> Result<Option<T>> {
        let kept = self.records.lock().get(run_id);
        let bytes = match kept {
            Some(bytes) => bytes,
            None => {
                let keep =
                    |record: RecordBytes<'_>| Ok(self.records.lock().insert(run_id, record.bytes));
                match self.with_run(run_id, keep)? {
                    Some(bytes) => bytes,
                    None => return Ok(None),
                }
            }
        };
        visit(RecordBytes::new(&bytes, &self.key_lists)).map(Some)
    }

    /// Calls `visit` with the hot section of `run_id` (in the record framing:
    /// only [`RecordBytes::hot_ref`] and [`RecordBytes::hot`] apply), if any.
    pub fn with_hot<T>(
        &self,
        run_id: &str,
        visit: impl FnOnce(RecordBytes<'_>) -> Result<T>,
    ) -> Result<Option<T>> {
        match self.hot.get(run_id).map_err(|e| self.err(e))? {
            Some(bytes) => visit(RecordBytes::new(bytes.value(), &self.key_lists)).map(Some),
            None => Ok(None),
        }
    }

    /// Calls `visit` with the hot row of every run whose id is in
    /// `from..to` (`None`: unbounded), in run_id order.
    pub fn for_each_hot_in(
        &self,
        from: Option<&str>,
        to: Option<&str>,
        mut visit: impl FnMut(&str, RecordBytes<'_>) -> Result<()>,
    ) -> Result<()> {
        let bounds = (
            from.map_or(Bound::Unbounded, Bound::Included),
            to.map_or(Bound::Unbounded, Bound::Excluded),
        );
        for entry in self.hot.range::<&str>(bounds).map_err(|e| self.err(e))? {
            let (id, bytes) = entry.map_err(|e| self.err(e))?;
            visit(id.value(), RecordBytes::new(bytes.value(), &self.key_lists))?;
        }
        Ok(())
    }

    /// Up to `parts - 1` run ids, sorted and distinct, that cut the runs
    /// into about `parts` ranges of about as many runs, for passes on
    /// several threads: spread evenly between the first and last id (as
    /// numbers of their first eight bytes after the prefix they share),
    /// which suits ids drawn at random, as most are. Any cut is correct;
    /// only the balance depends on the ids.
    pub fn run_id_cuts(&self, parts: usize) -> Result<Vec<String>> {
        let first = self.hot.first().map_err(|e| self.err(e))?;
        let first = first.map(|(id, _)| id.value().to_owned());
        let last = self.hot.last().map_err(|e| self.err(e))?;
        let last = last.map(|(id, _)| id.value().to_owned());
        Ok(match (first, last) {
            (Some(first), Some(last)) => cuts_between(&first, &last, parts),
            _ => Vec::new(),
        })
    }

    /// Calls `visit` for every run, in the table's order (newest first).
    pub fn for_each_run(
        &self,
        mut visit: impl FnMut(RunKey<'_>, RecordBytes<'_>) -> Result<()>,
    ) -> Result<()> {
        for entry in self.runs.iter().map_err(|e| self.err(e))? {
            let (key, bytes) = entry.map_err(|e| self.err(e))?;
            let (order, run_id) = key.value();
            let bytes = RecordBytes::new(bytes.value(), &self.key_lists);
            visit(RunKey { order, run_id }, bytes)?;
        }
        Ok(())
    }

    /// Up to `max` run ids starting with `prefix`, sorted.
    pub fn run_ids_with_prefix(&self, prefix: &str, max: usize) -> Result<Vec<String>> {
        let mut ids = Vec::new();
        for entry in self.hot.range(prefix..).map_err(|e| self.err(e))? {
            let (id, _) = entry.map_err(|e| self.err(e))?;
            let id = id.value();
            if !id.starts_with(prefix) || ids.len() == max {
                break;
            }
            ids.push(id.to_owned());
        }
        Ok(ids)
    }

    /// The run ids whose `updated_at` may lie in `[from, to]` (epoch
    /// seconds; the bounds are widened by the index's nanosecond rounding,
    /// so callers check the exact value), sorted.
    pub fn run_ids_updated_between(&self, from: f64, to: f64) -> Result<Vec<String>> {
        let low = (super::tables::updated_key(from).saturating_sub(1), "");
        let high = super::tables::updated_key(to).saturating_add(1);
        let mut ids = Vec::new();
        for entry in self.by_updated.range(low..).map_err(|e| self.err(e))? {
            let (key, _) = entry.map_err(|e| self.err(e))?;
            let (ns, id) = key.value();
            if ns > high {
                break;
            }
            ids.push(id.to_owned());
        }
        ids.sort_unstable();
        Ok(ids)
    }

    /// The run ids carrying `tag` (exactly), sorted.
    pub fn run_ids_with_tag(&self, tag: &str) -> Result<Vec<String>> {
        self.multimap_ids(&self.by_tag, tag)
    }

    /// The run ids whose status is `status`, sorted.
    pub fn run_ids_with_status(&self, status: &str) -> Result<Vec<String>> {
        self.multimap_ids(&self.by_status, status)
    }

    /// Number of runs carrying `tag`, without reading them.
    pub fn count_with_tag(&self, tag: &str) -> Result<u64> {
        Ok(self.by_tag.get(tag).map_err(|e| self.err(e))?.len())
    }

    /// Number of runs whose status is `status`, without reading them.
    pub fn count_with_status(&self, status: &str) -> Result<u64> {
        Ok(self.by_status.get(status).map_err(|e| self.err(e))?.len())
    }

    /// Calls `visit` with the record of each of `keys` (sorted, unique:
    /// in the table's order, or backwards) that exists, with its index in
    /// `keys`, in that order, in one pass over the runs table from the
    /// first key to the last: cheaper than a lookup each when they are a
    /// good part of that range.
    pub fn for_each_run_of(
        &self,
        keys: &[RunKey<'_>],
        visit: impl FnMut(usize, &str, RecordBytes<'_>) -> Result<()>,
    ) -> Result<()> {
        let backwards = matches!((keys.first(), keys.last()), (Some(a), Some(b)) if a > b);
        self.pass_over(keys, backwards, visit)
    }

    fn pass_over(
        &self,
        keys: &[RunKey<'_>],
        backwards: bool,
        mut visit: impl FnMut(usize, &str, RecordBytes<'_>) -> Result<()>,
    ) -> Result<()> {
        let (Some(&first), Some(&last)) = (keys.first(), keys.last()) else {
            return Ok(());
        };
        let (low, high) = if backwards {
            (last, first)
        } else {
            (first, last)
        };
        let range = self
            .runs
            .range((low.order, low.run_id)..=(high.order, high.run_id))
            .map_err(|e| self.err(e))?;
        let entries: Box<dyn Iterator<Item = _>> = match backwards {
            true => Box::new(range.rev()),
            false => Box::new(range),
        };
        // Whether wanted key `w` comes before `key` in the pass.
        let before = |w: &RunKey<'_>, key: &RunKey<'_>| if backwards { w > key } else { w < key };
        let mut wanted = keys.iter().enumerate().peekable();
        for entry in entries {
            let (key, bytes) = entry.map_err(|e| self.err(e))?;
            let (order, run_id) = key.value();
            let key = RunKey { order, run_id };
            while wanted.next_if(|(_, w)| before(w, &key)).is_some() {}
            match wanted.peek() {
                None => break,
                Some((i, w)) if **w == key => {
                    visit(*i, run_id, RecordBytes::new(bytes.value(), &self.key_lists))?;
                    wanted.next();
                }
                Some(_) => {}
            }
        }
        Ok(())
    }

    /// Calls `visit` with the hot row (see `hot_row`, a fraction of the
    /// record) of each of `run_ids` (sorted, unique) that exists, with its
    /// index in `run_ids`, in one ordered pass over the hot table.
    pub fn for_each_hot_of(
        &self,
        run_ids: &[&str],
        mut visit: impl FnMut(usize, &str, RecordBytes<'_>) -> Result<()>,
    ) -> Result<()> {
        let Some(first) = run_ids.first() else {
            return Ok(());
        };
        let mut wanted = run_ids.iter().enumerate().peekable();
        for entry in self.hot.range(*first..).map_err(|e| self.err(e))? {
            let (id, bytes) = entry.map_err(|e| self.err(e))?;
            let id = id.value();
            while wanted.next_if(|(_, w)| **w < id).is_some() {}
            match wanted.peek() {
                None => break,
                Some((i, w)) if **w == id => {
                    visit(*i, id, RecordBytes::new(bytes.value(), &self.key_lists))?;
                    wanted.next();
                }
                Some(_) => {}
            }
        }
        Ok(())
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

impl Reader<'_> {
    /// Checks the indexes against a full decode of every record: the
    /// invariant stated in `tables`. Returns what disagrees.
    pub fn verify_indexes(&self) -> Result<Vec<String>> {
        use std::collections::BTreeSet;

        use super::tables::updated_key;
        let mut want_tags = BTreeSet::new();
        let mut want_status = BTreeSet::new();
        let mut want_updated = BTreeSet::new();
        let mut problems = Vec::new();
        self.for_each_run(|key, bytes| {
            let id = key.run_id;
            match bytes.hot() {
                Ok(hot) => {
                    if RunKey::new(hot.created_at, id) != key {
                        problems.push(format!("runs table: run {id} is not under its created_at"));
                    }
                    for tag in &hot.tags {
                        want_tags.insert((tag.clone(), id.to_owned()));
                    }
                    want_status.insert((hot.status.as_str().to_owned(), id.to_owned()));
                    want_updated.insert((updated_key(hot.updated_at), id.to_owned()));
                }
                Err(e) => problems.push(format!("run {id}: {e}")),
            }
            Ok(())
        })?;
        let mut have_tags = BTreeSet::new();
        let mut have_status = BTreeSet::new();
        for (table, have) in [
            (&self.by_tag, &mut have_tags),
            (&self.by_status, &mut have_status),
        ] {
            for entry in table.iter().map_err(|e| self.err(e))? {
                let (key, ids) = entry.map_err(|e| self.err(e))?;
                for id in ids {
                    let id = id.map_err(|e| self.err(e))?;
                    have.insert((key.value().to_owned(), id.value().to_owned()));
                }
            }
        }
        let mut have_updated = BTreeSet::new();
        for entry in self.by_updated.iter().map_err(|e| self.err(e))? {
            let (key, _) = entry.map_err(|e| self.err(e))?;
            let (ns, id) = key.value();
            have_updated.insert((ns, id.to_owned()));
        }
        let mut hot_rows = 0u64;
        for entry in self.hot.iter().map_err(|e| self.err(e))? {
            let (id, bytes) = entry.map_err(|e| self.err(e))?;
            hot_rows += 1;
            // Compared as bytes: a NaN metric is not equal to itself.
            let in_runs = match self.with_run(id.value(), |full| Ok(hot_row(full.bytes))) {
                Ok(in_runs) => in_runs,
                Err(e) => {
                    problems.push(format!("hot table: {e}"));
                    continue;
                }
            };
            if in_runs.as_deref() != Some(bytes.value()) {
                problems.push(format!(
                    "hot table: run {} differs from its record",
                    id.value()
                ));
            }
        }
        if hot_rows != self.len()? {
            problems.push(format!(
                "hot table: {hot_rows} rows for {} runs",
                self.len()?
            ));
        }
        let mut compare =
            |name: &str, want: &dyn std::fmt::Debug, have: &dyn std::fmt::Debug, equal: bool| {
                if !equal {
                    problems.push(format!("{name} index: expected {want:?}, found {have:?}"));
                }
            };
        compare("tag", &want_tags, &have_tags, want_tags == have_tags);
        compare(
            "status",
            &want_status,
            &have_status,
            want_status == have_status,
        );
        compare(
            "updated_at",
            &want_updated,
            &have_updated,
            want_updated == have_updated,
        );
        Ok(problems)
    }
}

/// Up to `parts - 1` distinct strings, sorted, evenly spread between
/// `first` and `last` (see [`Reader::run_id_cuts`]). From the first byte
/// past ASCII on, a cut's bytes are `0x7f`: that keeps the cuts in order,
/// and makes them text.
fn cuts_between(first: &str, last: &str, parts: usize) -> Vec<String> {
    let mut shared = first
        .bytes()
        .zip(last.bytes())
        .take_while(|(a, b)| a == b)
        .count();
    while !first.is_char_boundary(shared) {
        shared -= 1;
    }
    let number = |s: &str| {
        let mut bytes = [0u8; 8];
        for (to, from) in bytes.iter_mut().zip(&s.as_bytes()[shared..]) {
            *to = *from;
        }
        u64::from_be_bytes(bytes)
    };
    let (low, high) = (number(first), number(last));
    let parts = parts.max(1) as u64;
    let span = u128::from(high.saturating_sub(low));
    let mut cuts: Vec<String> = (1..parts)
        .map(|k| {
            let at = low + (span * u128::from(k) / u128::from(parts)) as u64;
            let mut cut = first[..shared].to_owned();
            let mut past_ascii = false;
            for byte in at.to_be_bytes() {
                past_ascii |= byte > 0x7f;
                cut.push(char::from(if past_ascii { 0x7f } else { byte }));
            }
            let end = cut.trim_end_matches('\0').len();
            cut.truncate(end);
            cut
        })
        .collect();
    cuts.dedup();
    cuts
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Ids of 12 hex digits, as stable-pretraining draws them.
    fn hex_ids(n: u64) -> Vec<String> {
        let mut ids: Vec<String> = (0..n)
            .map(|i| format!("{:012x}", i.wrapping_mul(0x9e37_79b9_7f4a_7c15) >> 16))
            .collect();
        ids.sort();
        ids
    }

    #[test]
    fn cuts_are_sorted_distinct_and_even_for_random_ids() {
        let ids = hex_ids(20_000);
        let cuts = cuts_between(&ids[0], ids.last().unwrap(), 64);
        assert!(cuts.windows(2).all(|w| w[0] < w[1]), "{cuts:?}");
        let mut sizes = vec![0usize; cuts.len() + 1];
        for id in &ids {
            sizes[cuts.partition_point(|c| c.as_str() <= id.as_str())] += 1;
        }
        // Hex digits use 16 of the 55 byte values from '0' to 'f': parts
        // over the gap hold nothing, the others about the same (~5%).
        let big = sizes.iter().max().unwrap();
        assert!(*big < ids.len() / 12, "{sizes:?}");
    }

    #[test]
    fn cuts_of_any_ids_are_text_in_order() {
        for (first, last) in [
            ("r00", "r39"),
            ("\u{e9}a", "\u{e8}z"),
            ("a\u{e9}\u{1f600}", "a\u{e9}\u{1f601}"),
            ("same", "same"),
            ("", "\u{10ffff}"),
        ] {
            let (first, last) = if first <= last {
                (first, last)
            } else {
                (last, first)
            };
            for parts in [0, 1, 2, 7, 100] {
                let cuts = cuts_between(first, last, parts);
                assert!(cuts.len() < parts.max(1), "{first:?}..{last:?}: {cuts:?}");
                assert!(cuts.windows(2).all(|w| w[0] < w[1]), "{cuts:?}");
            }
        }
        assert_eq!(cuts_between("r00", "r40", 4), ["r10", "r20", "r30"]);
    }
}
