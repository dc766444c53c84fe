//! Reconciling what the walk found with what the cache remembers, one
//! batch of sidecars at a time.
//!
//! Records are written as soon as a sidecar is read, so a scan holds at most
//! one batch of parsed sidecars in memory, however large the tree. For each
//! run id only its best sidecar so far is kept (the newer `updated_at`, then
//! the smaller path); a better one found later replaces it in the cache.

use std::collections::hash_map::Entry;

use rustc_hash::{FxHashMap, FxHashSet};
use std::ffi::OsStr;
use std::io;
use std::os::unix::ffi::{OsStrExt, OsStringExt};
use std::path::{Path, PathBuf};

use super::read::{ReadSidecar, Unreadable, heartbeat_of, read, state_of, stored_run};
use super::stat::Kind;
use super::walk::Found;
use super::{Duplicate, ScanIssue, ScanReport};
use crate::error::Result;
use crate::status::Status;
use crate::store::{FileStamp, FileState, FileStates, StoredRun, Writer};

/// A sidecar declaring a run id, found in this scan.
struct Candidate {
    /// The sidecar's path, as bytes.
    key: Vec<u8>,
    /// Its state as it will be stored (`source` settled at the end).
    state: FileState,
    /// What the last scan stored about it.
    was: Option<Was>,
}

/// What the last scan stored about a sidecar, as far as settling needs.
#[derive(Clone, Copy)]
struct Was {
    source: bool,
    heartbeat_at: Option<f64>,
    /// Everything else stored equals the new state.
    same_otherwise: bool,
}

impl Was {
    fn of(previous: &FileState, now: &FileState) -> Was {
        Was {
            source: previous.source,
            heartbeat_at: previous.heartbeat_at,
            same_otherwise: previous.stamp == now.stamp
                && previous.run_id == now.run_id
                && previous.invalid == now.invalid
                && previous.terminal == now.terminal
                && previous.updated_at.to_bits() == now.updated_at.to_bits(),
        }
    }
}

impl Candidate {
    /// Whether its state must be written.
    fn dirty(&self) -> bool {
        self.was.is_none_or(|w| {
            !w.same_otherwise
                || w.source != self.state.source
                || w.heartbeat_at != self.state.heartbeat_at
        })
    }
}

/// The best sidecar so far of a run id.
struct Best {
    candidate: Candidate,
    /// The cached record holds this file's content.
    in_record: bool,
    /// The file was read in this scan (its heartbeat is in the record).
    read_now: bool,
}

impl Best {
    /// Nothing to write: the record and the file state are as stored (the
    /// case of every run in a scan where nothing changed).
    fn is_settled(&self) -> bool {
        self.in_record
            && self.candidate.was.is_some_and(|w| {
                w.same_otherwise && w.source && w.heartbeat_at == self.candidate.state.heartbeat_at
            })
    }
}

/// What one sidecar of a batch needs.
enum Step {
    /// It could not be stat'ed: its run is kept as it was.
    StatFailed(PathBuf, io::Error, Option<FileState>),
    /// Not a regular file.
    Rejected(Vec<u8>, PathBuf, FileStamp, Option<FileState>, &'static str),
    /// Unchanged since the last scan; the heartbeat if the walk stat'ed it.
    Unchanged(Vec<u8>, FileState, Option<Option<f64>>),
    Read(Vec<u8>, PathBuf, FileStamp, Option<FileState>),
}

/// A batch of found sidecars checked against the cache: what each needs.
/// Nothing is read or written yet; the sidecars to read can be read on any
/// thread (see [`Planned::to_read`]) while the cache takes the
/// previous batch.
pub(super) struct Planned {
    steps: Vec<Step>,
}

impl Planned {
    /// The sidecars to read, in the order [`Reconciler::apply`] wants their
    /// reads.
    pub fn to_read(&self) -> impl Iterator<Item = &Path> {
        self.steps.iter().filter_map(|s| match s {
            Step::Read(_, path, ..) => Some(path.as_path()),
            _ => None,
        })
    }
}

/// The reads of a [`Planned`] batch, in [`Planned::to_read`] order.
pub(super) type Reads = Vec<std::result::Result<ReadSidecar, Unreadable>>;

/// Where a [`Reconciler`] writes: the cache, or nowhere (a dry run, which
/// only counts the writes it would make).
struct Sink<'w, 'txn> {
    writer: Option<&'w mut Writer<'txn>>,
    /// Writes made (or, dry, that would have been made).
    writes: usize,
}

impl Sink<'_, '_> {
    fn put_file(&mut self, key: &[u8], state: &FileState) -> Result<()> {
        self.writes += 1;
        self.writer
            .as_mut()
            .map_or(Ok(()), |w| w.put_file(key, state))
    }

