//! Overviews of a cache: `runreg tags` and `runreg status`.

use clap::Args;
use runreg::{Query, Registry, RunRecord, Status};
use serde::ser::{Serialize, SerializeMap, Serializer};

use super::arg_groups::Filters;
use super::cell::Cell;
use super::color;
use super::table::{Fit, Header, Table};
use super::{Context, Failure, output};

#[derive(Debug, Args)]
#[command(after_help = "\
Examples:
  runreg tags
  runreg tags --prefix sweep:
  runreg tags --json")]
pub struct TagsArgs {
    /// Only tags starting with this text (sweep: lists SLURM sweeps)
    #[arg(long, value_name = "TEXT")]
    pub prefix: Option<String>,

    /// Print the tags as a JSON array of {"tag", "runs"} objects
    #[arg(long)]
    pub json: bool,
}

/// One line of `runreg tags --json`.
#[derive(serde::Serialize)]
struct TagCount<'a> {
    tag: &'a str,
    runs: u64,
}

pub fn tags(ctx: &Context, args: TagsArgs) -> Result<(), Failure> {
    let mut tags = ctx.open()?.tags()?;
    if let Some(prefix) = &args.prefix {
        tags.retain(|(tag, _)| tag.starts_with(prefix.as_str()));
    }
    let text = if args.json {
        let list: Vec<TagCount> = tags
            .iter()
            .map(|(tag, runs)| TagCount { tag, runs: *runs })
            .collect();
        output::to_json(&list)
    } else if tags.is_empty() {
        match &args.prefix {
            Some(prefix) => format!("no tags start with {prefix:?}\n"),
            None => "no tags\n".to_owned(),
        }
    } else {
        let mut table = Table::new(vec![header("tag", Fit::Shrink), header("runs", Fit::Keep)]);
        for (tag, runs) in &tags {
            table.push(vec![Cell::text(tag), Cell::number(runs.to_string())]);
        }
        table.render(ctx.width, ctx.palette)
    };
    output::print(&text)
}

#[derive(Debug, Args)]
#[command(after_help = "\
The five statuses are always listed, then any other status a sidecar declares. \
Only running and interrupted runs (and unknown statuses) can be alive.

Examples:
  runreg status
  runreg status --tag sweep:12345
  runreg status --json")]
pub struct StatusArgs {
    #[command(flatten)]
    pub filters: Filters,

    /// Print the counts as JSON: {"total": {"runs", "alive"}, "by_status": {STATUS: {"runs", "alive"}}}
    #[arg(long)]
    pub json: bool,
}

/// Runs and live runs of one status (or of all).
#[derive(Clone, Copy, Debug, Default, serde::Serialize)]
struct Count {
    runs: usize,
    alive: usize,
}

/// The answer of `runreg status`; statuses in lifecycle order, then others
/// by name.
struct StatusCounts {
    total: Count,
    by_status: Vec<(String, Count)>,
}

impl StatusCounts {
    /// Counts `runs`.
    fn of(runs: &[RunRecord]) -> StatusCounts {
        let mut counts = StatusCounts::new();
        for run in runs {
            counts.add(run.status.as_str(), 1, usize::from(run.alive));
        }
        counts.finish()
    }

    /// Counts from the status index, when every run is in a known status;
    /// only live runs are decoded.
    fn from_index(registry: &Registry, tag: Option<&str>) -> Result<Option<StatusCounts>, Failure> {
        let (known, total) = registry.status_counts(tag)?;
        if known.iter().map(|(_, n)| n).sum::<usize>() != total {
            return Ok(None);
        }
        let mut counts = StatusCounts::new();
        for (status, n) in &known {
            counts.add(status.as_str(), *n, 0);
        }
        let mut alive = Query::new().alive(true);
        if let Some(tag) = tag {
            alive = alive.tag(tag);
        }
        for run in registry.query(&alive)? {
            counts.add(run.status.as_str(), 0, 1);
        }
        Ok(Some(counts.finish()))
    }

    /// Every known status, at zero.
    fn new() -> StatusCounts {
        StatusCounts {
            total: Count::default(),
            by_status: Status::KNOWN
                .iter()
                .map(|s| (s.as_str().to_owned(), Count::default()))
                .collect(),
        }
    }

    fn add(&mut self, status: &str, runs: usize, alive: usize) {
        let i = match self.by_status.iter().position(|(s, _)| s == status) {
            Some(i) => i,
            None => {
                self.by_status.push((status.to_owned(), Count::default()));
                self.by_status.len() - 1
            }
        };
        for count in [&mut self.by_status[i].1, &mut self.total] {
            count.runs += runs;
            count.alive += alive;
        }
    }

    /// Statuses outside the known five, by name.
    fn finish(mut self) -> StatusCounts {
        self.by_status[Status::KNOWN.len()..].sort_by(|a, b| a.0.cmp(&b.0));
        self
    }
}

impl Serialize for StatusCounts {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        struct ByStatus<'a>(&'a [(String, Count)]);
        impl Serialize for ByStatus<'_> {
            fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                let mut map = s.serialize_map(Some(self.0.len()))?;
                for (status, count) in self.0 {
                    map.serialize_entry(status, count)?;
                }
                map.end()
            }
        }
        let mut map = s.serialize_map(Some(2))?;
        map.serialize_entry("total", &self.total)?;
        map.serialize_entry("by_status", &ByStatus(&self.by_status))?;
        map.end()
    }
}

pub fn status(ctx: &Context, args: StatusArgs) -> Result<(), Failure> {
    let query = args.filters.query()?;
    let registry = ctx.open()?;
    let indexed = if args.filters.at_most_tag() {
        StatusCounts::from_index(&registry, args.filters.tag.as_deref())?
    } else {
        None
    };
    let counts = match indexed {
        Some(counts) => counts,
        None => StatusCounts::of(&registry.query(&query)?),
    };
    drop(registry);
    let text = if args.json {
        output::to_json(&counts)
    } else {
        let mut table = Table::new(vec![
            header("status", Fit::Keep),
            header("runs", Fit::Keep),
            header("alive", Fit::Keep),
        ]);
        for (name, count) in &counts.by_status {
            let status = Status::from_sidecar(name);
            table.push(vec![
                Cell::styled(name.clone(), color::status_style(&status)),
                Cell::number(count.runs.to_string()),
                Cell::number(count.alive.to_string()),
            ]);
        }
        table.push(vec![
            Cell::styled("total".to_owned(), color::HEADER),
            Cell::number(counts.total.runs.to_string()),
            Cell::number(counts.total.alive.to_string()),
        ]);
        table.render(ctx.width, ctx.palette)
    };
    output::print(&text)
}

fn header(title: &str, fit: Fit) -> Header {
    Header {
        title: title.to_owned(),
        fit,
    }
}
