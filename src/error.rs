//! The one error type of the library.

use std::io;
use std::path::PathBuf;
use std::time::Duration;

/// A specialized `Result` for runreg operations.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Everything that can go wrong in runreg. Each variant names the path or run
/// involved, so a message is enough to act on. Messages say what is wrong,
/// never which command or flag of the `runreg` program would fix it: a
/// program adds its own advice where it prints them.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
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

    /// The cache directory cannot hold the cache file, and neither
    /// `XDG_CACHE_HOME` nor `HOME` is set to hold it elsewhere. (A cache
    /// directory that is not writable otherwise has its cache under the
    /// user's cache directory; an explicit database path avoids both.)
    #[error(
        "{}: not writable, and neither XDG_CACHE_HOME nor HOME is set to hold the cache elsewhere",
        path.display()
    )]
    CacheDirNotWritable {
        /// The cache directory.
        path: PathBuf,
    },

    /// redb could not open, read or write the cache file.
    ///
    /// `source` is always a [`redb::Error`] (every redb error converts into
    /// it), boxed so that runreg's signature does not name redb's types:
    /// `e.source().and_then(|s| s.downcast_ref::<redb::Error>())` reaches it
    /// for a caller that depends on the same redb version.
    ///
    /// [`redb::Error`]: https://docs.rs/redb/latest/redb/enum.Error.html
    #[error("cache {}: {source}", path.display())]
    Database {
        /// The cache file.
        path: PathBuf,
        /// What redb reported: a `redb::Error`.
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },

    /// The cache file was never built (queries without a scan read it as it
    /// is; a scan builds it).
    #[error("cache {}: no cache yet", path.display())]
    NoCache {
        /// The cache file that does not exist.
        path: PathBuf,
    },

    /// The cache file is damaged: redb failed on it (by panicking, which
    /// runreg catches). A scan moves such a file aside and rebuilds it; a
    /// read leaves it as it is.
    #[error("cache {}: the cache is damaged ({reason})", path.display())]
    CacheDamaged {
        /// The cache file.
        path: PathBuf,
        /// What redb said.
        reason: String,
    },

    /// The cache file was written by another layout version of runreg (or
    /// is a redb file of another program: `found` is `None`). A scan moves
    /// it aside and rebuilds it; a read leaves it as it is.
    #[error(
        "cache {}: cache format {} is not this runreg's ({expected})",
        path.display(),
        found.map_or("unknown".to_owned(), |v| v.to_string())
    )]
    CacheFormat {
        /// The cache file.
        path: PathBuf,
        /// The version the file declares, if any.
        found: Option<u32>,
        /// The version this runreg reads and writes.
        expected: u32,
    },

    /// A run's stored record cannot be decoded. A full scan (which reads
    /// every sidecar again) replaces it.
    #[error("cache {}: run {run_id}: {reason}", path.display())]
    CorruptRecord {
        /// The cache file.
        path: PathBuf,
        /// The run whose record is undecodable.
        run_id: String,
        /// What the decoder reported.
        reason: String,
    },

    /// The cache failed a check of its own consistency, or redb failed even
    /// on a freshly created file: a bug in runreg or redb, not a damaged
    /// file.
    #[error("cache {}: internal error: {reason}", path.display())]
    Internal {
        /// The cache file.
        path: PathBuf,
        /// What was found wrong.
        reason: String,
    },

    /// Another process held the cache for longer than the configured wait.
    #[error("registry busy: {} is held by another process (waited {waited:?})", path.display())]
    Busy {
        /// The lock file that could not be taken.
        path: PathBuf,
        /// How long this process waited.
        waited: Duration,
    },

    /// A setting of [`RegistryBuilder`](crate::RegistryBuilder) out of its
    /// range.
    #[error("invalid setting {setting}: {reason}")]
    InvalidSetting {
        /// The setting, as the builder names it (`io_threads`).
        setting: &'static str,
        /// What it must be, and what it was.
        reason: String,
    },

    /// A field name that runreg cannot interpret (a sort key, a column), or
    /// a field that cannot serve where it was named.
    #[error(transparent)]
    InvalidField(#[from] crate::field::FieldError),

    /// A filter expression that could not be parsed; its message shows the
    /// expression with a caret under the problem.
    #[error("invalid filter: {0}")]
    InvalidFilter(#[from] crate::query::filter::FilterError),

    /// A status that is not one of the known statuses.
    #[error(transparent)]
    UnknownStatus(#[from] crate::status::UnknownStatus),

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

    /// An answer could not be laid out as Arrow columns (the `arrow`
    /// feature): the source is arrow-rs's `ArrowError` or serde_json's
    /// error, kept as it is.
    #[error("columnar answer: {source}")]
    Columnar {
        /// What arrow-rs or serde_json reported.
        source: Box<dyn std::error::Error + Send + Sync>,
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

    /// A redb failure on the cache file `path`.
    pub(crate) fn store(path: impl Into<PathBuf>, source: impl Into<redb::Error>) -> Self {
        Error::Database {
            path: path.into(),
            source: Box::new(source.into()),
        }
    }

    pub(crate) fn cache_damaged(path: impl Into<PathBuf>, reason: impl std::fmt::Display) -> Self {
        Error::CacheDamaged {
            path: path.into(),
            reason: reason.to_string(),
        }
    }

    pub(crate) fn corrupt_record(
        path: impl Into<PathBuf>,
        run_id: &str,
        reason: impl std::fmt::Display,
    ) -> Self {
        Error::CorruptRecord {
            path: path.into(),
            run_id: run_id.to_owned(),
            reason: reason.to_string(),
        }
    }

    pub(crate) fn internal(path: impl Into<PathBuf>, reason: impl std::fmt::Display) -> Self {
        Error::Internal {
            path: path.into(),
            reason: reason.to_string(),
        }
    }
}
