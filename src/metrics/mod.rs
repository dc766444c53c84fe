//! A run's metric history: its `metrics.csv`, read as a stream.
//!
//! The file is the layout of Lightning's CSV logger, as stable-pretraining
//! and runreg's writer write it (docs/FORMAT.md §8): a header of column
//! names, a `step` column, often `epoch`, one row per logging call with
//! empty cells for metrics not logged in it. Every other column is a
//! metric.
//!
//! [`MetricsReader`] yields the rows one at a time, so a file of any size
//! is read in bounded memory; [`MetricsReader::history`] gathers per-metric
//! series of `(step, value)`, bounded too when given a [`Downsample`].
//! Nothing in the file is fatal but an I/O error: cells that are not
//! numbers, rows wider than the header, and a partial last line (a run
//! still writing) are skipped and counted in [`MetricsIssues`].

mod downsample;
mod reader;

use serde::Serialize;

pub use downsample::Downsample;
pub use reader::{MetricsReader, MetricsRow};

use crate::value::serialize_f64;

/// The column holding each row's step.
pub const STEP_COLUMN: &str = "step";
/// The column holding each row's epoch, when the file has one.
pub const EPOCH_COLUMN: &str = "epoch";

/// One value of a metric, at a step.
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
pub struct Point {
    /// The row's step; the row's index among the data rows when the file
    /// has no `step` column.
    pub step: u64,
    /// The value; `NaN` and infinities as logged (in JSON, the strings
    /// `"NaN"`, `"Infinity"`, `"-Infinity"`).
    #[serde(serialize_with = "serialize_f64")]
    pub value: f64,
}

/// One metric's points, in file order.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct MetricSeries {
    /// The column name.
    pub name: String,
    /// The points kept: all of them, or each bucket's first, minimum,
    /// maximum, last and first `NaN` when downsampled.
    pub points: Vec<Point>,
    /// How many values the file holds for this metric (before any
    /// downsampling).
    pub count: u64,
}

/// The series of a run's metrics, and what was skipped reading them.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct MetricHistory {
    /// One series per metric asked for, in the order asked (file order when
    /// all).
    pub series: Vec<MetricSeries>,
    /// Data rows read (the header and an ignored partial line not counted).
    pub rows: u64,
    /// What could not be read.
    pub issues: MetricsIssues,
}

/// What a read of `metrics.csv` skipped; none of it stops the read.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct MetricsIssues {
    /// Per column, the cells that are neither empty nor a number.
    pub bad_cells: Vec<BadCells>,
    /// Rows with more cells than the header: the extra cells are ignored.
    pub wide_rows: Option<Lines>,
    /// Rows whose `step` cell is empty or not a whole number: left out of
    /// histories.
    pub rows_without_step: Option<Lines>,
    /// Records longer than 4 MiB: skipped.
    pub long_lines: Option<Lines>,
    /// Columns named like an earlier one: ignored (the first one counts).
    pub duplicate_columns: Vec<String>,
    /// The line number of a last line not ended by a newline (a row being
    /// written, or cut short by a crash): ignored.
    pub partial_last_line: Option<u64>,
}

/// Cells of one column that are not numbers.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct BadCells {
    /// The column.
    pub column: String,
    /// How many such cells, and where the first is.
    pub lines: Lines,
}

/// How many lines something happened on, and the first of them (1-based,
/// the header being line 1).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub struct Lines {
    /// How many.
    pub count: u64,
    /// The first line number.
    pub first: u64,
}

impl Lines {
    /// Counts `line`.
    pub(crate) fn add(slot: &mut Option<Lines>, line: u64) {
        match slot {
            Some(lines) => lines.count += 1,
            None => {
                *slot = Some(Lines {
                    count: 1,
                    first: line,
                })
            }
        }
    }
}

impl MetricsIssues {
    /// Whether nothing was skipped.
    pub fn is_empty(&self) -> bool {
        *self == MetricsIssues::default()
    }

    /// One line per kind of issue, for people: `3 cells of "loss" are not
    /// numbers (first on line 7)`.
    pub fn describe(&self) -> Vec<String> {
        let mut out = Vec::new();
        for bad in &self.bad_cells {
            out.push(format!(
                "{} {:?} {} not a number (first on line {})",
                cells(bad.lines.count),
                bad.column,
                if bad.lines.count == 1 { "is" } else { "are" },
                bad.lines.first
            ));
        }
        if let Some(lines) = self.wide_rows {
            out.push(format!(
                "{} wider than the header, extra cells ignored (first on line {})",
                rows(lines.count),
                lines.first
            ));
        }
        if let Some(lines) = self.rows_without_step {
            out.push(format!(
                "{} without a whole-number step, left out (first on line {})",
                rows(lines.count),
                lines.first
            ));
        }
        if let Some(lines) = self.long_lines {
            out.push(format!(
                "{} longer than 4 MiB skipped (first on line {})",
                if lines.count == 1 {
                    "1 line".to_owned()
                } else {
                    format!("{} lines", lines.count)
                },
                lines.first
            ));
        }
        for name in &self.duplicate_columns {
            out.push(format!(
                "column {name:?} appears more than once; the first is used"
            ));
        }
        if let Some(line) = self.partial_last_line {
            out.push(format!(
                "line {line} is not finished (a run still writing?); ignored"
            ));
        }
        out
    }
}

fn cells(n: u64) -> String {
    if n == 1 {
        "1 cell of".to_owned()
    } else {
        format!("{n} cells of")
    }
}

fn rows(n: u64) -> String {
    if n == 1 {
        "1 row".to_owned()
    } else {
        format!("{n} rows")
    }
}
