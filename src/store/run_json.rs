//! [`JsonWriter`]: runs written as JSON text straight from the cache's
//! bytes, byte for byte what `serde_json` writes for their records, with
//! less work per entry than serde's: the names of a stored key list are
//! escaped and laid out once, then copied for every run that names the
//! list (in-process, 75,045 runs as JSON Lines: 225-260 ms against 245-310
//! ms through `RunView`'s serde, on two cores).

use std::io::{self, Write};

use bincode::error::DecodeError;
use bincode::{BorrowDecode, Decode};
use serde::Serialize;
use serde_json::ser::{CompactFormatter, Formatter};

use super::codec::{self, FALSE, FLOAT, INT, NULL, STR, TRUE};
use super::run_fields::{ColdHead, Decoder, Head, MapNames, decoder, end_of_section, read_tags};
use super::run_view::RunView;
use crate::record::RunRecord;
use crate::value::non_finite_name;
use crate::value_map::{ByKeyList, KeyList};

/// How the JSON text of a run is laid out.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum JsonLayout {
    /// On one line, as `serde_json::to_writer` writes it (JSON Lines).
    Compact,
    /// As `serde_json::to_writer_pretty` writes an element of an array of
    /// runs: two-space indents, one level in. The element's own first
    /// indent, and the commas between elements, are the caller's.
    PrettyElement,
}

/// Writes [`RunView`]s as JSON text: for every run, exactly the bytes
/// `serde_json` writes for the [`RunRecord`] it stands
/// for, in the chosen [`JsonLayout`]. It keeps the text of the names of
/// each key list it met, so one writer should serve many runs (a chunk of
/// an answer); a list read again in another snapshot is laid out again.
///
/// ```
/// # fn main() -> runreg::Result<()> {
/// # let dir = tempfile::tempdir().unwrap();
/// # for id in ["a", "b"] {
/// #     let run = dir.path().join("runs/20261101/120000").join(id);
/// #     std::fs::create_dir_all(&run).unwrap();
/// #     std::fs::write(run.join("sidecar.json"), format!(r#"{{"run_id": "{id}", "hparams": {{"lr": 0.1, "opt": "sgd"}}}}"#)).unwrap();
/// # }
/// use runreg::{JsonLayout, JsonWriter, Query, Registry};
///
/// let registry = Registry::open(dir.path())?;
/// let start = || (JsonWriter::new(JsonLayout::Compact), Vec::new());
/// let mut lines = Vec::new();
/// registry.stream_views(&Query::new(), 100, 1, start, |(writer, text), run| {
///     writer.write(run, text).map_err(|e| runreg::Error::Io { path: "-".into(), source: e })?;
///     text.push(b'\n');
///     Ok(())
/// }, |(_, text)| {
///     lines.extend(text);
///     Ok(())
/// })?;
/// let records = registry.query(&Query::new())?;
/// let expected: Vec<u8> = records.iter().flat_map(|r| serde_json::to_vec(r).unwrap().into_iter().chain([b'\n'])).collect();
/// assert_eq!(lines, expected);
/// # Ok(())
/// # }
/// ```
pub struct JsonWriter {
    layout: JsonLayout,
    /// The laid-out names of the stored key lists met.
    names: ByKeyList<Names>,
}

/// The names of a map laid out for one [`JsonLayout`]: each entry's text up
/// to its value, as it follows another entry (`,"name":` or
/// `,\n      "name": `); the first entry's is the same without the comma.
#[derive(Default)]
struct Names {
    text: Vec<u8>,
    ends: Vec<usize>,
}

impl Names {
    fn entry(&self, i: usize) -> &[u8] {
        let start = if i == 0 { 1 } else { self.ends[i - 1] };
        &self.text[start..self.ends[i]]
    }
}

/// The fields of a run's object, in `RunRecord`'s order.
const FIELDS: [&str; 13] = [
    "run_id",
    "status",
    "created_at",
    "updated_at",
    "ended_at",
    "alive",
    "run_dir",
    "checkpoint_path",
    "config",
    "hparams",
    "summary",
    "tags",
    "notes",
];

impl JsonWriter {
    pub fn new(layout: JsonLayout) -> JsonWriter {
        JsonWriter {
            layout,
            names: ByKeyList::default(),
        }
    }

