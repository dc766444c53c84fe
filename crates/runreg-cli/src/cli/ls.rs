//! `runreg ls`: runs as a table, JSON or CSV; `--watch` redraws it.

use std::io::IsTerminal as _;
use std::time::Duration;

use clap::Args;
use runreg::{AnswerKeys, Detail, Field, Query, RunRecord};

use super::arg_groups::{Filters, FormatArgs, PageArgs, SortArgs};
use super::cell;
use super::columns::{self, Column, Shown};
use super::printer::{self, CsvPrinter, JsonPrinter, JsonlPrinter};
use super::table;
use super::{Context, Failure, output, time};

/// Summary metrics a default table adds after the sort key.
const DEFAULT_METRICS: usize = 3;

#[derive(Debug, Args)]
#[command(after_help = "\
Default columns: run_id, status, alive, age (since created), tags, the sort key \
when it is not one of those, and three summary metrics (validation and test ones \
first; epoch, step and lr last) as room allows; -c picks the columns. On a \
terminal the table fits the width ($COLUMNS if set), cutting long tags with '…'; \
piped, values stay whole. --json prints every field of each run (--jsonl: one run a line); --csv \
the columns with raw values (epoch seconds, full precision); these three stream. --watch redraws in place on a terminal; Ctrl-C \
stops it.

Examples:
  runreg ls --status completed --sort summary.val_acc -n 5
  runreg ls -c run_id,status,summary.val_acc,hparams.optim.lr --csv
  runreg ls --tag sweep:12345 --alive --watch 10")]
pub struct LsArgs {
    #[command(flatten)]
    pub filters: Filters,

    #[command(flatten)]
    pub sort: SortArgs,

    #[command(flatten)]
    pub page: PageArgs,

    #[command(flatten)]
    pub format: FormatArgs,

    /// Redraw the table every SECS seconds, rescanning each time, until Ctrl-C (exit status 130)
    #[arg(long, value_name = "SECS", conflicts_with_all = ["json", "jsonl", "csv"])]
    pub watch: Option<f64>,
}

pub fn run(ctx: &Context, args: LsArgs) -> Result<(), Failure> {
    let query = args.page.apply(args.sort.apply(args.filters.query()?)?);
    let sort = args.sort.key()?;
    let asked = args
        .format
        .columns
        .as_deref()
        .map(Column::parse_all)
        .transpose()?;
    if let Some(secs) = args.watch {
        return watch(ctx, &args, &query, sort.as_ref(), asked.as_deref(), secs);
    }
    let registry = ctx.open()?;
    let now = time::now();
    let format = &args.format;
    // Only the summary detail is read when every column is in it.
    let summary_only = |columns: &[Column]| {
        columns.iter().all(|c| match c {
            Column::Field(field) => Detail::Summary.carries(field),
            Column::Age | Column::Heartbeat => true,
        })
    };
    if format.json || format.jsonl || format.csv {
        // Streamed: a chunk of runs at a time, the cache released while it
        // is written.
        let mut out = printer::stdout();
        if format.json {
            printer::print_to_stdout(&registry, &query, &mut JsonPrinter::new(&mut out))?;
        } else if format.jsonl {
            printer::print_to_stdout(&registry, &query, &mut JsonlPrinter::new(&mut out))?;
        } else {
            // The default columns are the summary's, but for a sort key:
            // they are known once the first pass has found the keys.
            match asked {
                Some(columns) => {
                    let query = if summary_only(&columns) {
                        query.detail(Detail::Summary)
                    } else {
                        query
                    };
                    let mut csv =
                        CsvPrinter::new(&mut out, columns, now).map_err(output::write_failure)?;
                    printer::print_to_stdout(&registry, &query, &mut csv)?;
                }
                None => {
                    let columns_of = |keys: &AnswerKeys| -> Vec<Column> {
                        let summary = keys.summary.iter().map(|(k, _)| k.as_str());
                        default_columns(summary, sort.as_ref(), false)
                            .into_iter()
                            .map(|c| c.spec)
                            .collect()
                    };
                    let query = query.detail(Detail::Summary);
                    if sort.as_ref().is_none_or(|key| Detail::Summary.carries(key)) {
                        // One first pass finds the runs and their keys.
                        printer::print_keyed(
                            &registry,
                            &query,
                            |keys| CsvPrinter::new(&mut out, columns_of(keys), now),
                            output::write_failure,
                        )?;
                    } else {
                        // Sorted by a field the summary detail lacks: the
                        // records are read whole, the keys from the summary.
                        let columns = columns_of(&registry.answer_keys(&query)?);
                        let mut csv = CsvPrinter::new(&mut out, columns, now)
                            .map_err(output::write_failure)?;
                        let query = query.detail(Detail::Full);
                        printer::print_to_stdout(&registry, &query, &mut csv)?;
                    }
                }
            }
        }
        return Ok(());
    }
    // The default columns are the summary's, but for a sort key.
    let table_detail = match asked.as_deref() {
        Some(columns) if summary_only(columns) => Detail::Summary,
        None if sort.as_ref().is_none_or(|key| Detail::Summary.carries(key)) => Detail::Summary,
        _ => Detail::Full,
    };
    let runs = registry.query(&query.detail(table_detail))?;
    drop(registry);
    let columns = table_columns(&runs, sort.as_ref(), asked.as_deref());
    let mut text = String::new();
    render_table(&mut text, ctx, &runs, &columns, &args, now, None);
    output::print(&text)
}

