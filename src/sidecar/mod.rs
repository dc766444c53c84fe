//! The on-disk format: reading `sidecar.json` as stable-pretraining writes it.

use std::collections::BTreeMap;

use crate::status::Status;
use crate::value::Value;

/// The file name of a run's sidecar.
pub const SIDECAR_NAME: &str = "sidecar.json";
/// The file name of a run's heartbeat (only its mtime matters).
pub const HEARTBEAT_NAME: &str = "heartbeat";
/// Sidecars larger than this are rejected without being read.
pub const MAX_SIDECAR_BYTES: u64 = 16 * 1024 * 1024;

/// The contents of one `sidecar.json` (schema_version 1), validated.
///
/// Optional fields take the reference's defaults: status `running`, empty
/// tags, hparams, summary, config and notes. `created_at` and `updated_at`
/// stay `None` when absent: the scanner fills them from the file's mtime.
#[derive(Clone, Debug, PartialEq)]
pub struct Sidecar {
    /// `schema_version`, when present.
    pub schema_version: Option<i64>,
    /// The run's id: a non-empty string.
    pub run_id: String,
    /// `run_dir` as stored at write time (goes stale when trees move; the
    /// scanner records where it found the file instead).
    pub run_dir: Option<String>,
    /// `status`; missing, null or empty means `running`.
    pub status: Status,
    /// `created_at`, epoch seconds.
    pub created_at: Option<f64>,
    /// `ended_at`, epoch seconds.
    pub ended_at: Option<f64>,
    /// `updated_at`, epoch seconds.
    pub updated_at: Option<f64>,
    /// `tags`.
    pub tags: Vec<String>,
    /// `notes`.
    pub notes: String,
    /// `hparams`, flattened keys as written.
    pub hparams: BTreeMap<String, Value>,
    /// `summary`: last value of each metric.
    pub summary: BTreeMap<String, Value>,
    /// `checkpoint_path`.
    pub checkpoint_path: Option<String>,
    /// `config`, nested as written.
    pub config: BTreeMap<String, Value>,
}
