//! `runreg metrics RUN`: a run's metric history from its metrics.csv, as a
//! table of the last rows, a downsampled table, JSON or CSV.

use std::collections::{BTreeMap, VecDeque};
use std::io::Write as _;

use clap::Args;
use runreg::{Downsample, Error, MetricHistory, MetricsIssues, MetricsReader, Value};
use serde::Serialize;

use super::cell::{Cell, compact};
use super::table::{Fit, Header, Table};
use super::{Context, Failure, output, show};

/// Rows a table shows when `-n` is not given.
const DEFAULT_LAST: usize = 20;

#[derive(Debug, Args)]
#[command(after_help = "\
RUN may be cut short to a prefix that only one run has. The columns are \
step, epoch (when the file has it) and the metrics; a row with none of the \
metrics shown is left out, an empty cell shows '-'. A table shows the last \
20 rows unless -n says otherwise; --points N keeps, of each metric, about N \
buckets' first, smallest, largest and last values, so a spike stays visible. \
Cells that are not numbers, and a last line still being written, are \
skipped with a note on stderr.

Examples:
  runreg metrics 7f3a
  runreg metrics 7f3a -m val_acc -m train_loss -n 100
  runreg metrics 7f3a --points 50
  runreg metrics 7f3a --csv > history.csv
  runreg metrics 7f3a --json --points 500 | jq '.metrics[0].points'")]
pub struct MetricsArgs {
    /// The run's id, or a prefix of it that only this run has
    pub run_id: String,

    /// Show only this metric (repeat for more); default: all
    #[arg(short = 'm', long = "metric", value_name = "NAME")]
    pub metrics: Vec<String>,

    /// Show the last N rows (0: all) [default: 20 for a table, all for --csv]
    #[arg(short = 'n', long, value_name = "N", conflicts_with_all = ["points", "json"])]
    pub last: Option<usize>,

    /// Downsample each metric to about N buckets, keeping each bucket's first, min, max and last value
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u64).range(1..))]
    pub points: Option<u64>,

    /// Print {"run_id", "rows", "metrics": [{"name", "count", "points": [{"step", "value"}]}], "issues"}
    #[arg(long, conflicts_with = "csv")]
    pub json: bool,

    /// Print the rows as CSV (step, epoch, the metrics), full precision
    #[arg(long)]
    pub csv: bool,
}

pub fn run(ctx: &Context, args: MetricsArgs) -> Result<(), Failure> {
    if args.run_id.is_empty() {
        return Err(Failure::usage(
            "give a run id (or a prefix of one); 'runreg ls' lists them",
        ));
    }
    let registry = ctx.open()?;
    let run = show::find(&registry, &args.run_id)?;
    let reader = registry.metrics(&run.run_id).map_err(|e| match e {
        e @ Error::NoMetrics { .. } => Failure::failed(e.to_string()),
        e => ctx.explain(e),
    })?;
    drop(registry);
    let chosen = choose(&reader, &args.metrics)?;
    let selected = names(&reader, &chosen);
    let issues = match (args.json, args.points) {
        (true, points) => {
            let history = reader.history(
                &selected,
                points.map(|p| Downsample {
                    buckets: usize::try_from(p).unwrap_or(usize::MAX),
                }),
            )?;
            print_json(&run.run_id, &history)?;
            history.issues
        }
        (false, Some(points)) => {
            let history = reader.history(
                &selected,
                Some(Downsample {
                    buckets: usize::try_from(points).unwrap_or(usize::MAX),
                }),
            )?;
            print_sampled(ctx, args.csv, &history)?;
            history.issues
        }
        (false, None) if args.csv => print_csv(reader, &chosen, args.last)?,
        (false, None) => print_table(ctx, reader, &chosen, args.last.unwrap_or(DEFAULT_LAST))?,
    };
    note_issues(ctx, &issues);
    Ok(())
}

/// The indexes (in the reader's metrics) of the metrics asked for, or all.
fn choose(reader: &MetricsReader, asked: &[String]) -> Result<Vec<usize>, Failure> {
    if asked.is_empty() {
        return Ok((0..reader.metrics().len()).collect());
    }
    asked
        .iter()
        .map(|name| {
            reader
                .metrics()
                .iter()
                .position(|m| m == name)
                .ok_or_else(|| {
                    Failure::failed(format!(
                        "{} has no metric {name:?}; its metrics: {}",
                        reader.path().display(),
                        if reader.metrics().is_empty() {
                            "none".to_owned()
                        } else {
                            reader.metrics().join(", ")
                        }
                    ))
                })
        })
        .collect()
}

