//! The command-line surface (clap).

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

/// A local registry of machine-learning training runs.
///
/// runreg reads the run trees that training jobs write (one directory per run
/// under {cache_dir}/runs, each with a sidecar.json and a heartbeat file),
/// keeps them in a cache ({cache_dir}/registry.redb), and answers questions
/// about them. Every command first rescans what changed.
#[derive(Debug, Parser)]
#[command(
    name = "runreg",
    version,
    propagate_version = true,
    max_term_width = 100
)]
pub struct Cli {
    /// The cache directory holding runs/ [default: $RUNREG_CACHE_DIR, else $SPT_CACHE_DIR]
    #[arg(long, global = true, value_name = "DIR")]
    pub cache_dir: Option<PathBuf>,

    /// The cache file [default: {cache_dir}/registry.redb]
    #[arg(long, global = true, value_name = "FILE")]
    pub db: Option<PathBuf>,

    /// Answer from the cache as it is, without rescanning the tree
    #[arg(long, global = true)]
    pub no_scan: bool,

    /// Seconds since its last heartbeat after which a run no longer counts as alive
    #[arg(long, global = true, value_name = "SECS", default_value_t = 180.0)]
    pub heartbeat_timeout: f64,

    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Scan the run tree into the cache and report what changed
    #[command(after_help = "Examples:\n  runreg scan\n  runreg scan --full --json")]
    Scan {
        /// Re-read every sidecar, not only those that changed
        #[arg(long)]
        full: bool,
        /// Print the report as JSON
        #[arg(long)]
        json: bool,
    },
    /// List runs, filtered and sorted
    #[command(
        after_help = "Examples:\n  runreg ls --tag sweep:12345 --alive\n  runreg ls --status completed --sort summary.val_acc -n 5\n  runreg ls --hparam optim.lr=0.01 --sort hparams.batch_size --asc --json"
    )]
    Ls(LsArgs),
    /// Show one run
    #[command(after_help = "Examples:\n  runreg show 7f3a9c\n  runreg show 7f3a9c --json")]
    Show {
        /// The run's id
        run_id: String,
        /// Print the run as JSON
        #[arg(long)]
        json: bool,
    },
}

#[derive(Debug, Args)]
pub struct LsArgs {
    /// Only runs carrying this tag (exact match)
    #[arg(long, value_name = "TAG")]
    pub tag: Option<String>,

    /// Only runs in this status: running, completed, failed, interrupted, orphaned
    #[arg(long, value_name = "STATUS")]
    pub status: Option<String>,

    /// Only runs that are alive (not finished, heartbeat fresh)
    #[arg(long, conflicts_with = "dead")]
    pub alive: bool,

    /// Only runs that are not alive
    #[arg(long)]
    pub dead: bool,

    /// Only runs whose hparam KEY equals VALUE (VALUE read as JSON when it parses, else as text); repeatable
    #[arg(long = "hparam", value_name = "KEY=VALUE")]
    pub hparams: Vec<String>,

    /// Sort by a column (run_id, status, created_at, updated_at, ended_at, alive) or summary.<k>, hparams.<k>, config.<k>
    #[arg(long, value_name = "KEY")]
    pub sort: Option<String>,

    /// Smallest first (default: largest first)
    #[arg(long)]
    pub asc: bool,

    /// Show at most N runs
    #[arg(short = 'n', long = "limit", value_name = "N")]
    pub limit: Option<usize>,

    /// Skip the first N runs
    #[arg(long, value_name = "N", default_value_t = 0)]
    pub offset: usize,

    /// Print the runs as a JSON array
    #[arg(long)]
    pub json: bool,
}
