//! JSON Lines: one run a line, the objects of `ls --json`.

use std::io::{self, Write};

use runreg::RunRecord;

use super::Printer;

/// Writes each run as one line of JSON.
pub struct JsonlPrinter<W: Write> {
    out: W,
}

impl<W: Write> JsonlPrinter<W> {
    pub fn new(out: W) -> JsonlPrinter<W> {
        JsonlPrinter { out }
    }
}

impl<W: Write> Printer for JsonlPrinter<W> {
    fn runs(&mut self, runs: &[RunRecord]) -> io::Result<()> {
        for run in runs {
            serde_json::to_writer(&mut self.out, run)?;
            self.out.write_all(b"\n")?;
        }
        Ok(())
    }

    fn finish(&mut self) -> io::Result<()> {
        self.out.flush()
    }
}
