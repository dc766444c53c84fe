//! runreg: a local registry of machine-learning training runs.
//!
//! Training jobs write one directory per run, holding a `sidecar.json` (id,
//! status, tags, hparams, summary metrics) and a `heartbeat` file whose
//! mtime says the run is alive. runreg scans such trees (as
//! stable-pretraining writes them) into a cache and answers questions about
//! the runs fast, with no server.
//!
//! ```
//! # fn main() -> runreg::Result<()> {
//! # let dir = tempfile::tempdir().unwrap();
//! # let cache_dir = dir.path();
//! # for (id, acc) in [("a", 0.7), ("b", 0.9)] {
//! #     let run = cache_dir.join("runs/20261101/120000").join(id);
//! #     std::fs::create_dir_all(&run).unwrap();
//! #     std::fs::write(run.join("sidecar.json"), format!(
//! #         r#"{{"run_id": "{id}", "status": "completed", "tags": ["sweep:1"], "summary": {{"val_acc": {acc}}}}}"#)).unwrap();
//! # }
//! use runreg::{Query, Registry, SortSpec, Status};
//!
//! let registry = Registry::open(cache_dir)?; // scans {cache_dir}/runs
//! let top = registry.query(
//!     &Query::new()
//!         .tag("sweep:1")
//!         .status(Status::Completed)
//!         .sort(SortSpec::desc("summary.val_acc".parse()?))
//!         .limit(5),
//! )?;
//! assert_eq!(top[0].run_id, "b");
//! # Ok(())
//! # }
//! ```
//!
//! Training code written in Rust records its runs with a [`RunWriter`], in
//! the same format, readable by stable-pretraining's registry too.
//!
//! The layers: [`sidecar`] reads and writes the on-disk format; the scanner
//! walks the tree (the only user of jwalk); the store keeps runs and indexes
//! in redb (the only user of redb and bincode); queries filter ([`Filter`])
//! and sort; [`Registry`] puts them together; [`writer`] writes runs.
//! ARCHITECTURE.md describes every module, docs/FORMAT.md the files on disk.

mod cache_location;
#[cfg(feature = "arrow")]
pub mod columnar;
mod diff;
mod error;
mod field;
#[cfg(feature = "fuzzing")]
#[doc(hidden)]
pub mod fuzzing;
mod liveness;
pub mod metrics;
mod query;
mod record;
mod registry;
mod scan;
pub mod sidecar;
mod snapshot;
mod status;
mod store;
mod value;
mod value_kinds;
mod value_map;
pub mod writer;

pub use cache_location::DB_FILE_NAME;
pub use diff::{Differ, RunDiff, Sections};
pub use error::{Error, Result};
pub use field::{Field, FieldError};
pub use liveness::Liveness;
pub use metrics::{Downsample, MetricHistory, MetricSeries, MetricsIssues, MetricsReader};
pub use query::{
    AnswerKeys, CmpOp, Detail, Filter, FilterError, Literal, Query, SortSpec, TimeLiteral,
    ValueKinds,
};
pub use record::RunRecord;
pub use registry::{Registry, RegistryBuilder};
pub use scan::{
    DEFAULT_IO_THREADS, Duplicate, MAX_IO_THREADS, RACY_WINDOW_S, ScanIssue, ScanMode,
    ScanProgress, ScanReport,
};
pub use sidecar::Sidecar;
pub use snapshot::Snapshot;
pub use status::{Status, UnknownStatus};
pub use store::{JsonLayout, JsonWriter, RunView, quiet_caught_panics};
pub use value::Value;
pub use value_map::ValueMap;
pub use writer::{RunOptions, RunWriter};

/// The README's Rust examples, compiled as doctests.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
pub struct ReadmeDoctests;
