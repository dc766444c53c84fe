//! The command-line surface (clap): global options and the subcommands.
//!
//! Each subcommand's own arguments live beside its code (`ls.rs` holds
//! `LsArgs`); the groups several share are in [`arg_groups`](super::arg_groups),
//! a leaf that imports no command. A new subcommand is a file, a variant of
//! [`Command`] and one line of dispatch in `mod.rs`.

use std::path::PathBuf;

use clap::{Parser, Subcommand};

use super::arg_groups::ColorChoice;
use super::best::BestArgs;
use super::diff::DiffArgs;
use super::export::ExportArgs;
use super::housekeeping::{CompletionsArgs, GcArgs, ScanArgs};
use super::ls::LsArgs;
use super::metrics::MetricsArgs;
use super::overview::{StatusArgs, TagsArgs};
use super::show::ShowArgs;
use super::ui::UiArgs;
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

    /// File-system requests a scan keeps in flight (stats, reads, listings): 16 suits a local disk; 32-64 may pay on NFS, Lustre or GPFS, where each waits a round trip
    #[arg(long, global = true, value_name = "N", env = "RUNREG_IO_THREADS", default_value_t = runreg::DEFAULT_IO_THREADS, value_parser = io_threads, help_heading = GLOBAL)]
    pub io_threads: usize,

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
  runreg metrics 7f3a9c -m val_acc
  runreg diff 7f3a9c 0b12de
  runreg export runs.csv --status completed
  runreg ui";

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
    /// Show a run's metric history (its metrics.csv)
    Metrics(MetricsArgs),
    /// Show the hparams, config and summary values that differ across runs
    Diff(DiffArgs),
    /// Write runs to a CSV or JSON Lines file, one row per run
    Export(ExportArgs),
    /// Serve a local web page of the runs: table, sweep view, metric curves
    Ui(UiArgs),
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

/// `--io-threads`: a count the library accepts (1 to `runreg::MAX_IO_THREADS`).
fn io_threads(text: &str) -> Result<usize, String> {
    let max = runreg::MAX_IO_THREADS;
    match text.parse::<usize>() {
        Ok(n) if (1..=max).contains(&n) => Ok(n),
        _ => Err(format!(
            "must be a number of threads from 1 to {max} (file-system requests in flight)"
        )),
    }
}
