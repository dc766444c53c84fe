//! `runreg export FILE`: runs to Parquet, Arrow IPC, CSV, JSON Lines or JSON.

use std::fs::{self, File, OpenOptions};
use std::io::{self, BufWriter, Write};
use std::path::{Path, PathBuf};

use clap::{Args, ValueEnum};
use runreg::{AnswerKeys, Field};

use super::arg_groups::{Filters, PageArgs, SortArgs};
use super::columns::Column;
use super::printer::{
    self, Columnar, ColumnarFile, Compression, CsvPrinter, JsonPrinter, JsonlPrinter, Printer,
};
use super::{Context, Failure, output, time};

#[derive(Debug, Args)]
#[command(after_help = "\
Parquet and Arrow columns: run_id, status, alive, created_at, updated_at, \
ended_at (timestamps, microseconds, UTC), run_dir, checkpoint_path, notes, \
tags (a list), config (JSON text), then hparams.<k> and summary.<k> for \
every key any exported run has, sorted by key, each typed from its values \
(int64, float64 with NaN kept, bool, string; JSON text for a mix); a run \
without a key has a null there. CSV columns: run_id, status, alive, \
created_at, updated_at, ended_at, run_dir, checkpoint_path, tags, notes, then \
the hparams.<k> and summary.<k> columns. Times are epoch seconds, tags a JSON \
array, absent values empty. JSON Lines: one record per line, the objects of \
'ls --json'; JSON: the array 'ls --json' prints. FILE - writes CSV to stdout \
unless --format says otherwise.

Examples:
  runreg export runs.parquet
  runreg export runs.csv --status completed
  runreg export - --format jsonl --alive | jq -r .run_id")]
pub struct ExportArgs {
    /// The file to write: .parquet, .arrow (or .feather), .csv, .jsonl or .json (the extension picks the format), or - for stdout
    #[arg(value_name = "FILE")]
    pub file: PathBuf,

    /// The format, whatever FILE's extension
    #[arg(long, value_name = "FORMAT")]
    pub format: Option<ExportFormat>,

    /// The codec of a Parquet file [default: snappy] or an Arrow file [default: none]
    #[arg(long, value_name = "CODEC")]
    pub compression: Option<Compression>,

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
    /// A JSON array of runs, as `ls --json` prints it
    Json,
    /// Apache Parquet, typed columns
    Parquet,
    /// Arrow IPC file (Feather v2), typed columns
    Arrow,
}

impl ExportFormat {
    fn columnar(self) -> Option<Columnar> {
        match self {
            ExportFormat::Parquet => Some(Columnar::Parquet),
            ExportFormat::Arrow => Some(Columnar::Ipc),
            _ => None,
        }
    }
}

