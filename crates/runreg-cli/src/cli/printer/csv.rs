//! CSV: a header of column names, then a row a run with raw values (epoch
//! seconds, full precision, tags as a JSON array), quoted where needed
//! (RFC 4180).

use std::io::{self, Write};

use runreg::RunRecord;

use super::Printer;
use crate::cli::columns::Column;

/// Writes the runs as CSV rows in fixed columns.
pub struct CsvPrinter<W: Write> {
    out: csv::Writer<W>,
    columns: Vec<Column>,
    /// What ages are measured from.
    now: f64,
    /// Prepends each row's 1-based rank (`runreg best --csv`).
    rank: Option<usize>,
}

impl<W: Write> CsvPrinter<W> {
    /// Writes the header at once.
    pub fn new(out: W, columns: Vec<Column>, now: f64) -> io::Result<CsvPrinter<W>> {
        CsvPrinter::with_header(out, columns, now, None)
    }

    /// A first column `rank` holding 1, 2, 3...
    pub fn ranked(out: W, columns: Vec<Column>, now: f64) -> io::Result<CsvPrinter<W>> {
        CsvPrinter::with_header(out, columns, now, Some(0))
    }

    fn with_header(
        out: W,
        columns: Vec<Column>,
        now: f64,
        rank: Option<usize>,
    ) -> io::Result<CsvPrinter<W>> {
        let mut out = csv::Writer::from_writer(out);
        let names = columns.iter().map(Column::name);
        if rank.is_some() {
            out.write_record(std::iter::once("rank".to_owned()).chain(names))
                .map_err(io_error)?;
        } else {
            out.write_record(names).map_err(io_error)?;
        }
        Ok(CsvPrinter {
            out,
            columns,
            now,
            rank,
        })
    }
}

impl<W: Write> Printer for CsvPrinter<W> {
    fn runs(&mut self, runs: &[RunRecord]) -> io::Result<()> {
        for run in runs {
            if let Some(rank) = &mut self.rank {
                *rank += 1;
                self.out.write_field(rank.to_string()).map_err(io_error)?;
            }
            for column in &self.columns {
                self.out
                    .write_field(column.raw(run, self.now))
                    .map_err(io_error)?;
            }
            self.out.write_record(None::<&[u8]>).map_err(io_error)?;
        }
        Ok(())
    }

    fn finish(&mut self) -> io::Result<()> {
        self.out.flush()
    }
}

/// The I/O error inside a CSV error, its kind kept (a closed pipe must stay
/// `BrokenPipe` to end quietly).
fn io_error(e: csv::Error) -> io::Error {
    match e.into_kind() {
        csv::ErrorKind::Io(e) => e,
        other => io::Error::other(format!("{other:?}")),
    }
}
