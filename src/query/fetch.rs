//! The second pass of a query: the whole records of a page.
//!
//! A few runs are looked up one by one; many are read in one ordered pass
//! over the runs table. A large page is decoded on every core while that
//! pass goes on: the thread reading the table copies the records into
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
use crate::store::{Cold, Hot, Lists, Reader, RecordBytes, RunView};
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

/// The records of `run_ids`, in that order, carrying `detail`.
pub(crate) fn fetch(
    reader: &Reader<'_>,
    run_ids: &[&str],
    ctx: &Context,
    detail: Detail,
) -> Result<Vec<RunRecord>> {
    if !is_dense(run_ids.len() as u64, reader.len()?) {
        let mut records = Vec::with_capacity(run_ids.len());
        for run_id in run_ids {
            records.extend(with_bytes_of(reader, detail, run_id, |bytes| {
                record(reader, run_id, bytes, ctx, detail)
            })?);
        }
        return Ok(records);
    }
    let threads = if run_ids.len() >= PARALLEL_MIN {
        super::in_order::cores()
    } else {
        1
    };
    fetch_in_one_pass(reader, run_ids, ctx, detail, threads, BATCH_LEN)
}

/// Calls `render` with a view of each of `run_ids` that is cached, in that
/// order, looked up one by one: the views borrow the cache, so they are
/// visited where they are read. A `render` error on a record that cannot be
/// decoded is reported as that record's damage.
pub(crate) fn for_each_view(
    reader: &Reader<'_>,
    run_ids: &[&str],
    ctx: &Context,
    detail: Detail,
    mut render: impl FnMut(&RunView<'_>) -> Result<()>,
) -> Result<()> {
    for run_id in run_ids {
        with_bytes_of(reader, detail, run_id, |bytes| {
            render_view(reader, run_id, bytes, ctx, detail, &mut render)
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
/// each of `run_ids` in turn ([`for_each_view`]).
pub(crate) fn render_views<T>(
    reader: &Reader<'_>,
    run_ids: &[&str],
    ctx: &Context,
    detail: Detail,
    start: impl Fn() -> T,
    render: impl Fn(&mut T, &RunView<'_>) -> Result<()>,
) -> Result<T> {
    let mut rendered = start();
    for_each_view(reader, run_ids, ctx, detail, |run| {
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

/// The records of `run_ids`, in that order, read in one ordered pass over
/// the runs table (the hot table for [`Detail::Summary`]) and decoded on
/// `threads` threads, `batch_len` records at a time. With one thread, each
/// record is decoded where it is read.
fn fetch_in_one_pass(
    reader: &Reader<'_>,
    run_ids: &[&str],
    ctx: &Context,
    detail: Detail,
    threads: usize,
    batch_len: usize,
) -> Result<Vec<RunRecord>> {
    let mut order: Vec<usize> = (0..run_ids.len()).collect();
    order.sort_unstable_by_key(|&i| run_ids[i]);
    let sorted: Vec<&str> = order.iter().map(|&i| run_ids[i]).collect();
    let mut slots: Vec<Option<RunRecord>> = Vec::new();
    slots.resize_with(run_ids.len(), || None);
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

/// Calls `visit` with the bytes `detail` reads of run `run_id`, if it is
/// cached: its whole record, or its hot row for [`Detail::Summary`].
pub(super) fn with_bytes_of<T>(
    reader: &Reader<'_>,
    detail: Detail,
    run_id: &str,
    visit: impl FnOnce(RecordBytes<'_>) -> Result<T>,
) -> Result<Option<T>> {
    match detail {
        Detail::Full => reader.with_run(run_id, visit),
        Detail::Summary => reader.with_hot(run_id, visit),
    }
}

/// [`with_bytes_of`] for each of `run_ids` (sorted) that is cached, in one
/// ordered pass over the table `detail` reads.
pub(super) fn for_each_of(
    reader: &Reader<'_>,
    detail: Detail,
    run_ids: &[&str],
    visit: impl FnMut(usize, &str, RecordBytes<'_>) -> Result<()>,
) -> Result<()> {
    match detail {
        Detail::Full => reader.for_each_run_of(run_ids, visit),
        Detail::Summary => reader.for_each_hot_of(run_ids, visit),
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

/// The records of `run_ids` (sorted) that exist, each with its index in
/// `run_ids`, in no particular order, decoded on `threads` threads.
///
/// Fails as the sequential pass would: with the error of the first record
/// (in run id order) that cannot be decoded, else with the table's error.
/// A panic on a decoding thread is resumed on this one, once every thread
/// has stopped.
fn decode_in_parallel(
    reader: &Reader<'_>,
    run_ids: &[&str],
    ctx: &Context,
    detail: Detail,
    threads: usize,
    batch_len: usize,
) -> Result<Vec<(usize, RunRecord)>> {
    let decoding = Decoding {
        reader,
        run_ids,
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
    let mut records = Vec::with_capacity(run_ids.len());
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
    run_ids: &'a [&'a str],
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
            match record(self.reader, self.run_ids[k], bytes, self.ctx, self.detail) {
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
        decoding.run_ids,
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
            .read(|r| fetch_in_one_pass(r, &ids, &ctx(), Detail::Full, 1, BATCH_LEN))
            .unwrap();
        assert_eq!(sequential.len(), 400);
        assert_eq!(sequential[0].run_id, "r0000");
        assert_eq!(sequential[1].run_id, "r0014");
        assert_eq!(sequential[1].hparams, run(14).hparams);
        for (threads, batch_len) in [(2, 1), (2, 64), (3, 7), (8, 1000)] {
            let parallel = store
                .read(|r| fetch_in_one_pass(r, &ids, &ctx(), Detail::Full, threads, batch_len))
                .unwrap();
            assert!(
                parallel == sequential,
                "{threads} threads, {batch_len} a batch"
            );
        }
    }

    #[test]
    fn a_corrupt_record_decoded_on_any_thread_is_reported_with_its_run_id() {
        // Two bad records in different batches: the first in run id order
        // is the one reported, whichever thread meets it and whenever.
        let (_dir, store) = store(400, &[130, 290]);
        let ids: Vec<String> = (0..400).rev().map(|i| format!("r{i:04}")).collect();
        let ids: Vec<&str> = ids.iter().map(String::as_str).collect();
        for (threads, batch_len) in [(1, BATCH_LEN), (2, 8), (3, 1), (4, 50)] {
            for _ in 0..10 {
                let err = store
                    .read(|r| fetch_in_one_pass(r, &ids, &ctx(), Detail::Full, threads, batch_len))
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