pub fn run(ctx: &Context, args: ExportArgs) -> Result<(), Failure> {
    let to_stdout = args.file.as_os_str() == "-";
    let format = match (args.format, to_stdout) {
        (Some(format), _) => format,
        (None, true) => ExportFormat::Csv,
        (None, false) => format_of(&args.file)?,
    };
    let columnar = format.columnar();
    match columnar {
        Some(kind) => kind.check(args.compression).map_err(Failure::usage)?,
        None if args.compression.is_some() => {
            return Err(Failure::usage(
                "--compression applies to Parquet and Arrow files only",
            ));
        }
        None => {}
    }
    if to_stdout && columnar.is_some() {
        return Err(Failure::usage(
            "Parquet and Arrow files are written to a FILE, not to stdout",
        ));
    }
    if !to_stdout {
        check_target(&args.file, args.force)?;
    }
    let query = args.page.apply(args.sort.apply(args.filters.query()?)?);
    let registry = ctx.open()?;
    let written = if let Some(kind) = columnar {
        let description = query_description(&args.file);
        write_file(&args.file, args.force, |out| {
            let mut file = ColumnarFile::new(kind, args.compression, &args.file, out);
            let options =
                runreg::columnar::BatchOptions::default().metadata("runreg.query", description);
            let count = registry.for_each_batch(&query, &options, &mut file)?;
            file.finish()?;
            Ok(count)
        })?
    } else {
        // CSV's columns are known before its first row: the answer's keys.
        let columns = match format {
            ExportFormat::Csv => export_columns(&registry.answer_keys(&query)?),
            _ => Vec::new(),
        };
        let now = time::now();
        if to_stdout {
            // Streamed without the cache held: a reader that stops early, or
            // reads slowly, holds up no scan.
            let mut out = printer::stdout();
            let mut printer =
                text_printer(format, &mut out, columns, now).map_err(output::write_failure)?;
            printer::print_to_stdout(&registry, &query, printer.as_mut())?;
            return Ok(());
        }
        // To a file, from one snapshot, a thousand runs at a time.
        let cannot =
            |e: io::Error| Failure::failed(format!("cannot write {}: {e}", args.file.display()));
        write_file(&args.file, args.force, |out| {
            let mut printer = text_printer(format, out, columns, now).map_err(cannot)?;
            let count = registry.read(|snapshot| {
                printer::print_snapshot(snapshot, &query, printer.as_mut(), &args.file)
            })?;
            printer.finish().map_err(cannot)?;
            Ok(count)
        })?
    };
    ctx.note(&format!(
        "wrote {} to {}",
        output::plural(written, "run"),
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
        Some("json") => Ok(ExportFormat::Json),
        Some("parquet" | "pq") => Ok(ExportFormat::Parquet),
        Some("arrow" | "feather" | "ipc") => Ok(ExportFormat::Arrow),
        _ => Err(Failure::usage(format!(
            "cannot tell the format of {} from its extension: name it .parquet, .arrow, .csv, .jsonl or .json, or pass --format",
            file.display()
        ))),
    }
}

/// The command line that chose the runs (the file's name left out), for a
/// columnar file's metadata: `export --status completed --sort summary.acc`.
fn query_description(file: &Path) -> String {
    std::env::args_os()
        .skip(1)
        .filter(|a| Path::new(a) != file)
        .map(|a| a.to_string_lossy().into_owned())
        .map(|a| {
            if a.is_empty() || a.contains(|c: char| c.is_whitespace() || c == '\'' || c == '"') {
                format!("'{}'", a.replace('\'', "'\\''"))
            } else {
                a.clone()
            }
        })
        .collect::<Vec<_>>()
        .join(" ")
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

/// The printer of a text format, writing to `out`.
fn text_printer<'w>(
    format: ExportFormat,
    out: &'w mut dyn Write,
    columns: Vec<Column>,
    now: f64,
) -> io::Result<Box<dyn Printer + 'w>> {
    Ok(match format {
        ExportFormat::Jsonl => Box::new(JsonlPrinter::new(out)),
        ExportFormat::Json => Box::new(JsonPrinter::new(out)),
        _ => Box::new(CsvPrinter::new(out, columns, now)?),
    })
}

/// The fixed columns, then `hparams.<k>` and `summary.<k>` for the union of
/// keys, each sorted.
fn export_columns(keys: &AnswerKeys) -> Vec<Column> {
    [
        Field::RunId,
        Field::Status,
        Field::Alive,
        Field::CreatedAt,
        Field::UpdatedAt,
        Field::EndedAt,
        Field::RunDir,
        Field::CheckpointPath,
        Field::Tags,
        Field::Notes,
    ]
    .into_iter()
    .chain(keys.hparams.iter().map(|(k, _)| Field::Hparam(k.clone())))
    .chain(keys.summary.iter().map(|(k, _)| Field::Summary(k.clone())))
    .map(Column::Field)
    .collect()
}

/// Writes `file` with `fill`. Without `force` the file is created only if
/// absent (an error otherwise, even when it appeared since the check); with
/// `force` it is written beside and renamed over, so a reader never sees
/// half a file. A failure removes what was written, never anything else.
fn write_file<T>(
    file: &Path,
    force: bool,
    fill: impl FnOnce(&mut BufWriter<File>) -> Result<T, Failure>,
) -> Result<T, Failure> {
    let cannot = |e: io::Error| match e.kind() {
        io::ErrorKind::AlreadyExists => exists(file),
        _ => Failure::failed(format!("cannot write {}: {e}", file.display())),
    };
    let written = if force {
        let name = file
            .file_name()
            .map_or_else(|| "export".into(), |n| n.to_string_lossy().into_owned());
        file.with_file_name(format!(".{name}.{}.tmp", std::process::id()))
    } else {
        file.to_path_buf()
    };
    let created = if force {
        File::create(&written)
    } else {
        OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&written)
    };
    let mut out = BufWriter::new(created.map_err(cannot)?);
    let result = fill(&mut out).and_then(|value| {
        let handle = out.into_inner().map_err(|e| cannot(e.into_error()))?;
        handle.sync_all().map_err(cannot)?;
        if force {
            fs::rename(&written, file).map_err(cannot)?;
        }
        Ok(value)
    });
    if result.is_err() {
        let _ = fs::remove_file(&written);
    }
    result
}
