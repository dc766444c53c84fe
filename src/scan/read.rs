//! Reading sidecars (in parallel, in bounded batches) and turning them into
//! cache records.

use std::fs::{self, Metadata};
use std::io;
use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, mpsc};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use parking_lot::Mutex;

use crate::sidecar::{HEARTBEAT_NAME, InvalidSidecar, Sidecar};
use crate::store::{Cold, FileStamp, FileState, Hot, StoredRun};

/// Why a sidecar found in the walk could not be used.
pub(super) enum Unreadable {
    /// Gone between the walk and the read: not a deleted run yet.
    Vanished(String),
    /// Read, and rejected.
    Invalid(String),
}

/// A sidecar read and validated, with the stamp of the file read and the
/// heartbeat of its run.
pub(super) struct ReadSidecar {
    pub sidecar: Sidecar,
    pub stamp: FileStamp,
    pub heartbeat_at: Option<f64>,
}

/// Reads and validates a sidecar, and stats its heartbeat.
pub(super) fn read(path: &Path) -> Result<ReadSidecar, Unreadable> {
    parse(path, fetch(path))
}

/// The I/O half of a read: the file's bytes and metadata, and its run's
/// heartbeat; or why they could not be had.
enum Fetched {
    Bytes {
        bytes: Vec<u8>,
        meta: Metadata,
        heartbeat_at: Option<f64>,
    },
    Failed(InvalidSidecar),
}

fn fetch(path: &Path) -> Fetched {
    match Sidecar::read_bytes(path) {
        Ok((bytes, meta)) => Fetched::Bytes {
            bytes,
            meta,
            heartbeat_at: heartbeat_of(path),
        },
        Err(invalid) => Fetched::Failed(invalid),
    }
}

/// The CPU half of a read: parsing and validating what [`fetch`] got.
fn parse(path: &Path, fetched: Fetched) -> Result<ReadSidecar, Unreadable> {
    let invalid = match fetched {
        Fetched::Bytes {
            bytes,
            meta,
            heartbeat_at,
        } => match Sidecar::parse(&bytes) {
            Ok(sidecar) => {
                return Ok(ReadSidecar {
                    sidecar,
                    stamp: FileStamp::of(&meta),
                    heartbeat_at,
                });
            }
            Err(invalid) => invalid,
        },
        Fetched::Failed(invalid) => invalid,
    };
    match fs::symlink_metadata(path) {
        Err(e) if e.kind() == io::ErrorKind::NotFound => {
            Err(Unreadable::Vanished("vanished while being read".to_owned()))
        }
        _ => Err(Unreadable::Invalid(invalid.to_string())),
    }
}

/// Sidecars read by `io_threads` threads, which hand their bytes on
/// through a channel this long per parsing thread: a bound on the bytes
/// held, and enough for the parsers never to wait on a warm disk.
const FETCHED_AHEAD: usize = 16;

/// Reads every path of `paths`, in order: `io_threads` threads fetch the
/// files (the requests in flight), and up to `cpu_threads` parse them as
/// they come (see [`in_flight`](super::in_flight)).
pub(super) fn read_all(
    paths: &[&Path],
    io_threads: usize,
    cpu_threads: usize,
) -> Vec<Result<ReadSidecar, Unreadable>> {
    let io_threads = io_threads.min(paths.len() / 8).max(1);
    if io_threads == 1 && cpu_threads <= 1 {
        return paths.iter().map(|p| read(p)).collect();
    }
    let next = AtomicUsize::new(0);
    let (sender, receiver) = mpsc::sync_channel::<(usize, Fetched)>(FETCHED_AHEAD * cpu_threads);
    // Each parser holds the receiver: should every parser stop (a panic),
    // it is dropped, and the fetching threads stop sending instead of
    // waiting on a full channel.
    let receiver = Arc::new(Mutex::new(receiver));
    let parsed: Vec<Vec<(usize, Result<ReadSidecar, Unreadable>)>> = std::thread::scope(|scope| {
        for _ in 0..io_threads {
            let sender = sender.clone();
            let next = &next;
            scope.spawn(move || {
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    let Some(path) = paths.get(i) else { break };
                    if sender.send((i, fetch(path))).is_err() {
                        break;
                    }
                }
            });
        }
        drop(sender);
        let parse_next = |receiver: Arc<Mutex<mpsc::Receiver<(usize, Fetched)>>>| {
            let mut out = Vec::new();
            loop {
                // The lock is held only while taking one item (a statement's
                // temporaries end with it); `recv` fails once every fetching
                // thread is done.
                let taken = receiver.lock().recv();
                let Ok((i, fetched)) = taken else { break };
                out.push((i, parse(paths[i], fetched)));
            }
            out
        };
        let parsers: Vec<_> = (1..cpu_threads.max(1))
            .map(|_| {
                let receiver = Arc::clone(&receiver);
                scope.spawn(move || parse_next(receiver))
            })
            .collect();
        let mut all = vec![parse_next(receiver)];
        all.extend(parsers.into_iter().filter_map(|h| h.join().ok()));
        all
    });
    let mut out: Vec<Option<Result<ReadSidecar, Unreadable>>> =
        std::iter::repeat_with(|| None).take(paths.len()).collect();
    for (i, result) in parsed.into_iter().flatten() {
        out[i] = Some(result);
    }
    // Reading does not panic; should a thread, what it held is read here.
    out.into_iter()
        .zip(paths)
        .map(|(result, path)| result.unwrap_or_else(|| read(path)))
        .collect()
}