    fn remove_file(&mut self, key: &[u8]) -> Result<()> {
        self.writes += 1;
        self.writer.as_mut().map_or(Ok(()), |w| w.remove_file(key))
    }

    fn upsert(&mut self, run_id: &str, run: &StoredRun) -> Result<()> {
        self.writes += 1;
        self.writer
            .as_mut()
            .map_or(Ok(()), |w| w.upsert(run_id, run))
    }

    /// A stored run; none in a dry run (every caller writes when it finds
    /// one, and the write was counted before: see the callers).
    fn record(&self, run_id: &str) -> Result<Option<StoredRun>> {
        self.writer.as_ref().map_or(Ok(None), |w| w.record(run_id))
    }
}

/// What a reconcile did besides its report.
#[derive(Clone, Copy, Debug, Default)]
pub(super) struct Touched {
    /// Sidecars read (or tried), changed or not.
    pub reads: usize,
    /// Writes to the cache (dry: that would have been made).
    pub writes: usize,
}

pub(super) struct Reconciler<'w, 'txn> {
    cache: Sink<'w, 'txn>,
    pub report: ScanReport,
    remembered: FileStates,
    best: FxHashMap<String, Best>,
    /// Every sidecar path of the run ids declared more than once.
    declared_by: FxHashMap<String, Vec<PathBuf>>,
    /// Runs whose sidecar exists but could not be used now: kept as they
    /// are, never orphaned.
    protected: FxHashSet<String>,
    /// Stamps with an mtime before this are trusted; `None`: none is.
    trusted_before: Option<f64>,
    /// Sidecars read (or tried) in this scan, changed or not.
    reads: usize,
}

impl Reconciler<'_, '_> {
    /// A reconciler that writes nothing, only counts what it would write:
    /// for a scan that expects to find nothing changed, before it opens the
    /// cache for writing.
    pub fn dry(
        report: ScanReport,
        remembered: FileStates,
        trusted_before: Option<f64>,
    ) -> Reconciler<'static, 'static> {
        Reconciler::with_sink(
            Sink {
                writer: None,
                writes: 0,
            },
            report,
            remembered,
            trusted_before,
        )
    }
}

impl Candidate {
    fn path(&self) -> &Path {
        Path::new(OsStr::from_bytes(&self.key))
    }
}

impl<'w, 'txn> Reconciler<'w, 'txn> {
    pub fn new(
        writer: &'w mut Writer<'txn>,
        report: ScanReport,
        remembered: FileStates,
        trusted_before: Option<f64>,
    ) -> Self {
        let sink = Sink {
            writer: Some(writer),
            writes: 0,
        };
        Self::with_sink(sink, report, remembered, trusted_before)
    }

    fn with_sink(
        cache: Sink<'w, 'txn>,
        report: ScanReport,
        remembered: FileStates,
        trusted_before: Option<f64>,
    ) -> Self {
        Reconciler {
            cache,
            report,
            // About one run per remembered sidecar.
            best: FxHashMap::with_capacity_and_hasher(remembered.len(), Default::default()),
            remembered,
            declared_by: FxHashMap::default(),
            protected: FxHashSet::default(),
            trusted_before,
            reads: 0,
        }
    }

