//! What the scanner remembers about each sidecar file between scans.

/// The identity of one version of a file: a rewrite changes at least one of
/// these (mtime alone can miss a rewrite within the timestamp granularity).
#[derive(Clone, Copy, Debug, PartialEq, Eq, bincode::Encode, bincode::Decode)]
pub(crate) struct FileStamp {
    pub mtime_ns: i64,
    pub ctime_ns: i64,
    pub size: u64,
    pub inode: u64,
}

impl FileStamp {
    /// The stamp of a file from its (lstat) metadata.
    pub fn of(meta: &std::fs::Metadata) -> FileStamp {
        use std::os::unix::fs::MetadataExt;
        FileStamp {
            mtime_ns: meta
                .mtime()
                .saturating_mul(1_000_000_000)
                .saturating_add(meta.mtime_nsec()),
            ctime_ns: meta
                .ctime()
                .saturating_mul(1_000_000_000)
                .saturating_add(meta.ctime_nsec()),
            size: meta.size(),
            inode: meta.ino(),
        }
    }

    /// The mtime in epoch seconds.
    pub fn mtime_secs(&self) -> f64 {
        self.mtime_ns as f64 / 1e9
    }
}

/// The scanner's memory of one sidecar path.
#[derive(Clone, Debug, PartialEq, bincode::Encode, bincode::Decode)]
pub(crate) struct FileState {
    /// The file as it was when last read.
    pub stamp: FileStamp,
    /// The run id it declared when last valid (kept while it is invalid, so
    /// the run can still be orphaned when the file goes).
    pub run_id: Option<String>,
    /// Why it was rejected when last read; `None` when valid.
    pub invalid: Option<String>,
    /// Whether the run's record currently comes from this file (false for
    /// the losing copy of a duplicated run_id).
    pub source: bool,
    /// The run's status was terminal when last read: no heartbeat to check.
    pub terminal: bool,
    /// The sidecar's updated_at, to settle duplicates without re-reading.
    pub updated_at: f64,
    /// Heartbeat mtime (epoch seconds) at the last scan.
    pub heartbeat_at: Option<f64>,
}

/// Every remembered sidecar path and its state, in path order as loaded
/// (an incremental scan stats them in that order, so paths sharing a
/// directory go together without a sort).
pub(crate) type FileStates = indexmap::IndexMap<Vec<u8>, FileState, rustc_hash::FxBuildHasher>;

/// The scanner's memory of one directory of the tree that is not a run
/// directory: if its stamp has not changed, neither has its list of
/// entries, and it need not be read again. (Run directories are not
/// remembered: their sidecar's stat tells what the scanner needs.)
#[derive(Clone, Debug, PartialEq, bincode::Encode, bincode::Decode)]
pub(crate) struct DirState {
    pub stamp: FileStamp,
}