/// The columns of a table: those asked for, else the defaults.
fn table_columns(runs: &[RunRecord], sort: Option<&Field>, asked: Option<&[Column]>) -> Vec<Shown> {
    match asked {
        Some(specs) => specs.iter().cloned().map(Shown::asked).collect(),
        None => default_columns(summary_keys(runs), sort, true),
    }
}

/// run_id, status, alive, age (created_at in CSV), tags, the sort key when
/// not among them, then the first few summary metrics.
fn default_columns<'k>(
    summary_keys: impl IntoIterator<Item = &'k str>,
    sort: Option<&Field>,
    table: bool,
) -> Vec<Shown> {
    let created = if table {
        Column::Age
    } else {
        Column::Field(Field::CreatedAt)
    };
    let mut columns: Vec<Shown> = [
        Column::Field(Field::RunId),
        Column::Field(Field::Status),
        Column::Field(Field::Alive),
        created,
        Column::Field(Field::Tags),
    ]
    .into_iter()
    .map(Shown::asked)
    .collect();
    if let Some(key) = sort {
        let spec = Column::Field(key.clone());
        let shown = |c: &Shown| c.spec == spec;
        if spec != Column::Field(Field::CreatedAt) && !columns.iter().any(shown) {
            columns.push(Shown::asked(spec));
        }
    }
    let present: Vec<Column> = columns.iter().map(|c| c.spec.clone()).collect();
    columns.extend(
        columns::first_metrics(summary_keys, DEFAULT_METRICS, &present)
            .into_iter()
            .map(|spec| {
                if table {
                    Shown::optional(spec)
                } else {
                    Shown::asked(spec)
                }
            }),
    );
    columns
}

/// The summary keys any of `runs` has.
fn summary_keys(runs: &[RunRecord]) -> impl Iterator<Item = &str> {
    runs.iter().flat_map(|r| r.summary.keys())
}

/// Appends the table of `runs` (or a line saying there are none) and a
/// count; at most `max_rows` rows when given.
fn render_table(
    text: &mut String,
    ctx: &Context,
    runs: &[RunRecord],
    columns: &[Shown],
    args: &LsArgs,
    now: f64,
    max_rows: Option<usize>,
) {
    if runs.is_empty() {
        text.push_str(if args.page.paged() {
            "no runs in this range (-n, --offset)\n"
        } else if args.filters.any() {
            "no runs match\n"
        } else {
            "no runs\n"
        });
        return;
    }
    let mut table = columns::runs_table(runs, columns, now);
    let hidden = match max_rows {
        Some(max) if runs.len() > max => {
            table.truncate(max);
            runs.len() - max
        }
        _ => 0,
    };
    text.push_str(&table.render(ctx.width_now(), ctx.palette));
    text.push_str(&output::plural(runs.len(), "run"));
    if hidden > 0 {
        text.push_str(&format!(
            " ({hidden} not shown: enlarge the terminal or use -n)"
        ));
    }
    text.push('\n');
}

/// Redraws the table every `secs` seconds until interrupted. On a terminal
/// each frame replaces the last (cursor home, clear); otherwise frames are
/// printed one after another, separated by a blank line.
fn watch(
    ctx: &Context,
    args: &LsArgs,
    query: &Query,
    sort: Option<&Field>,
    asked: Option<&[Column]>,
    secs: f64,
) -> Result<(), Failure> {
    if !(secs.is_finite() && secs > 0.0) {
        return Err(Failure::usage(
            "--watch takes a number of seconds greater than 0, as in --watch 5",
        ));
    }
    let interval = Duration::from_secs_f64(secs.max(0.1));
    let tty = std::io::stdout().is_terminal();
    let command: Vec<String> = std::env::args().skip(1).collect();
    let title = format!(
        "Every {}s: runreg {}",
        cell::compact(secs),
        command.join(" ")
    );
    let mut first = true;
    loop {
        // A zero TTL: every frame rescans, however short the interval.
        let runs = ctx.open_with(ctx.scans(), Duration::ZERO)?.query(query)?;
        let now = time::now();
        let columns = table_columns(&runs, sort, asked);
        let mut frame = format!("{title}    {}\n\n", time::clock(now));
        // Room for the title, the blank line, the table's header and the count.
        let max_rows = tty
            .then(table::terminal_size)
            .flatten()
            .map(|(_, h)| h.saturating_sub(5).max(1));
        render_table(&mut frame, ctx, &runs, &columns, args, now, max_rows);
        let out = if tty {
            // Home, each line cleared to its end, then the rest of the screen.
            let body = frame.replace('\n', "\x1b[K\n");
            let clear = if first { "\x1b[2J" } else { "" };
            format!("{clear}\x1b[H{body}\x1b[J")
        } else if first {
            frame
        } else {
            format!("\n{frame}")
        };
        output::print(&out)?;
        first = false;
        std::thread::sleep(interval);
    }
}