    /// Appends `run`'s JSON text to `out`. Fails (`InvalidData`, naming the
    /// run) on a record that cannot be decoded; `out` then holds part of it.
    pub fn write(&mut self, run: &RunView<'_>, out: &mut Vec<u8>) -> io::Result<()> {
        self.write_fields(run, out).map_err(|e| {
            io::Error::new(
                io::ErrorKind::InvalidData,
                format!("run {}: undecodable record in the cache: {e}", run.run_id()),
            )
        })
    }

    /// Appends a whole record's JSON text to `out`, in the same layout (for
    /// runs at hand as records rather than views).
    pub fn write_record(&self, record: &RunRecord, out: &mut Vec<u8>) -> io::Result<()> {
        match self.layout {
            JsonLayout::Compact => serde_json::to_writer(&mut *out, record)?,
            JsonLayout::PrettyElement => {
                let formatter = PrettyAt {
                    level: 1,
                    has_value: false,
                };
                record.serialize(&mut serde_json::Serializer::with_formatter(
                    &mut *out, formatter,
                ))?
            }
        }
        Ok(())
    }

    fn write_fields(&mut self, run: &RunView<'_>, out: &mut Vec<u8>) -> Result<(), DecodeError> {
        let bytes = run.bytes();
        let sections = bytes
            .sections()
            .map_err(|_| DecodeError::Other("section length runs past the record"))?;
        let mut hot = decoder(sections.hot, bytes.lists);
        let head = Head::read(&mut hot)?;
        let tags = read_tags(&mut hot)?;
        let mut cold = decoder(sections.cold, bytes.lists);
        let mut hparams = decoder(sections.hparams, bytes.lists);
        let cold_head = if run.is_full() {
            ColdHead::read(&mut cold)?
        } else {
            ColdHead::default()
        };
        let field_level = self.layout.level(1);
        out.push(b'{');
        for (i, name) in FIELDS.iter().enumerate() {
            if i > 0 {
                out.push(b',');
            }
            self.layout.newline(out, field_level);
            string(out, name);
            self.layout.colon(out);
            match i {
                0 => string(out, run.run_id()),
                1 => string(out, head.status.as_str()),
                2 => float(out, head.created_at),
                3 => float(out, head.updated_at),
                4 => match head.ended_at {
                    Some(t) => float(out, t),
                    None => out.extend_from_slice(b"null"),
                },
                5 => out.extend_from_slice(if run.alive() { b"true" } else { b"false" }),
                6 => string(out, cold_head.run_dir),
                7 => match cold_head.checkpoint_path {
                    Some(path) => string(out, path),
                    None => out.extend_from_slice(b"null"),
                },
                8 if run.is_full() => self.map(&mut cold, out)?,
                9 if run.is_full() => self.map(&mut hparams, out)?,
                8 | 9 => out.extend_from_slice(b"{}"),
                10 => self.map(&mut hot, out)?,
                11 => self.tags(&tags, out),
                _ => string(out, cold_head.notes),
            }
        }
        self.layout.newline(out, self.layout.level(0));
        out.push(b'}');
        Ok(())
    }

    /// The indent level of what is `depth` levels inside a run's object (0:
    /// the object's own brackets); 0 when compact.
    fn tags(&self, tags: &[&str], out: &mut Vec<u8>) {
        if tags.is_empty() {
            return out.extend_from_slice(b"[]");
        }
        out.push(b'[');
        for (i, tag) in tags.iter().enumerate() {
            if i > 0 {
                out.push(b',');
            }
            self.layout.newline(out, self.layout.level(2));
            string(out, tag);
        }
        self.layout.newline(out, self.layout.level(1));
        out.push(b']');
    }

    /// The map a section ends with, written as it is decoded: the names of
    /// a stored list from their laid-out text, the record's own escaped
    /// one by one; checks that it ends its section.
    fn map(&mut self, d: &mut Decoder<'_>, out: &mut Vec<u8>) -> Result<(), DecodeError> {
        let names = MapNames::read(d)?;
        let layout = self.layout;
        match &names {
            _ if names.len() == 0 => out.extend_from_slice(b"{}"),
            MapNames::Stored(list) => {
                out.push(b'{');
                let laid_out = self.names_of(list);
                for i in 0..list.len() {
                    out.extend_from_slice(laid_out.entry(i));
                    value(layout, d, out)?;
                }
            }
            MapNames::Inline(inline) => {
                out.push(b'{');
                for (i, name) in inline.iter().enumerate() {
                    if i > 0 {
                        out.push(b',');
                    }
                    self.layout.newline(out, self.layout.level(2));
                    string(out, name);
                    self.layout.colon(out);
                    value(layout, d, out)?;
                }
            }
        }
        if names.len() > 0 {
            self.layout.newline(out, self.layout.level(1));
            out.push(b'}');
        }
        end_of_section(d)
    }

