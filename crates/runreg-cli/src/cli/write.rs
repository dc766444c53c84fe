//! Writing runs from shell jobs: `runreg start`, `log`, `heartbeat` and
//! `finish`.
//!
//! Each command is a whole writer cycle: the run's state is read back from
//! its directory, changed, and written out before the command returns, so a
//! bash loop (or a C++ trainer shelling out) can call them one after the
//! other, from any process.

use std::path::{Path, PathBuf};

use clap::{Args, ValueEnum};
use runreg::writer::{self, RunOptions, RunWriter};
use runreg::{Error, Sidecar, Status};

use super::arg_groups::parse_hparam;
use super::{Context, Failure, output};

const SWEEP_EXAMPLE: &str = "\
Example: a sweep in bash
  export RUNREG_CACHE_DIR=~/.cache/runs
  for lr in 0.1 0.01 0.001; do
    run=$(runreg start --tag sweep:lr --hparam optim.lr=$lr)
    status=completed
    for step in $(seq 0 99); do
      loss=$(./train_step --lr $lr --step $step) || { status=failed; break; }
      runreg log \"$run\" --step $step train_loss=$loss
    done
    runreg finish \"$run\" --status $status
  done
  runreg best train_loss --asc --tag sweep:lr";

#[derive(Debug, Args)]
#[command(after_help = START_HELP)]
pub struct StartArgs {
    /// The run's id [default: generated: YYYYMMDD_HHMMSS_mmm_<random>, sortable by time]
    #[arg(long = "id", value_name = "ID")]
    pub run_id: Option<String>,

    /// A tag for the run; repeatable
    #[arg(long = "tag", value_name = "TAG")]
    pub tags: Vec<String>,

    /// A hyper-parameter, KEY as it will be stored (optim.lr), VALUE read as JSON when it parses, else as text; repeatable
    #[arg(long = "hparam", value_name = "KEY=VALUE")]
    pub hparams: Vec<String>,

    /// Free-text notes
    #[arg(long, value_name = "TEXT")]
    pub notes: Option<String>,
}

const START_HELP: &str = "\
Creates {cache_dir}/runs/<YYYYMMDD>/<HHMMSS>/<id>/ (UTC) with its sidecar.json \
(status running), summary.json and heartbeat, and prints the run directory: \
the argument of log, heartbeat and finish. The cache directory is created \
when missing. In a SLURM array job the tag sweep:$SLURM_ARRAY_JOB_ID is added.

Examples:
  run=$(runreg start --tag resnet50 --hparam optim.lr=0.01 --hparam optim.name=sgd)
  runreg start --id job-$SLURM_JOB_ID --notes 'baseline, 3 seeds'";

#[derive(Debug, Args)]
#[command(after_help = SWEEP_EXAMPLE)]
pub struct LogArgs {
    /// The run directory `runreg start` printed
    #[arg(value_name = "RUN_DIR")]
    pub run_dir: PathBuf,

    /// The step these values belong to
    #[arg(long, value_name = "N")]
    pub step: u64,

    /// Metric values: a number, nan, inf, true (1.0) or false (0.0)
    #[arg(value_name = "KEY=VALUE", required = true)]
    pub metrics: Vec<String>,
}

#[derive(Debug, Args)]
#[command(after_help = "\
Touches RUN_DIR/heartbeat (creating it when missing) and nothing else. A run \
counts as alive while its heartbeat is younger than --heartbeat-timeout \
(180 s); 'runreg log' touches it too, so this is for long stretches that log \
nothing.

Example:
  while sleep 60; do runreg heartbeat \"$run\"; done &")]
pub struct HeartbeatArgs {
    /// The run directory `runreg start` printed
    #[arg(value_name = "RUN_DIR")]
    pub run_dir: PathBuf,
}

#[derive(Debug, Args)]
#[command(after_help = "\
Writes the status and ended_at to the sidecar, and the final summary.json. \
An interrupted run (not final: it may be continued with 'runreg log') also \
loses its heartbeat, so it is not taken as alive.

Examples:
  runreg finish \"$run\"
  trap 'runreg finish \"$run\" --status interrupted' TERM")]
pub struct FinishArgs {
    /// The run directory `runreg start` printed
    #[arg(value_name = "RUN_DIR")]
    pub run_dir: PathBuf,

    /// How the run ended
    #[arg(long, value_enum, default_value_t = FinishStatus::Completed)]
    pub status: FinishStatus,
}

/// `runreg finish --status`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum FinishStatus {
    /// It finished normally
    Completed,
    /// It failed
    Failed,
    /// It was stopped before the end (and may be continued)
    Interrupted,
}

impl From<FinishStatus> for Status {
    fn from(s: FinishStatus) -> Status {
        match s {
            FinishStatus::Completed => Status::Completed,
            FinishStatus::Failed => Status::Failed,
            FinishStatus::Interrupted => Status::Interrupted,
        }
    }
}

/// A writer error: a bad run id is a usage error (exit 2).
fn failure(e: Error) -> Failure {
    match e {
        Error::InvalidRunId { .. } => Failure::usage(e.to_string()),
        e => e.into(),
    }
}