fn names(reader: &MetricsReader, chosen: &[usize]) -> Vec<String> {
    chosen
        .iter()
        .map(|&i| reader.metrics()[i].clone())
        .collect()
}

fn note_issues(ctx: &Context, issues: &MetricsIssues) {
    for issue in issues.describe() {
        ctx.note(&format!("note: metrics.csv: {issue}"));
    }
}

/// One row kept for printing: step, epoch, the chosen metrics' values.
struct Row {
    step: Option<u64>,
    epoch: Option<f64>,
    values: Vec<Option<f64>>,
}

/// Reads every row, keeping the rows holding a chosen metric (all of them,
/// or the last `last` when not 0) and calling `each` with them as they
/// come when not kept; returns the rows kept, the count of rows with a
/// chosen metric, and the issues.
fn read_rows(
    mut reader: MetricsReader,
    chosen: &[usize],
    last: usize,
    mut each: impl FnMut(&Row) -> Result<(), Failure>,
) -> Result<(VecDeque<Row>, u64, MetricsIssues), Failure> {
    let mut kept = VecDeque::with_capacity(last.min(4096));
    let mut count = 0u64;
    let mut reused: Option<Row> = None;
    while let Some(row) = reader.next_row()? {
        if !chosen.is_empty() && chosen.iter().all(|&i| row.values[i].is_none()) {
            continue;
        }
        count += 1;
        // The oldest row kept gives its cells to the newest: one allocation
        // per row kept, not per row read.
        let mut slot = if last == 0 || kept.len() < last {
            None
        } else {
            kept.pop_front()
        }
        .or_else(|| reused.take())
        .unwrap_or_else(|| Row {
            step: None,
            epoch: None,
            values: Vec::with_capacity(chosen.len()),
        });
        slot.step = row.step;
        slot.epoch = row.epoch;
        slot.values.clear();
        slot.values.extend(chosen.iter().map(|&i| row.values[i]));
        if last == 0 {
            each(&slot)?;
            reused = Some(slot);
        } else {
            kept.push_back(slot);
        }
    }
    Ok((kept, count, reader.issues()))
}

fn header(has_epoch: bool, names: Vec<String>) -> Vec<String> {
    let mut header = vec!["step".to_owned()];
    if has_epoch {
        header.push("epoch".to_owned());
    }
    header.extend(names);
    header
}

fn print_table(
    ctx: &Context,
    reader: MetricsReader,
    chosen: &[usize],
    last: usize,
) -> Result<MetricsIssues, Failure> {
    let has_epoch = reader.has_epoch();
    let titles = header(has_epoch, names(&reader, chosen));
    let mut table = numbers_table(titles);
    let mut push = |row: &Row| {
        let mut cells = vec![
            row.step
                .map_or_else(Cell::missing, |s| Cell::number(s.to_string())),
        ];
        if has_epoch {
            cells.push(
                row.epoch
                    .map_or_else(Cell::missing, |e| Cell::number(compact(e))),
            );
        }
        cells.extend(row.values.iter().map(|v| match v {
            Some(v) => Cell::value(&Value::Float(*v)),
            None => Cell::missing(),
        }));
        table.push(cells);
    };
    let (kept, count, issues) = read_rows(reader, chosen, last, |row| {
        push(row);
        Ok(())
    })?;
    for row in &kept {
        push(row);
    }
    output::print(&table.render(ctx.width, ctx.palette))?;
    if last != 0 && count > last as u64 {
        ctx.note(&format!(
            "note: the last {last} of {count} rows; -n 0 shows them all, --points N a downsampled view"
        ));
    }
    Ok(issues)
}