    /// The laid-out names of a stored list, laid out the first time.
    fn names_of(&mut self, list: &KeyList) -> &Names {
        let layout = self.layout;
        self.names.get_or_make(list, |list| layout.lay_out(list))
    }
}

impl JsonLayout {
    /// The indentation of a line at `depth` within an element.
    fn level(self, depth: usize) -> usize {
        match self {
            JsonLayout::Compact => 0,
            JsonLayout::PrettyElement => 1 + depth,
        }
    }

    /// A new line indented to `level` (nothing when compact).
    fn newline(self, out: &mut Vec<u8>, level: usize) {
        if self == JsonLayout::PrettyElement {
            out.push(b'\n');
            out.extend(std::iter::repeat_n(b' ', 2 * level));
        }
    }

    /// What follows a name.
    fn colon(self, out: &mut Vec<u8>) {
        out.extend_from_slice(match self {
            JsonLayout::Compact => b":",
            JsonLayout::PrettyElement => b": ",
        });
    }

    /// The names of `list` laid out as entries of a map.
    fn lay_out(self, list: &KeyList) -> Names {
        let mut names = Names::default();
        for key in list.iter() {
            names.text.push(b',');
            self.newline(&mut names.text, self.level(2));
            string(&mut names.text, key);
            self.colon(&mut names.text);
            names.ends.push(names.text.len());
        }
        names
    }
}

/// The next value of a map, as `serde_json` writes it: scalars straight
/// from the bytes (the hot path of `ls --json`: decoded and written in one
/// step), arrays and objects (rare) through an owned value.
fn value(layout: JsonLayout, d: &mut Decoder<'_>, out: &mut Vec<u8>) -> Result<(), DecodeError> {
    match u8::decode(&mut *d)? {
        NULL => out.extend_from_slice(b"null"),
        FALSE => out.extend_from_slice(b"false"),
        TRUE => out.extend_from_slice(b"true"),
        INT => {
            let _ = CompactFormatter.write_i64(out, i64::decode(&mut *d)?);
        }
        FLOAT => float(out, f64::decode(&mut *d)?),
        STR => string(out, <&str>::borrow_decode(&mut *d)?),
        tag => {
            let nested = codec::decode_nested(d, tag)?;
            // Writing to memory cannot fail.
            let _ = match layout {
                JsonLayout::Compact => serde_json::to_writer(&mut *out, &nested),
                JsonLayout::PrettyElement => {
                    // A map's values sit three levels in: element, run, map.
                    let formatter = PrettyAt {
                        level: 3,
                        has_value: false,
                    };
                    nested.serialize(&mut serde_json::Serializer::with_formatter(
                        &mut *out, formatter,
                    ))
                }
            };
        }
    }
    Ok(())
}

/// A string, escaped as `serde_json` escapes it.
fn string(out: &mut Vec<u8>, s: &str) {
    // Writing to memory cannot fail.
    let _ = serde_json::to_writer(&mut *out, s);
}

/// A float as `serde_json` writes a `RunRecord`'s: non-finite ones as the
/// strings `"NaN"`, `"Infinity"`, `"-Infinity"`.
fn float(out: &mut Vec<u8>, f: f64) {
    match non_finite_name(f) {
        Some(name) => string(out, name),
        None => {
            let _ = CompactFormatter.write_f64(out, f);
        }
    }
}

/// `serde_json`'s pretty printing (two-space indents) started `level`
/// levels in.
struct PrettyAt {
    level: usize,
    has_value: bool,
}

impl PrettyAt {
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
            out.write_all(b"  ")?;
        }
        Ok(())
    }
}

impl Formatter for PrettyAt {
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

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;
    use crate::store::RecordBytes;
    use crate::store::hot_row::hot_row;
    use crate::store::run_view::tests::{
        StoredLists, a_stored_run, encoded, record_of, stored_run,
    };

