//! The argument groups several commands share: which runs (`Filters`), in
//! which order (`SortArgs`), how many (`PageArgs`), printed how
//! (`FormatArgs`), and `--color`. A leaf: it imports none of the commands,
//! which all import it.

use clap::{Args, ValueEnum};
use runreg::{Error, Field, Filter, Query, SortSpec, Status, Value};

use super::Failure;

/// `--color`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum ColorChoice {
    /// Colour when stdout is a terminal and NO_COLOR is not set
    Auto,
    /// Always colour
    Always,
    /// Never colour
    Never,
}

/// Which runs: the filters `ls`, `best`, `export` and `status` share.
#[derive(Debug, Args)]
#[command(next_help_heading = "Filters")]
pub struct Filters {
    /// Only runs carrying this tag (exact match)
    #[arg(long, value_name = "TAG")]
    pub tag: Option<String>,

    /// Only runs in this status: running, completed, failed, interrupted, orphaned
    #[arg(long, value_name = "STATUS")]
    pub status: Option<String>,

    /// Only runs that are alive (status not final, heartbeat fresh)
    #[arg(long, conflicts_with = "dead")]
    pub alive: bool,

    /// Only runs that are not alive
    #[arg(long)]
    pub dead: bool,

    /// Only runs whose hparam KEY equals VALUE (VALUE read as JSON when it parses, else as text); repeatable
    #[arg(long = "hparam", value_name = "KEY=VALUE")]
    pub hparams: Vec<String>,

    /// Only runs this expression holds for; repeatable (all must hold). E.g. "summary.val_acc > 0.8 and hparams.optim.lr in (0.1, 0.01) and created_at > -7d". Fields: run_id, status, alive, tags, notes, run_dir, checkpoint_path, created_at, updated_at, ended_at, summary.<k>, hparams.<k>, config.<k>; operators = != < <= > >= in, not in, ~ (glob), tags has, exists; and, or, not, parentheses. A comparison with a missing or NaN value is false.
    #[arg(long = "where", value_name = "EXPR")]
    pub filters: Vec<String>,
}

impl Filters {
    /// Whether any filter was given.
    pub fn any(&self) -> bool {
        self.tag.is_some()
            || self.status.is_some()
            || self.alive
            || self.dead
            || !self.hparams.is_empty()
            || !self.filters.is_empty()
    }

    /// Whether `--tag` is the only filter given (or none is): then the
    /// indexes alone can answer some questions (`runreg status`).
    pub fn at_most_tag(&self) -> bool {
        self.status.is_none()
            && !self.alive
            && !self.dead
            && self.hparams.is_empty()
            && self.filters.is_empty()
    }

    /// The query these filters ask, before sorting and paging.
    pub fn query(&self) -> Result<Query, Failure> {
        let mut query = Query::new();
        if let Some(tag) = &self.tag {
            query = query.tag(tag);
        }
        if let Some(status) = &self.status {
            query = query.status(status.parse::<Status>().map_err(Error::from)?);
        }
        if self.alive || self.dead {
            query = query.alive(self.alive);
        }
        for pair in &self.hparams {
            let (key, value) = parse_hparam(pair)?;
            query = query.hparam(key, value);
        }
        for text in &self.filters {
            query = query.filter(Filter::parse(text).map_err(Error::from)?);
        }
        Ok(query)
    }
}

/// `KEY=VALUE` of `--hparam` (the filter, and `runreg start`'s): VALUE as
/// JSON when it parses (`0.01`, `true`, `"x"`, `[1, 2]`), else as text.
pub fn parse_hparam(pair: &str) -> Result<(String, Value), Failure> {
    let Some((key, raw)) = pair.split_once('=') else {
        return Err(Failure::usage(format!(
            "--hparam {pair:?}: expected KEY=VALUE, as in optim.lr=0.01"
        )));
    };
    if key.is_empty() {
        return Err(Failure::usage(format!(
            "--hparam {pair:?}: the key is empty; expected KEY=VALUE, as in optim.lr=0.01"
        )));
    }
    let value = runreg::sidecar::parse_value(raw).unwrap_or_else(|_| Value::from(raw));
    Ok((key.to_owned(), value))
}

