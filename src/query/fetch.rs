//! The second pass of a query: the whole records of a page.
//!
//! Records are found by their keys in the runs table (newest first, see
//! `store::RunKey`), which the first pass puts in the page. A few runs are
//! looked up one by one; many are read in one ordered pass over the table,
//! and so are the stretches of a large answer in the table's order (each
//! from its first key to its last). A large page is decoded on every core
//! while that pass goes on: the thread reading the table copies the records into
//! batches (redb's guards borrow the transaction) and hands them to
//! decoding threads, decoding a batch itself whenever they are all busy.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc::{self, Receiver, SyncSender, TrySendError};
use std::sync::{Mutex, PoisonError};
use std::thread;

use super::{Context, Detail};
use crate::error::{Error, Result};
use crate::record::RunRecord;
use crate::status::Status;
use crate::store::{Cold, Hot, Lists, Reader, RecordBytes, RunKey, RunView};
use crate::value_map::ValueMap;

/// Whether `count` runs of `total` are enough that one pass over a whole
/// table costs less than a lookup each. Small caches always use lookups.
pub(crate) fn is_dense(count: u64, total: u64) -> bool {
    total >= 4096 && count.saturating_mul(4) > total
}

/// Pages of at least this many records are decoded on every core; below,
/// starting threads would cost about what they save.
const PARALLEL_MIN: usize = 2048;
/// Records per batch handed to a decoding thread.
const BATCH_LEN: usize = 256;

