//! Per-metric statistics and `summary.json`, in stable-pretraining's format:
//!
//! ```json
//! {
//!   "schema_version": 1,
//!   "run_id": "...",
//!   "run_dir": "...",
//!   "updated_at": 1762266612.48,
//!   "step": 1200,
//!   "epoch": 3,
//!   "metrics": {"train_loss": {"last": 0.4, "min": 0.39, "max": 2.3, "count": 1200}}
//! }
//! ```
//!
//! Metrics appear in the order they were first logged.

use std::collections::HashMap;

use crate::sidecar::{parse_value, write_python_json};
use crate::value::Value;

/// The file name of a run's per-metric statistics.
pub const SUMMARY_NAME: &str = "summary.json";

/// What the run has seen of one metric: its last value, smallest, largest,
/// and how many values were logged.
///
/// `min` and `max` follow Python's comparisons, as stable-pretraining's
/// logger does, so that both write the same file: a `NaN` is never smaller
/// or larger than anything, so it becomes `min` or `max` only as the first
/// value (and then stays).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct MetricStats {
    /// The last value logged.
    pub last: f64,
    /// The smallest value logged.
    pub min: f64,
    /// The largest value logged.
    pub max: f64,
    /// How many values were logged.
    pub count: u64,
}

impl MetricStats {
    /// The statistics after a first value.
    pub fn first(value: f64) -> MetricStats {
        MetricStats {
            last: value,
            min: value,
            max: value,
            count: 1,
        }
    }

    /// Takes one more value into account.
    pub fn update(&mut self, value: f64) {
        self.last = value;
        self.count += 1;
        if value < self.min {
            self.min = value;
        }
        if value > self.max {
            self.max = value;
        }
    }
}

/// The metrics of a run, in first-seen order, found by name.
#[derive(Clone, Debug, Default)]
pub(crate) struct MetricTable {
    entries: Vec<(String, MetricStats)>,
    index: HashMap<String, usize>,
}

impl MetricTable {
    pub fn get(&self, name: &str) -> Option<usize> {
        self.index.get(name).copied()
    }

    /// Adds a metric; the caller checked that it is new.
    pub fn push(&mut self, name: &str, stats: MetricStats) -> usize {
        let i = self.entries.len();
        self.entries.push((name.to_owned(), stats));
        self.index.insert(name.to_owned(), i);
        i
    }

    pub fn update(&mut self, i: usize, value: f64) {
        if let Some((_, stats)) = self.entries.get_mut(i) {
            stats.update(value);
        }
    }

    pub fn entries(&self) -> &[(String, MetricStats)] {
        &self.entries
    }

    pub fn from_entries(entries: Vec<(String, MetricStats)>) -> MetricTable {
        let mut table = MetricTable::default();
        for (name, stats) in entries {
            match table.get(&name) {
                Some(i) => table.entries[i].1 = stats,
                None => {
                    table.push(&name, stats);
                }
            }
        }
        table
    }
}

/// The contents of a `summary.json`.
#[derive(Clone, Debug, Default, PartialEq)]
pub(crate) struct SummaryDoc {
    pub step: u64,
    pub epoch: i64,
    pub metrics: Vec<(String, MetricStats)>,
}

/// `summary.json` as stable-pretraining writes it (`json.dump(indent=2)`).
pub(crate) fn render(
    run_id: &str,
    run_dir: &str,
    updated_at: f64,
    step: u64,
    epoch: i64,
    metrics: &[(String, MetricStats)],
) -> String {
    let stats = |s: &MetricStats| {
        Value::Map(vec![
            ("last".to_owned(), Value::Float(s.last)),
            ("min".to_owned(), Value::Float(s.min)),
            ("max".to_owned(), Value::Float(s.max)),
            (
                "count".to_owned(),
                Value::Int(i64::try_from(s.count).unwrap_or(i64::MAX)),
            ),
        ])
    };
    let doc = Value::Map(vec![
        ("schema_version".to_owned(), Value::Int(1)),
        ("run_id".to_owned(), Value::from(run_id)),
        ("run_dir".to_owned(), Value::from(run_dir)),
        ("updated_at".to_owned(), Value::Float(updated_at)),
        (
            "step".to_owned(),
            Value::Int(i64::try_from(step).unwrap_or(i64::MAX)),
        ),
        ("epoch".to_owned(), Value::Int(epoch)),
        (
            "metrics".to_owned(),
            Value::Map(metrics.iter().map(|(k, s)| (k.clone(), stats(s))).collect()),
        ),
    ]);
    let mut out = String::with_capacity(256 + 96 * metrics.len());
    write_python_json(&doc, &mut out);
    out
}

