//! The streaming parse of `metrics.csv`: one row at a time, each cell a
//! float, an empty cell, or a bad cell counted in the issues.
//!
//! A hand parser rather than the `csv` crate: it must know each row's line
//! number (the crate miscounts lines ending in `\r\n`) and whether the last
//! line ended with its newline, and it bounds a record's length.
//!
//! Invariant: memory is bounded by [`MAX_RECORD`], whatever the file's
//! length; each byte is read once (the header is read once: Lightning
//! widens it by rewriting the whole file, so one read sees one header).

use std::fs::File;
use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};

use crate::error::{Error, Result};
use crate::metrics::downsample::{Downsample, Sampler};
use crate::metrics::{
    BadCells, EPOCH_COLUMN, Lines, MetricHistory, MetricSeries, MetricsIssues, Point, STEP_COLUMN,
};

/// The longest record read (a line, or lines joined by a quoted newline);
/// a longer one is skipped and reported.
pub(crate) const MAX_RECORD: usize = 4 << 20;

/// What a header column holds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Role {
    Step,
    Epoch,
    /// The metric of that index in [`MetricsReader::metrics`].
    Metric(usize),
    /// A column named like an earlier one.
    Ignored,
}

/// How a record read from the file ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Record {
    /// A whole record starting on this line.
    Whole(u64),
    /// The last line, not ended by a newline.
    Partial(u64),
    /// The end of the file.
    End,
}

/// One data row of `metrics.csv`.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct MetricsRow<'a> {
    /// The row's line number in the file (the header is line 1).
    pub line: u64,
    /// The row's step: its `step` cell when that is a whole number, or the
    /// row's index among the data rows (from 0) when the file has no `step`
    /// column; `None` when the cell is empty or not a whole number.
    pub step: Option<u64>,
    /// Its `epoch` cell, when the file has the column and the cell a number.
    pub epoch: Option<f64>,
    /// Each metric's value at this row, in [`MetricsReader::metrics`] order;
    /// `None` for an empty or bad cell.
    pub values: &'a [Option<f64>],
}

/// The rows of a run's `metrics.csv`, read as a stream (see the module
/// documentation); from [`Registry::metrics`](crate::Registry::metrics).
pub struct MetricsReader {
    path: PathBuf,
    source: BufReader<Box<dyn Read + Send>>,
    /// The physical line the next read starts on (1-based).
    next_line: u64,
    /// The current record's bytes, and each cell's range in them.
    record: Vec<u8>,
    cells: Vec<(usize, usize)>,
    header: Vec<String>,
    roles: Vec<Role>,
    metrics: Vec<String>,
    has_step: bool,
    has_epoch: bool,
    done: bool,
    values: Vec<Option<f64>>,
    rows: u64,
    bad: Vec<Option<Lines>>,
    issues: MetricsIssues,
}

impl std::fmt::Debug for MetricsReader {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MetricsReader")
            .field("path", &self.path)
            .field("metrics", &self.metrics)
            .field("rows", &self.rows)
            .finish_non_exhaustive()
    }
}

impl MetricsReader {
    /// Reads `metrics.csv` text from `source` (for files that are not a
    /// run's, and for tests); reads its header now.
    pub fn from_reader(source: impl Read + Send + 'static) -> Result<MetricsReader> {
        MetricsReader::new(PathBuf::from("metrics.csv"), Box::new(source))
    }

    /// Reads the open file `file`, named `path` in messages.
    pub(crate) fn from_file(path: PathBuf, file: File) -> Result<MetricsReader> {
        MetricsReader::new(path, Box::new(file))
    }

    fn new(path: PathBuf, source: Box<dyn Read + Send>) -> Result<MetricsReader> {
        let mut reader = MetricsReader {
            path,
            source: BufReader::with_capacity(256 * 1024, source),
            next_line: 1,
            record: Vec::new(),
            cells: Vec::new(),
            header: Vec::new(),
            roles: Vec::new(),
            metrics: Vec::new(),
            has_step: false,
            has_epoch: false,
            done: false,
            values: Vec::new(),
            rows: 0,
            bad: Vec::new(),
            issues: MetricsIssues::default(),
        };
        match reader.read_record()? {
            Record::Whole(_) => reader.read_header(),
            Record::Partial(line) => {
                // Not even the header is whole.
                reader.issues.partial_last_line = Some(line);
                reader.done = true;
            }
            Record::End => reader.done = true,
        }
        Ok(reader)
    }

