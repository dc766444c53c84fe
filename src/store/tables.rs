//! Every table of the cache, in one place.
//!
//! Invariant: for every row `(order, run_id)` of [`RUNS`], [`HOT`] holds
//! the hot row of `run_id`, whose `created_at` gives `order` (see
//! `run_key`); [`BY_TAG`] holds `(tag, run_id)` for each of its tags,
//! [`BY_STATUS`] holds `(status, run_id)` and [`BY_UPDATED`] holds
//! `(updated_at_ns, run_id)`; nothing else is in them. All are written in
//! the same transaction.

use redb::{MultimapTableDefinition, TableDefinition};

/// (order, run_id) -> encoded record (see `codec`), newest first: the
/// key is a [`RunKey`](super::RunKey).
pub(super) const RUNS: TableDefinition<(u64, &str), &[u8]> = TableDefinition::new("runs");
/// run_id -> its hot row (see `hot_row`): the hot section of its record
/// (whose `created_at` gives the record's key in [`RUNS`]), then the shape
/// of its hparams (names and the kind of each value, not the values).
/// What filters and metric sorts read, and what the keys of a columnar
/// answer are gathered from: a pass over every run reads a fraction of the
/// bytes of the records.
pub(super) const HOT: TableDefinition<&str, &[u8]> = TableDefinition::new("hot");
/// tag -> run_ids carrying it.
pub(super) const BY_TAG: MultimapTableDefinition<&str, &str> =
    MultimapTableDefinition::new("by_tag");
/// status -> run_ids in it.
pub(super) const BY_STATUS: MultimapTableDefinition<&str, &str> =
    MultimapTableDefinition::new("by_status");
/// (updated_at in ns, run_id) -> ().
pub(super) const BY_UPDATED: TableDefinition<(i64, &str), ()> = TableDefinition::new("by_updated");
/// sidecar path (raw bytes) -> encoded `FileState`.
pub(super) const FILES: TableDefinition<&[u8], &[u8]> = TableDefinition::new("files");
/// directory path (raw bytes) -> encoded `DirState`.
pub(super) const DIRS: TableDefinition<&[u8], &[u8]> = TableDefinition::new("dirs");
/// id -> a key list, as a record's keys block (see `key_lists`).
pub(super) const KEY_LISTS: TableDefinition<u32, &[u8]> = TableDefinition::new("key_lists");
/// key -> encoded value: format version, scan times.
pub(super) const META: TableDefinition<&str, &[u8]> = TableDefinition::new("meta");

/// `updated_at` as the key of [`BY_UPDATED`]: nanoseconds, saturating, with
/// NaN at the bottom.
pub(super) fn updated_key(updated_at: f64) -> i64 {
    if updated_at.is_nan() {
        i64::MIN
    } else {
        (updated_at * 1e9) as i64
    }
}
