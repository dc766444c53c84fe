//! CSV: a header of column names, then a row a run with raw values (epoch
//! seconds, full precision, tags as a JSON array), quoted where needed
//! (RFC 4180).

use std::io::{self, Write};

use runreg::RunRecord;

use super::Printer;
use crate::cli::columns::Column;

/// Writes the runs as CSV rows in fixed columns.
pub struct CsvPrinter<W: Write> {
    out: W,
    columns: Vec<Column>,
    /// What ages are measured from.
    now: f64,
    /// Prepends each row's 1-based rank (`runreg best --csv`): the rank of
    /// the last row written.
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
        mut out: W,
        columns: Vec<Column>,
        now: f64,
        rank: Option<usize>,
    ) -> io::Result<CsvPrinter<W>> {
        let mut header = csv::Writer::from_writer(Vec::new());
        let names = columns.iter().map(Column::name);
        if rank.is_some() {
            header
                .write_record(std::iter::once("rank".to_owned()).chain(names))
                .map_err(io_error)?;
        } else {
            header.write_record(names).map_err(io_error)?;
        }
        out.write_all(&into_text(header)?)?;
        Ok(CsvPrinter {
            out,
            columns,
            now,
            rank,
        })
    }
}

/// The rows of `runs`, ranked from `ranked_after + 1` when given.
fn rows(
    columns: &[Column],
    now: f64,
    ranked_after: Option<usize>,
    runs: &[RunRecord],
) -> io::Result<Vec<u8>> {
    let mut text = csv::Writer::from_writer(Vec::new());
    for (i, run) in runs.iter().enumerate() {
        if let Some(after) = ranked_after {
            text.write_field((after + i + 1).to_string())
                .map_err(io_error)?;
        }
        for column in columns {
            text.write_field(column.raw(run, now)).map_err(io_error)?;
        }
        text.write_record(None::<&[u8]>).map_err(io_error)?;
    }
    into_text(text)
}

fn into_text(writer: csv::Writer<Vec<u8>>) -> io::Result<Vec<u8>> {
    writer.into_inner().map_err(|e| e.into_error())
}

impl<W: Write> Printer for CsvPrinter<W> {
    fn runs(&mut self, runs: &[RunRecord]) -> io::Result<()> {
        let text = rows(&self.columns, self.now, self.rank, runs)?;
        if let Some(rank) = &mut self.rank {
            *rank += runs.len();
        }
        self.out.write_all(&text)
    }

    /// Unranked rows need nothing from the rows before them.
    fn renderer(&self) -> Option<super::Renderer> {
        if self.rank.is_some() {
            return None;
        }
        let (columns, now) = (self.columns.clone(), self.now);
        Some(super::Renderer::Records(Box::new(move |runs| {
            rows(&columns, now, None, runs)
        })))
    }

    fn rendered(&mut self, rows: &[u8]) -> io::Result<()> {
        self.out.write_all(rows)
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
