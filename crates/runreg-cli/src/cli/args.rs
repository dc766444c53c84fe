//! The command-line surface (clap): global options, the subcommands, and
//! the argument groups several subcommands share.
//!
//! Each subcommand's own arguments live beside its code (`ls.rs` holds
//! `LsArgs`); a new subcommand is a file, a variant of [`Command`] and one
//! line of dispatch in `mod.rs`.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};
use runreg::{Error, Filter, Query, SortKey, SortSpec, Status, Value};

use super::Failure;
use super::best::BestArgs;
use super::export::ExportArgs;
use super::housekeeping::{CompletionsArgs, GcArgs, ScanArgs};
use super::ls::LsArgs;
use super::overview::{StatusArgs, TagsArgs};
use super::show::ShowArgs;
use super::write::{FinishArgs, HeartbeatArgs, LogArgs, StartArgs};

/// A local registry of machine-learning training runs.
#[derive(Debug, Parser)]
#[command(
    name = "runreg",
    version,
    args_override_self = true,
    arg_required_else_help = true,
    max_term_width = 100,
    long_about = ABOUT,
    after_help = AFTER_SHORT_HELP,
    after_long_help = EXAMPLES,
)]
pub struct Cli {
    /// The cache directory: the one holding runs/ [default: $RUNREG_CACHE_DIR, else $SPT_CACHE_DIR]
    #[arg(long, global = true, value_name = "DIR", help_heading = GLOBAL)]
    pub cache_dir: Option<PathBuf>,

    /// The cache file [default: {cache_dir}/registry.redb]
    #[arg(long, global = true, value_name = "FILE", help_heading = GLOBAL)]
    pub db: Option<PathBuf>,

    /// Answer from the cache as it is, without rescanning the tree first
    #[arg(long, global = true, help_heading = GLOBAL)]
    pub no_scan: bool,

    /// Seconds since its last heartbeat after which a run no longer counts as alive
    #[arg(long, global = true, value_name = "SECS", default_value_t = 180.0, help_heading = GLOBAL)]
    pub heartbeat_timeout: f64,

    /// Seconds to wait for another runreg process holding the cache (a scan in progress) before failing with "registry busy"
    #[arg(long, global = true, value_name = "SECS", env = "RUNREG_LOCK_TIMEOUT", default_value_t = 30.0, help_heading = GLOBAL)]
    pub lock_timeout: f64,

    /// When to colour the output: auto (on a terminal, unless NO_COLOR is set), always, never
    #[arg(
        long,
        global = true,
        value_name = "WHEN",
        default_value = "auto",
        hide_possible_values = true,
        help_heading = GLOBAL
    )]
    pub color: ColorChoice,

    /// Print no progress bar and no notes on stderr (errors are still printed)
    #[arg(short, long, global = true, help_heading = GLOBAL)]
    pub quiet: bool,

    #[command(subcommand)]
    pub command: Command,
}

/// The heading of the global options in every command's help.
const GLOBAL: &str = "Global options";

const AFTER_SHORT_HELP: &str = "\
The runs are read from {cache_dir}/runs; the cache directory is --cache-dir, \
else $RUNREG_CACHE_DIR, else $SPT_CACHE_DIR.
'runreg --help' says more; 'runreg <COMMAND> --help' gives a command's options and examples.";

const ABOUT: &str = "\
A local registry of machine-learning training runs.

Training jobs (stable-pretraining's, or any that write the same files) keep one \
directory per run under {cache_dir}/runs/, holding a sidecar.json (id, status, \
tags, hparams, summary metrics) and a heartbeat file touched while the run is \
alive. runreg reads those trees into a cache ({cache_dir}/registry.redb) and \
answers questions about the runs. Every command first rescans what changed, \
so answers follow the tree; --no-scan answers from the cache as it is.

The cache directory is, in order: --cache-dir DIR, else $RUNREG_CACHE_DIR, \
else $SPT_CACHE_DIR (the variable stable-pretraining uses). Queries never \
create it and never write to run directories, nor to stable-pretraining's \
own registry.db beside them; only start, log, heartbeat and finish write, \
and each only inside its own run's directory.

A run is alive when its status is not final (completed, failed, orphaned) and \
its heartbeat is younger than --heartbeat-timeout. A run whose sidecar has \
disappeared is kept as orphaned ('runreg gc' removes those from the cache).

Exit status: 0 on success, 1 when something failed or was not found, 2 for a \
usage error.";

const EXAMPLES: &str = "\
Examples:
  export RUNREG_CACHE_DIR=~/.cache/spt
  runreg ls --tag sweep:12345 --alive
  runreg best val_acc -n 3
  runreg show 7f3a9c
  runreg export runs.csv --status completed";

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Scan the run tree into the cache and report what changed
    Scan(ScanArgs),
    /// List runs as a table (or JSON, CSV), filtered and sorted
    Ls(LsArgs),
    /// Show everything about one run
    Show(ShowArgs),
    /// Rank completed runs by a summary metric
    Best(BestArgs),
    /// Write runs to a CSV or JSON Lines file, one row per run
    Export(ExportArgs),
    /// List tags with how many runs carry each
    Tags(TagsArgs),
    /// Count runs by status, and how many are alive
    Status(StatusArgs),
    /// Remove orphaned runs (whose sidecar is gone) from the cache
    Gc(GcArgs),
    /// Print a shell completion script
    Completions(CompletionsArgs),
    /// Start a run from a shell job and print its directory
    Start(StartArgs),
    /// Record metric values of a run at a step
    Log(LogArgs),
    /// Touch a run's heartbeat
    Heartbeat(HeartbeatArgs),
    /// Mark a run completed, failed or interrupted
    Finish(FinishArgs),
}

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
            query = query.status(status.parse::<Status>()?);
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

/// `KEY=VALUE`: VALUE as JSON when it parses (`0.01`, `true`, `"x"`), else
/// as a string.
fn parse_hparam(pair: &str) -> Result<(String, Value), Failure> {
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
                let mut spec: SortSpec = item.parse()?;
                if !explicit {
                    spec.descending = !self.asc;
                }
                Ok(spec)
            })
            .collect()
    }

    /// The first (most significant) sort key given.
    pub fn key(&self) -> Result<Option<SortKey>, Failure> {
        Ok(self.specs()?.into_iter().next().map(|s| s.key))
    }

    /// Adds the sort to `query`; `--asc` alone sorts oldest first, and no
    /// sort at all leaves the query's default (newest first).
    pub fn apply(&self, mut query: Query) -> Result<Query, Failure> {
        let specs = self.specs()?;
        if specs.is_empty() && self.asc {
            return Ok(query.sort(SortSpec::asc(SortKey::Column(runreg::Column::CreatedAt))));
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
    #[arg(long, conflicts_with = "csv")]
    pub json: bool,

    /// Print the columns as CSV, with raw values (epoch seconds, full precision)
    #[arg(long)]
    pub csv: bool,
}
