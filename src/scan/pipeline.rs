//! The scan as a pipeline: the walk streams the sidecars it finds to the
//! scanner, which reads each batch while the cache takes the previous one.
//!
//! Walking (readdir, lstat), reading and parsing, and writing to the cache
//! are each mostly one thread's work; one after the other, a full scan used
//! one core of two. Here the walk runs on its own thread, at most
//! [`WALK_AHEAD`] batches ahead, and the sidecars of batch N+1 are read on
//! helper threads while batch N is written.
//!
//! Batches keep the walk's order and are planned and applied in that order,
//! so the cache ends exactly as a scan of the same batches one after the
//! other leaves it.

use std::cell::Cell;
use std::ops::ControlFlow;
use std::path::{Path, PathBuf};
use std::sync::mpsc::{self, Receiver};
use std::thread::{Scope, ScopedJoinHandle};

use super::BATCH;
use super::in_flight::Threads;
use super::read::read_all;
use super::reconcile::{Planned, Reads, Reconciler};
use super::walk::{Found, Walk, walk_tree};
use crate::error::Result;

/// Batches the walk may run ahead of the scanner: bounds the memory a walk
/// of any size holds (about 200 bytes a sidecar found).
const WALK_AHEAD: usize = 32;

/// Batches walked before the first is read. A tree this small (2,048
/// sidecars) is walked whole first, which costs a bigger one a few
/// milliseconds: its progress then has a total from the first sidecar read,
/// and no sidecar is read before the walk is over.
const WALK_FIRST: usize = 4;

/// The scanner's end of a streamed walk: the batches found, in walk order.
pub(super) struct WalkFeed<'a> {
    receiver: &'a Receiver<Vec<Found>>,
    found: Cell<usize>,
    over: Cell<bool>,
    /// Called with each full batch received while the walk goes on.
    on_batch: &'a dyn Fn(&WalkFeed<'_>),
}

impl WalkFeed<'_> {
    /// Sidecars received so far (all found once the walk is over).
    pub fn found(&self) -> usize {
        self.found.get()
    }

    /// Whether the walk is over (as far as the scanner has seen).
    pub fn over(&self) -> bool {
        self.over.get()
    }

    /// The batches, in walk order; the first only once [`WALK_FIRST`] are
    /// found or the walk is over.
    pub fn batches(&self) -> impl Iterator<Item = Vec<Found>> + '_ {
        let mut first = Vec::with_capacity(WALK_FIRST);
        while first.len() < WALK_FIRST {
            match self.receive() {
                Some(batch) => first.push(batch),
                None => break,
            }
        }
        first
            .into_iter()
            .chain(std::iter::from_fn(|| self.receive()))
    }

    fn receive(&self) -> Option<Vec<Found>> {
        if self.over.get() {
            return None;
        }
        match self.receiver.recv() {
            Ok(batch) => {
                self.found.set(self.found.get() + batch.len());
                if batch.len() == BATCH {
                    (self.on_batch)(self);
                }
                Some(batch)
            }
            Err(_) => {
                self.over.set(true);
                None
            }
        }
    }
}