/// Reads a `summary.json`; `None` when it is not one. Metrics whose entry
/// is malformed are left out; a missing `step` or `epoch` is 0.
pub(crate) fn parse(bytes: &[u8]) -> Option<SummaryDoc> {
    let text = std::str::from_utf8(bytes).ok()?;
    let Value::Map(fields) = parse_value(text).ok()? else {
        return None;
    };
    let field = |name: &str| fields.iter().rev().find(|(k, _)| k == name).map(|(_, v)| v);
    let Some(Value::Map(metrics)) = field("metrics") else {
        return None;
    };
    let int = |v: Option<&Value>| match v {
        Some(Value::Int(i)) => Some(*i),
        Some(Value::Float(f)) if f.is_finite() => Some(*f as i64),
        _ => None,
    };
    let metrics = metrics
        .iter()
        .filter_map(|(name, entry)| {
            let Value::Map(entry) = entry else {
                return None;
            };
            let get = |k: &str| entry.iter().rev().find(|(key, _)| key == k).map(|(_, v)| v);
            let count = u64::try_from(int(get("count"))?).ok()?;
            Some((
                name.clone(),
                MetricStats {
                    last: get("last")?.as_f64()?,
                    min: get("min")?.as_f64()?,
                    max: get("max")?.as_f64()?,
                    count,
                },
            ))
        })
        .collect();
    Some(SummaryDoc {
        step: int(field("step")).map_or(0, |s| u64::try_from(s).unwrap_or(0)),
        epoch: int(field("epoch")).unwrap_or(0),
        metrics,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `json.dump(data, f, indent=2)` for the dict stable-pretraining's
    /// `RegistryLogger._write_summary` builds after logging
    /// `{"train_loss": 2.0, "epoch": 0}` at step 0,
    /// `{"train_loss": 1.0, "epoch": 0}` at step 1 and
    /// `{"val/acc": NaN, "train_loss": 1.5, "epoch": 1}` at step 2.
    const PYTHON_SUMMARY: &str = r#"{
  "schema_version": 1,
  "run_id": "r1",
  "run_dir": "/runs/20261101/120000/r1",
  "updated_at": 1762266612.4817421,
  "step": 2,
  "epoch": 1,
  "metrics": {
    "train_loss": {
      "last": 1.5,
      "min": 1.0,
      "max": 2.0,
      "count": 3
    },
    "epoch": {
      "last": 1.0,
      "min": 0.0,
      "max": 1.0,
      "count": 3
    },
    "val/acc": {
      "last": NaN,
      "min": NaN,
      "max": NaN,
      "count": 1
    }
  }
}"#;

    fn logged() -> Vec<(String, MetricStats)> {
        let mut loss = MetricStats::first(2.0);
        loss.update(1.0);
        loss.update(1.5);
        let mut epoch = MetricStats::first(0.0);
        epoch.update(0.0);
        epoch.update(1.0);
        vec![
            ("train_loss".into(), loss),
            ("epoch".into(), epoch),
            ("val/acc".into(), MetricStats::first(f64::NAN)),
        ]
    }

    #[test]
    fn render_is_byte_for_byte_what_python_writes() {
        let text = render(
            "r1",
            "/runs/20261101/120000/r1",
            1_762_266_612.481_742_1,
            2,
            1,
            &logged(),
        );
        assert_eq!(text, PYTHON_SUMMARY);
    }

    #[test]
    fn parse_reads_what_render_writes() {
        let doc = parse(PYTHON_SUMMARY.as_bytes()).expect("summary");
        assert_eq!((doc.step, doc.epoch), (2, 1));
        assert_eq!(doc.metrics.len(), 3);
        assert_eq!(doc.metrics[0], logged()[0]);
        assert_eq!(doc.metrics[1], logged()[1]);
        assert_eq!(doc.metrics[2].0, "val/acc");
        assert!(doc.metrics[2].1.last.is_nan() && doc.metrics[2].1.count == 1);
    }

    #[test]
    fn parse_skips_bad_entries_and_refuses_non_summaries() {
        let doc = parse(
            br#"{"metrics": {"a": {"last": 1, "min": 0, "max": 2, "count": 4}, "b": 3,
                "c": {"last": "x", "min": 0, "max": 0, "count": 1}, "d": {"last": 1}}}"#,
        )
        .expect("summary");
        assert_eq!(
            doc.metrics,
            [(
                "a".to_owned(),
                MetricStats {
                    last: 1.0,
                    min: 0.0,
                    max: 2.0,
                    count: 4
                }
            )]
        );
        assert_eq!((doc.step, doc.epoch), (0, 0));
        assert_eq!(parse(b"[]"), None);
        assert_eq!(parse(b"{\"step\": 1}"), None);
        assert_eq!(parse(b"{\"metrics\": "), None);
        assert_eq!(parse(b"\xff"), None);
    }

    #[test]
    fn stats_follow_python_comparisons() {
        let mut s = MetricStats::first(1.0);
        s.update(f64::NAN);
        assert_eq!((s.min, s.max, s.count), (1.0, 1.0, 2));
        assert!(s.last.is_nan());
        s.update(-1.0);
        s.update(f64::INFINITY);
        assert_eq!(
            (s.min, s.max, s.last, s.count),
            (-1.0, f64::INFINITY, f64::INFINITY, 4)
        );
        let mut first_nan = MetricStats::first(f64::NAN);
        first_nan.update(5.0);
        assert!(first_nan.min.is_nan() && first_nan.max.is_nan());
    }

    #[test]
    fn table_keeps_first_seen_order() {
        let mut t = MetricTable::default();
        let b = t.push("b", MetricStats::first(1.0));
        t.push("a", MetricStats::first(2.0));
        t.update(b, 3.0);
        assert_eq!(t.get("a"), Some(1));
        assert_eq!(t.get("zz"), None);
        let names: Vec<&str> = t.entries().iter().map(|(n, _)| n.as_str()).collect();
        assert_eq!(names, ["b", "a"]);
        assert_eq!(t.entries()[0].1.count, 2);
    }
}