    /// Checks a batch against the cache: which sidecars changed and must be
    /// read. Writes nothing: [`apply`](Self::apply) does, in batch order,
    /// so a batch may be planned before the previous one is applied.
    pub fn plan(&mut self, batch: Vec<Found>) -> Planned {
        let mut steps = Vec::with_capacity(batch.len());
        for found in batch {
            // The path's bytes become the key; the rare steps that report
            // the path get a copy.
            let key = found.path.into_os_string().into_vec();
            let path = |key: &[u8]| Path::new(OsStr::from_bytes(key)).to_path_buf();
            let previous = self.remembered.swap_remove(&key);
            let meta = match found.meta {
                Ok(meta) => meta,
                Err(e) => {
                    steps.push(Step::StatFailed(path(&key), e, previous));
                    continue;
                }
            };
            if meta.kind != Kind::File {
                let reason = if meta.kind == Kind::Symlink {
                    "a symbolic link (not followed)"
                } else {
                    "not a regular file"
                };
                let path = path(&key);
                steps.push(Step::Rejected(key, path, meta.stamp, previous, reason));
                continue;
            }
            let stamp = meta.stamp;
            let trusted = self.trusted_before.is_some_and(|t| stamp.mtime_secs() < t);
            match previous {
                Some(prev) if trusted && prev.stamp == stamp => {
                    steps.push(Step::Unchanged(key, prev, found.heartbeat))
                }
                previous => {
                    let path = path(&key);
                    steps.push(Step::Read(key, path, stamp, previous))
                }
            }
        }
        Planned { steps }
    }

    /// Writes a planned batch to the cache, given the reads its plan asked
    /// for.
    pub fn apply(&mut self, planned: Planned, reads: Reads) -> Result<()> {
        let mut reads = reads.into_iter();
        for step in planned.steps {
            self.report.total_sidecars += 1;
            match step {
                Step::StatFailed(path, e, previous) => {
                    self.protect(previous.as_ref());
                    self.report.errors.push(issue(&path, cannot_stat(&e)));
                }
                Step::Rejected(key, path, stamp, previous, reason) => {
                    self.reject(&key, &path, stamp, previous, reason.to_owned())?
                }
                Step::Unchanged(key, previous, heartbeat) => {
                    self.unchanged(key, previous, heartbeat)?
                }
                Step::Read(key, path, stamp, previous) => match reads.next() {
                    Some(result) => {
                        self.reads += 1;
                        self.read_now(key, path, stamp, previous, result)?
                    }
                    None => unreachable!("one read per sidecar to read"),
                },
            }
        }
        Ok(())
    }

    /// `heartbeat`: the heartbeat, if the walk stat'ed it already.
    fn unchanged(
        &mut self,
        key: Vec<u8>,
        previous: FileState,
        heartbeat: Option<Option<f64>>,
    ) -> Result<()> {
        let path = Path::new(OsStr::from_bytes(&key));
        if let Some(reason) = &previous.invalid {
            self.report.skipped_invalid += 1;
            self.report.invalid.push(issue(path, reason.clone()));
            if previous.source {
                self.protect(Some(&previous));
            }
            return Ok(());
        }
        self.report.skipped_unchanged += 1;
        let Some(run_id) = previous.run_id.clone() else {
            return Ok(());
        };
        let was = Was {
            source: previous.source,
            heartbeat_at: previous.heartbeat_at,
            same_otherwise: true,
        };
        let mut state = previous;
        if !state.terminal {
            state.heartbeat_at = heartbeat.unwrap_or_else(|| heartbeat_of(path));
        }
        let candidate = Candidate {
            key,
            state,
            was: Some(was),
        };
        self.offer(run_id, candidate, None)
    }

    fn read_now(
        &mut self,
        key: Vec<u8>,
        path: PathBuf,
        stamp: FileStamp,
        previous: Option<FileState>,
        result: std::result::Result<ReadSidecar, Unreadable>,
    ) -> Result<()> {
        match result {
            Ok(read) => {
                let run_id = read.sidecar.run_id.clone();
                let state = state_of(&read);
                let candidate = Candidate {
                    key,
                    was: previous.as_ref().map(|p| Was::of(p, &state)),
                    state,
                };
                self.offer(run_id, candidate, Some(read))
            }
            Err(Unreadable::Vanished(reason)) => {
                // Seen but not read: its remembered state stays as it was.
                self.protect(previous.as_ref());
                self.report.errors.push(issue(&path, reason));
                Ok(())
            }
            Err(Unreadable::Invalid(reason)) => self.reject(&key, &path, stamp, previous, reason),
        }
    }