/// Options for commands that continue a run: they leave its tags alone.
fn continuing() -> RunOptions {
    RunOptions::new().slurm_sweep_tag(false)
}

pub fn start(ctx: &Context, args: StartArgs) -> Result<(), Failure> {
    let Some((cache_dir, _)) = &ctx.cache_dir else {
        return Err(Failure::no_cache_dir());
    };
    let mut options = RunOptions::new().tags(args.tags);
    if let Some(id) = args.run_id {
        options = options.run_id(id);
    }
    if let Some(notes) = args.notes {
        options = options.notes(notes);
    }
    for pair in &args.hparams {
        let (key, value) = parse_hparam(pair)?;
        options = options.hparam(key, value);
    }
    let run = RunWriter::create(cache_dir, options).map_err(failure)?;
    run.detach().map_err(failure)?;
    output::print(&format!("{}\n", run.run_dir().display()))
}

pub fn log(args: LogArgs) -> Result<(), Failure> {
    let metrics = args
        .metrics
        .iter()
        .map(|pair| parse_metric(pair))
        .collect::<Result<Vec<_>, _>>()?;
    refuse_finished(&args.run_dir)?;
    let run = RunWriter::resume_with(&args.run_dir, continuing()).map_err(failure)?;
    run.log_metrics(args.step, metrics).map_err(failure)?;
    run.detach().map_err(failure)
}

pub fn heartbeat(args: HeartbeatArgs) -> Result<(), Failure> {
    writer::touch_heartbeat(&args.run_dir).map_err(failure)
}

pub fn finish(args: FinishArgs) -> Result<(), Failure> {
    let run = RunWriter::resume_with(&args.run_dir, continuing()).map_err(failure)?;
    run.finish(args.status.into()).map_err(failure)
}

/// `runreg log` adds to unfinished runs only: logging to a completed run is
/// almost always a script that lost track of its run.
fn refuse_finished(run_dir: &Path) -> Result<(), Failure> {
    let Ok((sidecar, _)) = Sidecar::read(&run_dir.join("sidecar.json")) else {
        // Not a run: resuming reports why.
        return Ok(());
    };
    if sidecar.status.is_terminal() {
        return Err(Failure::failed(format!(
            "run {:?} in {} is {}: runreg log adds to unfinished runs only",
            sidecar.run_id,
            run_dir.display(),
            sidecar.status
        )));
    }
    Ok(())
}

/// `KEY=VALUE` of `runreg log`: VALUE a number as Python's `float()` reads
/// it (`0.5`, `1e-3`, `nan`, `inf`), or `true`/`false`.
fn parse_metric(pair: &str) -> Result<(String, f64), Failure> {
    let Some((key, raw)) = pair.split_once('=') else {
        return Err(Failure::usage(format!(
            "metric {pair:?}: expected KEY=VALUE, as in train_loss=0.25"
        )));
    };
    if key.is_empty() {
        return Err(Failure::usage(format!("metric {pair:?}: the key is empty")));
    }
    let text = raw.trim();
    let value = match text {
        "true" | "True" => Some(1.0),
        "false" | "False" => Some(0.0),
        _ => text.parse::<f64>().ok(),
    };
    match value {
        Some(v) => Ok((key.to_owned(), v)),
        None => Err(Failure::usage(format!(
            "metric {pair:?}: {raw:?} is not a number (give a number, nan, inf, true or false)"
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use runreg::Value;

    #[test]
    fn metrics_read_as_python_floats() {
        let ok = |s: &str| parse_metric(s).map(|(_, v)| v).ok();
        assert_eq!(ok("loss=0.25"), Some(0.25));
        assert_eq!(ok("loss= 1e-3 "), Some(1e-3));
        assert_eq!(ok("loss=-inf"), Some(f64::NEG_INFINITY));
        assert!(ok("loss=nan").is_some_and(f64::is_nan));
        assert!(ok("loss=NaN").is_some_and(f64::is_nan));
        assert_eq!(ok("flag=true"), Some(1.0));
        assert_eq!(ok("a=b=1"), None);
        assert_eq!(ok("loss=abc"), None);
        assert_eq!(ok("loss="), None);
        assert_eq!(ok("=1"), None);
        assert_eq!(ok("loss"), None);
        assert_eq!(parse_metric("val/acc=1").unwrap().0, "val/acc");
    }

    #[test]
    fn hparams_read_as_json_else_text() {
        assert_eq!(parse_hparam("lr=0.01").unwrap().1, Value::Float(0.01));
        assert_eq!(
            parse_hparam("name=sgd").unwrap().1,
            Value::Str("sgd".into())
        );
        assert_eq!(parse_hparam("amp=true").unwrap().1, Value::Bool(true));
        assert_eq!(parse_hparam("url=a=b").unwrap().1, Value::Str("a=b".into()));
        assert!(parse_hparam("=1").is_err());
        assert!(parse_hparam("x").is_err());
    }
}
