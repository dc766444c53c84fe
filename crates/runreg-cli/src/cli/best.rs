//! `runreg best METRIC`: completed runs ranked by a summary metric.

use std::collections::BTreeSet;

use clap::Args;
use runreg::{Field, Query, RunRecord, SortSpec, Status};

use super::arg_groups::{Filters, FormatArgs};
use super::cell::Cell;
use super::columns::{Column, Shown};
use super::printer::{self, CsvPrinter, JsonPrinter, JsonlPrinter, Printer};
use super::table::{Fit, Header, Table};
use super::{Context, Failure, output, time};

/// Metrics a "no run has this metric" note lists at most.
const MAX_LISTED: usize = 12;

#[derive(Debug, Args)]
#[command(after_help = "\
Only completed runs are ranked unless --status or --any-status says otherwise. \
Runs without the metric, or with NaN there, are never ranked. --json prints \
the ranked runs' records; --csv a rank column, then the columns.

Examples:
  runreg best val_acc
  runreg best train_loss --asc -n 10 --tag sweep:12345
  runreg best val_acc --any-status -c run_id,status,summary.val_acc,hparams.lr")]
pub struct BestArgs {
    /// The summary metric to rank by, as logged (val_acc; summary.val_acc works too)
    pub metric: String,

    /// Smallest first, for losses (default: largest first)
    #[arg(long)]
    pub asc: bool,

    /// How many runs to rank
    #[arg(short = 'n', long = "limit", value_name = "N", default_value_t = 5)]
    pub limit: usize,

    /// Rank runs of every status, not only completed ones
    #[arg(long, conflicts_with = "status")]
    pub any_status: bool,

    #[command(flatten)]
    pub filters: Filters,

    #[command(flatten)]
    pub format: FormatArgs,
}

pub fn run(ctx: &Context, args: BestArgs) -> Result<(), Failure> {
    let metric = args
        .metric
        .strip_prefix("summary.")
        .unwrap_or(&args.metric)
        .to_owned();
    if metric.is_empty() {
        return Err(Failure::usage(
            "name a summary metric to rank by, as in 'runreg best val_acc'",
        ));
    }
    let mut among = args.filters.query()?;
    if among.status.is_none() && !args.any_status {
        among = among.status(Status::Completed);
    }
    let key = Field::Summary(metric.clone());
    let spec = if args.asc {
        SortSpec::asc(key)
    } else {
        SortSpec::desc(key)
    };
    let asked = args
        .format
        .columns
        .as_deref()
        .map(Column::parse_all)
        .transpose()?;

    let ranked = among.clone().sort(spec).limit(args.limit);
    let registry = ctx.open()?;
    let now = time::now();
    let metric_column = Column::Field(Field::Summary(metric.clone()));
    let format = &args.format;
    if format.json || format.jsonl || format.csv {
        let mut out = printer::stdout();
        let inner: Box<dyn Printer + '_> = if format.json {
            Box::new(JsonPrinter::new(&mut out))
        } else if format.jsonl {
            Box::new(JsonlPrinter::new(&mut out))
        } else {
            let columns = asked.unwrap_or_else(|| {
                vec![
                    Column::Field(Field::RunId),
                    metric_column,
                    Column::Field(Field::Status),
                    Column::Field(Field::CreatedAt),
                    Column::Field(Field::Tags),
                ]
            });
            Box::new(CsvPrinter::ranked(&mut out, columns, now).map_err(output::write_failure)?)
        };
        let mut only = OnlyRanked {
            metric: &metric,
            inner,
            printed: 0,
        };
        printer::print_to_stdout(&registry, &ranked, &mut only)?;
        if only.printed == 0 && args.limit > 0 {
            let candidates = registry.query(&among)?;
            drop(registry);
            ctx.note(&why_empty(&candidates, &among, &metric, args.filters.any()));
        }
        return Ok(());
    }
    let mut runs = registry.query(&ranked)?;
    // Missing and NaN sort last: dropping them leaves the top of the ranking.
    runs.retain(|r| has_value(r, &metric));
    if runs.is_empty() && args.limit > 0 {
        let candidates = registry.query(&among)?;
        drop(registry);
        ctx.note(&why_empty(&candidates, &among, &metric, args.filters.any()));
    } else {
        drop(registry);
    }

    let text = if runs.is_empty() {
        String::new()
    } else {
        let columns: Vec<Shown> = match asked {
            Some(specs) => specs.into_iter().map(Shown::asked).collect(),
            None => {
                let mut specs = vec![Column::Field(Field::RunId), metric_column];
                if args.any_status {
                    specs.push(Column::Field(Field::Status));
                }
                specs.extend([Column::Age, Column::Field(Field::Tags)]);
                specs.into_iter().map(Shown::asked).collect()
            }
        };
        ranking(&runs, &columns, now).render(ctx.width, ctx.palette)
    };
    output::print(&text)
}

