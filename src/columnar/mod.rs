//! Answers as columns: a query's runs as Arrow record batches, one schema
//! for the whole answer (the `arrow` feature). The only user of arrow-rs.
//!
//! # The columns
//!
//! In this order:
//!
//! | column | Arrow type | null when |
//! |---|---|---|
//! | `run_id` | utf8 | never |
//! | `status` | dictionary (int32 -> utf8) | never |
//! | `alive` | bool | never |
//! | `created_at`, `updated_at`, `ended_at` | timestamp, microseconds, UTC | `ended_at` before the run ended |
//! | `run_dir` | utf8 | never |
//! | `checkpoint_path` | utf8 | the run names none |
//! | `notes` | utf8 | never (empty when none) |
//! | `tags` | list of utf8 | never (empty list) |
//! | `config` | utf8: the config object's JSON text | never (`{}`) |
//! | `hparams.<k>`, then `summary.<k>` | typed from the values, below | the run lacks the key, or holds `null` |
//!
//! There is one `hparams.<k>` column for each key any run of the answer has,
//! then one `summary.<k>` column likewise, each in key order. A key's type
//! comes from the values the answer holds under it ([`ValueKinds`]):
//! integers only -> int64; numbers (integers and floats) -> float64, `NaN`
//! and infinities kept as such; booleans -> bool; strings -> utf8; anything
//! else (a mix of kinds, lists, objects, or only nulls) -> utf8 holding each
//! value's JSON text (non-finite floats as the strings `"NaN"`,
//! `"Infinity"`, `"-Infinity"`, as in `--json`). A run without the key, or
//! with `null` there, has a null: never a `NaN`.
//!
//! The schema's metadata holds `runreg.version`, and whatever the caller
//! adds ([`BatchOptions::metadata`]).

mod layout;

use std::collections::HashMap;

pub use arrow_array::RecordBatch;
pub use arrow_schema::SchemaRef;
pub(crate) use layout::Layout;

use crate::error::Result;
#[cfg(doc)]
use crate::query::ValueKinds;

/// Receives a columnar answer: its schema first, then its batches in the
/// query's order.
pub trait BatchSink {
    /// The schema every batch has; called once, before the first batch,
    /// also for an answer with no run.
    fn schema(&mut self, schema: &SchemaRef) -> Result<()>;

    /// The next rows of the answer.
    fn batch(&mut self, batch: RecordBatch) -> Result<()>;
}

/// A sink that keeps every batch: for answers that fit in memory (a
/// hundred thousand runs with fifty hparams take a few tens of MB as
/// columns).
#[derive(Debug, Default)]
pub struct Batches {
    /// The answer's schema, once known.
    pub schema: Option<SchemaRef>,
    /// The batches, in order.
    pub batches: Vec<RecordBatch>,
}

impl BatchSink for Batches {
    fn schema(&mut self, schema: &SchemaRef) -> Result<()> {
        self.schema = Some(schema.clone());
        Ok(())
    }

    fn batch(&mut self, batch: RecordBatch) -> Result<()> {
        self.batches.push(batch);
        Ok(())
    }
}

/// How a columnar answer is cut and labelled.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct BatchOptions {
    /// Rows a batch, at most (the last batch may hold fewer).
    pub rows: usize,
    /// Key-value metadata added to the schema (a Parquet file keeps it).
    pub metadata: HashMap<String, String>,
}

impl Default for BatchOptions {
    fn default() -> BatchOptions {
        BatchOptions {
            rows: 4096,
            metadata: HashMap::new(),
        }
    }
}

impl BatchOptions {
    /// `rows` a batch (at least one).
    pub fn rows(mut self, rows: usize) -> BatchOptions {
        self.rows = rows.max(1);
        self
    }

    /// Adds `key = value` to the schema's metadata.
    pub fn metadata(mut self, key: impl Into<String>, value: impl Into<String>) -> BatchOptions {
        self.metadata.insert(key.into(), value.into());
        self
    }
}
