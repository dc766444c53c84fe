//! `runreg`'s commands: parse, open the registry, answer, print.
//!
//! Each command group has its own file (its clap arguments and its `run`);
//! [`args`] holds the global options and the argument groups several
//! commands share; [`Context`] is the resolved global settings every command
//! opens the registry through.
//!
//! Invariant: nothing is printed while a registry call holds the cache
//! (each call opens and closes it), except the progress bar on stderr; a
//! command gathers its answer first, then prints it.

mod arg_groups;
mod args;
mod best;
mod cell;
mod color;
mod columns;
mod diff;
mod export;
mod housekeeping;
mod ls;
mod metrics;
mod output;
mod overview;
mod printer;
mod progress;
mod show;
mod table;
mod time;
mod ui;
mod write;

use std::cell::Cell;
use std::io::IsTerminal;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use clap::{CommandFactory, Parser};
use runreg::{Error, Registry, RegistryBuilder, ScanReport};

use args::{Cli, Command};
use color::Palette;
use progress::ScanBar;

/// A failure to report: one line on stderr (none when `message` is empty),
/// and the exit code.
#[derive(Debug)]
pub struct Failure {
    message: String,
    code: u8,
}

impl Failure {
    /// A usage error: exit 2.
    pub fn usage(message: impl Into<String>) -> Failure {
        Failure {
            message: message.into(),
            code: 2,
        }
    }

    /// Something failed or was not found: exit 1.
    pub fn failed(message: impl Into<String>) -> Failure {
        Failure {
            message: message.into(),
            code: 1,
        }
    }

    /// No cache directory was given and none could be found in the
    /// environment: a usage error.
    pub fn no_cache_dir() -> Failure {
        Failure::usage(
            "no cache directory: pass --cache-dir DIR or set RUNREG_CACHE_DIR (or SPT_CACHE_DIR)",
        )
    }

    /// The reader of stdout went away (`runreg ls | head -1`): stop quietly,
    /// successfully.
    pub fn closed_pipe() -> Failure {
        Failure {
            message: String::new(),
            code: 0,
        }
    }
}

/// A library error, with this program's advice where it has some: the
/// library's messages say what is wrong, never which command fixes it.
impl From<Error> for Failure {
    fn from(e: Error) -> Self {
        let code = match e {
            Error::InvalidField(_)
            | Error::InvalidFilter(_)
            | Error::UnknownStatus(_)
            | Error::InvalidSetting { .. } => 2,
            _ => 1,
        };
        // A scan moves a damaged cache, or one of another format, aside and
        // builds a new one; a full scan reads every sidecar again, replacing
        // an undecodable record.
        let advice = match e {
            Error::NoCache { .. } => ": run `runreg scan` to build it",
            Error::CacheDamaged { .. } | Error::CacheFormat { .. } => {
                ": run `runreg scan` to rebuild it"
            }
            Error::CorruptRecord { .. } => " (`runreg scan --full` rewrites it from its sidecar)",
            Error::CacheDirNotWritable { .. } => " (use --db FILE)",
            _ => "",
        };
        Failure {
            message: format!("{e}{advice}"),
            code,
        }
    }
}

pub fn main() -> ExitCode {
    // A damaged cache makes redb panic; runreg turns that into a rebuild or
    // an error, and the panic message need not be printed on top.
    runreg::quiet_caught_panics();
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            // --help and --version print to stdout and succeed; usage errors exit 2.
            let _ = e.print();
            return ExitCode::from(if e.use_stderr() { 2 } else { 0 });
        }
    };
    let result = Context::new(&cli).and_then(|ctx| dispatch(&ctx, cli.command));
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(failure) => {
            if !failure.message.is_empty() {
                eprintln!("runreg: {}", failure.message);
            }
            ExitCode::from(failure.code)
        }
    }
}

fn dispatch(ctx: &Context, command: Command) -> Result<(), Failure> {
    match command {
        Command::Scan(args) => housekeeping::scan(ctx, args),
        Command::Ls(args) => ls::run(ctx, args),
        Command::Show(args) => show::run(ctx, args),
        Command::Best(args) => best::run(ctx, args),
        Command::Metrics(args) => metrics::run(ctx, args),
        Command::Diff(args) => diff::run(ctx, args),
        Command::Export(args) => export::run(ctx, args),
        Command::Ui(args) => ui::run(ctx, args),
        Command::Tags(args) => overview::tags(ctx, args),
        Command::Status(args) => overview::status(ctx, args),
        Command::Gc(args) => housekeeping::gc(ctx, args),
        Command::Completions(args) => housekeeping::completions(args, Cli::command()),
        Command::Start(args) => write::start(ctx, args),
        Command::Log(args) => write::log(args),
        Command::Heartbeat(args) => write::heartbeat(args),
        Command::Finish(args) => write::finish(args),
    }
}

