//! `metrics.csv`: one row per `log_metrics` call, as Lightning's CSV logger
//! writes it: a header of column names, a `step` column, empty cells for
//! metrics not logged in that call.
//!
//! Rows are appended through a buffer kept open between calls and flushed
//! with the sidecar. A metric first seen mid-run widens the header: the file
//! is rewritten (atomically) with the new column at the end and every old
//! row kept.

use std::collections::HashMap;
use std::fs::File;
use std::io::{self, Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};

use crate::error::{Error, Result};
use crate::sidecar::write_python_layout;
use crate::writer::atomic;
use crate::writer::run_files::{open_existing, open_for_write};

/// The file name of a run's per-step metrics.
pub const METRICS_CSV_NAME: &str = "metrics.csv";
/// The column holding each row's step.
pub(crate) const STEP_COLUMN: &str = "step";
/// Bytes of rows buffered before they are written out.
const BUFFER: usize = 64 * 1024;

#[derive(Debug)]
pub(crate) struct MetricsCsv {
    dir: PathBuf,
    path: PathBuf,
    columns: Vec<String>,
    index: HashMap<String, usize>,
    /// How many columns the file's header has (0: no file yet).
    on_disk: usize,
    /// The append handle; `None` until the file exists.
    out: Option<csv::Writer<File>>,
    terminator: csv::Terminator,
    /// One reusable cell per column.
    row: Vec<String>,
}

impl MetricsCsv {
    /// The metrics of a new run: no file until the first row.
    pub fn new(dir: &Path) -> MetricsCsv {
        let mut csv = MetricsCsv {
            dir: dir.to_owned(),
            path: dir.join(METRICS_CSV_NAME),
            columns: Vec::new(),
            index: HashMap::new(),
            on_disk: 0,
            out: None,
            terminator: csv::Terminator::Any(b'\n'),
            row: Vec::new(),
        };
        csv.column(STEP_COLUMN);
        csv
    }

    /// The metrics of a resumed run: the existing file's header and line
    /// endings are kept, and rows are appended after its last row.
    pub fn resume(dir: &Path) -> Result<MetricsCsv> {
        let mut csv = MetricsCsv::new(dir);
        let Some(mut file) = open_existing(&csv.path)? else {
            return Ok(csv);
        };
        let err = |e: io::Error| Error::io(&csv.path, e);
        let len = file.metadata().map_err(err)?.len();
        if len == 0 {
            return Ok(csv);
        }
        let mut reader = csv::ReaderBuilder::new()
            .has_headers(false)
            .flexible(true)
            .from_reader(&file);
        let mut header = csv::StringRecord::new();
        let has_header = reader
            .read_record(&mut header)
            .map_err(|e| err(csv_to_io(e)))?;
        drop(reader);
        if !has_header {
            return Ok(csv);
        }
        csv.columns.clear();
        csv.index.clear();
        csv.row.clear();
        for name in header.iter() {
            csv.column(name);
        }
        csv.on_disk = csv.columns.len();
        // Keep the file's line endings; finish a row cut short by a crash so
        // the next one starts on its own line.
        let crlf = first_line_ends_with_crlf(&mut file);
        csv.terminator = if crlf {
            csv::Terminator::CRLF
        } else {
            csv::Terminator::Any(b'\n')
        };
        let ends_cleanly = read_at(&mut file, len - 1) == Some([b'\n']);
        let mut out = csv.open_append()?;
        if !ends_cleanly {
            use std::io::Write;
            out.write_all(if crlf { b"\r\n" } else { b"\n" })
                .map_err(|e| Error::io(&csv.path, e))?;
        }
        csv.out = Some(csv.writer(out));
        // The step column must exist even in a file that lacked it.
        csv.column(STEP_COLUMN);
        Ok(csv)
    }

    /// The column named `name`, added (in memory) when new. The header on
    /// disk is widened at the next [`MetricsCsv::append`].
    pub fn column(&mut self, name: &str) -> usize {
        if let Some(&i) = self.index.get(name) {
            return i;
        }
        let i = self.columns.len();
        self.columns.push(name.to_owned());
        self.index.insert(name.to_owned(), i);
        self.row.push(String::new());
        i
    }

    /// The column names, in file order.
    #[cfg(test)]
    pub fn columns(&self) -> &[String] {
        &self.columns
    }