    /// Reads the next non-empty record into `record` and `cells`.
    fn read_record(&mut self) -> Result<Record> {
        loop {
            self.record.clear();
            let first = self.next_line;
            // Whether a quoted cell is open at the end of what was read.
            let mut quoted = false;
            let mut scanned = 0;
            let mut too_long = false;
            let ended = loop {
                let room = (MAX_RECORD - self.record.len()) as u64;
                let n = (&mut self.source)
                    .take(room)
                    .read_until(b'\n', &mut self.record)
                    .map_err(|e| Error::io(&self.path, e))?;
                let newline = self.record.last() == Some(&b'\n') && n > 0;
                quoted ^= self.record[scanned..]
                    .iter()
                    .filter(|&&b| b == b'"')
                    .count()
                    % 2
                    == 1;
                scanned = self.record.len();
                if newline {
                    self.next_line += 1;
                    if quoted {
                        continue;
                    }
                    break true;
                }
                if self.record.len() >= MAX_RECORD {
                    self.skip_long_record(first)?;
                    too_long = true;
                }
                // The end of the file, or of a record too long.
                break false;
            };
            if too_long {
                continue;
            }
            if !ended {
                if self.record.is_empty() {
                    return Ok(Record::End);
                }
                return Ok(Record::Partial(first));
            }
            let mut end = self.record.len() - 1;
            if end > 0 && self.record[end - 1] == b'\r' {
                end -= 1;
            }
            if end == 0 {
                continue;
            }
            self.record.truncate(end);
            self.split_cells();
            return Ok(Record::Whole(first));
        }
    }

    /// Skips the rest of a record longer than [`MAX_RECORD`], to the next
    /// newline (a quote in what is skipped is not looked at).
    fn skip_long_record(&mut self, first: u64) -> Result<()> {
        Lines::add(&mut self.issues.long_lines, first);
        loop {
            let buf = self
                .source
                .fill_buf()
                .map_err(|e| Error::io(&self.path, e))?;
            if buf.is_empty() {
                return Ok(());
            }
            match buf.iter().position(|&b| b == b'\n') {
                Some(i) => {
                    self.source.consume(i + 1);
                    self.next_line += 1;
                    return Ok(());
                }
                None => {
                    let n = buf.len();
                    self.source.consume(n);
                }
            }
        }
    }

    /// Cells are separated by commas outside quotes.
    fn split_cells(&mut self) {
        self.cells.clear();
        let mut quoted = false;
        let mut start = 0;
        for (i, &b) in self.record.iter().enumerate() {
            match b {
                b'"' => quoted = !quoted,
                b',' if !quoted => {
                    self.cells.push((start, i));
                    start = i + 1;
                }
                _ => {}
            }
        }
        self.cells.push((start, self.record.len()));
    }

    /// The `i`th cell's text, without its quotes (a doubled quote inside
    /// stays doubled: only names need it undone, see [`unquote`]).
    fn cell(&self, (start, end): (usize, usize)) -> &[u8] {
        let cell = &self.record[start..end];
        match cell {
            [b'"', inner @ .., b'"'] => inner,
            [b'"', inner @ ..] => inner,
            _ => cell,
        }
    }

    fn read_header(&mut self) {
        for i in 0..self.cells.len() {
            let raw = self.cell(self.cells[i]);
            // A UTF-8 byte order mark (Excel writes one) is not part of the name.
            let raw = if i == 0 {
                raw.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(raw)
            } else {
                raw
            };
            let name = unquote(raw);
            let role = if self.header.contains(&name) {
                // Quadratic in the header's width only, which MAX_RECORD bounds.
                if !self.issues.duplicate_columns.contains(&name) {
                    self.issues.duplicate_columns.push(name.clone());
                }
                Role::Ignored
            } else if name == STEP_COLUMN {
                self.has_step = true;
                Role::Step
            } else if name == EPOCH_COLUMN {
                self.has_epoch = true;
                Role::Epoch
            } else {
                self.metrics.push(name.clone());
                Role::Metric(self.metrics.len() - 1)
            };
            self.header.push(name);
            self.roles.push(role);
        }
        self.values = vec![None; self.metrics.len()];
        self.bad = vec![None; self.header.len()];
    }

