//! The cache lock: a file beside the database, locked shared by readers and
//! exclusively by the scanner, so that many processes take turns on a redb
//! file that only one process may hold at a time.
//!
//! The lock is the OS's (`flock`): it is released when the holder exits,
//! however it exits, so a killed scan never leaves a stale lock behind.

use std::fs::{File, OpenOptions};
use std::io;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::thread;
use std::time::{Duration, Instant};

use super::CREATE_MODE;
use crate::error::{Error, Result};

/// Held for as long as the database is open; dropping it unlocks.
#[derive(Debug)]
pub(crate) struct CacheLock {
    _file: File,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum LockKind {
    /// Many readers at once.
    Shared,
    /// One scanner, no reader.
    Exclusive,
}

impl CacheLock {
    /// Takes the lock at `path`, waiting with backoff up to `timeout`, then
    /// failing with [`Error::Busy`].
    pub fn acquire(path: &Path, kind: LockKind, timeout: Duration) -> Result<CacheLock> {
        let file = open_lock_file(path)?;
        let start = Instant::now();
        let mut pause = Duration::from_millis(1);
        loop {
            let attempt = match kind {
                LockKind::Shared => file.try_lock_shared(),
                LockKind::Exclusive => file.try_lock(),
            };
            match attempt {
                Ok(()) => return Ok(CacheLock { _file: file }),
                Err(std::fs::TryLockError::WouldBlock) => {}
                Err(std::fs::TryLockError::Error(e)) => return Err(Error::io(path, e)),
            }
            let waited = start.elapsed();
            if waited >= timeout {
                return Err(Error::Busy {
                    path: PathBuf::from(path),
                    waited,
                });
            }
            thread::sleep(pause.min(timeout - waited));
            pause = (pause * 2).min(Duration::from_millis(50));
        }
    }
}

fn open_lock_file(path: &Path) -> Result<File> {
    match OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .mode(CREATE_MODE)
        .open(path)
    {
        Ok(file) => Ok(file),
        // A lock file we may read but not write still locks.
        Err(e) if e.kind() == io::ErrorKind::PermissionDenied => {
            File::open(path).map_err(|_| Error::io(path, e))
        }
        Err(e) => Err(Error::io(path, e)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shared_locks_coexist_and_exclude_a_writer() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("registry.redb.lock");
        let a = CacheLock::acquire(&path, LockKind::Shared, Duration::ZERO).unwrap();
        let _b = CacheLock::acquire(&path, LockKind::Shared, Duration::ZERO).unwrap();
        let err = CacheLock::acquire(&path, LockKind::Exclusive, Duration::from_millis(20));
        assert!(matches!(err, Err(Error::Busy { .. })), "{err:?}");
        drop(a);
        drop(_b);
        CacheLock::acquire(&path, LockKind::Exclusive, Duration::ZERO).unwrap();
    }

    #[test]
    fn a_waiting_writer_gets_the_lock_when_readers_leave() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("lock");
        let reader = CacheLock::acquire(&path, LockKind::Shared, Duration::ZERO).unwrap();
        let waiter = {
            let path = path.clone();
            thread::spawn(move || {
                CacheLock::acquire(&path, LockKind::Exclusive, Duration::from_secs(5))
            })
        };
        thread::sleep(Duration::from_millis(30));
        drop(reader);
        assert!(waiter.join().unwrap().is_ok());
    }
}