/// Whether `run` can be ranked by `metric`: it has a value there, not
/// `null` nor `NaN`.
fn has_value(run: &RunRecord, metric: &str) -> bool {
    run.summary.get(metric).is_some_and(|v| !v.is_missing())
}

/// Prints only the runs that can be ranked. They come first (missing
/// values and NaN sort last), so each chunk's ranked runs are a prefix.
struct OnlyRanked<'a> {
    metric: &'a str,
    inner: Box<dyn Printer + 'a>,
    printed: usize,
}

impl Printer for OnlyRanked<'_> {
    fn runs(&mut self, runs: &[RunRecord]) -> std::io::Result<()> {
        let ranked = runs
            .iter()
            .position(|r| !has_value(r, self.metric))
            .unwrap_or(runs.len());
        self.printed += ranked;
        self.inner.runs(&runs[..ranked])
    }

    fn finish(&mut self) -> std::io::Result<()> {
        self.inner.finish()
    }
}

/// The ranking as a table: `#`, then the columns.
fn ranking(runs: &[RunRecord], columns: &[Shown], now: f64) -> Table {
    let headers = std::iter::once(Header {
        title: "#".to_owned(),
        fit: Fit::Keep,
    })
    .chain(columns.iter().map(|c| Header {
        title: c.spec.header(),
        fit: c.fit,
    }))
    .collect();
    let mut table = Table::new(headers);
    for (i, run) in runs.iter().enumerate() {
        table.push(
            std::iter::once(Cell::number((i + 1).to_string()))
                .chain(columns.iter().map(|c| c.spec.cell(run, now)))
                .collect(),
        );
    }
    table
}

/// Why nothing was ranked: no runs to rank, or none with the metric (and
/// which metrics they do have, to catch a typo).
fn why_empty(candidates: &[RunRecord], among: &Query, metric: &str, filtered: bool) -> String {
    let runs = match &among.status {
        Some(status) => format!("{status} runs"),
        None => "runs".to_owned(),
    };
    if candidates.is_empty() {
        let matching = if filtered { " match the filters" } else { "" };
        return format!("no {runs}{matching}, so none to rank");
    }
    let known: BTreeSet<&str> = candidates.iter().flat_map(|r| r.summary.keys()).collect();
    let mut listed: Vec<&str> = known.iter().copied().take(MAX_LISTED).collect();
    if known.len() > MAX_LISTED {
        listed.push("...");
    }
    let (they, their) = if candidates.len() == 1 {
        ("it has", "its")
    } else {
        ("they have", "their")
    };
    let theirs = if listed.is_empty() {
        format!("{they} no summary metrics")
    } else {
        format!("{their} metrics: {}", listed.join(", "))
    };
    let none = match candidates.len() {
        1 => format!("the only {} has no value for", runs.trim_end_matches('s')),
        n => format!("none of the {n} {runs} has a value for"),
    };
    format!("{none} {metric:?} (NaN does not count); {theirs}")
}
