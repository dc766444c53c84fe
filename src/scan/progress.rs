//! [`ScanProgress`]: how far a scan has got, for progress bars.

use std::sync::Arc;

/// A snapshot of a running scan, passed to the callback set with
/// [`RegistryBuilder::on_progress`](crate::RegistryBuilder::on_progress).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct ScanProgress {
    /// `true` while the tree is being walked (a full walk reads the
    /// sidecars it found meanwhile); `false` once the walk is over and
    /// `found` is the total.
    pub walking: bool,
    /// Sidecars found so far.
    pub found: usize,
    /// Sidecars checked (and read when they changed) so far.
    pub processed: usize,
}

/// A progress callback.
#[derive(Clone)]
pub(crate) struct ProgressFn(pub Arc<dyn Fn(ScanProgress) + Send + Sync>);

impl ProgressFn {
    pub fn report(&self, progress: ScanProgress) {
        (self.0)(progress);
    }
}

impl std::fmt::Debug for ProgressFn {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ProgressFn")
    }
}

/// Calls the callback every this many sidecars.
pub(crate) const PROGRESS_EVERY: usize = 512;
