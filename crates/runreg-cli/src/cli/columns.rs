//! The columns of a run table (`-c/--columns`), and each run's cell in
//! them: a readable form for tables, a raw form for CSV.

use runreg::{Field, RunRecord, Value};

use super::Failure;
use super::cell::Cell;
use super::color::{self, ALIVE};
use super::table::{Fit, Header, Table};
use super::time;

/// A column of a run table: a field of the run, or one of the two the
/// table derives from the clock.
#[derive(Clone, Debug, PartialEq)]
pub enum Column {
    /// A field of the record (`run_id`, `tags`, `summary.val_acc`, ...).
    Field(Field),
    /// Time since the run was created (`3h ago`; seconds in CSV).
    Age,
    /// Time since the last heartbeat (`12s ago`; seconds in CSV).
    Heartbeat,
}

impl Column {
    /// Parses one name given to `-c`: `age`, `heartbeat`, or a field.
    pub fn parse(name: &str) -> Result<Column, Failure> {
        let name = name.trim();
        match name {
            "" => Err(Failure::usage(
                "empty column name in --columns; separate names with single commas",
            )),
            "age" => Ok(Column::Age),
            "heartbeat" => Ok(Column::Heartbeat),
            _ => match name.parse::<Field>() {
                Ok(field) => Ok(Column::Field(field)),
                Err(e) if name.contains('.') => Err(Failure::usage(format!(
                    "unknown column {name:?}: {}",
                    e.reason
                ))),
                Err(_) => Err(Failure::usage(format!(
                    "unknown column {name:?}: expected one of {}, or summary.<key>, hparams.<key>, config.<key> (a metric: summary.{name})",
                    names().join(", ")
                ))),
            },
        }
    }

    /// Parses every name given to `-c`.
    pub fn parse_all(names: &[String]) -> Result<Vec<Column>, Failure> {
        names.iter().map(|n| Column::parse(n)).collect()
    }

    /// The column's name, as `-c` takes it (and as CSV headers show it).
    pub fn name(&self) -> String {
        match self {
            Column::Field(field) => field.to_string(),
            Column::Age => "age".to_owned(),
            Column::Heartbeat => "heartbeat".to_owned(),
        }
    }

    /// The table header: the name, with a metric's `summary.` left out.
    pub fn header(&self) -> String {
        match self {
            Column::Field(Field::Summary(k)) => k.clone(),
            other => other.name(),
        }
    }

    /// Whether a table may truncate this column's cells to fit the terminal
    /// (free text may; ids, numbers and times may not).
    pub fn shrinkable(&self) -> bool {
        matches!(
            self,
            Column::Field(
                Field::Tags
                    | Field::RunDir
                    | Field::CheckpointPath
                    | Field::Notes
                    | Field::Hparam(_)
                    | Field::Config(_)
            )
        )
    }

    /// The run's value in this column, for a table.
    pub fn cell(&self, run: &RunRecord, now: f64) -> Cell {
        let field = match self {
            Column::Age => return Cell::text(&time::age(run.created_at, now)),
            Column::Heartbeat => {
                return run
                    .heartbeat_at
                    .map_or_else(Cell::missing, |t| Cell::text(&time::age(t, now)));
            }
            Column::Field(field) => field,
        };
        match field {
            Field::RunId => Cell::text(&run.run_id),
            Field::Status => Cell::styled(
                run.status.as_str().to_owned(),
                color::status_style(&run.status),
            ),
            Field::Alive if run.alive => Cell::styled("yes".into(), ALIVE),
            Field::Alive => Cell::text("no"),
            Field::CreatedAt => Cell::text(&time::datetime_short(run.created_at)),
            Field::UpdatedAt => Cell::text(&time::datetime_short(run.updated_at)),
            Field::EndedAt => run
                .ended_at
                .map_or_else(Cell::missing, |t| Cell::text(&time::datetime_short(t))),
            Field::Notes if run.notes.is_empty() => Cell::missing(),
            Field::Tags if run.tags.is_empty() => Cell::missing(),
            Field::Tags => Cell::text(&run.tags.join(",")),
            _ => field
                .get(run)
                .map_or_else(Cell::missing, |value| Cell::value(&value)),
        }
    }