/// The heartbeat mtime (epoch seconds) of the run whose sidecar is at
/// `sidecar_path`; `None` without a heartbeat file.
pub(super) fn heartbeat_of(sidecar_path: &Path) -> Option<f64> {
    let hb = sidecar_path.with_file_name(HEARTBEAT_NAME);
    Some(epoch_secs(fs::metadata(hb).ok()?.modified().ok()?))
}

/// The heartbeat time of a stat'ed heartbeat file: exactly what
/// [`heartbeat_of`] gives for the same file (stored values are compared).
pub(super) fn heartbeat_from(stamp: &FileStamp) -> f64 {
    let offset = Duration::from_nanos(stamp.mtime_ns.unsigned_abs());
    epoch_secs(if stamp.mtime_ns >= 0 {
        UNIX_EPOCH + offset
    } else {
        UNIX_EPOCH - offset
    })
}

fn epoch_secs(time: SystemTime) -> f64 {
    match time.duration_since(UNIX_EPOCH) {
        Ok(d) => d.as_secs_f64(),
        Err(before) => -before.duration().as_secs_f64(),
    }
}

/// The file state of a sidecar just read (`source` is settled later).
pub(super) fn state_of(read: &ReadSidecar) -> FileState {
    FileState {
        stamp: read.stamp,
        run_id: Some(read.sidecar.run_id.clone()),
        invalid: None,
        source: false,
        terminal: read.sidecar.status.is_terminal(),
        updated_at: read.sidecar.updated_at.unwrap_or(read.stamp.mtime_secs()),
        heartbeat_at: read.heartbeat_at,
    }
}

/// The cache's record of a run read from `path`.
pub(super) fn stored_run(read: ReadSidecar, path: &Path) -> StoredRun {
    let sidecar = read.sidecar;
    let run_dir = path.parent().unwrap_or(path);
    let mtime = read.stamp.mtime_secs();
    StoredRun {
        hot: Hot {
            status: sidecar.status,
            created_at: sidecar.created_at.unwrap_or(mtime),
            updated_at: sidecar.updated_at.unwrap_or(mtime),
            ended_at: sidecar.ended_at,
            heartbeat_at: read.heartbeat_at,
            tags: sidecar.tags,
            summary: sidecar.summary,
        },
        hparams: sidecar.hparams,
        cold: Cold {
            run_dir: run_dir.to_string_lossy().into_owned(),
            checkpoint_path: sidecar.checkpoint_path,
            notes: sidecar.notes,
            config: sidecar.config,
        },
    }
}

#[cfg(test)]
mod tests {
    use std::fs::File;
    use std::path::PathBuf;

    use super::*;
    use crate::scan::stat::lstat;

    /// Fetched on many threads and parsed on a few, the reads come back in
    /// the order asked, each as a read on this thread gives it.
    #[test]
    fn read_all_keeps_order_and_outcome_whatever_the_threads() {
        let dir = tempfile::tempdir().unwrap();
        let mut paths = Vec::new();
        for i in 0..300 {
            let run = dir.path().join(format!("r{i:03}"));
            fs::create_dir(&run).unwrap();
            let path = run.join("sidecar.json");
            match i % 10 {
                3 => fs::write(&path, "{not json").unwrap(),
                7 => {} // missing: vanished
                _ => fs::write(&path, Sidecar::new(format!("run{i}")).to_json()).unwrap(),
            }
            if i % 2 == 0 {
                File::create(run.join(HEARTBEAT_NAME)).unwrap();
            }
            paths.push(path);
        }
        let paths: Vec<&Path> = paths.iter().map(PathBuf::as_path).collect();
        let outcome = |r: &Result<ReadSidecar, Unreadable>| match r {
            Ok(read) => format!("{} {:?}", read.sidecar.run_id, read.heartbeat_at.is_some()),
            Err(Unreadable::Vanished(why)) => format!("vanished: {why}"),
            Err(Unreadable::Invalid(why)) => format!("invalid: {why}"),
        };
        let want: Vec<String> = paths.iter().map(|p| outcome(&read(p))).collect();
        assert_eq!(want[0], "run0 true");
        assert_eq!(want[1], "run1 false");
        assert!(want[3].starts_with("invalid: ") && want[7].starts_with("vanished: "));
        for (io, cpu) in [(1, 1), (1, 2), (16, 1), (16, 2), (64, 8)] {
            let got: Vec<String> = read_all(&paths, io, cpu).iter().map(outcome).collect();
            assert_eq!(got, want, "io {io}, cpu {cpu}");
        }
    }

    /// The heartbeat time from a stat taken during a revisit is exactly the
    /// one a read takes: the stored value is compared, so any difference
    /// would rewrite every live run's state at every scan.
    #[test]
    fn heartbeat_from_a_stat_equals_heartbeat_of() {
        let dir = tempfile::tempdir().unwrap();
        let sidecar = dir.path().join("sidecar.json");
        let heartbeat = dir.path().join(HEARTBEAT_NAME);
        let file = File::create(&heartbeat).unwrap();
        for time in [
            UNIX_EPOCH + Duration::new(1_791_992_545, 342_092_301),
            UNIX_EPOCH + Duration::new(7, 1),
            UNIX_EPOCH - Duration::new(1, 500_000_000),
        ] {
            file.set_modified(time).unwrap();
            let stat = lstat(&heartbeat).unwrap();
            let want = heartbeat_of(&sidecar).unwrap();
            assert_eq!(
                heartbeat_from(&stat.stamp).to_bits(),
                want.to_bits(),
                "{time:?}"
            );
        }
    }
}
