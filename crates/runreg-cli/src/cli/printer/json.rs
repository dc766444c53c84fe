//! JSON: one array of runs, pretty-printed exactly as `serde_json` prints a
//! whole array (two-space indents), but written a run at a time.

use std::io::{self, Write};

use runreg::RunRecord;

use serde::Serialize;
use serde_json::ser::Formatter;

use super::{Printer, Renderer};

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

/// Appends a run (a [`RunRecord`] or the view of one) to a chunk's text as
/// an element of the pretty array: indented one level, after `,\n` unless
/// it is the chunk's first. Chunks then join with `,\n`.
fn element(text: &mut Vec<u8>, run: &impl Serialize) -> io::Result<()> {
    if !text.is_empty() {
        text.extend_from_slice(b",\n");
    }
    text.extend_from_slice(INDENT);
    let mut out = serde_json::Serializer::with_formatter(&mut *text, Element::default());
    run.serialize(&mut out)?;
    Ok(())
}

const INDENT: &[u8] = b"  ";

/// `serde_json`'s pretty printing (two-space indents), started one level
/// in, as the elements of a pretty array are.
struct Element {
    level: usize,
    has_value: bool,
}

impl Default for Element {
    fn default() -> Element {
        Element {
            level: 1,
            has_value: false,
        }
    }
}

impl Element {
    fn open<W: ?Sized + Write>(&mut self, out: &mut W, bracket: &[u8]) -> io::Result<()> {
        self.level += 1;
        self.has_value = false;
        out.write_all(bracket)
    }

    fn close<W: ?Sized + Write>(&mut self, out: &mut W, bracket: &[u8]) -> io::Result<()> {
        self.level -= 1;
        if self.has_value {
            out.write_all(b"\n")?;
            self.indent(out)?;
        }
        out.write_all(bracket)
    }

    fn next<W: ?Sized + Write>(&mut self, out: &mut W, first: bool) -> io::Result<()> {
        out.write_all(if first { b"\n" } else { b",\n" })?;
        self.indent(out)
    }

    fn indent<W: ?Sized + Write>(&self, out: &mut W) -> io::Result<()> {
        for _ in 0..self.level {
            out.write_all(INDENT)?;
        }
        Ok(())
    }
}

impl Formatter for Element {
    fn begin_array<W: ?Sized + Write>(&mut self, out: &mut W) -> io::Result<()> {
        self.open(out, b"[")
    }

    fn end_array<W: ?Sized + Write>(&mut self, out: &mut W) -> io::Result<()> {
        self.close(out, b"]")
    }

    fn begin_array_value<W: ?Sized + Write>(&mut self, out: &mut W, first: bool) -> io::Result<()> {
        self.next(out, first)
    }

    fn end_array_value<W: ?Sized + Write>(&mut self, _out: &mut W) -> io::Result<()> {
        self.has_value = true;
        Ok(())
    }

    fn begin_object<W: ?Sized + Write>(&mut self, out: &mut W) -> io::Result<()> {
        self.open(out, b"{")
    }

    fn end_object<W: ?Sized + Write>(&mut self, out: &mut W) -> io::Result<()> {
        self.close(out, b"}")
    }

    fn begin_object_key<W: ?Sized + Write>(&mut self, out: &mut W, first: bool) -> io::Result<()> {
        self.next(out, first)
    }

    fn begin_object_value<W: ?Sized + Write>(&mut self, out: &mut W) -> io::Result<()> {
        out.write_all(b": ")
    }

    fn end_object_value<W: ?Sized + Write>(&mut self, _out: &mut W) -> io::Result<()> {
        self.has_value = true;
        Ok(())
    }
}

impl<W: Write> Printer for JsonPrinter<W> {
    fn runs(&mut self, runs: &[RunRecord]) -> io::Result<()> {
        let mut text = Vec::new();
        for run in runs {
            element(&mut text, run)?;
        }
        self.rendered(&text)
    }

    fn renderer(&self) -> Option<Renderer> {
        Some(Renderer::Views(Box::new(|text, run| element(text, run))))
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
                for run in chunk {
                    element(&mut text, run).unwrap();
                }
                printer.rendered(&text).unwrap();
            }
            printer.finish().unwrap();
            assert_eq!(String::from_utf8(out).unwrap(), whole, "{n} runs, rendered");
        }
    }
}
