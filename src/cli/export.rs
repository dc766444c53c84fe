//! `runreg export FILE`: runs to CSV or JSON Lines.

use std::collections::BTreeSet;
use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};

use clap::{Args, ValueEnum};
use runreg::{Column, RunRecord};

use super::args::{Filters, PageArgs, SortArgs};
use super::columns::{self, ColumnSpec};
use super::{Context, Failure, output, time};

#[derive(Debug, Args)]
#[command(after_help = "\
CSV columns: run_id, status, alive, created_at, updated_at, ended_at, run_dir, \
checkpoint_path, tags, notes, then hparams.<k> and summary.<k> for every key \
any exported run has, sorted by key. Times are epoch seconds, tags a JSON \
array, absent values empty. JSON Lines: one record per line, the objects of \
'ls --json'. FILE - writes CSV to stdout unless --format says otherwise.

Examples:
  runreg export runs.csv --status completed
  runreg export sweep.jsonl --tag sweep:12345 --force
  runreg export - --format jsonl --alive | jq -r .run_id")]
pub struct ExportArgs {
    /// The file to write: .csv or .jsonl (the extension picks the format), or - for stdout
    #[arg(value_name = "FILE")]
    pub file: PathBuf,

    /// The format, whatever FILE's extension
    #[arg(long, value_name = "FORMAT")]
    pub format: Option<ExportFormat>,

    /// Overwrite FILE if it exists
    #[arg(short, long)]
    pub force: bool,

    #[command(flatten)]
    pub filters: Filters,

    #[command(flatten)]
    pub sort: SortArgs,

    #[command(flatten)]
    pub page: PageArgs,
}

/// `--format`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum ExportFormat {
    /// Comma-separated values, one row per run, flattened columns
    Csv,
    /// JSON Lines: one JSON object per run
    Jsonl,
}

pub fn run(ctx: &Context, args: ExportArgs) -> Result<(), Failure> {
    let to_stdout = args.file.as_os_str() == "-";
    let format = match (args.format, to_stdout) {
        (Some(format), _) => format,
        (None, true) => ExportFormat::Csv,
        (None, false) => format_of(&args.file)?,
    };
    if !to_stdout {
        check_target(&args.file, args.force)?;
    }
    let query = args.page.apply(args.sort.apply(args.filters.query()?)?);
    let runs = ctx.open()?.query(&query)?;
    let text = match format {
        ExportFormat::Csv => csv(&runs),
        ExportFormat::Jsonl => jsonl(&runs)?,
    };
    if to_stdout {
        return output::print(&text);
    }
    write_file(&args.file, text.as_bytes(), args.force).map_err(|e| match e.kind() {
        io::ErrorKind::AlreadyExists => exists(&args.file),
        _ => Failure::failed(format!("cannot write {}: {e}", args.file.display())),
    })?;
    ctx.note(&format!(
        "wrote {} to {}",
        output::plural(runs.len(), "run"),
        args.file.display()
    ));
    Ok(())
}

/// The format a file's extension names.
fn format_of(file: &Path) -> Result<ExportFormat, Failure> {
    let ext = file
        .extension()
        .map(|e| e.to_string_lossy().to_ascii_lowercase());
    match ext.as_deref() {
        Some("csv") => Ok(ExportFormat::Csv),
        Some("jsonl" | "ndjson") => Ok(ExportFormat::Jsonl),
        _ => Err(Failure::usage(format!(
            "cannot tell the format of {} from its extension: name it .csv or .jsonl, or pass --format csv|jsonl",
            file.display()
        ))),
    }
}

/// Refuses to overwrite without `--force`, and never writes over a directory.
fn check_target(file: &Path, force: bool) -> Result<(), Failure> {
    if file.is_dir() {
        return Err(Failure::failed(format!(
            "{} is a directory; name a file to write",
            file.display()
        )));
    }
    if !force && fs::symlink_metadata(file).is_ok() {
        return Err(exists(file));
    }
    Ok(())
}

fn exists(file: &Path) -> Failure {
    Failure::failed(format!(
        "{} already exists; pass --force to overwrite it",
        file.display()
    ))
}

/// The fixed columns, then `hparams.<k>` and `summary.<k>` for the union of
/// keys, each sorted.
fn export_columns(runs: &[RunRecord]) -> Vec<ColumnSpec> {
    let hparams: BTreeSet<&str> = runs.iter().flat_map(|r| r.hparams.keys()).collect();
    let summary: BTreeSet<&str> = runs.iter().flat_map(|r| r.summary.keys()).collect();
    [
        Column::RunId,
        Column::Status,
        Column::Alive,
        Column::CreatedAt,
        Column::UpdatedAt,
        Column::EndedAt,
        Column::RunDir,
        Column::CheckpointPath,
    ]
    .into_iter()
    .map(ColumnSpec::Field)
    .chain([ColumnSpec::Tags, ColumnSpec::Field(Column::Notes)])
    .chain(
        hparams
            .into_iter()
            .map(|k| ColumnSpec::Hparam(k.to_owned())),
    )
    .chain(
        summary
            .into_iter()
            .map(|k| ColumnSpec::Summary(k.to_owned())),
    )
    .collect()
}

fn csv(runs: &[RunRecord]) -> String {
    columns::runs_csv(runs, &export_columns(runs), time::now())
}

fn jsonl(runs: &[RunRecord]) -> Result<String, Failure> {
    let mut text = String::new();
    for run in runs {
        let line = serde_json::to_string(run)
            .map_err(|e| Failure::failed(format!("cannot encode run {}: {e}", run.run_id)))?;
        text.push_str(&line);
        text.push('\n');
    }
    Ok(text)
}

/// Writes `bytes` to `file`. Without `force` the file is created only if
/// absent (`AlreadyExists` otherwise, even when it appeared since the
/// check); with `force` it is written beside and renamed over, so a reader
/// never sees half a file.
fn write_file(file: &Path, bytes: &[u8], force: bool) -> io::Result<()> {
    if !force {
        let mut out = OpenOptions::new().write(true).create_new(true).open(file)?;
        let written = out.write_all(bytes).and_then(|()| out.sync_all());
        if written.is_err() {
            let _ = fs::remove_file(file);
        }
        return written;
    }
    let name = file
        .file_name()
        .map_or_else(|| "export".into(), |n| n.to_string_lossy().into_owned());
    let temp = file.with_file_name(format!(".{name}.{}.tmp", std::process::id()));
    let written = File::create(&temp)
        .and_then(|mut out| out.write_all(bytes).and_then(|()| out.sync_all()))
        .and_then(|()| fs::rename(&temp, file));
    if written.is_err() {
        let _ = fs::remove_file(&temp);
    }
    written
}
