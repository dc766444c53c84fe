//! The scanner: reconciles the cache with the run tree.
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

mod progress;
mod report;
mod revisit;
mod walk;

use std::collections::{HashMap, HashSet};
use std::ffi::OsStr;
use std::fs;
use std::io;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};
use std::time::{Instant, SystemTime, UNIX_EPOCH};

pub(crate) use progress::ProgressFn;
pub use progress::ScanProgress;
pub use report::{Duplicate, ScanIssue, ScanReport};

use crate::error::Result;
use crate::sidecar::{HEARTBEAT_NAME, Sidecar};
use crate::status::Status;
use crate::store::{Cold, FileStamp, FileState, Hot, StoredRun, Writer};
use revisit::Remembered;

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

/// One sidecar that declares a valid run, found in this scan.
struct Candidate {
    key: Vec<u8>,
    path: PathBuf,
    state: FileState,
    /// Set when the file was (re-)read in this scan.
    sidecar: Option<Sidecar>,
    /// The state as stored before this scan, to write only what changed.
    previous: Option<FileState>,
}

/// How a scan runs.
#[derive(Clone, Default)]
pub(crate) struct ScanSettings {
    pub mode: ScanMode,
    /// Walker threads; 1 walks on the calling thread.
    pub threads: usize,
    pub progress: Option<ProgressFn>,
}