/// In which order: `--sort KEY` and `--asc`.
#[derive(Debug, Args)]
#[command(next_help_heading = "Order and paging")]
pub struct SortArgs {
    /// Sort by a column (run_id, status, created_at, updated_at, ended_at, alive, run_dir, checkpoint_path, notes) or summary.<k>, hparams.<k>, config.<k>; a comma-separated list sorts by each in turn, each KEY optionally followed by :asc or :desc (e.g. summary.val_acc:desc,created_at:asc); ties end in run_id order [default: created_at, newest first]
    #[arg(long, value_name = "KEY[:asc|:desc],...")]
    pub sort: Option<String>,

    /// Smallest first for keys without :asc or :desc (default: largest first); runs lacking a key come last either way
    #[arg(long)]
    pub asc: bool,
}

impl SortArgs {
    /// The sort specs given, parsed: `--asc` sets the direction of those
    /// without an explicit `:asc` or `:desc`.
    pub fn specs(&self) -> Result<Vec<SortSpec>, Failure> {
        let Some(list) = &self.sort else {
            return Ok(Vec::new());
        };
        list.split(',')
            .map(|item| {
                let item = item.trim();
                let explicit = item.ends_with(":asc") || item.ends_with(":desc");
                let mut spec: SortSpec = item.parse().map_err(|e| match e {
                    Error::InvalidField(e) => {
                        Failure::usage(format!("--sort {:?}: {}", e.field, e.reason))
                    }
                    other => Failure::from(other),
                })?;
                if !explicit {
                    spec.descending = !self.asc;
                }
                Ok(spec)
            })
            .collect()
    }

    /// The first (most significant) sort key given.
    pub fn key(&self) -> Result<Option<Field>, Failure> {
        Ok(self.specs()?.into_iter().next().map(|s| s.key))
    }

    /// Adds the sort to `query`; `--asc` alone sorts oldest first, and no
    /// sort at all leaves the query's default (newest first).
    pub fn apply(&self, mut query: Query) -> Result<Query, Failure> {
        let specs = self.specs()?;
        if specs.is_empty() && self.asc {
            return Ok(query.sort(SortSpec::asc(Field::CreatedAt)));
        }
        for spec in specs {
            query = query.sort(spec);
        }
        Ok(query)
    }
}

/// How many: `-n` and `--offset`.
#[derive(Debug, Args)]
#[command(next_help_heading = "Order and paging")]
pub struct PageArgs {
    /// Show at most N runs
    #[arg(short = 'n', long = "limit", value_name = "N")]
    pub limit: Option<usize>,

    /// Skip the first N runs
    #[arg(long, value_name = "N", default_value_t = 0)]
    pub offset: usize,
}

impl PageArgs {
    /// Whether the page can leave out runs that match: an offset, or `-n 0`.
    pub fn paged(&self) -> bool {
        self.offset > 0 || self.limit == Some(0)
    }

    /// Adds the page to `query`.
    pub fn apply(&self, mut query: Query) -> Query {
        query = query.offset(self.offset);
        if let Some(limit) = self.limit {
            query = query.limit(limit);
        }
        query
    }
}

/// How to print a list of runs: a table (default), `--json` or `--csv`.
#[derive(Debug, Args)]
#[command(next_help_heading = "Output")]
pub struct FormatArgs {
    /// Columns to show, comma-separated: run_id, status, alive, age, heartbeat, tags, created_at, updated_at, ended_at, run_dir, checkpoint_path, notes, summary.<k>, hparams.<k>, config.<k>
    #[arg(short = 'c', long, value_name = "COLS", value_delimiter = ',')]
    pub columns: Option<Vec<String>>,

    /// Print the runs as a JSON array of records (every field; --columns does not apply)
    #[arg(long, conflicts_with_all = ["csv", "jsonl"])]
    pub json: bool,

    /// Print the runs as JSON Lines: one record a line (every field; --columns does not apply)
    #[arg(long, conflicts_with = "csv")]
    pub jsonl: bool,

    /// Print the columns as CSV, with raw values (epoch seconds, full precision)
    #[arg(long)]
    pub csv: bool,
}