    fn protect(&mut self, previous: Option<&FileState>) {
        if let Some(run_id) = previous.and_then(|p| p.run_id.clone()) {
            self.protected.insert(run_id);
        }
    }

    /// Records a rejected sidecar, keeping the run it last declared (so the
    /// run is not lost while its file is broken, and is orphaned if the file
    /// goes).
    fn reject(
        &mut self,
        key: &[u8],
        path: &Path,
        stamp: FileStamp,
        previous: Option<FileState>,
        reason: String,
    ) -> Result<()> {
        self.report.skipped_invalid += 1;
        self.report.invalid.push(issue(path, reason.clone()));
        let state = FileState {
            stamp,
            run_id: previous.as_ref().and_then(|p| p.run_id.clone()),
            invalid: Some(reason),
            source: previous.as_ref().is_some_and(|p| p.source),
            terminal: previous.as_ref().is_some_and(|p| p.terminal),
            updated_at: previous
                .as_ref()
                .map_or(f64::NEG_INFINITY, |p| p.updated_at),
            heartbeat_at: None,
        };
        if state.source {
            self.protect(Some(&state));
        }
        if previous.as_ref() != Some(&state) {
            self.cache.put_file(key, &state)?;
        }
        Ok(())
    }

    /// A valid sidecar declares `run_id`: keep it if it is the best so far.
    fn offer(
        &mut self,
        run_id: String,
        candidate: Candidate,
        content: Option<ReadSidecar>,
    ) -> Result<()> {
        match self.best.entry(run_id) {
            Entry::Vacant(slot) => {
                let read_now = content.is_some();
                let in_record = match content {
                    Some(read) => {
                        self.cache
                            .upsert(slot.key(), &stored_run(read, candidate.path()))?;
                        self.report.upserted += 1;
                        true
                    }
                    None => candidate.was.is_some_and(|w| w.source),
                };
                slot.insert(Best {
                    candidate,
                    in_record,
                    read_now,
                });
            }
            Entry::Occupied(mut slot) => {
                let run_id = slot.key().clone();
                self.declared_by
                    .entry(run_id.clone())
                    .or_insert_with(|| vec![slot.get().candidate.path().to_path_buf()])
                    .push(candidate.path().to_path_buf());
                let current = &slot.get().candidate;
                let better = candidate
                    .state
                    .updated_at
                    .total_cmp(&current.state.updated_at)
                    .then_with(|| current.key.cmp(&candidate.key))
                    .is_gt();
                if better {
                    let read_now = content.is_some();
                    let in_record = match content {
                        Some(read) => {
                            self.cache
                                .upsert(&run_id, &stored_run(read, candidate.path()))?;
                            self.report.upserted += 1;
                            true
                        }
                        None => false,
                    };
                    let replaced = std::mem::replace(
                        slot.get_mut(),
                        Best {
                            candidate,
                            in_record,
                            read_now,
                        },
                    );
                    self.settle_loser(replaced.candidate)?;
                } else {
                    self.settle_loser(candidate)?;
                }
            }
        }
        Ok(())
    }

    fn settle_loser(&mut self, mut loser: Candidate) -> Result<()> {
        loser.state.source = false;
        if loser.dirty() {
            self.cache.put_file(&loser.key, &loser.state)?;
        }
        Ok(())
    }

