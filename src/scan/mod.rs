//! The scanner: reconciles the cache with the run tree (docs/FORMAT.md §4).
//!
//! # What a scan does
//!
//! 1. Walks `{cache_dir}/runs` for `sidecar.json` files ([`walk`]).
//! 2. Re-reads a sidecar only when its stamp (mtime in ns, ctime, size,
//!    inode) changed since the last scan, or when it was modified within
//!    [`RACY_WINDOW_S`] of the last scan's start (a rewrite inside the
//!    filesystem's timestamp granularity would otherwise go unseen). An
//!    unchanged run with a terminal status costs nothing beyond the walk's
//!    stat; a live one costs one stat of its heartbeat.
//! 3. Settles run_ids declared by several sidecars: the newer `updated_at`
//!    wins, ties go to the smaller path; all are reported.
//! 4. Marks a run `orphaned` (not alive, still listed) when its sidecar is
//!    gone. A sidecar under a directory that could not be read is unknown,
//!    not gone: its run is kept as it was. So is one that vanished or turned
//!    invalid between the walk and the read.
//!
//! # Consistency
//!
//! A scan is one write transaction: a scan that is killed or fails leaves
//! the cache exactly as the previous scan left it. An incremental scan
//! first decides through a read-only open ([`peek`]); one that finds
//! nothing to write opens the cache for nothing else, and commits nothing.

mod in_flight;
mod pipeline;
mod progress;
mod read;
mod reconcile;
mod report;
mod revisit;
mod stat;
mod walk;

use std::cell::Cell;
use std::ffi::OsStr;
use std::os::unix::ffi::OsStrExt;
use std::path::Path;
use std::time::{Instant, SystemTime, UNIX_EPOCH};

pub(crate) use in_flight::Threads;
pub use in_flight::{DEFAULT_IO_THREADS, MAX_IO_THREADS};
pub(crate) use progress::ProgressFn;
pub use progress::ScanProgress;
pub use report::{Duplicate, ScanIssue, ScanReport};

use crate::error::Result;
use crate::store::{DirState, FileStates, Memory, Peek, Remembers, Writer};
use pipeline::WalkFeed;
use reconcile::{Reconciler, Touched};
use revisit::Remembered;
use rustc_hash::FxHashMap;
use stat::Kind;
use walk::{Found, Walk};

/// Sidecars modified this close (in seconds) before the previous scan
/// started are re-read even when their stamp matches.
pub const RACY_WINDOW_S: f64 = 2.0;

const LAST_SCAN_STARTED: &str = "last_scan_started";
const LAST_SCAN_FINISHED: &str = "last_scan_finished";

/// How much of the tree to re-read.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum ScanMode {
    /// Re-read only sidecars that changed since the last scan.
    #[default]
    Incremental,
    /// Re-read every sidecar.
    Full,
}

/// Seconds since the epoch, now.
pub(crate) fn epoch_now() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0.0, |d| d.as_secs_f64())
}

/// When the last scan recorded in `cache` finished (epoch seconds).
pub(crate) fn last_scan_finished(cache: &impl Remembers) -> Result<Option<f64>> {
    cache.meta_float(LAST_SCAN_FINISHED)
}

/// How a scan runs.
#[derive(Clone, Default)]
pub(crate) struct ScanSettings {
    pub mode: ScanMode,
    pub threads: Threads,
    pub progress: Option<ProgressFn>,
}

/// Sidecars reconciled per batch: parsed together, in parallel, then
/// written; a scan holds at most two batches of parsed sidecars (one being
/// written, the next read meanwhile).
const BATCH: usize = progress::PROGRESS_EVERY;

/// What a scan finds before it reconciles: what the cache remembers and,
/// for an incremental revisit, the stats of the tree. Found under a
/// read-only open ([`peek`]), it goes on to the write that follows
/// ([`scan`]) under the same exclusive lock, so nothing is loaded or
/// stat'ed twice.
pub(crate) struct Prepared {
    started: Instant,
    /// When the scan started, in epoch seconds.
    now: f64,
    first_build: bool,
    last_start: Option<f64>,
    remembered_dirs: FxHashMap<Vec<u8>, DirState>,
    remembered: FileStates,
    /// The revisit's findings, when the scan revisits the tree.
    revisited: Option<Walk>,
}

