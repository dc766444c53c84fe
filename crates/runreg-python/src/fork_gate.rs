//! Forks wait for calls that hold cache files open.
//!
//! A call opens the cache's lock file (and takes a `flock` on it) and the
//! cache file itself, and closes both before it returns. A process forked
//! meanwhile inherits those descriptors, and a `flock` belongs to the open
//! file, not to the thread: the child would hold the parent's lock for as
//! long as it lives, and its own first scan would wait on it until the lock
//! timeout. So every call passes this gate, and `os.fork()` (through the
//! hooks `runreg/__init__.py` registers with `os.register_at_fork`) closes
//! it: the fork happens between calls, never during one.

use parking_lot::RwLock;
use pyo3::prelude::*;

static GATE: RwLock<()> = RwLock::new(());

/// Runs `work` (which opens and closes cache files) with the gate open.
pub fn pass<T>(work: impl FnOnce() -> T) -> T {
    let _open = GATE.read();
    work()
}

/// `os.register_at_fork(before=...)`: waits for the calls in flight, then
/// keeps new ones out until the fork is done.
#[pyfunction]
pub fn _before_fork(py: Python<'_>) {
    // The calls in flight may need the GIL to return.
    py.detach(|| std::mem::forget(GATE.write()));
}

/// `os.register_at_fork(after_in_parent=..., after_in_child=...)`: reopens
/// the gate closed by [`_before_fork`].
#[pyfunction]
pub fn _after_fork() {
    if GATE.is_locked_exclusive() {
        // SAFETY: locked exclusively by `_before_fork`, whose guard was
        // forgotten; in the child, the thread that forked is the only one.
        unsafe { GATE.force_unlock_write() };
    }
}