    /// Appends the row for `step` with `cells` (column, value); other cells
    /// are empty. The step column always holds `step`.
    pub fn append(&mut self, step: u64, cells: &[(usize, f64)]) -> Result<()> {
        if self.on_disk < self.columns.len() {
            self.widen()?;
        }
        for cell in &mut self.row {
            cell.clear();
        }
        for &(column, value) in cells {
            if let Some(cell) = self.row.get_mut(column) {
                cell.clear();
                write_csv_float(value, cell);
            }
        }
        if let Some(&step_column) = self.index.get(STEP_COLUMN)
            && let Some(cell) = self.row.get_mut(step_column)
        {
            cell.clear();
            cell.push_str(itoa(step, &mut [0; 20]));
        }
        let out = self
            .out
            .as_mut()
            .ok_or_else(|| Error::io(&self.path, io::Error::other("metrics.csv is not open")))?;
        out.write_record(&self.row)
            .map_err(|e| Error::io(&self.path, csv_to_io(e)))
    }

    /// Writes buffered rows to the file, and to the disk when `sync`.
    pub fn flush(&mut self, sync: bool) -> Result<()> {
        let Some(out) = self.out.as_mut() else {
            return Ok(());
        };
        out.flush().map_err(|e| Error::io(&self.path, e))?;
        if sync {
            out.get_ref()
                .sync_data()
                .map_err(|e| Error::io(&self.path, e))?;
        }
        Ok(())
    }

    /// Writes the header with every column: creates the file, or rewrites
    /// it with the old rows padded to the new width.
    fn widen(&mut self) -> Result<()> {
        self.flush(false)?;
        self.out = None;
        let header = self.columns.clone();
        let terminator = self.terminator;
        if self.on_disk == 0 {
            // A file that appeared since the run started (none was there when
            // it was created or resumed) holds no rows of this run.
            let file = open_for_write(&self.path)
                .and_then(|f| f.set_len(0).map(|()| f))
                .map_err(|e| Error::io(&self.path, e))?;
            let mut out = self.writer(file);
            out.write_record(&header)
                .map_err(|e| Error::io(&self.path, csv_to_io(e)))?;
            self.out = Some(out);
        } else {
            let old = open_existing(&self.path)?.ok_or_else(|| {
                Error::io(
                    &self.path,
                    io::Error::new(io::ErrorKind::NotFound, "vanished"),
                )
            })?;
            atomic::stage(&self.dir, METRICS_CSV_NAME, |dest| {
                let mut out = csv::WriterBuilder::new()
                    .terminator(terminator)
                    .flexible(true)
                    .from_writer(dest);
                out.write_record(&header).map_err(csv_to_io)?;
                let mut reader = csv::ReaderBuilder::new()
                    .has_headers(true)
                    .flexible(true)
                    .from_reader(old);
                let mut record = csv::ByteRecord::new();
                while reader.read_byte_record(&mut record).map_err(csv_to_io)? {
                    for _ in record.len()..header.len() {
                        record.push_field(b"");
                    }
                    out.write_byte_record(&record).map_err(csv_to_io)?;
                }
                out.flush()
            })?
            .commit()?;
            atomic::sync_dir(&self.dir)?;
            let file = self.open_append()?;
            self.out = Some(self.writer(file));
        }
        self.on_disk = self.columns.len();
        Ok(())
    }

    fn open_append(&self) -> Result<File> {
        open_for_write(&self.path)
            .and_then(|mut f| f.seek(SeekFrom::End(0)).map(|_| f))
            .map_err(|e| Error::io(&self.path, e))
    }

    fn writer(&self, file: File) -> csv::Writer<File> {
        csv::WriterBuilder::new()
            .terminator(self.terminator)
            .flexible(true)
            .buffer_capacity(BUFFER)
            .from_writer(file)
    }

