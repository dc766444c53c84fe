//! JSON: one array of runs, pretty-printed exactly as `serde_json` prints a
//! whole array (two-space indents), but written a run at a time.

use std::io::{self, Write};

use runreg::RunRecord;

use runreg::{JsonLayout, JsonWriter, RunView};

use super::{Printer, Renderer, ViewChunk};

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

/// Appends a record to a chunk's text as an element of the pretty array:
/// indented one level, after `,\n` unless it is the chunk's first. Chunks
/// then join with `,\n`.
fn element(writer: &JsonWriter, text: &mut Vec<u8>, run: &RunRecord) -> io::Result<()> {
    begin_element(text);
    writer.write_record(run, text)
}

/// What goes before an element in a chunk's text.
fn begin_element(text: &mut Vec<u8>) {
    if !text.is_empty() {
        text.extend_from_slice(b",\n");
    }
    text.extend_from_slice(b"  ");
}

/// A chunk's elements, written from the runs' views as [`element`] writes
/// records.
struct Elements {
    writer: JsonWriter,
    text: Vec<u8>,
}

impl ViewChunk for Elements {
    fn add(&mut self, run: &RunView<'_>) -> io::Result<()> {
        begin_element(&mut self.text);
        self.writer.write(run, &mut self.text)
    }

    fn into_text(self: Box<Self>) -> Vec<u8> {
        self.text
    }
}

impl<W: Write> Printer for JsonPrinter<W> {
    fn runs(&mut self, runs: &[RunRecord]) -> io::Result<()> {
        let writer = JsonWriter::new(JsonLayout::PrettyElement);
        let mut text = Vec::new();
        for run in runs {
            element(&writer, &mut text, run)?;
        }
        self.rendered(&text)
    }

    fn renderer(&self) -> Option<Renderer> {
        Some(Renderer::Views(Box::new(|text| {
            Box::new(Elements {
                writer: JsonWriter::new(JsonLayout::PrettyElement),
                text,
            })
        })))
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
    use runreg::Value;

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
            // Nested, empty and non-empty containers: each of the
            // formatter's paths.
            config: [(
                "m".to_owned(),
                Value::Map(vec![
                    (
                        "k".into(),
                        Value::List(vec![Value::Int(1), Value::Map(vec![])]),
                    ),
                    ("e".into(), Value::List(vec![])),
                ]),
            )]
            .into(),
            hparams: [("lr".to_owned(), Value::Float(f64::NAN))].into(),
            summary: runreg::ValueMap::new(),
            tags: if run_id.ends_with('1') {
                vec![]
            } else {
                vec!["a\nb".into(), "c".into()]
            },
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
            for chunk in runs.chunks(2).chain([&runs[..0]]) {
                let mut text = Vec::new();
                let writer = JsonWriter::new(JsonLayout::PrettyElement);
                for run in chunk {
                    element(&writer, &mut text, run).unwrap();
                }
                printer.rendered(&text).unwrap();
            }
            printer.finish().unwrap();
            assert_eq!(String::from_utf8(out).unwrap(), whole, "{n} runs, rendered");
        }
    }
}