    /// What one writer writes for `runs`, elements of an array in the
    /// pretty layout, lines in the compact one.
    fn written(writer: &mut JsonWriter, runs: &[RunView<'_>]) -> String {
        let mut out = Vec::new();
        for run in runs {
            if writer.layout == JsonLayout::PrettyElement {
                out.extend_from_slice(if out.is_empty() { b"[\n  " } else { b",\n  " });
            }
            writer.write(run, &mut out).unwrap();
            if writer.layout == JsonLayout::Compact {
                out.push(b'\n');
            }
        }
        if writer.layout == JsonLayout::PrettyElement {
            out.extend_from_slice(b"\n]");
        }
        String::from_utf8(out).unwrap()
    }

    proptest! {
        #[test]
        fn a_run_is_written_as_serde_json_writes_its_record(
            runs in prop::collection::vec(stored_run(), 1..4),
            alive: bool,
            stored_lists: bool,
        ) {
            // Every run encoded with the same lists, then written twice by
            // one writer (names laid out once, then reused), whole and as
            // hot rows.
            let lists = StoredLists::default();
            let bytes: Vec<Vec<u8>> = runs.iter().map(|r| encoded(r, &lists, stored_lists)).collect();
            let hot: Vec<Vec<u8>> = bytes.iter().map(|b| hot_row(b)).collect();
            for (full, bytes) in [(true, &bytes), (false, &hot)] {
                let views: Vec<RunView<'_>> = bytes
                    .iter()
                    .map(|b| RunView::new("r\u{e9}\"1", RecordBytes::new(b, &lists), full, |_, _| alive).unwrap())
                    .collect();
                let records: Vec<_> = runs.iter().map(|r| record_of("r\u{e9}\"1", r, alive, full)).collect();
                let twice: Vec<RunView<'_>> = views.iter().chain(&views).copied().collect();
                let records_twice: Vec<_> = records.iter().chain(&records).collect();
                let mut compact = JsonWriter::new(JsonLayout::Compact);
                let lines: String = records_twice.iter().map(|r| serde_json::to_string(r).unwrap() + "\n").collect();
                prop_assert_eq!(&written(&mut compact, &twice), &lines);
                let mut pretty = JsonWriter::new(JsonLayout::PrettyElement);
                let array = serde_json::to_string_pretty(&records_twice).unwrap();
                prop_assert_eq!(&written(&mut pretty, &twice), &array);
                // Records written by the same writers: the same text.
                for (writer, expected) in [(&compact, &lines), (&pretty, &array)] {
                    let mut out = Vec::new();
                    for record in &records_twice {
                        if writer.layout == JsonLayout::PrettyElement {
                            out.extend_from_slice(if out.is_empty() { b"[\n  " } else { b",\n  " });
                        }
                        writer.write_record(record, &mut out).unwrap();
                        if writer.layout == JsonLayout::Compact {
                            out.push(b'\n');
                        }
                    }
                    if writer.layout == JsonLayout::PrettyElement {
                        out.extend_from_slice(b"\n]");
                    }
                    prop_assert_eq!(&String::from_utf8(out).unwrap(), expected);
                }
            }
        }
    }

    #[test]
    fn a_damaged_record_fails_naming_the_run_and_never_panics() {
        let lists = StoredLists::default();
        let run = a_stored_run();
        let bytes = encoded(&run, &lists, false);
        for layout in [JsonLayout::Compact, JsonLayout::PrettyElement] {
            let mut writer = JsonWriter::new(layout);
            for end in 0..bytes.len() {
                let cut = RecordBytes::new(&bytes[..end], &lists);
                if let Ok(view) = RunView::new("r9", cut, true, |_, _| false) {
                    let e = writer.write(&view, &mut Vec::new()).unwrap_err();
                    assert!(e.to_string().contains("run r9"), "cut at {end}: {e}");
                }
            }
            for at in 0..bytes.len() {
                let mut damaged = bytes.clone();
                damaged[at] ^= 0xff;
                if let Ok(view) =
                    RunView::new("r9", RecordBytes::new(&damaged, &lists), true, |_, _| false)
                {
                    let _ = writer.write(&view, &mut Vec::new());
                }
            }
        }
    }
}