fn print_csv(
    reader: MetricsReader,
    chosen: &[usize],
    last: Option<usize>,
) -> Result<MetricsIssues, Failure> {
    let has_epoch = reader.has_epoch();
    let stdout = std::io::stdout().lock();
    let mut out = csv::Writer::from_writer(std::io::BufWriter::with_capacity(256 * 1024, stdout));
    let fail = |e: csv::Error| match e.into_kind() {
        csv::ErrorKind::Io(e) => output::write_failure(e),
        other => Failure::failed(format!("cannot write CSV: {other:?}")),
    };
    out.write_record(header(has_epoch, names(&reader, chosen)))
        .map_err(fail)?;
    let mut cell = String::new();
    let mut write = |row: &Row, out: &mut csv::Writer<_>| {
        use std::fmt::Write as _;
        let mut field = |cell: &mut String, text: &dyn Fn(&mut String)| {
            cell.clear();
            text(cell);
            out.write_field(cell.as_bytes()).map_err(fail)
        };
        field(&mut cell, &|c| {
            if let Some(s) = row.step {
                let _ = write!(c, "{s}");
            }
        })?;
        if has_epoch {
            field(&mut cell, &|c| {
                c.push_str(&row.epoch.map(epoch_text).unwrap_or_default())
            })?;
        }
        for v in &row.values {
            field(&mut cell, &|c| {
                if let Some(v) = v {
                    let _ = write!(c, "{}", Value::Float(*v));
                }
            })?;
        }
        out.write_record(None::<&[u8]>).map_err(fail)
    };
    // Rows are written as they are read unless only the last ones are asked
    // for: a long history is never held whole.
    let (kept, _, issues) = read_rows(reader, chosen, last.unwrap_or(0), |row| {
        write(row, &mut out)
    })?;
    for row in &kept {
        write(row, &mut out)?;
    }
    out.flush().map_err(output::write_failure)?;
    Ok(issues)
}

/// An epoch as written: a whole number without `.0`.
fn epoch_text(epoch: f64) -> String {
    if epoch.fract() == 0.0 && epoch.abs() < 1e15 {
        format!("{}", epoch as i64)
    } else {
        Value::Float(epoch).to_string()
    }
}

/// The downsampled series as rows: one per step kept for any metric, a
/// metric's cell empty where its series kept no point at that step (a step
/// logged twice shows its later value).
fn print_sampled(ctx: &Context, csv: bool, history: &MetricHistory) -> Result<(), Failure> {
    let width = history.series.len();
    let mut rows: BTreeMap<u64, Vec<Option<f64>>> = BTreeMap::new();
    for (i, series) in history.series.iter().enumerate() {
        for point in &series.points {
            rows.entry(point.step).or_insert_with(|| vec![None; width])[i] = Some(point.value);
        }
    }
    let titles = header(
        false,
        history.series.iter().map(|s| s.name.clone()).collect(),
    );
    let text = if csv {
        output::to_csv(
            &titles,
            rows.iter().map(|(step, values)| {
                std::iter::once(step.to_string())
                    .chain(
                        values
                            .iter()
                            .map(|v| v.map(|v| Value::Float(v).to_string()).unwrap_or_default()),
                    )
                    .collect()
            }),
        )
    } else {
        let mut table = numbers_table(titles);
        for (step, values) in &rows {
            let mut cells = vec![Cell::number(step.to_string())];
            cells.extend(values.iter().map(|v| match v {
                Some(v) => Cell::value(&Value::Float(*v)),
                None => Cell::missing(),
            }));
            table.push(cells);
        }
        table.render(ctx.width, ctx.palette)
    };
    output::print(&text)
}

#[derive(Serialize)]
struct HistoryJson<'a> {
    run_id: &'a str,
    rows: u64,
    metrics: &'a [runreg::MetricSeries],
    issues: &'a MetricsIssues,
}

fn print_json(run_id: &str, history: &MetricHistory) -> Result<(), Failure> {
    let json = HistoryJson {
        run_id,
        rows: history.rows,
        metrics: &history.series,
        issues: &history.issues,
    };
    // A long history's JSON is written as it is serialized, not built whole.
    let stdout = std::io::stdout().lock();
    let mut out = std::io::BufWriter::with_capacity(256 * 1024, stdout);
    serde_json::to_writer_pretty(&mut out, &json).map_err(|e| match e.io_error_kind() {
        Some(kind) => output::write_failure(kind.into()),
        None => Failure::failed(format!("cannot write JSON: {e}")),
    })?;
    out.write_all(b"\n")
        .and_then(|()| out.flush())
        .map_err(output::write_failure)
}

/// A table under `titles` whose columns are never cut or left out.
fn numbers_table(titles: Vec<String>) -> Table {
    Table::new(
        titles
            .into_iter()
            .map(|title| Header {
                title,
                fit: Fit::Keep,
            })
            .collect(),
    )
}