/// Loads what `cache` remembers and, for an incremental scan, revisits the
/// tree.
fn prepare(cache_dir: &Path, cache: &impl Remembers, settings: &ScanSettings) -> Result<Prepared> {
    let started = Instant::now();
    let now = epoch_now();
    let first_build = cache.no_runs()?;
    let last_start = cache.meta_float(LAST_SCAN_STARTED)?;
    let remembered_dirs = cache.dir_states()?;
    let revisiting = settings.mode == ScanMode::Incremental
        && last_start.is_some()
        && !remembered_dirs.is_empty();
    // A revisit stats the remembered directories while the file states load.
    let (remembered, dir_stats) = if revisiting {
        let io = settings.threads.io;
        std::thread::scope(|scope| {
            let stats = scope.spawn(|| revisit::stat_dirs(&remembered_dirs, io));
            let files = cache.file_states();
            let stats = stats
                .join()
                .unwrap_or_else(|_| revisit::stat_dirs(&remembered_dirs, io));
            (files, Some(stats))
        })
    } else {
        (cache.file_states(), None)
    };
    let remembered = remembered?;
    let revisited = match (dir_stats, last_start) {
        (Some(dir_stats), Some(last_start)) => {
            let known = Remembered {
                dirs: &remembered_dirs,
                files: &remembered,
                last_start,
            };
            let root = walk::tree_root(cache_dir);
            let progress = settings.progress.as_ref();
            Some(revisit::revisit(
                &root,
                &known,
                dir_stats,
                settings.threads,
                progress,
            ))
        }
        _ => None,
    };
    Ok(Prepared {
        started,
        now,
        first_build,
        last_start,
        remembered_dirs,
        remembered,
        revisited,
    })
}

/// An incremental scan, up to the point where it knows whether it has
/// anything to write, on the cache read through `memory` (a read-only open:
/// see [`Store::write_unless`](crate::store::Store::write_unless)).
/// [`Peek::Done`]: the tree is as the cache remembers it, and this is the
/// scan's report; nothing need be written, not even the scan's time (see
/// [`scan`]). Otherwise what was found, for [`scan`] to go on from
/// (`None`: to start again).
pub(crate) fn peek(
    cache_dir: &Path,
    memory: &Memory,
    settings: &ScanSettings,
) -> Result<Peek<ScanReport, Option<Prepared>>> {
    if settings.mode == ScanMode::Full {
        return Ok(Peek::Write(None));
    }
    let prepared = prepare(cache_dir, memory, settings)?;
    let (Some(walk), Some(last_start)) = (&prepared.revisited, prepared.last_start) else {
        return Ok(Peek::Write(Some(prepared)));
    };
    if !looks_unchanged(walk, &prepared.remembered, last_start - RACY_WINDOW_S) {
        return Ok(Peek::Write(Some(prepared)));
    }
    // Every stamp is trusted and as remembered: the reconcile reads no
    // sidecar. Run it dry, to be sure it writes nothing (duplicates may
    // still need settling) and for its report.
    let Prepared {
        started,
        remembered,
        revisited,
        ..
    } = prepared;
    let Some(walk) = revisited else {
        return Ok(Peek::Write(None));
    };
    let reconciler = Reconciler::dry(
        ScanReport::default(),
        remembered,
        Some(last_start - RACY_WINDOW_S),
    );
    let progress = settings.progress.as_ref();
    let (_, mut report, touched) = reconcile_walked(walk, reconciler, settings.threads, progress)?;
    if touched.reads > 0 || touched.writes > 0 {
        return Ok(Peek::Write(None));
    }
    report.elapsed = started.elapsed();
    Ok(Peek::Done(report))
}

/// Whether a revisit found the tree exactly as remembered: no directory to
/// list, gone or unreadable, every remembered sidecar found with its stamp
/// unchanged and trusted (modified before `trusted_before`), and every
/// heartbeat the scan keeps as stored. A quick test before a dry reconcile,
/// which decides.
fn looks_unchanged(walk: &Walk, remembered: &FileStates, trusted_before: f64) -> bool {
    walk.dirs_read == 0
        && walk.dirs.is_empty()
        && walk.dirs_gone.is_empty()
        && walk.unreadable.is_empty()
        && walk.sidecars.len() == remembered.len()
        && walk.sidecars.iter().all(|found| {
            let Ok(meta) = &found.meta else {
                return false;
            };
            let Some(state) = remembered.get(found.path.as_os_str().as_bytes()) else {
                return false;
            };
            let heartbeat_kept = state.terminal
                || state.invalid.is_some()
                || state.run_id.is_none()
                || found.heartbeat == Some(state.heartbeat_at);
            meta.kind == Kind::File
                && meta.stamp == state.stamp
                && meta.stamp.mtime_secs() < trusted_before
                && heartbeat_kept
        })
}