    /// Settles the winners, reports duplicates, and orphans the runs whose
    /// sidecar is gone (`unknown` says which paths lie under directories
    /// that could not be read: those are not gone). Returns the report, and
    /// how many sidecars were read and writes made.
    pub fn finish(mut self, unknown: impl Fn(&Path) -> bool) -> Result<(ScanReport, Touched)> {
        let mut duplicates = Vec::new();
        for (run_id, mut paths) in std::mem::take(&mut self.declared_by) {
            let Some(best) = self.best.get(&run_id) else {
                continue;
            };
            let kept = best.candidate.path().to_path_buf();
            paths.retain(|p| *p != kept);
            paths.sort();
            duplicates.push(Duplicate {
                run_id,
                kept,
                ignored: paths,
            });
        }
        duplicates.sort_by(|a, b| a.run_id.cmp(&b.run_id));
        self.report.duplicates = duplicates;

        // Orphans first: a run is present while it has a best sidecar.
        let gone: Vec<(Vec<u8>, FileState)> = std::mem::take(&mut self.remembered)
            .into_iter()
            .filter(|(key, _)| !unknown(Path::new(OsStr::from_bytes(key))))
            .collect();
        for (key, state) in gone {
            self.cache.remove_file(&key)?;
            let Some(run_id) = state.run_id.filter(|_| state.source) else {
                continue;
            };
            if self.best.contains_key(&run_id) || self.protected.contains(&run_id) {
                continue;
            }
            if let Some(mut run) = self.cache.record(&run_id)?
                && run.hot.status != Status::Orphaned
            {
                run.hot.status = Status::Orphaned;
                run.hot.heartbeat_at = None;
                self.cache.upsert(&run_id, &run)?;
                self.report.orphaned += 1;
            }
        }
        // In path order: the file states are written as one sorted run,
        // which fills the table's pages (in hash order they are two thirds
        // full) and keeps the insertion path in the page cache.
        let mut winners: Vec<(String, Best)> = std::mem::take(&mut self.best)
            .into_iter()
            .filter(|(_, best)| !best.is_settled())
            .collect();
        winners.sort_unstable_by(|(_, a), (_, b)| a.candidate.key.cmp(&b.candidate.key));
        for (run_id, best) in winners {
            self.settle_winner(&run_id, best)?;
        }
        self.report.invalid.sort_by(|a, b| a.path.cmp(&b.path));
        self.report.errors.sort_by(|a, b| a.path.cmp(&b.path));
        let touched = Touched {
            reads: self.reads,
            writes: self.cache.writes,
        };
        Ok((self.report, touched))
    }

    fn settle_winner(&mut self, run_id: &str, best: Best) -> Result<()> {
        let Best {
            mut candidate,
            in_record,
            read_now,
        } = best;
        candidate.state.source = true;
        if !in_record {
            // The record came from another file (gone, or older): read this one.
            self.reads += 1;
            match read(candidate.path()) {
                Ok(read) => {
                    candidate.state = FileState {
                        source: true,
                        ..state_of(&read)
                    };
                    candidate.was = None;
                    self.cache
                        .upsert(run_id, &stored_run(read, candidate.path()))?;
                    self.report.upserted += 1;
                    self.report.skipped_unchanged = self.report.skipped_unchanged.saturating_sub(1);
                }
                Err(Unreadable::Vanished(reason) | Unreadable::Invalid(reason)) => {
                    self.report.errors.push(issue(candidate.path(), reason));
                }
            }
        } else if !read_now
            && candidate
                .was
                .is_some_and(|w| w.heartbeat_at != candidate.state.heartbeat_at)
            && let Some(mut run) = self.cache.record(run_id)?
        {
            run.hot.heartbeat_at = candidate.state.heartbeat_at;
            self.cache.upsert(run_id, &run)?;
        }
        if candidate.dirty() {
            self.cache.put_file(&candidate.key, &candidate.state)?;
        }
        Ok(())
    }
}

fn cannot_stat(e: &io::Error) -> String {
    if e.kind() == io::ErrorKind::NotFound {
        "vanished while being read".to_owned()
    } else {
        format!("cannot stat: {e}")
    }
}

pub(super) fn issue(path: &Path, reason: impl Into<String>) -> ScanIssue {
    ScanIssue {
        path: path.to_path_buf(),
        reason: reason.into(),
    }
}
