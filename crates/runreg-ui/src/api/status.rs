//! `/api/status`: what the page polls to know whether to redraw.

use runreg::{Query, Status};
use serde::Serialize;

use super::Problem;
use crate::live::Live;
use crate::reply::Reply;

#[derive(Serialize)]
struct Answer {
    /// Changes with every write to the cache (hex), `null` for a cache
    /// without a stamp: redraw when it changes.
    generation: Option<String>,
    total: usize,
    /// Runs per known status.
    statuses: Vec<(String, usize)>,
    /// Runs alive now (this changes without a write, as heartbeats age).
    alive: usize,
    /// Seconds between scans; `null` when the server does not scan.
    scan_interval_s: Option<f64>,
    /// Epoch seconds the last scan ended; `null` when the server does not
    /// scan.
    scanned_at: Option<f64>,
    /// How long the last scan took, in seconds.
    scan_s: Option<f64>,
    /// The last scan's error, if it failed.
    scan_error: Option<String>,
}

/// `GET /api/status`.
pub fn status(live: &Live) -> Result<Reply, Problem> {
    let registry = live.poll();
    // The stamp first: a scan that ends between this read and the counts
    // gives new counts under the old stamp, and the next poll, seeing the
    // new stamp, redraws. (The other order could hide a change for good.)
    let generation = registry.generation()?.map(|g| format!("{g:016x}"));
    let (counts, total) = registry.status_counts(None)?;
    let (_, alive) = registry.query_counted(&Query::new().alive(true).limit(0))?;
    let last = live.last_scan();
    Ok(Reply::json(&Answer {
        generation,
        total,
        statuses: counts
            .into_iter()
            .map(|(s, n): (Status, usize)| (s.as_str().to_owned(), n))
            .collect(),
        alive,
        scan_interval_s: live.interval().map(|d| d.as_secs_f64()),
        scanned_at: last.as_ref().map(|l| l.at_epoch),
        scan_s: last.as_ref().map(|l| l.took.as_secs_f64()),
        scan_error: last.and_then(|l| l.error),
    }))
}