    /// The file (for messages).
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The header's column names, in file order.
    pub fn columns(&self) -> &[String] {
        &self.header
    }

    /// The metric names (every column but `step`, `epoch` and repeated
    /// names), in file order.
    pub fn metrics(&self) -> &[String] {
        &self.metrics
    }

    /// Whether the file has a `step` column.
    pub fn has_step(&self) -> bool {
        self.has_step
    }

    /// Whether the file has an `epoch` column.
    pub fn has_epoch(&self) -> bool {
        self.has_epoch
    }

    /// Data rows read so far.
    pub fn rows_read(&self) -> u64 {
        self.rows
    }

    /// What was skipped so far (all of it once [`next_row`](Self::next_row)
    /// has returned `None`).
    pub fn issues(&self) -> MetricsIssues {
        let mut issues = self.issues.clone();
        issues.bad_cells = self
            .header
            .iter()
            .zip(&self.bad)
            .filter_map(|(column, lines)| {
                lines.map(|lines| BadCells {
                    column: column.clone(),
                    lines,
                })
            })
            .collect();
        issues
    }

    /// The next data row, or `None` at the end of the file.
    ///
    /// # Errors
    ///
    /// [`Error::Io`] when the file cannot be read; nothing in its content
    /// is an error.
    pub fn next_row(&mut self) -> Result<Option<MetricsRow<'_>>> {
        if self.done {
            return Ok(None);
        }
        let line = match self.read_record()? {
            Record::Whole(line) => line,
            Record::Partial(line) => {
                self.issues.partial_last_line = Some(line);
                self.done = true;
                return Ok(None);
            }
            Record::End => {
                self.done = true;
                return Ok(None);
            }
        };
        let index = self.rows;
        self.rows += 1;
        if self.cells.len() > self.header.len() {
            Lines::add(&mut self.issues.wide_rows, line);
        }
        self.values.fill(None);
        let mut step = (!self.has_step).then_some(index);
        let mut epoch = None;
        for (column, (&range, role)) in self.cells.iter().zip(&self.roles).enumerate() {
            let cell = self.cell(range);
            match role {
                Role::Ignored => {}
                Role::Step => step = parse_step(cell),
                Role::Epoch => match parse_cell(cell) {
                    Ok(value) => epoch = value,
                    Err(()) => Lines::add(&mut self.bad[column], line),
                },
                &Role::Metric(i) => match parse_cell(cell) {
                    Ok(value) => self.values[i] = value,
                    Err(()) => Lines::add(&mut self.bad[column], line),
                },
            }
        }
        if step.is_none() {
            Lines::add(&mut self.issues.rows_without_step, line);
        }
        Ok(Some(MetricsRow {
            line,
            step,
            epoch,
            values: &self.values,
        }))
    }

    /// Calls `visit` with each data row, to the end of the file; returns
    /// what was skipped.
    pub fn for_each_row(
        &mut self,
        mut visit: impl FnMut(&MetricsRow<'_>),
    ) -> Result<MetricsIssues> {
        while let Some(row) = self.next_row()? {
            visit(&row);
        }
        Ok(self.issues())
    }

    /// The series of the metrics named in `select` (every metric when it
    /// is empty; names the file lacks are left out), read to the end of
    /// the file. Rows without a step are left out. With `downsample`, each
    /// series keeps a bounded number of points (see [`Downsample`]), so
    /// memory stays bounded whatever the file's length; without it, every
    /// point is kept.
    pub fn history(
        mut self,
        select: &[String],
        downsample: Option<Downsample>,
    ) -> Result<MetricHistory> {
        let chosen: Vec<usize> = if select.is_empty() {
            (0..self.metrics.len()).collect()
        } else {
            select
                .iter()
                .filter_map(|name| self.metrics.iter().position(|m| m == name))
                .collect()
        };
        enum Gather {
            All(Vec<Point>),
            Sampled(Sampler),
        }
        let mut gathered: Vec<(Gather, u64)> = chosen
            .iter()
            .map(|_| {
                let gather = match downsample {
                    Some(d) => Gather::Sampled(Sampler::new(d)),
                    None => Gather::All(Vec::new()),
                };
                (gather, 0)
            })
            .collect();
        let issues = self.for_each_row(|row| {
            let Some(step) = row.step else {
                return;
            };
            for (&metric, (gather, count)) in chosen.iter().zip(&mut gathered) {
                if let Some(value) = row.values[metric] {
                    *count += 1;
                    let point = Point { step, value };
                    match gather {
                        Gather::All(points) => points.push(point),
                        Gather::Sampled(sampler) => sampler.push(point),
                    }
                }
            }
        })?;
        let series = chosen
            .iter()
            .zip(gathered)
            .map(|(&metric, (gather, count))| MetricSeries {
                name: self.metrics[metric].clone(),
                points: match gather {
                    Gather::All(points) => points,
                    Gather::Sampled(sampler) => sampler.finish(),
                },
                count,
            })
            .collect();
        Ok(MetricHistory {
            series,
            rows: self.rows,
            issues,
        })
    }
}

