//! [`ScanReport`]: what one scan did.

use std::fmt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::{Serialize, Serializer};

/// The outcome of one scan of a run tree.
///
/// Its JSON form (`runreg scan --json`) has these fields, `elapsed` as
/// `elapsed_s` in seconds and paths as strings.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
#[non_exhaustive]
pub struct ScanReport {
    /// Whether every sidecar was re-read (`scan --full`, or a rebuilt cache).
    pub full: bool,
    /// `sidecar.json` files found.
    pub total_sidecars: usize,
    /// Runs written to the cache (new or changed).
    pub upserted: usize,
    /// Sidecars not re-read because they did not change.
    pub skipped_unchanged: usize,
    /// Sidecars rejected; each is in [`invalid`](Self::invalid).
    pub skipped_invalid: usize,
    /// Directories listed: every directory in a full walk, only the changed
    /// ones in an incremental scan.
    pub dirs_read: usize,
    /// Runs newly marked `orphaned` because their sidecar is gone.
    pub orphaned: usize,
    /// run_ids declared by more than one sidecar, and which one won.
    pub duplicates: Vec<Duplicate>,
    /// Problems that did not stop the scan: unreadable directories, sidecars
    /// that vanished while being read.
    pub errors: Vec<ScanIssue>,
    /// Rejected sidecars, with the reason.
    pub invalid: Vec<ScanIssue>,
    /// Set when the cache file could not be used and was rebuilt: why, and
    /// where the old file was moved (a cache of another runreg format
    /// version is deleted instead).
    pub rebuilt: Option<String>,
    /// Whether the scan wrote to the cache. A rescan that finds the tree as
    /// the cache remembers it writes nothing (not even its own time): the
    /// cache file keeps its bytes, and no fsync is made.
    pub cache_written: bool,
    /// Wall time of the scan.
    #[serde(rename = "elapsed_s", serialize_with = "seconds")]
    pub elapsed: Duration,
}

/// A file or directory the scan could not use, and why.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct ScanIssue {
    /// The path involved.
    #[serde(serialize_with = "lossy_path")]
    pub path: PathBuf,
    /// What was wrong with it.
    pub reason: String,
}

/// One run_id found in several sidecars.
///
/// The sidecar with the newer `updated_at` wins; on a tie the
/// lexicographically smaller path wins.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Duplicate {
    /// The run_id they share.
    pub run_id: String,
    /// The sidecar the cached record comes from.
    #[serde(serialize_with = "lossy_path")]
    pub kept: PathBuf,
    /// The other sidecars declaring the same run_id.
    #[serde(serialize_with = "lossy_paths")]
    pub ignored: Vec<PathBuf>,
}

fn seconds<S: Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_f64(d.as_secs_f64())
}

fn lossy_path<S: Serializer>(p: &Path, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&p.to_string_lossy())
}

fn lossy_paths<S: Serializer>(paths: &[PathBuf], s: S) -> Result<S::Ok, S::Error> {
    s.collect_seq(paths.iter().map(|p| p.to_string_lossy()))
}

impl fmt::Display for ScanReport {
    /// One line of counts, then one line per problem.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "scanned {} sidecars in {} ms: {} upserted, {} unchanged, {} invalid, {} orphaned, {} duplicated, {} errors",
            self.total_sidecars,
            self.elapsed.as_millis(),
            self.upserted,
            self.skipped_unchanged,
            self.skipped_invalid,
            self.orphaned,
            self.duplicates.len(),
            self.errors.len(),
        )?;
        if let Some(why) = &self.rebuilt {
            write!(f, "\ncache rebuilt: {why}")?;
        }
        for issue in &self.invalid {
            write!(f, "\ninvalid: {}: {}", issue.path.display(), issue.reason)?;
        }
        for dup in &self.duplicates {
            write!(
                f,
                "\nduplicate run_id {}: kept {}",
                dup.run_id,
                dup.kept.display()
            )?;
            for other in &dup.ignored {
                write!(f, ", ignored {}", other.display())?;
            }
        }
        for issue in &self.errors {
            write!(f, "\nerror: {}: {}", issue.path.display(), issue.reason)?;
        }
        Ok(())
    }
}
