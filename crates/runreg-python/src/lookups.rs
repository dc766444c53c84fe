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

use std::collections::HashMap;
use std::os::unix::fs::MetadataExt;
use std::path::Path;
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

impl Stamp {
    /// The stamp of `path`, if it can be read and was last written at least
    /// [`RACY_WINDOW_S`] ago (a later write will show in the stamp).
    fn settled(path: &Path) -> Option<Stamp> {
        let meta = std::fs::metadata(path).ok()?;
        let mtime_ns = i128::from(meta.mtime()) * 1_000_000_000 + i128::from(meta.mtime_nsec());
        let now_ns = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .ok()?
            .as_nanos() as i128;
        let window_ns = (RACY_WINDOW_S * 1e9) as i128;
        (now_ns - mtime_ns >= window_ns).then_some(Stamp {
            dev: meta.dev(),
            ino: meta.ino(),
            size: meta.size(),
            mtime_ns,
        })
    }
}

/// The answers of `get`, for one cache file.
#[derive(Debug, Default)]
pub struct Lookups {
    kept: Mutex<Kept>,
    /// Lookups answered from memory (for the tests).
    hits: std::sync::atomic::AtomicU64,
}

#[derive(Debug, Default)]
struct Kept {
    stamp: Option<Stamp>,
    answers: HashMap<String, Option<RunRecord>>,
}

impl Lookups {
    /// The run `run_id` of the cache at `db_path`: from memory while the
    /// file is unchanged, else from `read`, remembered when that is safe.
    pub fn get(
        &self,
        db_path: &Path,
        run_id: &str,
        read: impl FnOnce() -> runreg::Result<Option<RunRecord>>,
    ) -> runreg::Result<Option<RunRecord>> {
        let before = Stamp::settled(db_path);
        if let Some(stamp) = before {
            let kept = self.kept.lock();
            if kept.stamp == Some(stamp)
                && let Some(answer) = kept.answers.get(run_id)
            {
                let answer = answer.clone();
                drop(kept);
                self.hits.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                return Ok(answer.map(judge_liveness));
            }
        }
        let answer = read()?;
        if let Some(stamp) = before
            && Stamp::settled(db_path) == Some(stamp)
        {
            let mut kept = self.kept.lock();
            if kept.stamp != Some(stamp) || kept.answers.len() >= MAX_KEPT {
                *kept = Kept {
                    stamp: Some(stamp),
                    answers: HashMap::new(),
                };
            }
            kept.answers.insert(run_id.to_owned(), answer.clone());
        }
        Ok(answer)
    }

    /// Lookups answered from memory so far.
    pub fn hits(&self) -> u64 {
        self.hits.load(std::sync::atomic::Ordering::Relaxed)
    }
}

/// `alive` as of now, as the library judges it at each call.
fn judge_liveness(mut run: RunRecord) -> RunRecord {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0.0, |d| d.as_secs_f64());
    run.alive = Liveness::default().is_alive(&run.status, run.heartbeat_at, now);
    run
}