/// A quoted cell's text with its doubled quotes undone.
fn unquote(raw: &[u8]) -> String {
    let text = String::from_utf8_lossy(raw);
    if text.contains("\"\"") {
        text.replace("\"\"", "\"")
    } else {
        text.into_owned()
    }
}

/// A cell as a float: `Ok(None)` when empty, `Err` when not a number.
/// Accepts what Python's `float()` writes and reads: decimals, exponents,
/// `nan`, `inf`, `-inf`, `Infinity` in any case.
fn parse_cell(cell: &[u8]) -> Result<Option<f64>, ()> {
    let cell = cell.trim_ascii();
    if cell.is_empty() {
        return Ok(None);
    }
    std::str::from_utf8(cell)
        .ok()
        .and_then(|text| text.parse::<f64>().ok())
        .map(Some)
        .ok_or(())
}

/// A step cell: a whole number (`12`, or `12.0` as a float column writes it).
fn parse_step(cell: &[u8]) -> Option<u64> {
    let text = std::str::from_utf8(cell.trim_ascii()).ok()?;
    if let Ok(step) = text.parse::<u64>() {
        return Some(step);
    }
    let f: f64 = text.parse().ok()?;
    // 2^64 is exactly representable; below it every whole float fits.
    (f.fract() == 0.0 && (0.0..18_446_744_073_709_551_616.0).contains(&f)).then_some(f as u64)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reader(text: &[u8]) -> MetricsReader {
        MetricsReader::from_reader(std::io::Cursor::new(text.to_vec())).expect("in memory")
    }

    /// Every row as (line, step, epoch, values), and the issues.
    #[allow(clippy::type_complexity)]
    fn rows(
        text: &[u8],
    ) -> (
        Vec<(u64, Option<u64>, Option<f64>, Vec<Option<f64>>)>,
        MetricsIssues,
    ) {
        let mut r = reader(text);
        let mut out = Vec::new();
        let issues = r
            .for_each_row(|row| out.push((row.line, row.step, row.epoch, row.values.to_vec())))
            .unwrap();
        (out, issues)
    }

    #[test]
    fn lightning_layout_sparse_rows_with_epoch() {
        let text = b"epoch,step,train_loss,val_acc\r\n0,0,1.5,\r\n0,1,1.25,\r\n0,1,,0.5\r\n";
        let r = reader(text);
        assert_eq!(r.columns(), ["epoch", "step", "train_loss", "val_acc"]);
        assert_eq!(r.metrics(), ["train_loss", "val_acc"]);
        assert!(r.has_step() && r.has_epoch());
        let (rows, issues) = rows(text);
        assert_eq!(
            rows,
            vec![
                (2, Some(0), Some(0.0), vec![Some(1.5), None]),
                (3, Some(1), Some(0.0), vec![Some(1.25), None]),
                (4, Some(1), Some(0.0), vec![None, Some(0.5)]),
            ]
        );
        assert!(issues.is_empty(), "{issues:?}");
    }

    #[test]
    fn runreg_writer_layout_with_a_widened_header() {
        // The writer rewrites the file when a column appears: old rows are
        // padded with empty cells, and older files may simply have shorter
        // rows; both read as missing values.
        let (rows, issues) = rows(b"step,loss,acc\n0,1.0,\n1,0.5\n2,0.25,0.75\n");
        assert_eq!(
            rows,
            vec![
                (2, Some(0), None, vec![Some(1.0), None]),
                (3, Some(1), None, vec![Some(0.5), None]),
                (4, Some(2), None, vec![Some(0.25), Some(0.75)]),
            ]
        );
        assert!(issues.is_empty());
    }

    #[test]
    fn a_partial_last_line_is_ignored_and_reported() {
        let (rows, issues) = rows(b"step,loss\n0,1.0\n1,0.");
        assert_eq!(rows, vec![(2, Some(0), None, vec![Some(1.0)])]);
        assert_eq!(issues.partial_last_line, Some(3));
        assert_eq!(
            issues.describe(),
            ["line 3 is not finished (a run still writing?); ignored"]
        );
    }

    #[test]
    fn nan_and_infinity_tokens_are_floats() {
        let (rows, issues) = rows(b"step,a,b,c,d,e,f\n0,nan,NaN,inf,-inf,Infinity,-Infinity\n");
        let values = &rows[0].3;
        assert!(values[0].unwrap().is_nan() && values[1].unwrap().is_nan());
        assert_eq!(
            values[2..],
            [
                Some(f64::INFINITY),
                Some(f64::NEG_INFINITY),
                Some(f64::INFINITY),
                Some(f64::NEG_INFINITY)
            ]
        );
        assert!(issues.is_empty());
    }

    #[test]
    fn non_numeric_cells_are_counted_per_column_with_their_first_line() {
        let (rows, issues) = rows(b"step,loss,note\n0,1.0,x\n1,oops,y\n2,, 0.5 \nzz,3.0,\n");
        assert_eq!(
            rows.iter().map(|r| r.3.clone()).collect::<Vec<_>>(),
            vec![
                vec![Some(1.0), None],
                vec![None, None],
                vec![None, Some(0.5)],
                vec![Some(3.0), None]
            ]
        );
        assert_eq!(rows[3].1, None);
        assert_eq!(
            issues.bad_cells,
            vec![
                BadCells {
                    column: "loss".into(),
                    lines: Lines { count: 1, first: 3 }
                },
                BadCells {
                    column: "note".into(),
                    lines: Lines { count: 2, first: 2 }
                },
            ]
        );
        assert_eq!(issues.rows_without_step, Some(Lines { count: 1, first: 5 }));
        assert_eq!(
            issues.describe(),
            [
                "1 cell of \"loss\" is not a number (first on line 3)",
                "2 cells of \"note\" are not a number (first on line 2)",
                "1 row without a whole-number step, left out (first on line 5)",
            ]
        );
    }

    #[test]
    fn crlf_bom_and_quoted_names() {
        let (rows, issues) = rows(b"\xEF\xBB\xBFstep,\"a,b\"\r\n7,2\r\n");
        assert_eq!(rows, vec![(2, Some(7), None, vec![Some(2.0)])]);
        assert!(issues.is_empty());
        let r = reader(b"\xEF\xBB\xBFstep,\"a,b\"\r\n");
        assert_eq!(r.columns(), ["step", "a,b"]);
    }

    #[test]
    fn empty_file_header_only_and_partial_header() {
        for text in [&b""[..], b"step,loss\n"] {
            let (rows, issues) = rows(text);
            assert!(rows.is_empty() && issues.is_empty(), "{text:?}");
        }
        let r = reader(b"step,lo");
        assert!(r.columns().is_empty());
        assert_eq!(r.issues().partial_last_line, Some(1));
    }

    #[test]
    fn quoted_newlines_and_blank_lines_keep_line_numbers() {
        let (rows, issues) = rows(b"step,\"a\nb\"\n\n1,\"2\"\r\n\r\n3,4\n");
        assert_eq!(
            rows,
            vec![
                (4, Some(1), None, vec![Some(2.0)]),
                (6, Some(3), None, vec![Some(4.0)])
            ]
        );
        assert!(issues.is_empty());
        assert_eq!(reader(b"step,\"a\"\"b\"\n").columns(), ["step", "a\"b"]);
    }

    #[test]
    fn a_record_longer_than_the_bound_is_skipped() {
        let mut text = b"step,loss\n0,1\n1,".to_vec();
        text.extend(std::iter::repeat_n(b'9', MAX_RECORD));
        text.extend(b"\n2,3\n");
        let (read, issues) = rows(&text);
        assert_eq!(
            read.iter().map(|r| (r.0, r.1)).collect::<Vec<_>>(),
            [(2, Some(0)), (4, Some(2))]
        );
        assert_eq!(issues.long_lines, Some(Lines { count: 1, first: 3 }));
        // An unclosed quote cannot swallow the file either.
        let mut text = b"step,loss\n0,\"".to_vec();
        text.extend(std::iter::repeat_n(b'\n', MAX_RECORD + 10));
        let (read, issues) = rows(&text);
        assert!(read.is_empty());
        assert_eq!(issues.long_lines.map(|l| l.first), Some(2));
    }

    #[test]
    fn duplicate_columns_keep_the_first() {
        let r = reader(b"step,loss,loss,step\n1,0.5,9,8\n");
        assert_eq!(r.metrics(), ["loss"]);
        let (rows, issues) = rows(b"step,loss,loss,step\n1,0.5,9,8\n");
        assert_eq!(rows, vec![(2, Some(1), None, vec![Some(0.5)])]);
        assert_eq!(issues.duplicate_columns, ["loss", "step"]);
    }

    #[test]
    fn rows_wider_than_the_header_are_reported() {
        let (rows, issues) = rows(b"step,loss\n1,0.5,7\n2,0.25\n");
        assert_eq!(rows.len(), 2);
        assert_eq!(issues.wide_rows, Some(Lines { count: 1, first: 2 }));
    }

    #[test]
    fn without_a_step_column_the_row_index_is_the_step() {
        let (rows, _) = rows(b"loss\n1.0\n\n2.0\n");
        assert_eq!(
            rows.iter().map(|r| r.1).collect::<Vec<_>>(),
            [Some(0), Some(1)]
        );
    }

    #[test]
    fn steps_written_as_floats_are_whole_numbers() {
        for (cell, step) in [
            ("12.0", Some(12)),
            ("1e3", Some(1000)),
            ("1.5", None),
            ("-1", None),
        ] {
            assert_eq!(parse_step(cell.as_bytes()), step, "{cell}");
        }
    }

    #[test]
    fn history_selects_and_skips_rows_without_a_step() {
        let r = reader(b"step,a,b\n0,1,\n,5,5\n2,3,4\n");
        let history = r
            .history(&["b".into(), "zz".into(), "a".into()], None)
            .unwrap();
        assert_eq!(history.rows, 3);
        let names: Vec<_> = history.series.iter().map(|s| s.name.as_str()).collect();
        assert_eq!(names, ["b", "a"]);
        assert_eq!(
            history.series[0].points,
            [Point {
                step: 2,
                value: 4.0
            }]
        );
        assert_eq!(
            history.series[1].points,
            [
                Point {
                    step: 0,
                    value: 1.0
                },
                Point {
                    step: 2,
                    value: 3.0
                }
            ]
        );
        assert_eq!(history.series[1].count, 2);
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(512))]
        /// Any bytes as metrics.csv: no panic, and every row fits the header.
        #[test]
        fn random_bytes_never_panic(bytes in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..512)) {
            let mut r = reader(&bytes);
            let width = r.metrics().len();
            r.for_each_row(|row| assert_eq!(row.values.len(), width)).unwrap();
            reader(&bytes).history(&[], Some(Downsample { buckets: 2 })).unwrap();
        }

        /// CSV-like bytes (the characters that matter to the parser).
        #[test]
        fn csv_like_text_never_panics(text in "[a-z0-9,.\"\r\n -]{0,300}") {
            let mut r = reader(text.as_bytes());
            r.for_each_row(|_| {}).unwrap();
            reader(text.as_bytes()).history(&[], Some(Downsample { buckets: 1 })).unwrap();
        }
    }
}