    /// Every row of the file, as (column name, value) pairs per column that
    /// parses as a number; for rebuilding statistics when summary.json is
    /// gone.
    pub fn read_numeric_columns(&self) -> Result<Vec<(String, Vec<f64>)>> {
        let Some(file) = open_existing(&self.path)? else {
            return Ok(Vec::new());
        };
        let mut reader = csv::ReaderBuilder::new()
            .has_headers(true)
            .flexible(true)
            .from_reader(file);
        let header: Vec<String> = reader
            .headers()
            .map_err(|e| Error::io(&self.path, csv_to_io(e)))?
            .iter()
            .map(str::to_owned)
            .collect();
        let mut values: Vec<Vec<f64>> = vec![Vec::new(); header.len()];
        let mut record = csv::StringRecord::new();
        while reader
            .read_record(&mut record)
            .map_err(|e| Error::io(&self.path, csv_to_io(e)))?
        {
            for (column, cell) in values.iter_mut().zip(record.iter()) {
                if let Some(v) = parse_python_float(cell) {
                    column.push(v);
                }
            }
        }
        Ok(header.into_iter().zip(values).collect())
    }
}

/// `float(text)` as Python reads a CSV cell: decimal numbers, `nan`,
/// `inf`, `infinity` in any case, with an optional sign and surrounding
/// whitespace.
fn parse_python_float(text: &str) -> Option<f64> {
    let t = text.trim();
    if t.is_empty() {
        return None;
    }
    t.parse().ok()
}

/// Whether the file's first line ends with `\r\n` (as Python's csv module
/// writes, and so Lightning's CSV logger).
fn first_line_ends_with_crlf(file: &mut File) -> bool {
    let mut prefix = Vec::new();
    if file.seek(SeekFrom::Start(0)).is_err()
        || file.take(64 * 1024).read_to_end(&mut prefix).is_err()
    {
        return false;
    }
    prefix
        .iter()
        .position(|&b| b == b'\n')
        .is_some_and(|i| i > 0 && prefix[i - 1] == b'\r')
}

/// The `N` bytes at `offset`, if the file has them.
fn read_at<const N: usize>(file: &mut File, offset: u64) -> Option<[u8; N]> {
    let mut buf = [0u8; N];
    file.seek(SeekFrom::Start(offset)).ok()?;
    file.read_exact(&mut buf).ok()?;
    Some(buf)
}

fn csv_to_io(e: csv::Error) -> io::Error {
    match e.into_kind() {
        csv::ErrorKind::Io(e) => e,
        other => io::Error::new(io::ErrorKind::InvalidData, format!("{other:?}")),
    }
}

/// `x` as Python's `str(float)` lays it out (`0.5`, `2.0`, `1e-05`,
/// `1.5e+300`, `nan`, `inf`), from the shortest digits that read back as
/// `x`, without allocating: this runs for every cell of every row.
///
/// Where two digit strings of the shortest length are equally near `x`,
/// Python picks the even one and this may pick the other; both read back
/// as `x`. (The sidecar, whose bytes must be Python's, takes the slower
/// exact path.)
fn write_csv_float(x: f64, out: &mut String) {
    use std::fmt::Write as _;
    if x.is_nan() {
        out.push_str("nan");
        return;
    }
    if x.is_infinite() {
        out.push_str(if x > 0.0 { "inf" } else { "-inf" });
        return;
    }
    if x == 0.0 {
        out.push_str(if x.is_sign_negative() { "-0.0" } else { "0.0" });
        return;
    }
    let mut sci = Scratch::default();
    // `{:e}` of a finite f64 is at most 24 bytes: `Scratch` holds it.
    if write!(sci, "{:e}", x.abs()).is_err() {
        let _ = write!(out, "{x}");
        return;
    }
    let text = sci.as_str();
    let (mantissa, exponent) = text.split_once('e').unwrap_or((text, "0"));
    let exponent: i32 = exponent.parse().unwrap_or(0);
    write_python_layout(x < 0.0, mantissa, exponent, out);
}

/// A fixed buffer for one formatted float.
#[derive(Default)]
struct Scratch {
    bytes: [u8; 32],
    len: usize,
}

impl Scratch {
    fn as_str(&self) -> &str {
        std::str::from_utf8(&self.bytes[..self.len]).unwrap_or("")
    }
}

impl std::fmt::Write for Scratch {
    fn write_str(&mut self, s: &str) -> std::fmt::Result {
        let end = self.len + s.len();
        let dest = self.bytes.get_mut(self.len..end).ok_or(std::fmt::Error)?;
        dest.copy_from_slice(s.as_bytes());
        self.len = end;
        Ok(())
    }
}