/// Walks `root` on a thread of its own (`threads` walker threads) while
/// `consume` takes the sidecars found from a [`WalkFeed`]; `on_batch` is
/// called (on this thread) as each batch is received. Returns the walk (its
/// `sidecars` empty) and what `consume` returned. Should `consume` return
/// before the walk is over, the walk stops (and is not `complete`).
pub(super) fn walk_streamed<T>(
    root: &Path,
    threads: usize,
    on_batch: &dyn Fn(&WalkFeed<'_>),
    consume: impl FnOnce(&WalkFeed<'_>) -> T,
) -> (Walk, T) {
    let (sender, receiver) = mpsc::sync_channel::<Vec<Found>>(WALK_AHEAD);
    std::thread::scope(|scope| {
        let walker = scope.spawn(move || {
            let mut batch = Vec::with_capacity(BATCH);
            let walk = walk_tree(root, threads, |found| {
                batch.push(found);
                if batch.len() == BATCH {
                    let full = std::mem::replace(&mut batch, Vec::with_capacity(BATCH));
                    if sender.send(full).is_err() {
                        // The scanner stopped (an error): so does the walk.
                        return ControlFlow::Break(());
                    }
                }
                ControlFlow::Continue(())
            });
            if !batch.is_empty() {
                let _ = sender.send(batch);
            }
            walk
        });
        let feed = WalkFeed {
            receiver: &receiver,
            found: Cell::new(0),
            over: Cell::new(false),
            on_batch,
        };
        let consumed = consume(&feed);
        // Unblocks a walker waiting to send to a scanner that stopped early.
        drop(receiver);
        match walker.join() {
            Ok(walk) => (walk, consumed),
            // jwalk does not panic on a tree; should it, the scan fails as
            // it did when the walk ran on the scanning thread.
            Err(panic) => std::panic::resume_unwind(panic),
        }
    })
}

/// Reconciles `batches` in order, reading the sidecars of each batch (on
/// `threads.io` threads, parsed on `threads.cpu`) while the previous batch
/// is written.
/// `read` is called with each batch's length once its sidecars are read,
/// before those of the next batch are: a sidecar that changes then is read
/// in its new state.
pub(super) fn reconcile_batches(
    reconciler: &mut Reconciler<'_, '_>,
    batches: impl Iterator<Item = Vec<Found>>,
    threads: Threads,
    mut read: impl FnMut(usize),
) -> Result<()> {
    std::thread::scope(|scope| {
        // A batch read, not yet written.
        let mut unwritten: Option<(Planned, Reads)> = None;
        for batch in batches {
            let len = batch.len();
            let planned = reconciler.plan(batch);
            let reading = start_reading(scope, &planned, threads);
            if let Some((previous, reads)) = unwritten.take() {
                reconciler.apply(previous, reads)?;
            }
            let reads = finish_reading(reading, &planned);
            read(len);
            unwritten = Some((planned, reads));
        }
        if let Some((last, reads)) = unwritten {
            reconciler.apply(last, reads)?;
        }
        Ok(())
    })
}

/// Starts reading the sidecars `planned` needs, on a thread of `scope`;
/// `None` when it needs none.
fn start_reading<'scope>(
    scope: &'scope Scope<'scope, '_>,
    planned: &Planned,
    threads: Threads,
) -> Option<ScopedJoinHandle<'scope, Reads>> {
    let paths: Vec<PathBuf> = planned.to_read().map(Path::to_path_buf).collect();
    if paths.is_empty() {
        return None;
    }
    Some(scope.spawn(move || {
        let paths: Vec<&Path> = paths.iter().map(PathBuf::as_path).collect();
        read_all(&paths, threads.io, threads.cpu)
    }))
}

fn finish_reading(reading: Option<ScopedJoinHandle<'_, Reads>>, planned: &Planned) -> Reads {
    match reading.map(ScopedJoinHandle::join) {
        None => Vec::new(),
        Some(Ok(reads)) => reads,
        // Reading does not panic; should it, read the batch here.
        Some(Err(_)) => read_all(&planned.to_read().collect::<Vec<_>>(), 1, 1),
    }
}

#[cfg(test)]
mod tests {
    use std::fs;
    use std::time::Duration;

    use super::*;
    use crate::scan::ScanReport;
    use crate::scan::stat::lstat;
    use crate::sidecar::Sidecar;
    use crate::status::Status;
    use crate::store::{FileStates, Store, StoredRun};

    /// A tree of `runs` sidecars in which every tenth run id is declared
    /// again twice elsewhere (newer, older, or as new at a larger path), plus
    /// a sidecar that is not JSON and a directory named `sidecar.json`.
    fn tree(root: &Path, runs: usize) -> Vec<PathBuf> {
        let mut paths = Vec::new();
        let mut write = |rel: String, text: String| {
            let dir = root.join(rel);
            fs::create_dir_all(&dir).unwrap();
            let path = dir.join("sidecar.json");
            fs::write(&path, text).unwrap();
            paths.push(path);
        };
        for i in 0..runs {
            let id = format!("run{i:05}");
            let mut sidecar = Sidecar::new(&id);
            sidecar.status = Status::Completed;
            sidecar.updated_at = Some(1000.0);
            write(format!("a/{i:05}/{id}"), sidecar.to_json());
            if i % 10 == 0 {
                for (copy, updated_at) in [("b", 1000.0 + (i % 3) as f64), ("c", 1000.0)] {
                    sidecar.updated_at = Some(updated_at);
                    sidecar.notes = format!("copy {copy}");
                    write(format!("{copy}/{i:05}/{id}"), sidecar.to_json());
                }
            }
        }
        write("a/broken".to_owned(), "{not json".to_owned());
        fs::create_dir_all(root.join("d/sidecar.json")).unwrap();
        paths.push(root.join("d/sidecar.json"));
        paths
    }