    /// The run's value in this column, for CSV: times as epoch seconds,
    /// ages as whole seconds, tags as a JSON array, values in full
    /// precision; empty when absent.
    pub fn raw(&self, run: &RunRecord, now: f64) -> String {
        let field = match self {
            Column::Age => return whole_seconds(now - run.created_at),
            Column::Heartbeat => {
                return run
                    .heartbeat_at
                    .map(|t| whole_seconds(now - t))
                    .unwrap_or_default();
            }
            Column::Field(field) => field,
        };
        match field {
            Field::Tags => serde_json::to_string(&run.tags).unwrap_or_default(),
            Field::Alive => run.alive.to_string(),
            _ => match field.get(run).as_deref() {
                None | Some(Value::Null) => String::new(),
                Some(value) => value.to_string(),
            },
        }
    }
}

/// The names `-c` accepts besides `summary.<k>`, `hparams.<k>`, `config.<k>`.
fn names() -> Vec<&'static str> {
    let mut names: Vec<&str> = Field::COLUMNS.iter().map(|(name, _)| *name).collect();
    names.splice(3..3, ["age", "heartbeat"]);
    names
}

/// A column as a table shows it: what, and how it gives way when the
/// terminal is too narrow.
#[derive(Clone, Debug, PartialEq)]
pub struct Shown {
    pub spec: Column,
    pub fit: Fit,
}

impl Shown {
    /// A column the user asked for: cut when it is free text, never left out.
    pub fn asked(spec: Column) -> Shown {
        let fit = if spec.shrinkable() {
            Fit::Shrink
        } else {
            Fit::Keep
        };
        Shown { spec, fit }
    }

    /// A column runreg chose to add: left out when it does not fit.
    pub fn optional(spec: Column) -> Shown {
        Shown {
            spec,
            fit: Fit::Optional,
        }
    }
}

/// A table of `runs` in `columns`.
pub fn runs_table(runs: &[RunRecord], columns: &[Shown], now: f64) -> Table {
    let headers = columns
        .iter()
        .map(|c| Header {
            title: c.spec.header(),
            fit: c.fit,
        })
        .collect();
    let mut table = Table::new(headers);
    for run in runs {
        table.push(columns.iter().map(|c| c.spec.cell(run, now)).collect());
    }
    table
}

/// The `n` summary metrics a default table shows: among `keys` (the
/// summary keys of the runs shown) (leaving out those in `except`), validation and test metrics
/// first, then the others, then bookkeeping (epoch, step, learning rate,
/// time); by name within each group.
pub fn first_metrics<'k>(
    keys: impl IntoIterator<Item = &'k str>,
    n: usize,
    except: &[Column],
) -> Vec<Column> {
    let keys: std::collections::BTreeSet<&str> = keys.into_iter().collect();
    let mut keys: Vec<&str> = keys.into_iter().collect();
    keys.sort_by_key(|k| metric_rank(k));
    keys.into_iter()
        .map(|k| Column::Field(Field::Summary(k.to_owned())))
        .filter(|c| !except.contains(c))
        .take(n)
        .collect()
}

/// 0 for validation and test metrics, 2 for bookkeeping, 1 for the rest.
fn metric_rank(key: &str) -> u8 {
    const HELD_OUT: [&str; 6] = ["val", "valid", "validation", "test", "eval", "evaluation"];
    const BOOKKEEPING: [&str; 9] = [
        "epoch",
        "step",
        "lr",
        "learning",
        "time",
        "sec",
        "secs",
        "seconds",
        "throughput",
    ];
    let words: Vec<String> = key
        .split(|c: char| !c.is_ascii_alphanumeric())
        .filter(|w| !w.is_empty())
        .map(str::to_ascii_lowercase)
        .collect();
    let has = |set: &[&str]| words.iter().any(|w| set.contains(&w.as_str()));
    if has(&HELD_OUT) {
        0
    } else if has(&BOOKKEEPING) {
        2
    } else {
        1
    }
}