/// `n` in decimal, without allocating.
fn itoa(mut n: u64, buf: &mut [u8; 20]) -> &str {
    let mut i = buf.len();
    loop {
        i -= 1;
        buf[i] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    std::str::from_utf8(&buf[i..]).unwrap_or("0")
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::fs;

    fn read(dir: &Path) -> String {
        fs::read_to_string(dir.join(METRICS_CSV_NAME)).expect("metrics.csv")
    }

    #[test]
    fn no_file_until_the_first_row() {
        let dir = tempfile::tempdir().unwrap();
        let mut csv = MetricsCsv::new(dir.path());
        csv.flush(true).unwrap();
        assert!(!dir.path().join(METRICS_CSV_NAME).exists());
        let loss = csv.column("loss");
        csv.append(0, &[(loss, 0.5)]).unwrap();
        csv.flush(false).unwrap();
        assert_eq!(read(dir.path()), "step,loss\n0,0.5\n");
    }

    #[test]
    fn cells_are_python_floats_and_missing_cells_empty() {
        let dir = tempfile::tempdir().unwrap();
        let mut csv = MetricsCsv::new(dir.path());
        let a = csv.column("a");
        let b = csv.column("b,with \"quotes\"");
        csv.append(1, &[(a, 1e-5), (b, f64::NAN)]).unwrap();
        csv.append(2, &[(b, f64::NEG_INFINITY)]).unwrap();
        csv.append(3, &[(a, 2.0)]).unwrap();
        csv.append(u64::MAX, &[]).unwrap();
        csv.flush(false).unwrap();
        assert_eq!(
            read(dir.path()),
            "step,a,\"b,with \"\"quotes\"\"\"\n1,1e-05,nan\n2,,-inf\n3,2.0,\n18446744073709551615,,\n"
        );
    }

    #[test]
    fn a_new_column_rewrites_the_header_and_keeps_old_rows() {
        let dir = tempfile::tempdir().unwrap();
        let mut csv = MetricsCsv::new(dir.path());
        let loss = csv.column("loss");
        csv.append(0, &[(loss, 1.0)]).unwrap();
        csv.append(1, &[(loss, 0.5)]).unwrap();
        let acc = csv.column("acc");
        csv.append(2, &[(loss, 0.25), (acc, 0.75)]).unwrap();
        csv.flush(false).unwrap();
        assert_eq!(
            read(dir.path()),
            "step,loss,acc\n0,1.0,\n1,0.5,\n2,0.25,0.75\n"
        );
        // Only metrics.csv is left: the rewrite's temp file was renamed.
        let names: Vec<_> = fs::read_dir(dir.path()).unwrap().collect();
        assert_eq!(names.len(), 1);
    }

    #[test]
    fn resume_keeps_header_line_endings_and_rows() {
        let dir = tempfile::tempdir().unwrap();
        // As Lightning writes it: sorted header, CRLF.
        fs::write(
            dir.path().join(METRICS_CSV_NAME),
            "epoch,step,train_loss\r\n0,0,1.5\r\n0,1,1.25\r\n",
        )
        .unwrap();
        let mut csv = MetricsCsv::resume(dir.path()).unwrap();
        assert_eq!(csv.columns(), ["epoch", "step", "train_loss"]);
        let loss = csv.column("train_loss");
        csv.append(2, &[(loss, 1.0)]).unwrap();
        let acc = csv.column("val_acc");
        csv.append(3, &[(acc, 0.5)]).unwrap();
        csv.flush(false).unwrap();
        assert_eq!(
            read(dir.path()),
            "epoch,step,train_loss,val_acc\r\n0,0,1.5,\r\n0,1,1.25,\r\n,2,1.0,\r\n,3,,0.5\r\n"
        );
    }

    #[test]
    fn resume_after_a_torn_row_starts_a_new_line() {
        let dir = tempfile::tempdir().unwrap();
        fs::write(dir.path().join(METRICS_CSV_NAME), "step,loss\n0,1.0\n1,0.").unwrap();
        let mut csv = MetricsCsv::resume(dir.path()).unwrap();
        let loss = csv.column("loss");
        csv.append(2, &[(loss, 0.25)]).unwrap();
        csv.flush(false).unwrap();
        assert_eq!(read(dir.path()), "step,loss\n0,1.0\n1,0.\n2,0.25\n");
    }

    #[test]
    fn resume_of_a_file_without_step_adds_the_column() {
        let dir = tempfile::tempdir().unwrap();
        fs::write(dir.path().join(METRICS_CSV_NAME), "loss\n1.0\n").unwrap();
        let mut csv = MetricsCsv::resume(dir.path()).unwrap();
        csv.append(7, &[]).unwrap();
        csv.flush(false).unwrap();
        assert_eq!(read(dir.path()), "loss,step\n1.0,\n,7\n");
    }

    #[test]
    fn resume_of_an_empty_or_missing_file_starts_fresh() {
        let dir = tempfile::tempdir().unwrap();
        let csv = MetricsCsv::resume(dir.path()).unwrap();
        assert_eq!(csv.columns(), ["step"]);
        fs::write(dir.path().join(METRICS_CSV_NAME), "").unwrap();
        let mut csv = MetricsCsv::resume(dir.path()).unwrap();
        let a = csv.column("a");
        csv.append(0, &[(a, 1.0)]).unwrap();
        csv.flush(false).unwrap();
        assert_eq!(read(dir.path()), "step,a\n0,1.0\n");
    }

    #[test]
    fn numeric_columns_are_read_back() {
        let dir = tempfile::tempdir().unwrap();
        fs::write(
            dir.path().join(METRICS_CSV_NAME),
            "step,loss,tag\n0,1.5,x\n1,nan,\n2,,y\n3,inf,\n",
        )
        .unwrap();
        let csv = MetricsCsv::resume(dir.path()).unwrap();
        let cols = csv.read_numeric_columns().unwrap();
        assert_eq!(cols[0], ("step".to_owned(), vec![0.0, 1.0, 2.0, 3.0]));
        assert_eq!(cols[1].1.len(), 3);
        assert!(cols[1].1[1].is_nan());
        assert_eq!(cols[1].1[2], f64::INFINITY);
        assert!(cols[2].1.is_empty());
    }

    #[cfg(unix)]
    #[test]
    fn a_symlinked_metrics_csv_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let outside = tempfile::tempdir().unwrap();
        let target = outside.path().join("victim.csv");
        fs::write(&target, "step\n").unwrap();
        std::os::unix::fs::symlink(&target, dir.path().join(METRICS_CSV_NAME)).unwrap();
        let err = MetricsCsv::resume(dir.path()).unwrap_err();
        assert!(err.to_string().contains("not a regular file"), "{err}");
        assert_eq!(fs::read_to_string(&target).unwrap(), "step\n");
    }

    #[test]
    fn csv_floats_are_laid_out_as_python_prints_them() {
        let cases = [
            (0.5, "0.5"),
            (2.0, "2.0"),
            (-0.0, "-0.0"),
            (0.0, "0.0"),
            (1e-5, "1e-05"),
            (0.0001, "0.0001"),
            (1e16, "1e+16"),
            (1e15, "1000000000000000.0"),
            (123.456, "123.456"),
            (-2.5e-5, "-2.5e-05"),
            (1.5e300, "1.5e+300"),
            (5e-324, "5e-324"),
            (f64::MAX, "1.7976931348623157e+308"),
            (0.1 + 0.2, "0.30000000000000004"),
            (1_762_266_612.481_742_1, "1762266612.4817421"),
            (f64::NAN, "nan"),
            (f64::NEG_INFINITY, "-inf"),
        ];
        for (x, want) in cases {
            let mut out = String::new();
            write_csv_float(x, &mut out);
            assert_eq!(out, want);
        }
    }

    proptest::proptest! {
        #[test]
        fn csv_floats_read_back_exactly(bits in proptest::prelude::any::<u64>()) {
            let x = f64::from_bits(bits);
            let mut out = String::new();
            write_csv_float(x, &mut out);
            let back = parse_python_float(&out).expect("parses");
            proptest::prop_assert!(back.to_bits() == x.to_bits() || (x.is_nan() && back.is_nan()), "{x:e} -> {out}");
        }
    }

    #[test]
    fn itoa_writes_decimal() {
        for n in [0, 7, 10, 12345, u64::MAX] {
            assert_eq!(itoa(n, &mut [0; 20]), n.to_string());
        }
    }
}
