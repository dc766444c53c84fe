//! JSON Lines: one run a line, the objects of `ls --json`.

use std::io::{self, Write};

use runreg::RunRecord;

use serde::Serialize;

use super::{Printer, Renderer};

/// Writes each run as one line of JSON.
pub struct JsonlPrinter<W: Write> {
    out: W,
}

impl<W: Write> JsonlPrinter<W> {
    pub fn new(out: W) -> JsonlPrinter<W> {
        JsonlPrinter { out }
    }
}

/// Appends a run's line (a [`RunRecord`] or the view of one) to `text`.
fn line(text: &mut Vec<u8>, run: &impl Serialize) -> io::Result<()> {
    serde_json::to_writer(&mut *text, run)?;
    text.push(b'\n');
    Ok(())
}

impl<W: Write> Printer for JsonlPrinter<W> {
    fn runs(&mut self, runs: &[RunRecord]) -> io::Result<()> {
        let mut text = Vec::new();
        for run in runs {
            line(&mut text, run)?;
        }
        self.rendered(&text)
    }

    fn renderer(&self) -> Option<Renderer> {
        Some(Renderer::Views(Box::new(|text, run| line(text, run))))
    }

    fn rendered(&mut self, lines: &[u8]) -> io::Result<()> {
        self.out.write_all(lines)
    }

    fn finish(&mut self) -> io::Result<()> {
        self.out.flush()
    }
}
