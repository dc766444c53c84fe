//! `runreg`'s commands: parse, open the registry, answer, print.

mod args;
mod output;

use std::io::{self, Write};
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::Parser;
use runreg::sidecar::parse_value;
use runreg::{Error, Query, Registry, ScanMode, SortKey, SortSpec, Status, Value};

use args::{Cli, Command, LsArgs};

/// A failure to report: one line on stderr, and the exit code.
struct Failure {
    message: String,
    code: u8,
}

impl From<Error> for Failure {
    fn from(e: Error) -> Self {
        Failure {
            message: e.to_string(),
            code: 1,
        }
    }
}

impl Failure {
    fn usage(message: impl Into<String>) -> Failure {
        Failure {
            message: message.into(),
            code: 2,
        }
    }
}

pub fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            // --help and --version print to stdout and succeed; usage errors exit 2.
            let _ = e.print();
            return ExitCode::from(if e.use_stderr() { 2 } else { 0 });
        }
    };
    match run(cli) {
        Ok(out) => output::emit(&out),
        Err(failure) => {
            eprintln!("runreg: {}", failure.message);
            ExitCode::from(failure.code)
        }
    }
}

/// Runs one command and returns what to print; nothing is printed while
/// the cache is open (a closed pipe must not interrupt a write).
fn run(cli: Cli) -> Result<String, Failure> {
    let cache_dir = resolve_cache_dir(cli.cache_dir.clone())?;
    if !(cli.heartbeat_timeout.is_finite() && cli.heartbeat_timeout >= 0.0) {
        return Err(Failure::usage(
            "--heartbeat-timeout must be a number of seconds >= 0",
        ));
    }
    let mut builder = Registry::builder(&cache_dir)
        .heartbeat_timeout(Duration::from_secs_f64(cli.heartbeat_timeout))
        .scan(!cli.no_scan && !matches!(cli.command, Command::Scan { .. }));
    if let Some(db) = &cli.db {
        builder = builder.db_path(db);
    }
    let mut registry = builder.open()?;
    if let Some(report) = registry.last_scan() {
        warn_rebuilt(report);
    }
    match cli.command {
        Command::Scan { full, json } => {
            let mode = if full {
                ScanMode::Full
            } else {
                ScanMode::Incremental
            };
            let report = registry.scan(mode)?;
            warn_rebuilt(&report);
            Ok(if json {
                output::to_json(&report)
            } else {
                format!("{report}\n")
            })
        }
        Command::Ls(args) => {
            let json = args.json;
            let query = ls_query(&args)?;
            let runs = registry.query(&query)?;
            Ok(if json {
                output::to_json(&runs)
            } else {
                output::run_table(&runs, query.sort.first().map(|s| &s.key))
            })
        }
        Command::Show { run_id, json } => match registry.get(&run_id)? {
            Some(run) if json => Ok(output::to_json(&run)),
            Some(run) => Ok(output::run_details(&run)),
            None => Err(Failure {
                message: format!(
                    "run {run_id:?} not found in {}",
                    registry.cache_dir().display()
                ),
                code: 1,
            }),
        },
    }
}

fn warn_rebuilt(report: &runreg::ScanReport) {
    if let Some(why) = &report.rebuilt {
        eprintln!("runreg: warning: cache rebuilt from the sidecars: {why}");
    }
}

/// `--cache-dir`, else `RUNREG_CACHE_DIR`, else `SPT_CACHE_DIR`.
fn resolve_cache_dir(flag: Option<PathBuf>) -> Result<PathBuf, Failure> {
    let from_env = |name: &str| {
        std::env::var_os(name)
            .filter(|v| !v.is_empty())
            .map(PathBuf::from)
    };
    let dir = flag
        .or_else(|| from_env("RUNREG_CACHE_DIR"))
        .or_else(|| from_env("SPT_CACHE_DIR"))
        .ok_or(Error::NoCacheDir)?;
    Ok(dir)
}

fn ls_query(args: &LsArgs) -> Result<Query, Failure> {
    let mut query = Query::new().offset(args.offset);
    if let Some(tag) = &args.tag {
        query = query.tag(tag);
    }
    if let Some(status) = &args.status {
        query = query.status(status.parse::<Status>()?);
    }
    if args.alive || args.dead {
        query = query.alive(args.alive);
    }
    for pair in &args.hparams {
        let (key, value) = parse_hparam(pair)?;
        query = query.hparam(key, value);
    }
    if let Some(key) = &args.sort {
        let key: SortKey = key.parse()?;
        query = query.sort(if args.asc {
            SortSpec::asc(key)
        } else {
            SortSpec::desc(key)
        });
    } else if args.asc {
        query = query.sort(SortSpec::asc("created_at".parse()?));
    }
    if let Some(limit) = args.limit {
        query = query.limit(limit);
    }
    Ok(query)
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
            "--hparam {pair:?}: the key is empty"
        )));
    }
    let value = parse_value(raw).unwrap_or_else(|_| Value::Str(raw.to_owned()));
    Ok((key.to_owned(), value))
}

/// Writes `text` to stdout; a closed pipe (`| head`) is not an error.
pub(crate) fn write_stdout(text: &str) -> io::Result<()> {
    let mut out = io::stdout().lock();
    out.write_all(text.as_bytes())?;
    out.flush()
}
