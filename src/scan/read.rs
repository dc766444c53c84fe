//! Reading sidecars (in parallel, in bounded batches) and turning them into
//! cache records.

use std::fs;
use std::io;
use std::path::Path;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use crate::sidecar::{HEARTBEAT_NAME, Sidecar};
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
    match Sidecar::read(path) {
        Ok((sidecar, meta)) => Ok(ReadSidecar {
            sidecar,
            stamp: FileStamp::of(&meta),
            heartbeat_at: heartbeat_of(path),
        }),
        Err(invalid) => match fs::symlink_metadata(path) {
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                Err(Unreadable::Vanished("vanished while being read".to_owned()))
            }
            _ => Err(Unreadable::Invalid(invalid.to_string())),
        },
    }
}

/// Reads every path of `paths` on up to `threads` threads, in order.
pub(super) fn read_all(paths: &[&Path], threads: usize) -> Vec<Result<ReadSidecar, Unreadable>> {
    if threads <= 1 || paths.len() < 64 {
        return paths.iter().map(|p| read(p)).collect();
    }
    let chunk = paths.len().div_ceil(threads);
    std::thread::scope(|scope| {
        let handles: Vec<_> = paths
            .chunks(chunk)
            .map(|part| scope.spawn(move || part.iter().map(|p| read(p)).collect::<Vec<_>>()))
            .collect();
        let mut out = Vec::with_capacity(paths.len());
        for (handle, part) in handles.into_iter().zip(paths.chunks(chunk)) {
            match handle.join() {
                Ok(results) => out.extend(results),
                // Reading does not panic; should a thread, read its share here.
                Err(_) => out.extend(part.iter().map(|p| read(p))),
            }
        }
        out
    })
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

    use super::*;
    use crate::scan::stat::lstat;

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
