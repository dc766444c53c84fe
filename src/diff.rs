//! [`RunDiff`]: the hparams, config and summary values that differ across
//! runs, and how many are equal (`runreg diff`, the page's comparison).

use std::collections::BTreeMap;

use serde::Serialize;

use crate::record::RunRecord;
use crate::value::Value;

/// One thing per compared section, in the order they are shown.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct Sections<T> {
    /// The flattened hyper-parameters.
    pub hparams: T,
    /// The config, flattened ([`ValueMap::flattened`](crate::ValueMap::flattened)).
    pub config: T,
    /// The last value of each metric.
    pub summary: T,
}

impl<T> Sections<T> {
    /// Each section with its name, in order.
    pub fn each(&self) -> [(&'static str, &T); 3] {
        [
            ("hparams", &self.hparams),
            ("config", &self.config),
            ("summary", &self.summary),
        ]
    }
}

/// Per differing key, each run's value (`None`: the run lacks the key).
pub type Differ<'a> = BTreeMap<String, Vec<Option<&'a Value>>>;

/// What differs across runs. A key is reported when the runs do not all
/// hold it with the same value; numbers compare as numbers (`1` equals
/// `1.0`) and `NaN` equals `NaN`, also inside lists and maps. Its JSON form
/// is `runreg diff --json`'s: `{"runs", "differ": {section: {key: [value
/// per run]}}, "equal": {section: count}}`.
///
/// # Examples
///
/// ```
/// # fn main() -> runreg::Result<()> {
/// # let dir = tempfile::tempdir().unwrap();
/// # for (id, lr) in [("a", "0.1"), ("b", "0.2")] {
/// #     let run = dir.path().join("runs/20261101/120000").join(id);
/// #     std::fs::create_dir_all(&run).unwrap();
/// #     let sidecar = format!(r#"{{"run_id": "{id}", "hparams": {{"lr": {lr}, "seed": 1}}}}"#);
/// #     std::fs::write(run.join("sidecar.json"), sidecar).unwrap();
/// # }
/// use runreg::{Registry, RunDiff, Value};
///
/// let registry = Registry::open(dir.path())?;
/// let runs = [registry.get("a")?.unwrap(), registry.get("b")?.unwrap()];
/// let diff = RunDiff::of(&runs);
/// assert_eq!(diff.differ.hparams["lr"], [Some(&Value::Float(0.1)), Some(&Value::Float(0.2))]);
/// assert_eq!(diff.equal.hparams, 1); // seed
/// # Ok(())
/// # }
/// ```
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct RunDiff<'a> {
    /// The runs' ids, in the order given.
    pub runs: Vec<&'a str>,
    /// Per section, the keys whose values differ.
    pub differ: Sections<Differ<'a>>,
    /// Per section, how many keys every run holds with the same value.
    pub equal: Sections<usize>,
}

impl<'a> RunDiff<'a> {
    /// Compares `runs` (two or more make sense; one gives no difference).
    pub fn of(runs: &'a [RunRecord]) -> RunDiff<'a> {
        let section = |pick: &dyn Fn(&'a RunRecord) -> Vec<(String, &'a Value)>| {
            let mut keys: Differ<'a> = BTreeMap::new();
            for (i, run) in runs.iter().enumerate() {
                for (key, value) in pick(run) {
                    keys.entry(key).or_insert_with(|| vec![None; runs.len()])[i] = Some(value);
                }
            }
            let before = keys.len();
            keys.retain(|_, values| !all_same(values));
            let equal = before - keys.len();
            (keys, equal)
        };
        let (hparams, equal_hparams) =
            section(&|run| run.hparams.iter().map(|(k, v)| (k.to_owned(), v)).collect());
        let (config, equal_config) = section(&|run| run.config.flattened());
        let (summary, equal_summary) =
            section(&|run| run.summary.iter().map(|(k, v)| (k.to_owned(), v)).collect());
        RunDiff {
            runs: runs.iter().map(|r| r.run_id.as_str()).collect(),
            differ: Sections {
                hparams,
                config,
                summary,
            },
            equal: Sections {
                hparams: equal_hparams,
                config: equal_config,
                summary: equal_summary,
            },
        }
    }
}

/// Whether every run has the key, all with the same value.
fn all_same(values: &[Option<&Value>]) -> bool {
    match values.split_first() {
        Some((Some(first), rest)) => rest.iter().all(|v| v.is_some_and(|v| first.same(v))),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nan_is_the_same_as_nan_and_a_missing_value_differs() {
        let nan = Value::Float(f64::NAN);
        assert!(all_same(&[Some(&nan), Some(&nan)]));
        let list = Value::List(vec![nan.clone()]);
        assert!(all_same(&[Some(&list), Some(&list.clone())]));
        assert!(all_same(&[Some(&Value::Int(1)), Some(&Value::Float(1.0))]));
        assert!(!all_same(&[Some(&Value::Int(1)), Some(&Value::from("1"))]));
        assert!(!all_same(&[Some(&nan), None]));
        assert!(!all_same(&[None, None]));
    }
}
