//! The heartbeat file: empty, only its mtime matters. Touching it is one
//! `futimens` on a handle kept open, so the hot path never resolves a path.

use std::fs::{self, File, FileTimes, TryLockError};
use std::io;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant, SystemTime};

use crate::error::{Error, Result};
use crate::sidecar::HEARTBEAT_NAME;
use crate::writer::run_files::open_for_write;

#[derive(Debug)]
pub(crate) struct Heartbeat {
    path: PathBuf,
    file: File,
}

impl Heartbeat {
    /// Opens (creating it when missing) `run_dir/heartbeat` and touches it.
    pub fn open(run_dir: &Path) -> Result<Heartbeat> {
        let path = run_dir.join(HEARTBEAT_NAME);
        let file = open_for_write(&path).map_err(|e| Error::io(&path, e))?;
        let heartbeat = Heartbeat { path, file };
        heartbeat.touch()?;
        Ok(heartbeat)
    }

    /// [`Heartbeat::open`], holding an exclusive lock on the file for as
    /// long as the heartbeat lives: one writer per run. Waits up to `wait`
    /// for another writer to let go. A filesystem without locks (some
    /// network mounts) is not an error: the run is then unguarded.
    pub fn open_locked(run_dir: &Path, wait: Duration) -> Result<Heartbeat> {
        let heartbeat = Heartbeat::open(run_dir)?;
        let start = Instant::now();
        let mut pause = Duration::from_millis(5);
        loop {
            match heartbeat.file.try_lock() {
                Ok(()) => return Ok(heartbeat),
                Err(TryLockError::WouldBlock) => {
                    let waited = start.elapsed();
                    if waited >= wait {
                        return Err(Error::RunBusy {
                            run_dir: run_dir.to_owned(),
                            waited,
                        });
                    }
                    std::thread::sleep(pause.min(wait - waited));
                    pause = (pause * 2).min(Duration::from_millis(100));
                }
                Err(TryLockError::Error(_)) => return Ok(heartbeat),
            }
        }
    }

    /// Sets the heartbeat's mtime (and atime) to now.
    pub fn touch(&self) -> Result<()> {
        let now = SystemTime::now();
        self.file
            .set_times(FileTimes::new().set_accessed(now).set_modified(now))
            .map_err(|e| Error::io(&self.path, e))
    }

    /// Lets another writer in (closing the writer keeps the handle).
    pub fn unlock(&self) {
        let _ = self.file.unlock();
    }

    /// Touches the heartbeat, first re-creating the file if someone deleted
    /// it (the kept handle would otherwise touch a file no one can see).
    pub fn refresh(&mut self) -> Result<()> {
        match fs::symlink_metadata(&self.path) {
            Ok(_) => {}
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                self.file = open_for_write(&self.path).map_err(|e| Error::io(&self.path, e))?;
                // Best effort: the lock guards against a second writer
                // arriving later; none can be waiting on a file that was gone.
                let _ = self.file.try_lock();
            }
            Err(e) => return Err(Error::io(&self.path, e)),
        }
        self.touch()
    }
}

impl Heartbeat {
    /// Removes the heartbeat file: a run that stopped without a terminal
    /// status (`interrupted`) must not look alive until its heartbeat goes
    /// stale. (Readers take a run without heartbeat as not alive.)
    pub fn retire(&self) -> Result<()> {
        match fs::remove_file(&self.path) {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(Error::io(&self.path, e)),
        }
    }
}

/// Touches `run_dir/heartbeat` once, creating it when missing.
pub(crate) fn touch_once(run_dir: &Path) -> Result<()> {
    Heartbeat::open(run_dir).map(drop)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::{Duration, UNIX_EPOCH};

    fn mtime(path: &Path) -> SystemTime {
        fs::metadata(path).unwrap().modified().unwrap()
    }

    fn age(path: &Path) {
        File::options()
            .write(true)
            .open(path)
            .unwrap()
            .set_modified(UNIX_EPOCH + Duration::from_secs(1_000_000))
            .unwrap();
    }

    #[test]
    fn open_creates_an_empty_file_and_touch_moves_its_mtime() {
        let dir = tempfile::tempdir().unwrap();
        let hb = Heartbeat::open(dir.path()).unwrap();
        let path = dir.path().join(HEARTBEAT_NAME);
        assert_eq!(fs::metadata(&path).unwrap().len(), 0);
        age(&path);
        hb.touch().unwrap();
        let since = SystemTime::now()
            .duration_since(mtime(&path))
            .unwrap_or_default();
        assert!(since < Duration::from_secs(5), "{since:?}");
    }

    #[test]
    fn an_existing_heartbeat_is_reused_not_truncated() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(HEARTBEAT_NAME);
        fs::write(&path, b"x").unwrap();
        Heartbeat::open(dir.path()).unwrap();
        assert_eq!(fs::read(&path).unwrap(), b"x");
    }

    #[test]
    fn refresh_recreates_a_deleted_heartbeat() {
        let dir = tempfile::tempdir().unwrap();
        let mut hb = Heartbeat::open(dir.path()).unwrap();
        let path = dir.path().join(HEARTBEAT_NAME);
        fs::remove_file(&path).unwrap();
        hb.touch().unwrap(); // touches the unlinked file: no error, no file
        assert!(!path.exists());
        hb.refresh().unwrap();
        assert!(path.exists());
    }

    #[test]
    fn a_locked_heartbeat_keeps_a_second_writer_out() {
        let dir = tempfile::tempdir().unwrap();
        let first = Heartbeat::open_locked(dir.path(), Duration::ZERO).unwrap();
        let start = Instant::now();
        let err = Heartbeat::open_locked(dir.path(), Duration::from_millis(100)).unwrap_err();
        assert!(start.elapsed() >= Duration::from_millis(100));
        assert!(matches!(err, Error::RunBusy { .. }), "{err}");
        // A plain touch does not need the lock.
        touch_once(dir.path()).unwrap();
        drop(first);
        Heartbeat::open_locked(dir.path(), Duration::ZERO).unwrap();
    }

    #[test]
    fn retire_removes_the_file_and_refresh_brings_it_back() {
        let dir = tempfile::tempdir().unwrap();
        let mut hb = Heartbeat::open(dir.path()).unwrap();
        hb.retire().unwrap();
        hb.retire().unwrap();
        assert!(!dir.path().join(HEARTBEAT_NAME).exists());
        hb.refresh().unwrap();
        assert!(dir.path().join(HEARTBEAT_NAME).exists());
    }

    #[cfg(unix)]
    #[test]
    fn a_symlinked_heartbeat_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let outside = tempfile::tempdir().unwrap();
        let target = outside.path().join("victim");
        fs::write(&target, b"").unwrap();
        age(&target);
        let before = mtime(&target);
        std::os::unix::fs::symlink(&target, dir.path().join(HEARTBEAT_NAME)).unwrap();
        let err = Heartbeat::open(dir.path()).unwrap_err();
        assert!(err.to_string().contains("not a regular file"), "{err}");
        assert_eq!(mtime(&target), before);
    }
}
