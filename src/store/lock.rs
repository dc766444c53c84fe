//! The cache lock: a file beside the database, locked shared by readers and
//! exclusively by the scanner, so that many processes take turns on a redb
//! file that only one process may hold at a time.
//!
//! The lock is the OS's (`flock`): it is released when the holder exits,
//! however it exits, so a killed scan never leaves a stale lock behind.
//!
//! flock keeps no queue: a scanner polling for the exclusive lock while
//! readers keep overlapping on the shared one may never find it free. So a
//! second file, the turnstile (`<lock>.turnstile`), puts a waiting scanner
//! ahead of the readers that come after it:
//!
//! - a scanner takes the turnstile exclusively, then the lock exclusively,
//!   then leaves the turnstile;
//! - a reader takes the turnstile shared, then the lock shared, then leaves
//!   the turnstile.
//!
//! Invariants:
//!
//! - The lock alone decides who may open the database: the turnstile only
//!   orders the waiting. Readers never see a half-written cache, with or
//!   without it (and alongside an older runreg that ignores it).
//! - A scanner holding the turnstile waits only for readers already past it;
//!   those finish and leave, and every newcomer waits at the turnstile. Two
//!   scanners take turns on the turnstile.
//! - The turnstile is held only while waiting for the lock, never while
//!   holding it: no one waits at the turnstile for longer than one holder
//!   of the lock takes, and no holder of the lock waits at the turnstile
//!   (a read that must upgrade leaves the lock before it asks again; see
//!   `Store::read`).
//! - Both are flocks, released by the OS when their holder dies: no state
//!   is ever left that blocks others.
//! - A turnstile that cannot be opened or locked (a directory the user may
//!   not write, where the file was never created) is skipped: the lock then
//!   works as without it, correct but with no queue.
//!
//! As in any lock that favours writers, a thread that already holds a read
//! and asks for a second one on the same cache waits for a scanner queued
//! in between, which waits for the first read: both wait until the
//! scanner's timeout ([`Error::Busy`]) ends it.

use std::ffi::OsString;
use std::fs::{File, OpenOptions, TryLockError};
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

/// The turnstile of the lock at `lock`: `<lock>.turnstile`.
pub(crate) fn turnstile_path(lock: &Path) -> PathBuf {
    let mut path = OsString::from(lock.as_os_str());
    path.push(".turnstile");
    PathBuf::from(path)
}

impl CacheLock {
    /// Takes the lock at `path`, through its turnstile, waiting with backoff
    /// up to `timeout` in all, then failing with [`Error::Busy`].
    pub fn acquire(path: &Path, kind: LockKind, timeout: Duration) -> Result<CacheLock> {
        let start = Instant::now();
        let file = open_lock_file(path)?;
        // Held until the lock is: dropped on return, whatever the outcome.
        let turnstile = match open_turnstile(path) {
            Some(turnstile) => match wait_for(&turnstile, kind, start, timeout, QUEUE_PAUSE) {
                Ok(Taken::Yes) => Some(turnstile),
                Ok(Taken::TimedOut) => return Err(busy(path, start)),
                // A turnstile that cannot be locked is skipped (see above).
                Err(_) => None,
            },
            None => None,
        };
        // Past the turnstile, few wait for the lock: they poll it often, so
        // that it changes hands at once (a scanner waiting here is the next
        // to hold it; its wait is everyone's behind it).
        let pause = if turnstile.is_some() {
            PAST_TURNSTILE_PAUSE
        } else {
            QUEUE_PAUSE
        };
        match wait_for(&file, kind, start, timeout, pause) {
            Ok(Taken::Yes) => Ok(CacheLock { _file: file }),
            Ok(Taken::TimedOut) => Err(busy(path, start)),
            Err(e) => Err(Error::io(path, e)),
        }
    }
}

/// The longest pause between two tries at the turnstile (or at a lock
/// without one).
const QUEUE_PAUSE: Duration = Duration::from_millis(10);
/// The longest pause between two tries at the lock, past the turnstile.
const PAST_TURNSTILE_PAUSE: Duration = Duration::from_millis(2);

enum Taken {
    Yes,
    TimedOut,
}

/// Polls for `kind` on `file`, with backoff up to `max_pause`, until
/// `timeout` after `start`.
fn wait_for(
    file: &File,
    kind: LockKind,
    start: Instant,
    timeout: Duration,
    max_pause: Duration,
) -> io::Result<Taken> {
    let mut pause = Duration::from_millis(1);
    loop {
        let attempt = match kind {
            LockKind::Shared => file.try_lock_shared(),
            LockKind::Exclusive => file.try_lock(),
        };
        match attempt {
            Ok(()) => return Ok(Taken::Yes),
            Err(TryLockError::WouldBlock) => {}
            Err(TryLockError::Error(e)) => return Err(e),
        }
        let waited = start.elapsed();
        if waited >= timeout {
            return Ok(Taken::TimedOut);
        }
        thread::sleep(pause.min(timeout - waited));
        pause = (pause * 2).min(max_pause);
    }
}

