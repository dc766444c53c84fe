//! JSON: one array of runs, pretty-printed exactly as `serde_json` prints a
//! whole array (two-space indents), but written a run at a time.

use std::io::{self, Write};

use runreg::RunRecord;

use super::Printer;

/// Writes the runs as the elements of one JSON array.
pub struct JsonPrinter<W: Write> {
    out: W,
    /// No element written yet.
    empty: bool,
}

impl<W: Write> JsonPrinter<W> {
    pub fn new(out: W) -> JsonPrinter<W> {
        JsonPrinter { out, empty: true }
    }
}

/// A chunk's elements: the chunk as a pretty array, `[\n  {..},\n  {..}\n]`,
/// its brackets cut. Its elements are indented as the whole array's are, so
/// chunks join with `,\n`. Nothing for no runs.
fn elements(runs: &[RunRecord]) -> io::Result<Vec<u8>> {
    if runs.is_empty() {
        return Ok(Vec::new());
    }
    let mut text = Vec::new();
    serde_json::to_writer_pretty(&mut text, runs)?;
    text.truncate(text.len() - 2);
    text.drain(..2);
    Ok(text)
}

impl<W: Write> Printer for JsonPrinter<W> {
    fn runs(&mut self, runs: &[RunRecord]) -> io::Result<()> {
        self.rendered(&elements(runs)?)
    }

    fn renderer(&self) -> Option<super::Renderer> {
        Some(Box::new(elements))
    }

    fn rendered(&mut self, elements: &[u8]) -> io::Result<()> {
        if elements.is_empty() {
            return Ok(());
        }
        self.out
            .write_all(if self.empty { b"[\n" } else { b",\n" })?;
        self.empty = false;
        self.out.write_all(elements)
    }

    fn finish(&mut self) -> io::Result<()> {
        self.out
            .write_all(if self.empty { b"[]\n" } else { b"\n]\n" })?;
        self.out.flush()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(run_id: &str) -> RunRecord {
        RunRecord {
            run_id: run_id.into(),
            status: runreg::Status::Completed,
            created_at: 1.0,
            updated_at: 2.0,
            ended_at: None,
            alive: false,
            run_dir: "/r".into(),
            checkpoint_path: None,
            config: runreg::ValueMap::new(),
            hparams: [("lr".to_owned(), runreg::Value::Float(f64::NAN))].into(),
            summary: runreg::ValueMap::new(),
            tags: vec!["a\nb".into()],
            notes: "x".into(),
            heartbeat_at: None,
        }
    }

    #[test]
    fn chunks_print_the_array_serde_json_prints_whole() {
        for n in [0, 1, 3] {
            let runs: Vec<RunRecord> = (0..n).map(|i| record(&format!("r{i}"))).collect();
            let mut out = Vec::new();
            let mut printer = JsonPrinter::new(&mut out);
            for chunk in runs.chunks(2) {
                printer.runs(chunk).unwrap();
            }
            printer.finish().unwrap();
            let whole = serde_json::to_string_pretty(&runs).unwrap() + "\n";
            assert_eq!(String::from_utf8(out).unwrap(), whole, "{n} runs");
            // Chunks made apart (some empty) and written in turn: the same.
            let mut out = Vec::new();
            let mut printer = JsonPrinter::new(&mut out);
            let render = printer.renderer().unwrap();
            for chunk in runs.chunks(2).chain([&runs[..0]]) {
                printer.rendered(&render(chunk).unwrap()).unwrap();
            }
            printer.finish().unwrap();
            assert_eq!(String::from_utf8(out).unwrap(), whole, "{n} runs, rendered");
        }
    }
}
