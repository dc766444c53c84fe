//! Writing small answers whole: stdout that tolerates a closed pipe, JSON,
//! CSV.
//! (Lists of runs stream through `printer/`.)

use std::io::{self, Write};

use serde::Serialize;

use super::Failure;

/// Writes `text` to stdout. A closed pipe (`runreg ls | head -1`) becomes
/// [`Failure::closed_pipe`], which ends the command quietly with success.
pub fn print(text: &str) -> Result<(), Failure> {
    let mut out = io::stdout().lock();
    out.write_all(text.as_bytes())
        .and_then(|()| out.flush())
        .map_err(write_failure)
}

/// What a failed write to stdout means for the command.
pub fn write_failure(e: io::Error) -> Failure {
    if e.kind() == io::ErrorKind::BrokenPipe {
        Failure::closed_pipe()
    } else {
        Failure::failed(format!("cannot write output: {e}"))
    }
}

/// Pretty JSON (RFC 8259: non-finite floats are strings) and a newline.
pub fn to_json<T: Serialize + ?Sized>(value: &T) -> String {
    let mut text =
        serde_json::to_string_pretty(value).unwrap_or_else(|e| format!("\"unserializable: {e}\""));
    text.push('\n');
    text
}

/// CSV text of a small answer: a header row, then the rows, quoted where
/// needed (RFC 4180). Lists of runs stream through `printer/csv.rs`.
pub fn to_csv(header: &[String], rows: impl IntoIterator<Item = Vec<String>>) -> String {
    let mut writer = csv::Writer::from_writer(Vec::new());
    let write = || -> csv::Result<()> {
        writer.write_record(header)?;
        for row in rows {
            writer.write_record(&row)?;
        }
        writer.flush()?;
        Ok(())
    };
    // Writing to memory cannot fail.
    let _ = write();
    String::from_utf8_lossy(&writer.into_inner().unwrap_or_default()).into_owned()
}

/// `1 run`, `3 runs`.
pub fn plural(n: usize, thing: &str) -> String {
    if n == 1 {
        format!("1 {thing}")
    } else {
        format!("{n} {thing}s")
    }
}
