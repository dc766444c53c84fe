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
//! the cache exactly as the previous scan left it.

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

pub(crate) use progress::ProgressFn;
pub use progress::ScanProgress;
pub use report::{Duplicate, ScanIssue, ScanReport};

use crate::error::Result;
use crate::store::Writer;
use pipeline::WalkFeed;
use reconcile::Reconciler;
use revisit::Remembered;
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

/// When the last scan recorded in `writer` finished (epoch seconds).
pub(crate) fn last_scan_finished(writer: &Writer<'_>) -> Result<Option<f64>> {
    writer.meta_f64(LAST_SCAN_FINISHED)
}

/// How a scan runs.
#[derive(Clone, Default)]
pub(crate) struct ScanSettings {
    pub mode: ScanMode,
    /// Walker threads; 1 walks on the calling thread.
    pub threads: usize,
    pub progress: Option<ProgressFn>,
}

/// Sidecars reconciled per batch: parsed together, in parallel, then
/// written; a scan holds at most two batches of parsed sidecars (one being
/// written, the next read meanwhile).
const BATCH: usize = progress::PROGRESS_EVERY;

/// Scans `cache_dir/runs` into the cache open in `writer`.
pub(crate) fn scan(
    cache_dir: &Path,
    writer: &mut Writer<'_>,
    settings: &ScanSettings,
) -> Result<ScanReport> {
    let started = Instant::now();
    let now = epoch_now();
    let first_build = writer.is_empty()?;
    let last_start = writer.meta_f64(LAST_SCAN_STARTED)?;
    let mut remembered_dirs = writer.dirs()?;
    let revisiting = settings.mode == ScanMode::Incremental
        && last_start.is_some()
        && !remembered_dirs.is_empty();
    // A revisit stats the remembered directories while the file states load.
    let (remembered, dir_stats) = if revisiting {
        std::thread::scope(|scope| {
            let stats = scope.spawn(|| revisit::stat_dirs(&remembered_dirs));
            let files = writer.files();
            let stats = stats
                .join()
                .unwrap_or_else(|_| revisit::stat_dirs(&remembered_dirs));
            (files, Some(stats))
        })
    } else {
        (writer.files(), None)
    };
    let remembered = remembered?;
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
    let read_threads = std::thread::available_parallelism().map_or(1, |n| n.get().min(8));
    let (mut walk, mut report, sidecars_read) = match (dir_stats, last_start) {
        (Some(dir_stats), Some(last_start)) => {
            let known = Remembered {
                dirs: &remembered_dirs,
                files: &remembered,
                last_start,
            };
            let walk = revisit::revisit(&root, &known, dir_stats, settings.threads, progress);
            let reconciler = Reconciler::new(writer, report, remembered, trusted_before);
            reconcile_walked(walk, reconciler, read_threads, progress)?
        }
        _ => {
            let reconciler = Reconciler::new(writer, report, remembered, trusted_before);
            walk_and_reconcile(&root, settings.threads, reconciler, read_threads, progress)?
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
    let looked_again = sidecars_read > 0 || report.dirs_read > 0;
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
    read_threads: usize,
    progress: Option<&ProgressFn>,
) -> Result<(Walk, ScanReport, usize)> {
    add_walk_findings(&mut reconciler.report, &walk);
    let sidecars = std::mem::take(&mut walk.sidecars);
    let total = sidecars.len();
    let mut rest = sidecars.into_iter();
    let batches = std::iter::from_fn(|| {
        let batch: Vec<Found> = rest.by_ref().take(BATCH).collect();
        (!batch.is_empty()).then_some(batch)
    });
    let mut processed = 0;
    pipeline::reconcile_batches(&mut reconciler, batches, read_threads, |len| {
        processed += len;
        if let (Some(progress), BATCH) = (progress, len) {
            progress.report(ScanProgress {
                walking: false,
                found: total,
                processed,
            });
        }
    })?;
    let (report, reads) = reconciler.finish(|path| walk.is_unknown(path))?;
    Ok((walk, report, reads))
}

/// Walks the whole tree under `root` and reconciles the sidecars found as
/// they are found (see [`pipeline`]).
fn walk_and_reconcile(
    root: &Path,
    walk_threads: usize,
    mut reconciler: Reconciler<'_, '_>,
    read_threads: usize,
    progress: Option<&ProgressFn>,
) -> Result<(Walk, ScanReport, usize)> {
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
    let (walk, reconciled) = pipeline::walk_streamed(root, walk_threads, &found_more, |feed| {
        pipeline::reconcile_batches(&mut reconciler, feed.batches(), read_threads, |len| {
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
    let (report, reads) = reconciler.finish(|path| walk.is_unknown(path))?;
    Ok((walk, report, reads))
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