/// Scans `cache_dir/runs` into the cache open in `writer`.
pub(crate) fn scan(
    cache_dir: &Path,
    writer: &mut Writer<'_>,
    settings: &ScanSettings,
) -> Result<ScanReport> {
    let mode = settings.mode;
    let started = Instant::now();
    let now = epoch_now();
    let mut report = ScanReport {
        full: mode == ScanMode::Full,
        ..ScanReport::default()
    };
    let last_start = writer.meta_f64(LAST_SCAN_STARTED)?;
    let mut remembered = writer.files()?;

    let mut remembered_dirs = writer.dirs()?;
    let root = cache_dir.join("runs");
    let progress = settings.progress.as_ref();
    let mut walk = match (mode, last_start) {
        (ScanMode::Incremental, Some(last_start)) if !remembered_dirs.is_empty() => {
            let known = Remembered {
                dirs: &remembered_dirs,
                files: &remembered,
                last_start,
            };
            revisit::revisit(&root, &known, settings.threads, progress)
        }
        _ => walk::find_sidecars(&root, settings.threads, progress),
    };
    let total = walk.sidecars.len();
    report.dirs_read = walk.dirs_read;
    report.errors.extend(
        walk.unreadable
            .iter()
            .map(|(path, reason)| issue(path, format!("cannot read directory: {reason}"))),
    );

    let mut present: HashMap<String, Vec<Candidate>> = HashMap::new();
    // Runs whose sidecar exists but could not be used in this scan: kept as
    // they are, never orphaned.
    let mut protected: HashSet<String> = HashSet::new();
    for found in std::mem::take(&mut walk.sidecars) {
        report.total_sidecars += 1;
        if let Some(progress) = &settings.progress
            && report
                .total_sidecars
                .is_multiple_of(progress::PROGRESS_EVERY)
        {
            progress.report(ScanProgress {
                walking: false,
                found: total,
                processed: report.total_sidecars,
            });
        }
        let key = found.path.as_os_str().as_bytes().to_vec();
        let previous = remembered.remove(&key);
        let meta = match found.meta {
            Ok(meta) => meta,
            Err(e) => {
                protected.extend(previous.and_then(|p| p.run_id));
                report.errors.push(issue(&found.path, vanished_or(&e)));
                continue;
            }
        };
        if !meta.is_file() {
            let reason = if meta.file_type().is_symlink() {
                "a symbolic link (not followed)"
            } else {
                "not a regular file"
            };
            let rejected = Rejected {
                key: &key,
                path: &found.path,
                stamp: FileStamp::of(&meta),
            };
            protected.extend(rejected.record(writer, previous, reason.to_owned(), &mut report)?);
            continue;
        }
        let stamp = FileStamp::of(&meta);
        let unchanged = mode == ScanMode::Incremental
            && previous.as_ref().is_some_and(|p| p.stamp == stamp)
            && last_start.is_some_and(|t| stamp.mtime_secs() < t - RACY_WINDOW_S);
        if let (true, Some(prev)) = (unchanged, &previous) {
            if let Some(reason) = &prev.invalid {
                report.skipped_invalid += 1;
                report.invalid.push(issue(&found.path, reason.clone()));
                continue;
            }
            report.skipped_unchanged += 1;
            let mut state = prev.clone();
            if !state.terminal {
                state.heartbeat_at = heartbeat_of(&found.path);
            }
            let Some(run_id) = state.run_id.clone() else {
                continue;
            };
            present.entry(run_id).or_default().push(Candidate {
                key,
                path: found.path,
                state,
                sidecar: None,
                previous,
            });
            continue;
        }
        match read(&found.path) {
            Ok((sidecar, stamp)) => {
                let state = FileState {
                    stamp,
                    run_id: Some(sidecar.run_id.clone()),
                    invalid: None,
                    source: previous.as_ref().is_some_and(|p| p.source),
                    terminal: sidecar.status.is_terminal(),
                    updated_at: sidecar.updated_at.unwrap_or(stamp.mtime_secs()),
                    heartbeat_at: heartbeat_of(&found.path),
                };
                present
                    .entry(sidecar.run_id.clone())
                    .or_default()
                    .push(Candidate {
                        key,
                        path: found.path,
                        state,
                        sidecar: Some(sidecar),
                        previous,
                    });
            }
            Err(Unreadable::Vanished(reason)) => {
                protected.extend(previous.and_then(|p| p.run_id));
                report.errors.push(issue(&found.path, reason));
            }
            Err(Unreadable::Invalid(reason)) => {
                let rejected = Rejected {
                    key: &key,
                    path: &found.path,
                    stamp,
                };
                protected.extend(rejected.record(writer, previous, reason, &mut report)?);
            }
        }
    }

    let mut settled: Vec<(String, Vec<Candidate>)> = present.into_iter().collect();
    settled.sort_by(|a, b| a.0.cmp(&b.0));
    for (run_id, candidates) in &mut settled {
        settle(writer, run_id, std::mem::take(candidates), &mut report)?;
    }
    protected.extend(settled.into_iter().map(|(run_id, _)| run_id));

    // What is left was remembered but not found: gone, unless it sits under
    // a directory the walk could not read.
    let mut gone: Vec<(Vec<u8>, FileState)> = remembered
        .into_iter()
        .filter(|(key, _)| !walk.is_unknown(Path::new(OsStr::from_bytes(key))))
        .collect();
    gone.sort_by(|a, b| a.0.cmp(&b.0));
    for (key, state) in gone {
        writer.remove_file(&key)?;
        let Some(run_id) = state.run_id.filter(|_| state.source) else {
            continue;
        };
        if protected.contains(&run_id) {
            continue;
        }
        if let Some(mut run) = writer.record(&run_id)?
            && run.hot.status != Status::Orphaned
        {
            run.hot.status = Status::Orphaned;
            run.hot.heartbeat_at = None;
            writer.upsert(&run_id, &run)?;
            report.orphaned += 1;
        }
    }

    // Remember the directories for the next incremental walk.
    for (path, state) in &walk.dirs {
        let key = path.as_os_str().as_bytes();
        match remembered_dirs.remove(key) {
            Some(old) if old == *state => {}
            _ => writer.put_dir(key, state)?,
        }
    }
    for key in remembered_dirs.into_keys() {
        if !walk.is_unknown(Path::new(OsStr::from_bytes(&key))) {
            writer.remove_dir(&key)?;
        }
    }

    writer.set_meta_f64(LAST_SCAN_STARTED, now)?;
    writer.set_meta_f64(LAST_SCAN_FINISHED, epoch_now())?;
    report.elapsed = started.elapsed();
    Ok(report)
}

/// Picks the sidecar a run's record comes from, writes what changed, and
/// reports duplicates.
fn settle(
    writer: &mut Writer<'_>,
    run_id: &str,
    mut candidates: Vec<Candidate>,
    report: &mut ScanReport,
) -> Result<()> {
    // Newest updated_at first; ties: smallest path first.
    candidates.sort_by(|a, b| {
        b.state
            .updated_at
            .total_cmp(&a.state.updated_at)
            .then_with(|| a.key.cmp(&b.key))
    });
    if candidates.len() > 1 {
        report.duplicates.push(Duplicate {
            run_id: run_id.to_owned(),
            kept: candidates[0].path.clone(),
            ignored: candidates[1..].iter().map(|c| c.path.clone()).collect(),
        });
    }
    let winner = &mut candidates[0];
    if winner.sidecar.is_none() && !winner.state.source {
        // The run's record came from another file (now gone or older):
        // read this one.
        match read(&winner.path) {
            Ok((sidecar, stamp)) => {
                winner.state.stamp = stamp;
                winner.state.terminal = sidecar.status.is_terminal();
                winner.sidecar = Some(sidecar);
                report.skipped_unchanged = report.skipped_unchanged.saturating_sub(1);
            }
            Err(Unreadable::Vanished(reason) | Unreadable::Invalid(reason)) => {
                report.errors.push(issue(&winner.path, reason));
            }
        }
    }
    let hb_changed = winner
        .previous
        .as_ref()
        .is_some_and(|p| p.heartbeat_at != winner.state.heartbeat_at);
    if let Some(sidecar) = winner.sidecar.take() {
        writer.upsert(run_id, &stored_run(sidecar, &winner.path, &winner.state))?;
        report.upserted += 1;
    } else if hb_changed && let Some(mut run) = writer.record(run_id)? {
        run.hot.heartbeat_at = winner.state.heartbeat_at;
        writer.upsert(run_id, &run)?;
    }
    for (i, candidate) in candidates.iter_mut().enumerate() {
        candidate.state.source = i == 0;
        if candidate.previous.as_ref() != Some(&candidate.state) {
            writer.put_file(&candidate.key, &candidate.state)?;
        }
    }
    Ok(())
}

