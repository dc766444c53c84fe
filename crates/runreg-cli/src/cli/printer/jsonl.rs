//! JSON Lines: one run a line, the objects of `ls --json`.

use std::io::{self, Write};

use runreg::RunRecord;

use runreg::{JsonLayout, JsonWriter, RunView};

use super::{Printer, Renderer, ViewChunk};

/// Writes each run as one line of JSON.
pub struct JsonlPrinter<W: Write> {
    out: W,
}

impl<W: Write> JsonlPrinter<W> {
    pub fn new(out: W) -> JsonlPrinter<W> {
        JsonlPrinter { out }
    }
}

/// A chunk's lines, written from the runs' views.
struct Lines {
    writer: JsonWriter,
    text: Vec<u8>,
}

impl ViewChunk for Lines {
    fn add(&mut self, run: &RunView<'_>) -> io::Result<()> {
        self.writer.write(run, &mut self.text)?;
        self.text.push(b'\n');
        Ok(())
    }

    fn into_text(self: Box<Self>) -> Vec<u8> {
        self.text
    }
}

impl<W: Write> Printer for JsonlPrinter<W> {
    fn runs(&mut self, runs: &[RunRecord]) -> io::Result<()> {
        let writer = JsonWriter::new(JsonLayout::Compact);
        let mut text = Vec::new();
        for run in runs {
            writer.write_record(run, &mut text)?;
            text.push(b'\n');
        }
        self.rendered(&text)
    }

    fn renderer(&self) -> Option<Renderer> {
        Some(Renderer::Views(Box::new(|text| {
            Box::new(Lines {
                writer: JsonWriter::new(JsonLayout::Compact),
                text,
            })
        })))
    }

    fn rendered(&mut self, lines: &[u8]) -> io::Result<()> {
        self.out.write_all(lines)
    }

    fn finish(&mut self) -> io::Result<()> {
        self.out.flush()
    }
}
