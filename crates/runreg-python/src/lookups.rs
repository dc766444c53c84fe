//! Lookups by id remembered while the cache file is unchanged.
//!
//! Every library call opens the cache file and closes it again (no file is
//! held between calls, so that other processes can scan): a `get` costs
//! tens of µs, more than the reference's lookup on its open SQLite
//! connection. A loop of `reg[run_id]` should not. So the answers of `get`
//! are kept with the cache file's stamp (device, inode, size, mtime in ns),
//! and given again while a `stat` finds the same stamp.
//!
//! A write to the cache sets its mtime to the time of the write, so the
//! stamp changes, unless the write comes within the filesystem's timestamp
//! granularity of the previous one. Answers are therefore kept only when
//! the file's mtime was at least [`RACY_WINDOW_S`] old when they were read,
//! and only when the stamp was the same before and after the read. `alive`
//! is judged again at each lookup, as the library does.
//!
//! An answer given again costs a `stat` (most of it), a map lookup and a
//! reference count: answers are kept shared ([`Arc`]), never copied, and a
//! [`Found`] pairs one with the `alive` of its lookup (the record's own
//! `alive` is that of its read). The caller holds the GIL, and releases it
//! only inside `read`, to call the library: a hit opens no file, so it
//! needs neither the fork gate nor the GIL released (releasing it and
//! taking it back cost a fifth of a hit). The lock on the answers is taken
//! only with the GIL held (an abi3 module always runs under one), and
//! released before any Python code could run and release the GIL: no
//! thread ever waits for it, and `os.fork()`, which holds the GIL, never
//! finds it locked.

use std::collections::HashMap;
use std::os::unix::fs::MetadataExt;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

use parking_lot::Mutex;
use runreg::{Liveness, RACY_WINDOW_S, RunRecord};

/// Answers kept at most; the whole memory is dropped when it fills.
const MAX_KEPT: usize = 16_384;

/// What identifies one state of the cache file.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Stamp {
    dev: u64,
    ino: u64,
    size: u64,
    mtime_ns: i128,
}

/// The stamp of the cache file at one instant, and that instant.
#[derive(Clone, Copy, Debug)]
struct Seen {
    /// `None` when the file cannot be read, or was written less than
    /// [`RACY_WINDOW_S`] ago (a later write might not show in the stamp).
    settled: Option<Stamp>,
    /// Epoch seconds of the `stat`.
    now: f64,
}

impl Seen {
    fn now(path: &Path) -> Seen {
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap_or_default();
        let settled = std::fs::metadata(path).ok().and_then(|meta| {
            let mtime_ns = i128::from(meta.mtime()) * 1_000_000_000 + i128::from(meta.mtime_nsec());
            let window_ns = (RACY_WINDOW_S * 1e9) as i128;
            (now.as_nanos() as i128 - mtime_ns >= window_ns).then_some(Stamp {
                dev: meta.dev(),
                ino: meta.ino(),
                size: meta.size(),
                mtime_ns,
            })
        });
        Seen {
            settled,
            now: now.as_secs_f64(),
        }
    }
}

/// A run found by id: shared with the memory of answers, and alive or not
/// as judged at this lookup.
#[derive(Clone, Debug)]
pub struct Found {
    pub run: Arc<RunRecord>,
    pub alive: bool,
}

impl From<RunRecord> for Found {
    /// A run just read from the library, which judged `alive`.
    fn from(run: RunRecord) -> Found {
        Found {
            alive: run.alive,
            run: Arc::new(run),
        }
    }
}

/// The answers of `get`, for one cache file.
#[derive(Debug, Default)]
pub struct Lookups {
    kept: Mutex<Kept>,
    /// Lookups answered from memory (for the tests).
    hits: AtomicU64,
}

#[derive(Debug, Default)]
struct Kept {
    stamp: Option<Stamp>,
    answers: HashMap<String, Option<Arc<RunRecord>>>,
}

impl Lookups {
    /// The run `run_id` of the cache at `db_path`: from memory while the
    /// file is unchanged, else from `read` (the only part that opens the
    /// cache), remembered when that is safe.
    pub fn get<E>(
        &self,
        db_path: &Path,
        run_id: &str,
        read: impl FnOnce() -> Result<Option<RunRecord>, E>,
    ) -> Result<Option<Found>, E> {
        let before = Seen::now(db_path);
        if let Some(stamp) = before.settled
            && let Some(answer) = self.remembered(stamp, run_id)
        {
            self.hits.fetch_add(1, Ordering::Relaxed);
            return Ok(answer.map(|run| Found {
                alive: is_alive(&run, before.now),
                run,
            }));
        }
        let answer = read()?.map(Found::from);
        if let Some(stamp) = before.settled
            && Seen::now(db_path).settled == Some(stamp)
        {
            self.remember(
                stamp,
                run_id,
                answer.as_ref().map(|found| found.run.clone()),
            );
        }
        Ok(answer)
    }

    /// Lookups answered from memory so far.
    pub fn hits(&self) -> u64 {
        self.hits.load(Ordering::Relaxed)
    }

    /// The answer kept for `run_id` with the file at `stamp`: `Some(None)`
    /// for a run known not to be there.
    fn remembered(&self, stamp: Stamp, run_id: &str) -> Option<Option<Arc<RunRecord>>> {
        let kept = self.kept.lock();
        if kept.stamp != Some(stamp) {
            return None;
        }
        kept.answers.get(run_id).cloned()
    }

    fn remember(&self, stamp: Stamp, run_id: &str, answer: Option<Arc<RunRecord>>) {
        let mut kept = self.kept.lock();
        // The old answers are freed after the lock is released.
        let dropped = (kept.stamp != Some(stamp) || kept.answers.len() >= MAX_KEPT).then(|| {
            std::mem::replace(
                &mut *kept,
                Kept {
                    stamp: Some(stamp),
                    answers: HashMap::new(),
                },
            )
        });
        kept.answers.insert(run_id.to_owned(), answer);
        drop(kept);
        drop(dropped);
    }
}

/// `alive` as of `now`, as the library judges it at each call.
fn is_alive(run: &RunRecord, now: f64) -> bool {
    Liveness::default().is_alive(&run.status, run.heartbeat_at, now)
}