fn busy(path: &Path, start: Instant) -> Error {
    Error::Busy {
        path: PathBuf::from(path),
        waited: start.elapsed(),
    }
}

/// Opens (creating it if it may) a file to lock; one it may read but not
/// write still locks.
fn open_for_locking(path: &Path) -> io::Result<File> {
    match OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .mode(CREATE_MODE)
        .open(path)
    {
        Ok(file) => Ok(file),
        Err(e) if e.kind() == io::ErrorKind::PermissionDenied => File::open(path).map_err(|_| e),
        Err(e) => Err(e),
    }
}

fn open_lock_file(path: &Path) -> Result<File> {
    open_for_locking(path).map_err(|e| Error::io(path, e))
}

/// The turnstile, or `None` when it cannot be opened (then skipped).
fn open_turnstile(lock: &Path) -> Option<File> {
    let path = turnstile_path(lock);
    open_for_locking(&path).or_else(|_| File::open(&path)).ok()
}

#[cfg(test)]
mod tests {
    use std::sync::Mutex;
    use std::sync::atomic::{AtomicBool, Ordering};

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

    #[test]
    fn a_reader_arriving_after_a_waiting_writer_waits_for_it() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("lock");
        let order = Mutex::new(Vec::new());
        let first = CacheLock::acquire(&path, LockKind::Shared, Duration::ZERO).unwrap();
        thread::scope(|scope| {
            scope.spawn(|| {
                let _lock =
                    CacheLock::acquire(&path, LockKind::Exclusive, Duration::from_secs(5)).unwrap();
                order.lock().unwrap().push("writer");
                thread::sleep(Duration::from_millis(50));
            });
            thread::sleep(Duration::from_millis(50));
            scope.spawn(|| {
                let _lock =
                    CacheLock::acquire(&path, LockKind::Shared, Duration::from_secs(5)).unwrap();
                order.lock().unwrap().push("later reader");
            });
            thread::sleep(Duration::from_millis(50));
            // The reader that was there first still holds its lock.
            order.lock().unwrap().push("first reader leaves");
            drop(first);
        });
        assert_eq!(
            order.into_inner().unwrap(),
            ["first reader leaves", "writer", "later reader"]
        );
    }

    #[test]
    fn overlapping_readers_do_not_keep_a_writer_out() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("lock");
        let stop = AtomicBool::new(false);
        let (got, waited) = thread::scope(|scope| {
            // Staggered, so that the shared lock is never free: flock alone
            // would give the writer no moment to take it.
            for i in 0..4 {
                let (path, stop) = (&path, &stop);
                scope.spawn(move || {
                    thread::sleep(Duration::from_millis(3 * i));
                    while !stop.load(Ordering::SeqCst) {
                        let _reader =
                            CacheLock::acquire(path, LockKind::Shared, Duration::from_secs(10))
                                .unwrap();
                        thread::sleep(Duration::from_millis(12));
                    }
                });
            }
            thread::sleep(Duration::from_millis(100));
            let start = Instant::now();
            let got = CacheLock::acquire(&path, LockKind::Exclusive, Duration::from_secs(2));
            let waited = start.elapsed();
            // Left at once, so that the readers' last turns end.
            let got = got.map(drop);
            stop.store(true, Ordering::SeqCst);
            (got, waited)
        });
        assert!(got.is_ok(), "{got:?}");
        assert!(waited < Duration::from_secs(1), "{waited:?}");
    }

    #[test]
    fn without_its_turnstile_the_lock_still_excludes() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("lock");
        // A turnstile that can be neither created nor opened.
        std::os::unix::fs::symlink(dir.path().join("missing/turnstile"), turnstile_path(&path))
            .unwrap();
        assert!(open_turnstile(&path).is_none());
        let reader = CacheLock::acquire(&path, LockKind::Shared, Duration::ZERO).unwrap();
        let _other = CacheLock::acquire(&path, LockKind::Shared, Duration::ZERO).unwrap();
        let err = CacheLock::acquire(&path, LockKind::Exclusive, Duration::from_millis(20));
        assert!(matches!(err, Err(Error::Busy { .. })), "{err:?}");
        drop((reader, _other));
        CacheLock::acquire(&path, LockKind::Exclusive, Duration::ZERO).unwrap();
    }
}
