//! The one error type of the library.

use std::io;
use std::path::PathBuf;
use std::time::Duration;

/// A specialized `Result` for runreg operations.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Everything that can go wrong in runreg. Each variant names the path or run
/// involved, so a message is enough to act on.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// No cache directory was given and none could be found in the
    /// environment.
    #[error("no cache directory: pass --cache-dir DIR or set RUNREG_CACHE_DIR (or SPT_CACHE_DIR)")]
    NoCacheDir,

    /// The cache directory does not exist (runreg never creates it).
    #[error("cache directory {} does not exist", path.display())]
    CacheDirMissing {
        /// The directory that was asked for.
        path: PathBuf,
    },

    /// An I/O operation on `path` failed.
    #[error("{}: {source}", path.display())]
    Io {
        /// The file or directory involved.
        path: PathBuf,
        /// The underlying error.
        #[source]
        source: io::Error,
    },

    /// The cache database could not be opened, read or written.
    #[error("cache {}: {message}", path.display())]
    Store {
        /// The cache file.
        path: PathBuf,
        /// What redb or the record decoder reported.
        message: String,
    },

    /// Another process held the cache for longer than the configured wait.
    #[error("registry busy: {} is held by another process (waited {waited:?})", path.display())]
    Busy {
        /// The lock file that could not be taken.
        path: PathBuf,
        /// How long this process waited.
        waited: Duration,
    },

    /// A field name that runreg cannot interpret (a sort key, a column), or
    /// a field that cannot serve where it was named.
    #[error(transparent)]
    InvalidField(#[from] crate::field::FieldError),

    /// A filter expression that could not be parsed; its message shows the
    /// expression with a caret under the problem.
    #[error("invalid filter: {0}")]
    InvalidFilter(#[from] crate::query::FilterError),

    /// A status that is not one of the known statuses.
    #[error(
        "unknown status {status:?}: expected one of running, completed, failed, interrupted, orphaned"
    )]
    UnknownStatus {
        /// The status as given.
        status: String,
    },

    /// A run id that cannot name a run directory.
    #[error("invalid run id {run_id:?}: {reason}")]
    InvalidRunId {
        /// The id as given.
        run_id: String,
        /// Which rule it breaks.
        reason: String,
    },

    /// A directory given as a run has no valid `sidecar.json`.
    #[error("{} is not a run: sidecar.json {source}", path.display())]
    NotARun {
        /// The directory.
        path: PathBuf,
        /// Why its sidecar could not be used.
        #[source]
        source: crate::sidecar::InvalidSidecar,
    },

    /// Hyper-parameters or a config whose `Serialize` impl failed, or that
    /// do not have the required shape.
    #[error("cannot serialize {what}: {message}")]
    Serialize {
        /// `hparams` or `config`.
        what: &'static str,
        /// What went wrong.
        message: String,
    },

    /// Another writer (another process, or another `RunWriter`) has the run
    /// open: its heartbeat file is locked.
    #[error(
        "run {} is being written by another process (waited {waited:?} for its heartbeat lock)",
        run_dir.display()
    )]
    RunBusy {
        /// The run directory.
        run_dir: PathBuf,
        /// How long this writer waited.
        waited: Duration,
    },

    /// A run writer was used after `finish` or `detach`.
    #[error("run {run_id:?} was already {state}: its writer accepts no more changes")]
    RunClosed {
        /// The run.
        run_id: String,
        /// `finished` or `detached`.
        state: &'static str,
    },

    /// A run cannot finish in a status that means it is still running.
    #[error(
        "run {run_id:?} cannot finish as {status:?}: finish as completed, failed or interrupted"
    )]
    FinishStatus {
        /// The run.
        run_id: String,
        /// The status given.
        status: String,
    },

    /// No run has this id.
    #[error("run {run_id:?} not found")]
    RunNotFound {
        /// The id as given.
        run_id: String,
    },

    /// A run has no `metrics.csv`.
    #[error("run {run_id:?} has no metrics.csv (looked in {})", run_dir.display())]
    NoMetrics {
        /// The run.
        run_id: String,
        /// Its directory.
        run_dir: PathBuf,
    },
}

impl Error {
    pub(crate) fn io(path: impl Into<PathBuf>, source: io::Error) -> Self {
        Error::Io {
            path: path.into(),
            source,
        }
    }

    pub(crate) fn store(path: impl Into<PathBuf>, message: impl std::fmt::Display) -> Self {
        Error::Store {
            path: path.into(),
            message: message.to_string(),
        }
    }
}
