//! `/api/sweep`: the filtered runs as the sweep view draws them: per run,
//! the hparams that vary across the runs and one metric.

use std::collections::BTreeMap;

use runreg::{Field, Registry, RunRecord, Status, Value};
use serde::Serialize;

use super::{MAX_SWEEP_RUNS, Problem, params};
use crate::reply::Reply;
use crate::target::Target;

/// Most axes: past this, parallel coordinates are unreadable anyway.
const MAX_AXES: usize = 40;

#[derive(Serialize)]
struct Sweep<'a> {
    /// Runs matching the filter.
    total: usize,
    /// Runs returned (at most [`MAX_SWEEP_RUNS`]).
    returned: usize,
    metric: Option<String>,
    /// The hparams whose values differ across the runs (or that some runs
    /// lack), in key order.
    hparams: Vec<Axis>,
    runs: Vec<Row<'a>>,
}

#[derive(Serialize)]
struct Axis {
    key: String,
    /// `number` when every value present is a number, else `category`.
    kind: &'static str,
}

#[derive(Serialize)]
struct Row<'a> {
    run_id: &'a str,
    status: &'a Status,
    alive: bool,
    /// One value per axis, `null` where the run lacks the hparam.
    hparams: Vec<Option<&'a Value>>,
    metric: Option<std::borrow::Cow<'a, Value>>,
}

/// What one hparam key holds across the runs.
struct Spread<'a> {
    first: &'a Value,
    seen: usize,
    varies: bool,
    numeric: bool,
}

/// `GET /api/sweep?where=&metric=summary.val_acc&sort=`.
pub fn sweep(registry: &Registry, target: &Target) -> Result<Reply, Problem> {
    let metric: Option<Field> = match target.get("metric").filter(|m| !m.is_empty()) {
        Some(text) => Some(
            text.parse()
                .map_err(|e| Problem::from(runreg::Error::from(e)))?,
        ),
        None => None,
    };
    let query = params::query(target)?.limit(MAX_SWEEP_RUNS);
    let (runs, total) = registry.query_counted(&query)?;
    let axes = varying(&runs);
    let rows = runs
        .iter()
        .map(|run| Row {
            run_id: &run.run_id,
            status: &run.status,
            alive: run.alive,
            hparams: axes.iter().map(|a| run.hparams.get(&a.key)).collect(),
            metric: metric.as_ref().and_then(|m| m.get(run)),
        })
        .collect();
    Ok(Reply::json(&Sweep {
        total,
        returned: runs.len(),
        metric: metric.map(|m| m.to_string()),
        hparams: axes,
        runs: rows,
    }))
}

/// The hparams that vary across `runs`: a value differs from another
/// ([`Value::same`]: `NaN` is the same as `NaN`), or some runs lack the key.
fn varying(runs: &[RunRecord]) -> Vec<Axis> {
    let mut spreads: BTreeMap<&str, Spread<'_>> = BTreeMap::new();
    for run in runs {
        for (key, value) in &run.hparams {
            let number = matches!(value, Value::Int(_) | Value::Float(_));
            spreads
                .entry(key)
                .and_modify(|s| {
                    s.seen += 1;
                    s.varies |= !value.same(s.first);
                    s.numeric &= number;
                })
                .or_insert(Spread {
                    first: value,
                    seen: 1,
                    varies: false,
                    numeric: number,
                });
        }
    }
    spreads
        .into_iter()
        .filter(|(_, s)| s.varies || s.seen < runs.len())
        .take(MAX_AXES)
        .map(|(key, s)| Axis {
            key: key.to_owned(),
            kind: if s.numeric { "number" } else { "category" },
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(id: &str, hparams: &[(&str, Value)]) -> RunRecord {
        RunRecord {
            run_id: id.into(),
            status: runreg::Status::Completed,
            created_at: 0.0,
            updated_at: 0.0,
            ended_at: None,
            alive: false,
            run_dir: String::new(),
            checkpoint_path: None,
            config: runreg::ValueMap::new(),
            hparams: hparams
                .iter()
                .map(|(k, v)| (k.to_string(), v.clone()))
                .collect(),
            summary: runreg::ValueMap::new(),
            tags: Vec::new(),
            notes: String::new(),
            heartbeat_at: None,
        }
    }

    #[test]
    fn an_hparam_varies_when_a_value_differs_or_a_run_lacks_it_not_for_nan_everywhere() {
        let nan = Value::Float(f64::NAN);
        let runs = [
            run(
                "a",
                &[
                    ("lr", Value::Float(0.1)),
                    ("seed", Value::Int(1)),
                    ("wd", nan.clone()),
                    ("bs", Value::Int(8)),
                ],
            ),
            run(
                "b",
                &[
                    ("lr", Value::Float(0.2)),
                    ("seed", Value::Float(1.0)),
                    ("wd", nan.clone()),
                ],
            ),
        ];
        let axes: Vec<String> = varying(&runs).into_iter().map(|a| a.key).collect();
        assert_eq!(axes, ["bs", "lr"]);
    }
}
