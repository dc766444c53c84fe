//! The columnar printers: an answer as a Parquet file or an Arrow IPC file
//! (`.arrow`, `.feather`), batch by batch as the library yields them.
//!
//! Parquet is written with plain types only, which DuckDB, Polars, pandas
//! and Spark read as they are: timestamps as INT64 microseconds adjusted to
//! UTC, tags in the standard three-level LIST layout. The file's key-value
//! metadata holds the schema's: `runreg.version` and `runreg.query`.

use std::fs::File;
use std::io::{self, BufWriter};
use std::path::{Path, PathBuf};

use arrow_ipc::CompressionType;
use arrow_ipc::writer::{FileWriter, IpcWriteOptions};
use clap::ValueEnum;
use parquet::arrow::ArrowWriter;
use parquet::basic::{BrotliLevel, Compression as ParquetCompression, GzipLevel};
use parquet::file::metadata::KeyValue;
use parquet::file::properties::{EnabledStatistics, WriterProperties};
use parquet::schema::types::ColumnPath;
use runreg::columnar::{BatchSink, RecordBatch, SchemaRef};

/// Whether the column's values are mostly one of a kind per run (ids,
/// paths, times, measured metrics): Parquet gains nothing from a
/// dictionary of them, and building it costs a hash of every value.
fn unique_per_run(column: &str) -> bool {
    matches!(
        column,
        "run_id"
            | "run_dir"
            | "checkpoint_path"
            | "config"
            | "created_at"
            | "updated_at"
            | "ended_at"
    ) || column.starts_with("summary.")
}

/// Rows a Parquet row group holds at most.
const ROW_GROUP_ROWS: usize = 16 * 1024;

/// `--compression`: the codecs compiled in (all pure Rust).
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum Compression {
    /// No compression
    None,
    /// Snappy (Parquet's default here)
    Snappy,
    /// LZ4 (LZ4_RAW in Parquet, LZ4 frames in Arrow IPC)
    Lz4,
    /// Gzip (Parquet only)
    Gzip,
    /// Brotli (Parquet only)
    Brotli,
}

/// Which columnar file.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Columnar {
    Parquet,
    /// Arrow IPC file format (Feather v2).
    Ipc,
}

impl Columnar {
    /// Refuses a codec the format cannot use here, before anything is
    /// written.
    pub fn check(self, compression: Option<Compression>) -> Result<(), String> {
        match (self, compression) {
            (
                Columnar::Ipc,
                Some(c @ (Compression::Snappy | Compression::Gzip | Compression::Brotli)),
            ) => Err(format!(
                "Arrow IPC files take --compression none or lz4, not {}",
                c.to_possible_value()
                    .map_or("?".into(), |v| v.get_name().to_owned())
            )),
            _ => Ok(()),
        }
    }
}

/// A [`BatchSink`] that writes a columnar file to `out`. The writer is made
/// when the schema arrives; [`ColumnarFile::finish`] writes the footer.
pub struct ColumnarFile<'a> {
    kind: Columnar,
    compression: Option<Compression>,
    path: PathBuf,
    out: Option<&'a mut BufWriter<File>>,
    writer: Option<Writer<'a>>,
}

enum Writer<'a> {
    Parquet(ArrowWriter<&'a mut BufWriter<File>>),
    Ipc(FileWriter<&'a mut BufWriter<File>>),
}

impl<'a> ColumnarFile<'a> {
    pub fn new(
        kind: Columnar,
        compression: Option<Compression>,
        path: &Path,
        out: &'a mut BufWriter<File>,
    ) -> ColumnarFile<'a> {
        ColumnarFile {
            kind,
            compression,
            path: path.to_path_buf(),
            out: Some(out),
            writer: None,
        }
    }

    fn error(&self, e: impl std::error::Error + Send + Sync + 'static) -> runreg::Error {
        runreg::Error::Io {
            path: self.path.clone(),
            source: io::Error::other(e),
        }
    }

    /// Writes the file's footer.
    pub fn finish(mut self) -> runreg::Result<()> {
        match self.writer.take() {
            Some(Writer::Parquet(w)) => w.close().map(|_| ()).map_err(|e| self.error(e)),
            Some(Writer::Ipc(mut w)) => w.finish().map_err(|e| self.error(e)),
            None => Ok(()),
        }
    }
}

impl BatchSink for ColumnarFile<'_> {
    fn schema(&mut self, schema: &SchemaRef) -> runreg::Result<()> {
        let Some(out) = self.out.take() else {
            return Ok(());
        };
        let writer = match self.kind {
            Columnar::Parquet => {
                let codec = match self.compression.unwrap_or(Compression::Snappy) {
                    Compression::None => ParquetCompression::UNCOMPRESSED,
                    Compression::Snappy => ParquetCompression::SNAPPY,
                    Compression::Lz4 => ParquetCompression::LZ4_RAW,
                    Compression::Gzip => ParquetCompression::GZIP(GzipLevel::default()),
                    Compression::Brotli => ParquetCompression::BROTLI(BrotliLevel::default()),
                };
                // The schema's metadata (runreg.version, runreg.query) is
                // the file's key-value metadata too, where every reader
                // finds it (Arrow's copy is inside `ARROW:schema`).
                let mut metadata: Vec<KeyValue> = schema
                    .metadata()
                    .iter()
                    .map(|(k, v)| KeyValue::new(k.clone(), v.clone()))
                    .collect();
                metadata.sort_by(|a, b| a.key.cmp(&b.key));
                // Row groups of a bounded size: the writer holds one in
                // memory until it is full (its default is a million rows).
                let mut props = WriterProperties::builder()
                    .set_max_row_group_row_count(Some(ROW_GROUP_ROWS))
                    .set_compression(codec)
                    // Min and max per column chunk, what engines prune row
                    // groups by; none per page.
                    .set_statistics_enabled(EnabledStatistics::Chunk)
                    .set_key_value_metadata(Some(metadata));
                for field in schema.fields() {
                    if unique_per_run(field.name()) {
                        props = props.set_column_dictionary_enabled(
                            ColumnPath::from(field.name().as_str()),
                            false,
                        );
                    }
                }
                let props = props.build();
                Writer::Parquet(
                    ArrowWriter::try_new(out, schema.clone(), Some(props))
                        .map_err(|e| self.error(e))?,
                )
            }
            Columnar::Ipc => {
                let codec = match self.compression {
                    Some(Compression::Lz4) => Some(CompressionType::LZ4_FRAME),
                    _ => None,
                };
                let options = IpcWriteOptions::default()
                    .try_with_compression(codec)
                    .map_err(|e| self.error(e))?;
                Writer::Ipc(
                    FileWriter::try_new_with_options(out, schema, options)
                        .map_err(|e| self.error(e))?,
                )
            }
        };
        self.writer = Some(writer);
        Ok(())
    }

    fn batch(&mut self, batch: RecordBatch) -> runreg::Result<()> {
        let written = match &mut self.writer {
            Some(Writer::Parquet(w)) => w.write(&batch).map_err(|e| e.to_string()),
            Some(Writer::Ipc(w)) => w.write(&batch).map_err(|e| e.to_string()),
            None => Ok(()),
        };
        written.map_err(|e| self.error(io::Error::other(e)))
    }
}