/// The cache's record of a run read from `path`.
fn stored_run(sidecar: Sidecar, path: &Path, state: &FileState) -> StoredRun {
    let run_dir = path.parent().unwrap_or(path);
    let mtime = state.stamp.mtime_secs();
    let hot = Hot {
        status: sidecar.status,
        created_at: sidecar.created_at.unwrap_or(mtime),
        updated_at: sidecar.updated_at.unwrap_or(mtime),
        ended_at: sidecar.ended_at,
        heartbeat_at: state.heartbeat_at,
        tags: sidecar.tags,
        summary: sidecar.summary,
    };
    let cold = Cold {
        run_dir: run_dir.to_string_lossy().into_owned(),
        checkpoint_path: sidecar.checkpoint_path,
        notes: sidecar.notes,
        config: sidecar.config,
    };
    StoredRun {
        hot,
        hparams: sidecar.hparams,
        cold,
    }
}

enum Unreadable {
    /// Gone between the walk and the read: not a deleted run yet.
    Vanished(String),
    /// Read, and rejected.
    Invalid(String),
}

/// Reads and validates a sidecar; the stamp is that of the file read.
fn read(path: &Path) -> Result<(Sidecar, FileStamp), Unreadable> {
    match Sidecar::read(path) {
        Ok((sidecar, meta)) => Ok((sidecar, FileStamp::of(&meta))),
        Err(invalid) => match fs::symlink_metadata(path) {
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                Err(Unreadable::Vanished("vanished while being read".to_owned()))
            }
            _ => Err(Unreadable::Invalid(invalid.to_string())),
        },
    }
}

fn vanished_or(e: &io::Error) -> String {
    if e.kind() == io::ErrorKind::NotFound {
        "vanished while being read".to_owned()
    } else {
        format!("cannot stat: {e}")
    }
}

/// The heartbeat mtime of the run whose sidecar is `sidecar_path`.
fn heartbeat_of(sidecar_path: &Path) -> Option<f64> {
    let hb = sidecar_path.with_file_name(HEARTBEAT_NAME);
    let modified = fs::metadata(hb).ok()?.modified().ok()?;
    Some(match modified.duration_since(UNIX_EPOCH) {
        Ok(d) => d.as_secs_f64(),
        Err(before) => -before.duration().as_secs_f64(),
    })
}

/// A sidecar found in the walk and rejected.
struct Rejected<'a> {
    key: &'a [u8],
    path: &'a Path,
    stamp: FileStamp,
}

impl Rejected<'_> {
    /// Reports the file and remembers it (so an unchanged invalid file is
    /// not read again), keeping the run it last declared. Returns that run
    /// when the run's record came from this file: it stays as last read.
    fn record(
        &self,
        writer: &mut Writer<'_>,
        previous: Option<FileState>,
        reason: String,
        report: &mut ScanReport,
    ) -> Result<Option<String>> {
        report.skipped_invalid += 1;
        report.invalid.push(issue(self.path, reason.clone()));
        let state = FileState {
            stamp: self.stamp,
            run_id: previous.as_ref().and_then(|p| p.run_id.clone()),
            invalid: Some(reason),
            source: previous.as_ref().is_some_and(|p| p.source),
            terminal: previous.as_ref().is_some_and(|p| p.terminal),
            updated_at: previous
                .as_ref()
                .map_or(f64::NEG_INFINITY, |p| p.updated_at),
            heartbeat_at: None,
        };
        if previous.as_ref() != Some(&state) {
            writer.put_file(self.key, &state)?;
        }
        Ok(state.run_id.filter(|_| state.source))
    }
}

fn issue(path: &Path, reason: impl Into<String>) -> ScanIssue {
    ScanIssue {
        path: path.to_path_buf(),
        reason: reason.into(),
    }
}