/// Scans `cache_dir/runs` into the cache open in `writer`, going on from
/// what [`peek`] found if it is given.
pub(crate) fn scan(
    cache_dir: &Path,
    writer: &mut Writer<'_>,
    settings: &ScanSettings,
    prepared: Option<Prepared>,
) -> Result<ScanReport> {
    let prepared = match prepared {
        Some(prepared) => prepared,
        None => prepare(cache_dir, &*writer, settings)?,
    };
    let Prepared {
        started,
        now,
        first_build,
        last_start,
        mut remembered_dirs,
        remembered,
        revisited,
    } = prepared;
    let root = walk::tree_root(cache_dir);
    let progress = settings.progress.as_ref();
    let trusted_before = match settings.mode {
        ScanMode::Full => None,
        ScanMode::Incremental => last_start.map(|t| t - RACY_WINDOW_S),
    };
    let report = ScanReport {
        full: settings.mode == ScanMode::Full,
        ..ScanReport::default()
    };
    let threads = settings.threads;
    let (mut walk, mut report, touched) = match revisited {
        Some(walk) => {
            let reconciler = Reconciler::new(writer, report, remembered, trusted_before);
            reconcile_walked(walk, reconciler, threads, progress)?
        }
        None => {
            let reconciler = Reconciler::new(writer, report, remembered, trusted_before);
            walk_and_reconcile(&root, threads, reconciler, progress)?
        }
    };
    // Most records rewritten (a full rescan): their old pages are free, and
    // the file would stay twice its size. A first build frees none: its
    // file is as small compacted or not (153 MiB at 100,000 runs, 0.6x the
    // sidecars), and compacting it cost a sixth of the scan.
    if !first_build && report.upserted >= 1000 && report.upserted * 2 > report.total_sidecars {
        writer.request_compaction();
    }

    // Remember the directories for the next incremental walk.
    for (key, state) in &walk.dirs {
        match remembered_dirs.remove(key) {
            Some(old) if old == *state => {}
            _ => writer.put_dir(key, state)?,
        }
    }
    let gone = if walk.complete {
        remembered_dirs.into_keys().collect()
    } else {
        std::mem::take(&mut walk.dirs_gone)
    };
    for key in gone {
        if !walk.is_unknown(Path::new(OsStr::from_bytes(&key))) {
            writer.remove_dir(&key)?;
        }
    }

    // A scan that wrote nothing and trusted every stamp it compared leaves
    // the cache as the last scan left it, times included, so the store
    // commits nothing. That is safe: the next scan then compares against
    // the last scan that wrote, with its older start, and so trusts no
    // stamp it would not have trusted anyway. A scan that read a sidecar or
    // listed a directory only because it was racy does record its time,
    // so that what it looked at again is trusted (settled) next time.
    // The cost: a process that waited for the lock does not see a finish
    // time later than its request (see `Registry::lazy_scan`) and scans
    // again, which is another such scan.
    let looked_again = touched.reads > 0 || report.dirs_read > 0;
    if writer.changed() || looked_again {
        writer.set_meta_f64(LAST_SCAN_STARTED, now)?;
        writer.set_meta_f64(LAST_SCAN_FINISHED, epoch_now())?;
    }
    report.cache_written = writer.changed();
    report.elapsed = started.elapsed();
    Ok(report)
}

/// Reconciles the sidecars of a finished walk (an incremental revisit).
fn reconcile_walked(
    mut walk: Walk,
    mut reconciler: Reconciler<'_, '_>,
    threads: Threads,
    progress: Option<&ProgressFn>,
) -> Result<(Walk, ScanReport, Touched)> {
    add_walk_findings(&mut reconciler.report, &walk);
    let sidecars = std::mem::take(&mut walk.sidecars);
    let total = sidecars.len();
    let mut rest = sidecars.into_iter();
    let batches = std::iter::from_fn(|| {
        let batch: Vec<Found> = rest.by_ref().take(BATCH).collect();
        (!batch.is_empty()).then_some(batch)
    });
    let mut processed = 0;
    pipeline::reconcile_batches(&mut reconciler, batches, threads, |len| {
        processed += len;
        if let (Some(progress), BATCH) = (progress, len) {
            progress.report(ScanProgress {
                walking: false,
                found: total,
                processed,
            });
        }
    })?;
    let (report, touched) = reconciler.finish(|path| walk.is_unknown(path))?;
    Ok((walk, report, touched))
}

/// Walks the whole tree under `root` and reconciles the sidecars found as
/// they are found (see [`pipeline`]).
fn walk_and_reconcile(
    root: &Path,
    threads: Threads,
    mut reconciler: Reconciler<'_, '_>,
    progress: Option<&ProgressFn>,
) -> Result<(Walk, ScanReport, Touched)> {
    let processed = Cell::new(0);
    let found_more = |feed: &WalkFeed<'_>| {
        if let Some(progress) = progress {
            progress.report(ScanProgress {
                walking: true,
                found: feed.found(),
                processed: processed.get(),
            });
        }
    };
    let (walk, reconciled) = pipeline::walk_streamed(root, threads.walk, &found_more, |feed| {
        pipeline::reconcile_batches(&mut reconciler, feed.batches(), threads, |len| {
            processed.set(processed.get() + len);
            if let (Some(progress), BATCH) = (progress, len) {
                progress.report(ScanProgress {
                    walking: !feed.over(),
                    found: feed.found(),
                    processed: processed.get(),
                });
            }
        })
    });
    reconciled?;
    add_walk_findings(&mut reconciler.report, &walk);
    let (report, touched) = reconciler.finish(|path| walk.is_unknown(path))?;
    Ok((walk, report, touched))
}

/// Adds what the walk itself found to the report: the directories it read
/// and those it could not.
fn add_walk_findings(report: &mut ScanReport, walk: &Walk) {
    report.dirs_read = walk.dirs_read;
    report.errors.extend(
        walk.unreadable.iter().map(|(path, reason)| {
            reconcile::issue(path, format!("cannot read directory: {reason}"))
        }),
    );
}
