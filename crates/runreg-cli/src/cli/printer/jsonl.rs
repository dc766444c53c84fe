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

/// A chunk's lines.
fn lines(runs: &[RunRecord]) -> io::Result<Vec<u8>> {
    let mut text = Vec::new();
    for run in runs {
        serde_json::to_writer(&mut text, run)?;
        text.push(b'\n');
    }
    Ok(text)
}

impl<W: Write> Printer for JsonlPrinter<W> {
    fn runs(&mut self, runs: &[RunRecord]) -> io::Result<()> {
        self.rendered(&lines(runs)?)
    }

    fn renderer(&self) -> Option<super::Renderer> {
        Some(Box::new(lines))
    }

    fn rendered(&mut self, lines: &[u8]) -> io::Result<()> {
        self.out.write_all(lines)
    }

    fn finish(&mut self) -> io::Result<()> {
        self.out.flush()
    }
}