fn whole_seconds(secs: f64) -> String {
    if secs.is_finite() {
        format!("{}", secs.max(0.0).floor() as u64)
    } else {
        String::new()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cli::cell::CellKind;

    #[test]
    fn column_names_round_trip_and_unknown_ones_say_what_is_accepted() {
        for name in names()
            .into_iter()
            .chain(["summary.val/loss", "hparams.optim.lr"])
        {
            assert_eq!(Column::parse(name).unwrap().name(), name);
        }
        let err = Column::parse("val_acc").unwrap_err();
        assert_eq!(err.code, 2);
        assert!(err.message.contains("summary.val_acc"), "{}", err.message);
        let err = Column::parse("metrics.acc").unwrap_err();
        assert!(
            err.message.contains("not one of summary"),
            "{}",
            err.message
        );
    }

    fn run() -> RunRecord {
        let mut config = runreg::ValueMap::new();
        config.insert(
            "optim",
            Value::Map(vec![
                ("lr".to_owned(), Value::Float(0.1)),
                ("betas".to_owned(), Value::List(vec![Value::Float(0.9)])),
            ]),
        );
        RunRecord {
            run_id: "r1".into(),
            status: runreg::Status::Completed,
            created_at: 100.0,
            updated_at: 160.0,
            ended_at: None,
            alive: false,
            run_dir: "/c/runs/r1".into(),
            checkpoint_path: None,
            config,
            hparams: [("optim.lr".to_owned(), Value::Int(3))].into(),
            summary: [("val/acc".to_owned(), Value::Float(0.912_345_678))].into(),
            tags: vec!["a".into(), "b,c".into()],
            notes: String::new(),
            heartbeat_at: Some(150.0),
        }
    }

    #[test]
    fn cells_and_raw_values_come_from_the_record() {
        let run = run();
        let raw = |name: &str| Column::parse(name).unwrap().raw(&run, 200.0);
        let cell = |name: &str| Column::parse(name).unwrap().cell(&run, 200.0);
        assert_eq!(raw("config.optim.lr"), "0.1");
        assert_eq!(raw("config.optim.betas.0"), "0.9");
        assert_eq!(raw("config.optim.wd"), "");
        assert_eq!(raw("hparams.optim.lr"), "3");
        assert_eq!(raw("summary.val/acc"), "0.912345678");
        assert_eq!(raw("tags"), r#"["a","b,c"]"#);
        assert_eq!(raw("created_at"), "100.0");
        assert_eq!(raw("ended_at"), "");
        assert_eq!(raw("age"), "100");
        assert_eq!(raw("heartbeat"), "50");
        assert_eq!(raw("alive"), "false");
        assert_eq!(raw("notes"), "");
        assert_eq!(cell("summary.val/acc").text, "0.912346");
        assert_eq!(cell("summary.val/acc").kind, CellKind::Number);
        assert_eq!(cell("notes").kind, CellKind::Missing);
        assert_eq!(cell("checkpoint_path").kind, CellKind::Missing);
        assert_eq!(cell("tags").text, "a,b,c");
        assert_eq!(cell("run_dir").text, "/c/runs/r1");
        assert_eq!(cell("alive").text, "no");
    }

    #[test]
    fn default_metrics_put_held_out_ones_first_and_bookkeeping_last() {
        let mut keys = [
            "epoch",
            "lr-SGD",
            "train_loss",
            "val/acc",
            "test_top1",
            "step",
        ];
        keys.sort_by_key(|k| metric_rank(k));
        assert_eq!(
            keys,
            [
                "val/acc",
                "test_top1",
                "train_loss",
                "epoch",
                "lr-SGD",
                "step"
            ]
        );
    }
}