/// The records of the runs of `keys`, in that order, carrying `detail`:
/// in one ordered pass over the table when they are a good part of the
/// cache, or when `in_one_pass` says they are a stretch of such an answer
/// in the table's order ([`Page::reads_in_one_pass`](super::page::Page::reads_in_one_pass);
/// records only, not hot rows), else looked up one by one.
pub(crate) fn fetch(
    reader: &Reader<'_>,
    keys: &[RunKey<'_>],
    ctx: &Context,
    detail: Detail,
    in_one_pass: bool,
) -> Result<Vec<RunRecord>> {
    let in_one_pass = in_one_pass && detail == Detail::Full;
    if !in_one_pass && !is_dense(keys.len() as u64, reader.len()?) {
        let mut records = Vec::with_capacity(keys.len());
        for &key in keys {
            records.extend(with_bytes_of(reader, detail, key, |bytes| {
                record(reader, key.run_id, bytes, ctx, detail)
            })?);
        }
        return Ok(records);
    }
    let threads = if keys.len() >= PARALLEL_MIN {
        super::in_order::cores()
    } else {
        1
    };
    fetch_in_one_pass(reader, keys, ctx, detail, threads, BATCH_LEN)
}

/// Calls `render` with a view of each of the runs of `keys` that is
/// cached, in that order: in one pass over their range of the runs table
/// when `in_one_pass` says so (see
/// [`Page::reads_in_one_pass`](super::page::Page::reads_in_one_pass);
/// records only, not hot rows) and they come in
/// the table's order or its reverse, else looked up one by one. The views borrow the cache, so they are
/// visited where they are read. A `render` error on a record that cannot
/// be decoded is reported as that record's damage.
pub(crate) fn for_each_view(
    reader: &Reader<'_>,
    keys: &[RunKey<'_>],
    ctx: &Context,
    detail: Detail,
    in_one_pass: bool,
    mut render: impl FnMut(&RunView<'_>) -> Result<()>,
) -> Result<()> {
    if in_one_pass && detail == Detail::Full {
        let forwards = keys.windows(2).all(|w| w[0] < w[1]);
        if forwards || keys.windows(2).all(|w| w[0] > w[1]) {
            return reader.for_each_run_of(keys, |_, run_id, bytes| {
                render_view(reader, run_id, bytes, ctx, detail, &mut render)
            });
        }
    }
    for &key in keys {
        with_bytes_of(reader, detail, key, |bytes| {
            render_view(reader, key.run_id, bytes, ctx, detail, &mut render)
        })?;
    }
    Ok(())
}

/// Calls `render` with the view of run `run_id` stored as `bytes`; a
/// `render` error on a record that cannot be decoded is reported as that
/// record's damage.
pub(super) fn render_view(
    reader: &Reader<'_>,
    run_id: &str,
    bytes: RecordBytes<'_>,
    ctx: &Context,
    detail: Detail,
    render: &mut impl FnMut(&RunView<'_>) -> Result<()>,
) -> Result<()> {
    let alive = |status: &Status, beat| ctx.liveness.is_alive(status, beat, ctx.now);
    let view = RunView::new(run_id, bytes, detail == Detail::Full, alive)
        .map_err(|e| reader.corrupt(run_id, e))?;
    render(&view).map_err(|e| match record(reader, run_id, bytes, ctx, detail) {
        Err(damage) => damage,
        Ok(_) => e,
    })
}

/// A chunk's `T`: started by `start`, then made by `render` from the view of
/// each of the runs of `keys` in turn ([`for_each_view`]).
pub(crate) fn render_views<T>(
    reader: &Reader<'_>,
    keys: &[RunKey<'_>],
    ctx: &Context,
    detail: Detail,
    in_one_pass: bool,
    start: impl Fn() -> T,
    render: impl Fn(&mut T, &RunView<'_>) -> Result<()>,
) -> Result<T> {
    let mut rendered = start();
    for_each_view(reader, keys, ctx, detail, in_one_pass, |run| {
        render(&mut rendered, run)
    })?;
    Ok(rendered)
}

/// One run, whole, asked for by id: its record is kept for the next
/// snapshots while the cache is unchanged (`Reader::with_run_kept`).
pub(crate) fn get(reader: &Reader<'_>, run_id: &str, ctx: &Context) -> Result<Option<RunRecord>> {
    reader.with_run_kept(run_id, |bytes| {
        record(reader, run_id, bytes, ctx, Detail::Full)
    })
}

/// Whether run `a` comes before run `b` in the table `detail` reads: the
/// runs table is in key order, the hot table in run id order.
pub(super) fn table_order(detail: Detail, a: &RunKey<'_>, b: &RunKey<'_>) -> std::cmp::Ordering {
    match detail {
        Detail::Full => a.cmp(b),
        Detail::Summary => a.run_id.cmp(b.run_id),
    }
}

/// The records of the runs of `keys`, in that order, read in one ordered
/// pass over the runs table (the hot table for [`Detail::Summary`]) and
/// decoded on `threads` threads, `batch_len` records at a time. With one
/// thread, each record is decoded where it is read.
fn fetch_in_one_pass(
    reader: &Reader<'_>,
    keys: &[RunKey<'_>],
    ctx: &Context,
    detail: Detail,
    threads: usize,
    batch_len: usize,
) -> Result<Vec<RunRecord>> {
    let mut order: Vec<usize> = (0..keys.len()).collect();
    order.sort_unstable_by(|&a, &b| table_order(detail, &keys[a], &keys[b]));
    let sorted: Vec<RunKey<'_>> = order.iter().map(|&i| keys[i]).collect();
    let mut slots: Vec<Option<RunRecord>> = Vec::new();
    slots.resize_with(keys.len(), || None);
    if threads > 1 {
        let decoded = decode_in_parallel(reader, &sorted, ctx, detail, threads, batch_len.max(1))?;
        for (k, record) in decoded {
            slots[order[k]] = Some(record);
        }
    } else {
        for_each_of(reader, detail, &sorted, |k, run_id, bytes| {
            slots[order[k]] = Some(record(reader, run_id, bytes, ctx, detail)?);
            Ok(())
        })?;
    }
    Ok(slots.into_iter().flatten().collect())
}

/// Calls `visit` with the bytes `detail` reads of the run of `key`, if it
/// is cached: its whole record, or its hot row for [`Detail::Summary`].
pub(super) fn with_bytes_of<T>(
    reader: &Reader<'_>,
    detail: Detail,
    key: RunKey<'_>,
    visit: impl FnOnce(RecordBytes<'_>) -> Result<T>,
) -> Result<Option<T>> {
    match detail {
        Detail::Full => reader.with_run_at(key, visit),
        Detail::Summary => reader.with_hot(key.run_id, visit),
    }
}

/// [`with_bytes_of`] for each of the runs of `keys` (sorted by
/// [`table_order`], distinct) that is cached, in one ordered pass over the
/// table `detail` reads.
pub(super) fn for_each_of(
    reader: &Reader<'_>,
    detail: Detail,
    keys: &[RunKey<'_>],
    visit: impl FnMut(usize, &str, RecordBytes<'_>) -> Result<()>,
) -> Result<()> {
    match detail {
        Detail::Full => reader.for_each_run_of(keys, visit),
        Detail::Summary => {
            let ids: Vec<&str> = keys.iter().map(|key| key.run_id).collect();
            reader.for_each_hot_of(&ids, visit)
        }
    }
}

/// The record of `bytes` (a whole record, or a hot row for
/// [`Detail::Summary`]), carrying `detail`.
fn record(
    reader: &Reader<'_>,
    run_id: &str,
    bytes: RecordBytes<'_>,
    ctx: &Context,
    detail: Detail,
) -> Result<RunRecord> {
    let corrupt = |e| reader.corrupt(run_id, e);
    let hot = bytes.hot().map_err(corrupt)?;
    let (hparams, cold) = match detail {
        Detail::Full => (
            bytes.hparams().map_err(corrupt)?,
            bytes.cold().map_err(corrupt)?,
        ),
        Detail::Summary => (
            ValueMap::new(),
            Cold {
                run_dir: String::new(),
                checkpoint_path: None,
                notes: String::new(),
                config: ValueMap::new(),
            },
        ),
    };
    Ok(into_record(run_id, hot, hparams, cold, ctx))
}

fn into_record(run_id: &str, hot: Hot, hparams: ValueMap, cold: Cold, ctx: &Context) -> RunRecord {
    RunRecord {
        run_id: run_id.to_owned(),
        alive: ctx
            .liveness
            .is_alive(&hot.status, hot.heartbeat_at, ctx.now),
        status: hot.status,
        created_at: hot.created_at,
        updated_at: hot.updated_at,
        ended_at: hot.ended_at,
        run_dir: cold.run_dir,
        checkpoint_path: cold.checkpoint_path,
        config: cold.config,
        hparams,
        summary: hot.summary,
        tags: hot.tags,
        notes: cold.notes,
        heartbeat_at: hot.heartbeat_at,
    }
}

/// The records of the runs of `keys` (sorted by [`table_order`]) that
/// exist, each with its index in `keys`, in no particular order, decoded
/// on `threads` threads.
///
/// Fails as the sequential pass would: with the error of the first record
/// (in the table's order) that cannot be decoded, else with the table's error.
/// A panic on a decoding thread is resumed on this one, once every thread
/// has stopped.
fn decode_in_parallel(
    reader: &Reader<'_>,
    keys: &[RunKey<'_>],
    ctx: &Context,
    detail: Detail,
    threads: usize,
    batch_len: usize,
) -> Result<Vec<(usize, RunRecord)>> {
    let decoding = Decoding {
        reader,
        keys,
        ctx,
        detail,
        failed: AtomicUsize::new(usize::MAX),
    };
    let (sender, receiver) = mpsc::sync_channel(2 * threads);
    let queue = Mutex::new(receiver);
    let (pass, outcomes) = thread::scope(|scope| {
        let work = || {
            let mut decoded = Decoded::default();
            while let Some(batch) = next_batch(&queue) {
                decoding.decode(&batch, &mut decoded);
            }
            decoded
        };
        // A thread the system refuses is one helper fewer: this thread
        // decodes whatever the others do not take.
        let helpers: Vec<_> = (1..threads)
            .filter_map(|_| thread::Builder::new().spawn_scoped(scope, work).ok())
            .collect();
        let mut decoded = Decoded::default();
        // `sender` is dropped when the pass ends (or unwinds), which lets
        // the helpers finish once the queue is empty.
        let pass = read_batches(&decoding, sender, batch_len, &mut decoded);
        while let Some(batch) = next_batch(&queue) {
            decoding.decode(&batch, &mut decoded);
        }
        let mut outcomes = vec![Ok(decoded)];
        outcomes.extend(helpers.into_iter().map(|helper| helper.join()));
        (pass, outcomes)
    });
    let mut records = Vec::with_capacity(keys.len());
    let mut first_error: Option<(usize, Error)> = None;
    for outcome in outcomes {
        let decoded = outcome.unwrap_or_else(|panic| std::panic::resume_unwind(panic));
        records.extend(decoded.records);
        if let Some((batch, e)) = decoded.error
            && first_error.as_ref().is_none_or(|(first, _)| batch < *first)
        {
            first_error = Some((batch, e));
        }
    }
    // An undecodable record comes before the table's error, if any: every
    // batch was read before the pass failed.
    if let Some((_, e)) = first_error {
        return Err(e);
    }
    pass?;
    Ok(records)
}

/// Records copied out of the database, for any thread to decode.
struct Batch {
    /// The batch's place in the pass.
    index: usize,
    /// The records, back to back.
    bytes: Vec<u8>,
    /// Per record: its index in the run ids, and where its bytes end.
    records: Vec<(usize, usize)>,
}

impl Batch {
    fn new(index: usize, bytes_capacity: usize, len: usize) -> Batch {
        Batch {
            index,
            bytes: Vec::with_capacity(bytes_capacity),
            records: Vec::with_capacity(len),
        }
    }

    fn push(&mut self, k: usize, bytes: &[u8]) {
        self.bytes.extend_from_slice(bytes);
        self.records.push((k, self.bytes.len()));
    }

    /// The records, read with the key lists of `lists`.
    fn iter<'a>(&'a self, lists: Lists<'a>) -> impl Iterator<Item = (usize, RecordBytes<'a>)> {
        let mut start = 0;
        self.records.iter().map(move |&(k, end)| {
            let bytes = &self.bytes[start..end];
            start = end;
            (k, RecordBytes::new(bytes, lists))
        })
    }
}

/// What the decoding threads share.
struct Decoding<'a, 'txn> {
    reader: &'a Reader<'txn>,
    keys: &'a [RunKey<'a>],
    ctx: &'a Context,
    detail: Detail,
    /// The index of the earliest batch known to hold an undecodable record
    /// (`usize::MAX` while none is): later batches cannot hold the error to
    /// report, so they are neither read nor decoded.
    failed: AtomicUsize,
}

/// What one thread decoded.
#[derive(Default)]
struct Decoded {
    records: Vec<(usize, RunRecord)>,
    /// The error of the earliest batch this thread found one in, with the
    /// batch's index.
    error: Option<(usize, Error)>,
}

impl Decoding<'_, '_> {
    fn has_failed(&self) -> bool {
        self.failed.load(Ordering::Relaxed) != usize::MAX
    }

    fn has_failed_before(&self, batch: usize) -> bool {
        self.failed.load(Ordering::Relaxed) < batch
    }

    /// Decodes `batch` into `out`, up to its first undecodable record.
    fn decode(&self, batch: &Batch, out: &mut Decoded) {
        if self.has_failed_before(batch.index) {
            return;
        }
        for (k, bytes) in batch.iter(self.reader.key_lists()) {
            match record(
                self.reader,
                self.keys[k].run_id,
                bytes,
                self.ctx,
                self.detail,
            ) {
                Ok(record) => out.records.push((k, record)),
                Err(e) => {
                    self.failed.fetch_min(batch.index, Ordering::Relaxed);
                    if out.error.as_ref().is_none_or(|(i, _)| batch.index < *i) {
                        out.error = Some((batch.index, e));
                    }
                    return;
                }
            }
        }
    }
}

/// The pass over the runs table: copies the records into batches of
/// `batch_len` and queues each for the helpers, or decodes it here when the
/// queue is full. Never waits on the helpers, so it finishes even if none
/// is left.
fn read_batches(
    decoding: &Decoding<'_, '_>,
    sender: SyncSender<Batch>,
    batch_len: usize,
    decoded: &mut Decoded,
) -> Result<()> {
    let mut batch = Batch::new(0, 0, batch_len);
    let mut hand_off = |full: Batch| match sender.try_send(full) {
        Ok(()) => {}
        Err(TrySendError::Full(full) | TrySendError::Disconnected(full)) => {
            decoding.decode(&full, decoded);
        }
    };
    let pass = for_each_of(
        decoding.reader,
        decoding.detail,
        decoding.keys,
        |k, _, bytes| {
            // After an undecodable record the pass goes on (it cannot stop
            // early without an error of its own) but copies nothing.
            if decoding.has_failed() {
                return Ok(());
            }
            batch.push(k, bytes.bytes);
            if batch.records.len() == batch_len {
                let next = Batch::new(batch.index + 1, batch.bytes.len(), batch_len);
                hand_off(std::mem::replace(&mut batch, next));
            }
            Ok(())
        },
    );
    decoding.decode(&batch, decoded);
    pass
}

/// The next queued batch, waiting for one; `None` once the pass is over and
/// the queue empty.
fn next_batch(queue: &Mutex<Receiver<Batch>>) -> Option<Batch> {
    // No thread panics while holding the lock (`recv` does not), but a
    // poisoned queue is still a sound one.
    let receiver = queue.lock().unwrap_or_else(PoisonError::into_inner);
    receiver.recv().ok()
}

#[cfg(test)]
pub(crate) mod tests {
    use std::time::Duration;

    use super::*;
    use crate::liveness::Liveness;
    use crate::status::Status;
    use crate::store::{Store, StoredRun};
    use crate::value::Value;

    pub(crate) fn ctx() -> Context {
        Context {
            liveness: Liveness::default(),
            now: 0.0,
        }
    }

    /// Runs that differ in every section, so a record decoded for the wrong
    /// run id or placed in the wrong slot shows.
    fn run(i: usize) -> StoredRun {
        let n = i as f64;
        StoredRun {
            hot: Hot {
                status: Status::KNOWN[i % 5].clone(),
                created_at: n,
                updated_at: n + 1.0,
                ended_at: i.is_multiple_of(3).then_some(n + 2.0),
                heartbeat_at: i.is_multiple_of(4).then_some(n + 3.0),
                tags: (0..i % 3).map(|t| format!("t{t}")).collect(),
                summary: [
                    ("acc", Value::Float(n / 1000.0)),
                    ("step", Value::Int(i as i64)),
                ]
                .into(),
            },
            hparams: [
                ("lr", Value::Float(1.0 / (n + 1.0))),
                ("name", Value::from(format!("h{i}"))),
            ]
            .into(),
            cold: Cold {
                run_dir: format!("/runs/{i}"),
                checkpoint_path: i.is_multiple_of(2).then(|| format!("/ckpt/{i}")),
                notes: "x".repeat(i % 7),
                config: [(
                    "model",
                    Value::Map(vec![("depth".into(), Value::Int(i as i64 % 13))]),
                )]
                .into(),
            },
        }
    }

    /// The keys of runs `ids` in the cache `r` reads: a run not cached, or
    /// whose hot row cannot be read, is given order 0 (where a record
    /// that cannot be read is stored).
    pub(crate) fn keys_in<'a>(r: &Reader<'_>, ids: &[&'a str]) -> Vec<RunKey<'a>> {
        ids.iter()
            .map(|&run_id| {
                let order = r.key_of(run_id).ok().flatten().map_or(0, |k| k.order);
                RunKey { order, run_id }
            })
            .collect()
    }

    /// A store of `count` runs `r0000`, `r0001`, ..., where the runs named
    /// in `corrupt` have undecodable records.
    pub(crate) fn store(count: usize, corrupt: &[usize]) -> (tempfile::TempDir, Store) {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::new(dir.path().join("c.redb"), Duration::from_secs(5));
        store
            .write(|w, _| {
                for i in 0..count {
                    let id = format!("r{i:04}");
                    if corrupt.contains(&i) {
                        w.put_raw_record(&id, "broken", b"\xff\xff garbage")?;
                    } else {
                        w.upsert(&id, &run(i))?;
                    }
                }
                Ok(())
            })
            .unwrap();
        (dir, store)
    }

    /// The JSON text of the views of `keys`, one per run, as
    /// [`for_each_view`] gives them.
    fn views(r: &Reader<'_>, keys: &[RunKey<'_>], in_one_pass: bool) -> Result<Vec<String>> {
        let mut seen = Vec::new();
        for_each_view(r, keys, &ctx(), Detail::Full, in_one_pass, |run| {
            seen.push(serde_json::to_string(run).unwrap());
            Ok(())
        })?;
        Ok(seen)
    }

    /// Every run's key, in the runs table's order (owned: keys borrow it).
    fn table_keys(r: &Reader<'_>) -> Result<Vec<(u64, String)>> {
        let mut table = Vec::new();
        r.for_each_run(|key, _| {
            table.push((key.order, key.run_id.to_owned()));
            Ok(())
        })?;
        Ok(table)
    }

    /// The keys of `table`'s runs (see [`table_keys`]).
    fn borrowed<'a>(table: impl Iterator<Item = &'a (u64, String)>) -> Vec<RunKey<'a>> {
        table
            .map(|(order, run_id)| RunKey {
                order: *order,
                run_id,
            })
            .collect()
    }

    /// Stretches of an answer in the table's order, read in one pass over
    /// their range, give the runs lookups give, in the same order: runs
    /// of the range not asked for are left out, a run not cached is
    /// skipped, and stretches out of order are looked up.
    #[test]
    fn runs_read_in_one_pass_over_their_range_are_those_looked_up() {
        let (_dir, store) = store(5000, &[]);
        store
            .read(|r| {
                let table = table_keys(r)?;
                // Newest first: r4999 (created last) leads.
                assert_eq!(table[0].1, "r4999");
                // Every third run, and one the cache lacks.
                let mut keys = borrowed(table.iter().step_by(3));
                keys.insert(
                    40,
                    RunKey {
                        order: keys[40].order,
                        run_id: "r4878x",
                    },
                );
                let mut stretches = 0;
                for stretch in keys.chunks(97) {
                    let looked_up = views(r, stretch, false)?;
                    assert_eq!(views(r, stretch, true)?, looked_up);
                    let records = fetch(r, stretch, &ctx(), Detail::Full, false)?;
                    assert_eq!(fetch(r, stretch, &ctx(), Detail::Full, true)?, records);
                    let ids: Vec<&str> = records.iter().map(|r| r.run_id.as_str()).collect();
                    let asked: Vec<&str> = stretch.iter().map(|k| k.run_id).collect();
                    let cached: Vec<&str> =
                        asked.into_iter().filter(|id| *id != "r4878x").collect();
                    assert_eq!(ids, cached);
                    assert_eq!(looked_up.len(), cached.len());
                    stretches += 1;
                }
                assert_eq!(stretches, 18);
                // Out of the table's order: the views still come as asked.
                let backwards: Vec<RunKey<'_>> = keys[..50].iter().rev().copied().collect();
                let seen = views(r, &backwards, true)?;
                assert_eq!(seen, views(r, &backwards, false)?);
                assert!(seen[0].starts_with(&format!(r#"{{"run_id":"{}""#, backwards[0].run_id)));
                Ok(())
            })
            .unwrap();
    }

    /// A record that cannot be decoded, met by a pass over a range, is
    /// reported with its run id.
    #[test]
    fn a_corrupt_record_read_in_one_pass_is_reported() {
        let (_dir, store) = store(300, &[7]);
        let err = store
            .read(|r| {
                let table = table_keys(r)?;
                views(r, &borrowed(table.iter()), true)
            })
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("run r0007") && err.contains("undecodable"),
            "{err}"
        );
    }

    #[test]
    fn decoding_in_parallel_returns_what_the_sequential_pass_returns() {
        let (_dir, store) = store(500, &[]);
        // A page in no table order, with a run the table lacks.
        let mut ids: Vec<String> = (0..500)
            .filter(|i| i % 5 != 1)
            .map(|i| format!("r{:04}", (i * 7) % 500))
            .collect();
        ids.insert(100, "r9999".to_owned());
        let ids: Vec<&str> = ids.iter().map(String::as_str).collect();
        let sequential = store
            .read(|r| fetch_in_one_pass(r, &keys_in(r, &ids), &ctx(), Detail::Full, 1, BATCH_LEN))
            .unwrap();
        assert_eq!(sequential.len(), 400);
        assert_eq!(sequential[0].run_id, "r0000");
        assert_eq!(sequential[1].run_id, "r0014");
        assert_eq!(sequential[1].hparams, run(14).hparams);
        for (threads, batch_len) in [(2, 1), (2, 64), (3, 7), (8, 1000)] {
            let parallel = store
                .read(|r| {
                    let keys = keys_in(r, &ids);
                    fetch_in_one_pass(r, &keys, &ctx(), Detail::Full, threads, batch_len)
                })
                .unwrap();
            assert!(
                parallel == sequential,
                "{threads} threads, {batch_len} a batch"
            );
        }
    }

    #[test]
    fn a_corrupt_record_decoded_on_any_thread_is_reported_with_its_run_id() {
        // Two bad records in different batches: the first in the table's
        // order is the one reported, whichever thread meets it and when.
        let (_dir, store) = store(400, &[130, 290]);
        let ids: Vec<String> = (0..400).rev().map(|i| format!("r{i:04}")).collect();
        let ids: Vec<&str> = ids.iter().map(String::as_str).collect();
        for (threads, batch_len) in [(1, BATCH_LEN), (2, 8), (3, 1), (4, 50)] {
            for _ in 0..10 {
                let err = store
                    .read(|r| {
                        let keys = keys_in(r, &ids);
                        fetch_in_one_pass(r, &keys, &ctx(), Detail::Full, threads, batch_len)
                    })
                    .unwrap_err()
                    .to_string();
                assert!(
                    err.contains("run r0130") && err.contains("undecodable"),
                    "{threads} threads, {batch_len} a batch: {err}"
                );
            }
        }
    }
}