/// The global options, resolved: how to open the registry, how to print.
pub struct Context {
    /// `--cache-dir`, or the variable it came from; `None` when none is set
    /// (an error only for commands that open the registry).
    cache_dir: Option<(PathBuf, &'static str)>,
    db: Option<PathBuf>,
    scan: bool,
    heartbeat_timeout: Duration,
    lock_timeout: Duration,
    io_threads: usize,
    quiet: bool,
    /// Colours for stdout.
    pub palette: Palette,
    /// Width to fit tables in; `None`: do not truncate.
    pub width: Option<usize>,
    bar: Arc<ScanBar>,
    /// Whether the note about a missing runs/ folder was printed (once is
    /// enough, even under `--watch`).
    noted_no_runs: Cell<bool>,
}

impl Context {
    fn new(cli: &Cli) -> Result<Context, Failure> {
        if !(cli.lock_timeout.is_finite() && (0.0..=86_400.0).contains(&cli.lock_timeout)) {
            return Err(Failure::usage(
                "--lock-timeout must be a number of seconds between 0 and 86400",
            ));
        }
        if !(cli.heartbeat_timeout.is_finite() && cli.heartbeat_timeout >= 0.0) {
            return Err(Failure::usage(
                "--heartbeat-timeout must be a number of seconds >= 0",
            ));
        }
        let stdout_tty = std::io::stdout().is_terminal();
        let show_bar = !cli.quiet && std::io::stderr().is_terminal();
        Ok(Context {
            cache_dir: resolve_cache_dir(cli.cache_dir.clone()),
            db: cli.db.clone(),
            scan: !cli.no_scan,
            heartbeat_timeout: Duration::from_secs_f64(cli.heartbeat_timeout),
            lock_timeout: Duration::from_secs_f64(cli.lock_timeout),
            io_threads: cli.io_threads,
            quiet: cli.quiet,
            palette: Palette::new(cli.color, stdout_tty),
            width: table::output_width(stdout_tty),
            bar: Arc::new(ScanBar::new(show_bar)),
            noted_no_runs: Cell::new(false),
        })
    }

    /// Opens the registry, rescanning what changed first (unless
    /// `--no-scan`).
    pub fn open(&self) -> Result<Registry, Failure> {
        self.open_with(self.scan, Duration::from_secs(2))
    }

    /// Opens the registry; `scan` says whether to rescan first, skipped when
    /// this process scanned within `ttl`.
    pub fn open_with(&self, scan: bool, ttl: Duration) -> Result<Registry, Failure> {
        let builder = self.builder()?.scan(scan).scan_ttl(ttl);
        let registry = self.with_bar(|| builder.open());
        let registry = registry.map_err(|e| self.explain(e))?;
        if let Some(report) = registry.last_scan() {
            self.warn_rebuilt(report);
        }
        if registry.is_relocated() {
            self.note(&format!(
                "note: {} is not writable: its cache is kept in {}",
                registry.cache_dir().display(),
                registry.db_path().display()
            ));
        }
        Ok(registry)
    }

    /// Runs `work`, which may scan, with the progress bar armed; the bar is
    /// gone when this returns.
    pub fn with_bar<T>(&self, work: impl FnOnce() -> T) -> T {
        self.bar.arm();
        let out = work();
        self.bar.finish();
        out
    }

    fn builder(&self) -> Result<RegistryBuilder, Failure> {
        let Some((dir, _)) = &self.cache_dir else {
            return Err(Failure::no_cache_dir());
        };
        if dir.is_dir() && !dir.join("runs").is_dir() && !self.noted_no_runs.replace(true) {
            self.note(&format!(
                "note: {} has no runs/ folder, so no runs; is it the cache directory?",
                dir.display()
            ));
        }
        let bar = Arc::clone(&self.bar);
        let mut builder = Registry::builder(dir)
            .heartbeat_timeout(self.heartbeat_timeout)
            .lock_timeout(self.lock_timeout)
            .io_threads(self.io_threads)
            .on_progress(move |p| bar.update(p));
        if let Some(db) = &self.db {
            builder = builder.db_path(db);
        }
        Ok(builder)
    }

    /// A library error, with what to do about it where the library cannot
    /// know.
    pub fn explain(&self, e: Error) -> Failure {
        match (e, &self.cache_dir) {
            (Error::CacheDirMissing { path }, Some((_, from))) => Failure::failed(format!(
                "cache directory {} (from {from}) does not exist; give the directory that holds runs/",
                path.display()
            )),
            (e @ Error::Busy { .. }, _) => Failure::failed(format!(
                "{e}; try again, or wait longer with --lock-timeout SECS (or RUNREG_LOCK_TIMEOUT)"
            )),
            (e, _) => e.into(),
        }
    }

    /// A note on stderr, unless `--quiet`.
    pub fn note(&self, message: &str) {
        if !self.quiet {
            eprintln!("runreg: {message}");
        }
    }

    pub fn warn_rebuilt(&self, report: &ScanReport) {
        if let Some(why) = &report.rebuilt {
            eprintln!("runreg: warning: cache rebuilt from the sidecars: {why}");
        }
    }

    /// How old a heartbeat may be for its run to count as alive.
    pub fn heartbeat_timeout(&self) -> Duration {
        self.heartbeat_timeout
    }

    /// Whether commands rescan the tree first (not with `--no-scan`).
    pub fn scans(&self) -> bool {
        self.scan
    }

    /// Width to fit a table in now (a terminal can be resized between two
    /// frames of `--watch`); `None` when tables are not cut.
    pub fn width_now(&self) -> Option<usize> {
        self.width
            .and_then(|_| table::output_width(std::io::stdout().is_terminal()))
    }
}

/// `--cache-dir`, else `RUNREG_CACHE_DIR`, else `SPT_CACHE_DIR`, with where
/// it came from.
fn resolve_cache_dir(flag: Option<PathBuf>) -> Option<(PathBuf, &'static str)> {
    let from_env = |name: &'static str| {
        std::env::var_os(name)
            .filter(|v| !v.is_empty())
            .map(|v| (PathBuf::from(v), name))
    };
    flag.map(|dir| (dir, "--cache-dir"))
        .or_else(|| from_env("RUNREG_CACHE_DIR"))
        .or_else(|| from_env("SPT_CACHE_DIR"))
}