    fn found(paths: &[PathBuf]) -> Vec<Found> {
        paths
            .iter()
            .map(|path| Found {
                path: path.clone(),
                meta: lstat(path),
                heartbeat: None,
            })
            .collect()
    }

    /// What a scan leaves: its report (without timings), every record and
    /// every file state.
    type Outcome = (ScanReport, Vec<(String, Option<StoredRun>)>, FileStates);

    /// Reconciles `order` into a fresh cache, pipelined or one batch after
    /// the other.
    fn reconcile(order: Vec<Found>, runs: usize, pipelined: bool) -> Outcome {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::new(dir.path().join("cache.redb"), Duration::from_secs(5));
        let (outcome, _) = store
            .write(|writer, _| {
                let remembered = writer.files()?;
                let mut reconciler =
                    Reconciler::new(writer, ScanReport::default(), remembered, None);
                let mut rest = order.iter().map(|f| Found {
                    path: f.path.clone(),
                    meta: f.meta.as_ref().map(|m| *m).map_err(|e| e.kind().into()),
                    heartbeat: f.heartbeat,
                });
                let batches = std::iter::from_fn(|| {
                    let batch: Vec<Found> = rest.by_ref().take(BATCH).collect();
                    (!batch.is_empty()).then_some(batch)
                });
                if pipelined {
                    reconcile_batches(&mut reconciler, batches, Threads::io(4), |_| {})?;
                } else {
                    for batch in batches {
                        let planned = reconciler.plan(batch);
                        let reads = read_all(&planned.to_read().collect::<Vec<_>>(), 1, 1);
                        reconciler.apply(planned, reads)?;
                    }
                }
                let (report, _) = reconciler.finish(|_| false)?;
                let mut records = Vec::new();
                for i in 0..runs {
                    let id = format!("run{i:05}");
                    records.push((id.clone(), writer.record(&id)?));
                }
                Ok((report, records, writer.files()?))
            })
            .unwrap();
        outcome
    }

    #[test]
    fn a_pipelined_scan_writes_what_a_batch_by_batch_scan_writes_in_any_walk_order() {
        let dir = tempfile::tempdir().unwrap();
        let runs = 1500;
        let paths = tree(dir.path(), runs);
        let forward = found(&paths);
        let expected = reconcile(found(&paths), runs, false);
        let (report, records, _) = &expected;
        assert_eq!(report.total_sidecars, runs + 2 * runs / 10 + 2);
        assert_eq!(report.duplicates.len(), runs / 10);
        assert_eq!(report.invalid.len(), 2, "{report}");
        assert!(records.iter().all(|(_, r)| r.is_some()));

        // The same batches, pipelined: the same writes in the same order.
        assert!(reconcile(forward, runs, true) == expected);
        // Another walk order: the same cache. Only `upserted` may differ (a
        // better duplicate found later is written again).
        let mut reversed = paths.clone();
        reversed.reverse();
        // Interleaved: the copies of a run id meet in different batches.
        let mut interleaved = paths.clone();
        interleaved.sort_by_key(|p| {
            let name = p.to_string_lossy();
            (name.len() % 7, name.chars().rev().collect::<String>())
        });
        for order in [reversed, interleaved] {
            let (mut got, got_records, got_files) = reconcile(found(&order), runs, true);
            got.upserted = expected.0.upserted;
            assert_eq!(got, expected.0);
            for ((id, want), (_, got)) in expected.1.iter().zip(&got_records) {
                assert!(want == got, "{id}: {want:?} vs {got:?}");
            }
            assert!(got_files == expected.2, "file states differ");
        }
    }
}
