//! [`Status`]: where a run is in its life, and which statuses are final.

use std::fmt;
use std::str::FromStr;

/// The status a sidecar declares for its run.
///
/// The five statuses stable-pretraining writes have their own variants; any
/// other string is kept as [`Status::Other`] so nothing a sidecar says is
/// lost.
///
/// # Examples
///
/// ```
/// use runreg::Status;
///
/// let s: Status = "completed".parse().unwrap();
/// assert!(s.is_terminal());
/// assert!(!Status::Interrupted.is_terminal());
/// assert!("finished".parse::<Status>().is_err());
/// ```
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Status {
    /// The job is (or was last seen) running. The default when a sidecar
    /// does not say.
    Running,
    /// The job finished normally. Terminal.
    Completed,
    /// The job failed. Terminal.
    Failed,
    /// The job was stopped before finishing (it may be resumed). Not terminal.
    Interrupted,
    /// The run's sidecar is gone from the tree; the run stays listed. Terminal.
    Orphaned,
    /// A status outside the known five, kept verbatim. Not terminal.
    Other(String),
}

impl Status {
    /// The five statuses stable-pretraining writes, in lifecycle order.
    pub const KNOWN: [Status; 5] = [
        Status::Running,
        Status::Completed,
        Status::Failed,
        Status::Interrupted,
        Status::Orphaned,
    ];

    /// The status as written in a sidecar.
    pub fn as_str(&self) -> &str {
        match self {
            Status::Running => "running",
            Status::Completed => "completed",
            Status::Failed => "failed",
            Status::Interrupted => "interrupted",
            Status::Orphaned => "orphaned",
            Status::Other(s) => s,
        }
    }

    /// Reads a sidecar's status string; unknown strings become
    /// [`Status::Other`] and an empty one means `running`, as the reference
    /// reads it.
    pub fn from_sidecar(s: &str) -> Status {
        match s {
            "" | "running" => Status::Running,
            "completed" => Status::Completed,
            "failed" => Status::Failed,
            "interrupted" => Status::Interrupted,
            "orphaned" => Status::Orphaned,
            other => Status::Other(other.to_owned()),
        }
    }

    /// A terminal run is never alive, however warm its heartbeat:
    /// `completed`, `failed` and `orphaned`.
    pub fn is_terminal(&self) -> bool {
        matches!(self, Status::Completed | Status::Failed | Status::Orphaned)
    }
}

/// A status that is not one of the five known ones (see [`Status::KNOWN`]).
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error(
    "unknown status {status:?}: expected one of running, completed, failed, interrupted, orphaned"
)]
#[non_exhaustive]
pub struct UnknownStatus {
    /// The status as given.
    pub status: String,
}

impl FromStr for Status {
    type Err = UnknownStatus;

    /// Parses one of the five known statuses (case-insensitive); anything
    /// else is an [`UnknownStatus`] that lists them.
    fn from_str(s: &str) -> Result<Status, UnknownStatus> {
        let lower = s.trim().to_ascii_lowercase();
        Status::KNOWN
            .into_iter()
            .find(|k| k.as_str() == lower)
            .ok_or_else(|| UnknownStatus {
                status: s.to_owned(),
            })
    }
}

impl fmt::Display for Status {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl serde::Serialize for Status {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn terminal_statuses_are_completed_failed_orphaned() {
        let terminal: Vec<&str> = Status::KNOWN
            .iter()
            .filter(|s| s.is_terminal())
            .map(Status::as_str)
            .collect();
        assert_eq!(terminal, ["completed", "failed", "orphaned"]);
        assert!(!Status::Other("paused".into()).is_terminal());
    }

    #[test]
    fn sidecar_strings_round_trip() {
        for s in Status::KNOWN {
            assert_eq!(Status::from_sidecar(s.as_str()), s);
        }
        assert_eq!(Status::from_sidecar(""), Status::Running);
        assert_eq!(Status::from_sidecar("weird").as_str(), "weird");
    }

    #[test]
    fn parsing_refuses_unknown_statuses_and_lists_known_ones() {
        assert_eq!("FAILED".parse::<Status>().unwrap(), Status::Failed);
        let err = "done".parse::<Status>().unwrap_err().to_string();
        assert!(err.contains("\"done\""), "{err}");
        assert!(
            err.contains("running, completed, failed, interrupted, orphaned"),
            "{err}"
        );
    }
}
