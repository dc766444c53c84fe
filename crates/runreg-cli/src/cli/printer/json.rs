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
    /// One run's pretty text, reused.
    text: Vec<u8>,
}

impl<W: Write> JsonPrinter<W> {
    pub fn new(out: W) -> JsonPrinter<W> {
        JsonPrinter {
            out,
            empty: true,
            text: Vec::new(),
        }
    }
}

impl<W: Write> Printer for JsonPrinter<W> {
    fn runs(&mut self, runs: &[RunRecord]) -> io::Result<()> {
        for run in runs {
            self.text.clear();
            serde_json::to_writer_pretty(&mut self.text, run)?;
            self.out
                .write_all(if self.empty { b"[\n  " } else { b",\n  " })?;
            self.empty = false;
            // An element sits one level deep: every line of it is indented
            // two more spaces (strings hold no raw newline in JSON).
            for (i, line) in self.text.split(|b| *b == b'\n').enumerate() {
                if i > 0 {
                    self.out.write_all(b"\n  ")?;
                }
                self.out.write_all(line)?;
            }
        }
        Ok(())
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
        }
    }
}
