//! `runreg diff RUN RUN...`: the hparams, config and summary values that
//! differ across runs, side by side, and how many are equal.

use std::collections::BTreeMap;

use clap::Args;
use runreg::{RunRecord, Value};
use serde::Serialize;

use super::cell::Cell;
use super::color::HEADER;
use super::columns::flatten_config;
use super::table::{Fit, Header, Table};
use super::{Context, Failure, output, show};

#[derive(Debug, Args)]
#[command(after_help = "\
Each RUN may be cut short to a prefix only one run has. The config is \
compared flattened (optim.lr). A key one run lacks shows '-' (null in JSON). \
Numbers compare as numbers (1 equals 1.0) and NaN equals NaN: a value is \
reported only when the runs hold different values.

Examples:
  runreg diff 7f3a 9c2e
  runreg diff 7f3a 9c2e b001 --json | jq .differ.hparams")]
pub struct DiffArgs {
    /// Two or more runs: ids, or prefixes that only one run has
    #[arg(value_name = "RUN", required = true, num_args = 2..)]
    pub runs: Vec<String>,

    /// Print {"runs", "differ": {section: {key: [value per run]}}, "equal": {section: count}}
    #[arg(long)]
    pub json: bool,
}

/// The three sections compared, in the order printed.
#[derive(Debug, Default, Serialize)]
struct Sections<T> {
    hparams: T,
    config: T,
    summary: T,
}

impl<T> Sections<T> {
    fn each(&self) -> [(&'static str, &T); 3] {
        [
            ("hparams", &self.hparams),
            ("config", &self.config),
            ("summary", &self.summary),
        ]
    }
}

/// Per key, each run's value (`None`: the run lacks the key).
type Differ<'a> = BTreeMap<String, Vec<Option<&'a Value>>>;

#[derive(Debug, Serialize)]
struct Diff<'a> {
    runs: Vec<&'a str>,
    differ: Sections<Differ<'a>>,
    equal: Sections<usize>,
}

pub fn run(ctx: &Context, args: DiffArgs) -> Result<(), Failure> {
    if args.runs.len() < 2 {
        return Err(Failure::usage("give two runs or more to compare"));
    }
    let registry = ctx.open()?;
    let runs = args
        .runs
        .iter()
        .map(|id| show::find(&registry, id))
        .collect::<Result<Vec<RunRecord>, Failure>>()?;
    drop(registry);
    let diff = compare(&runs);
    let text = if args.json {
        output::to_json(&diff)
    } else {
        render(&diff, ctx)
    };
    output::print(&text)
}

fn compare(runs: &[RunRecord]) -> Diff<'_> {
    let section = |pick: &dyn Fn(&RunRecord) -> Vec<(String, &Value)>| {
        let mut keys: BTreeMap<String, Vec<Option<&Value>>> = BTreeMap::new();
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
    let (config, equal_config) = section(&|run| flatten_config(&run.config));
    let (summary, equal_summary) =
        section(&|run| run.summary.iter().map(|(k, v)| (k.to_owned(), v)).collect());
    Diff {
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

/// Whether every run has the key, all with the same value.
fn all_same(values: &[Option<&Value>]) -> bool {
    match values.split_first() {
        Some((Some(first), rest)) => rest.iter().all(|v| v.is_some_and(|v| same(first, v))),
        _ => false,
    }
}

/// Equality for diffs: [`Value`]'s (numbers as numbers, `1 == 1.0`), except
/// that `NaN` is the same value as `NaN`, also inside lists and maps.
fn same(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Float(x), Value::Float(y)) if x.is_nan() && y.is_nan() => true,
        (Value::List(a), Value::List(b)) => {
            a.len() == b.len() && a.iter().zip(b).all(|(a, b)| same(a, b))
        }
        (Value::Map(a), Value::Map(b)) => {
            a.len() == b.len()
                && a.iter()
                    .zip(b)
                    .all(|((ka, va), (kb, vb))| ka == kb && same(va, vb))
        }
        _ => a == b,
    }
}

fn render(diff: &Diff<'_>, ctx: &Context) -> String {
    let mut headers = vec![Header {
        title: String::new(),
        fit: Fit::Shrink,
    }];
    headers.extend(diff.runs.iter().map(|id| Header {
        title: (*id).to_owned(),
        fit: Fit::Shrink,
    }));
    let mut table = Table::new(headers);
    let mut any = false;
    for (title, keys) in diff.differ.each() {
        if keys.is_empty() {
            continue;
        }
        any = true;
        let mut row = vec![Cell::styled(title.to_owned(), HEADER)];
        row.extend(diff.runs.iter().map(|_| Cell::text("")));
        table.push(row);
        for (key, values) in keys {
            let mut row = vec![Cell::text(&format!("  {key}"))];
            row.extend(values.iter().map(|v| match v {
                Some(v) => Cell::text(&v.to_string()),
                None => Cell::missing(),
            }));
            table.push(row);
        }
    }
    let mut text = if any {
        table.render(ctx.width, ctx.palette)
    } else {
        "no differences\n".to_owned()
    };
    let equal: Vec<String> = diff
        .equal
        .each()
        .iter()
        .map(|(title, n)| format!("{n} {title} equal"))
        .collect();
    text.push('\n');
    text.push_str(&equal.join(", "));
    text.push('\n');
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nan_is_the_same_as_nan_and_numbers_compare_as_numbers() {
        let nan = Value::Float(f64::NAN);
        assert!(same(&nan, &nan));
        assert!(same(&Value::Int(1), &Value::Float(1.0)));
        assert!(!same(&Value::Int(1), &Value::from("1")));
        let list = Value::List(vec![nan.clone()]);
        assert!(same(&list, &list.clone()));
        assert!(!all_same(&[Some(&nan), None]));
        assert!(!all_same(&[None, None]));
    }
}
