//! [`Liveness`]: whether a run is alive, from its status and heartbeat
//! (docs/FORMAT.md §3).

use std::time::Duration;

use crate::status::Status;

/// The rule that decides whether a run is alive: its status is not terminal
/// and its heartbeat file was touched less than `timeout` ago.
///
/// # Examples
///
/// ```
/// use runreg::{Liveness, Status};
///
/// let rule = Liveness::default(); // 180 s
/// let now = 1_000_000.0;
/// assert!(rule.is_alive(&Status::Running, Some(now - 10.0), now));
/// assert!(!rule.is_alive(&Status::Running, Some(now - 500.0), now));
/// assert!(!rule.is_alive(&Status::Completed, Some(now), now));
/// assert!(!rule.is_alive(&Status::Running, None, now));
/// ```
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Liveness {
    /// How old a heartbeat may be for its run to count as alive.
    pub timeout: Duration,
}

impl Liveness {
    /// The reference's default heartbeat timeout: 180 seconds.
    pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(180);

    /// A rule with the given heartbeat timeout.
    pub fn new(timeout: Duration) -> Liveness {
        Liveness { timeout }
    }

    /// `true` when `status` is not terminal and `heartbeat` (the heartbeat
    /// file's mtime, epoch seconds; `None` when there is no heartbeat file)
    /// is younger than the timeout at `now` (epoch seconds).
    pub fn is_alive(&self, status: &Status, heartbeat: Option<f64>, now: f64) -> bool {
        match heartbeat {
            Some(beat) if !status.is_terminal() => now - beat < self.timeout.as_secs_f64(),
            _ => false,
        }
    }
}

impl Default for Liveness {
    fn default() -> Liveness {
        Liveness::new(Liveness::DEFAULT_TIMEOUT)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn interrupted_and_unknown_statuses_can_be_alive() {
        let rule = Liveness::default();
        assert!(rule.is_alive(&Status::Interrupted, Some(99.0), 100.0));
        assert!(rule.is_alive(&Status::Other("paused".into()), Some(99.0), 100.0));
    }

    #[test]
    fn terminal_statuses_are_never_alive() {
        let rule = Liveness::default();
        for status in [Status::Completed, Status::Failed, Status::Orphaned] {
            assert!(!rule.is_alive(&status, Some(100.0), 100.0), "{status}");
        }
    }

    #[test]
    fn the_timeout_is_exclusive_and_configurable() {
        let rule = Liveness::new(Duration::from_secs(10));
        assert!(rule.is_alive(&Status::Running, Some(90.5), 100.0));
        assert!(!rule.is_alive(&Status::Running, Some(90.0), 100.0));
    }
}
