//! The printers of a list of runs, one file a format: JSON (`json.rs`),
//! JSON Lines (`jsonl.rs`), CSV (`csv.rs`), and the columnar files
//! (`columnar.rs`: Parquet, Arrow IPC). Each takes the runs as the library
//! streams them, a chunk at a time, and writes them out at once; none holds
//! a whole answer. (Tables, in `table.rs`, hold their rows: a column's
//! width depends on every row.) A new format is a new file here.

mod columnar;
mod csv;
mod json;
mod jsonl;

use std::cell::RefCell;
use std::io::{self, BufWriter};
use std::num::NonZero;
use std::path::Path;
use std::sync::OnceLock;

use runreg::{AnswerKeys, Query, Registry, RunRecord, RunView, Snapshot};

pub use self::columnar::{Columnar, ColumnarFile, Compression};
pub use self::csv::CsvPrinter;
pub use self::json::JsonPrinter;
pub use self::jsonl::JsonlPrinter;
use super::{Failure, output};

/// Runs printed at a time: each chunk is read from the cache, which is then
/// released while the chunk is written.
pub const CHUNK: usize = 1024;

/// The threads that make chunks: one a core.
fn threads() -> usize {
    std::thread::available_parallelism().map_or(1, NonZero::get)
}

/// Makes the text of a chunk of runs, apart from any output: a format whose
/// chunks need nothing from the chunks before them has its chunks made on
/// every core.
pub enum Renderer {
    /// The text of a chunk of records (CSV, whose cells are computed from
    /// records).
    Records(RenderRecords),
    /// Starts a chunk's text in the (empty) buffer given, made a run at a
    /// time from the runs' bytes in the cache, no record built (JSON, JSON
    /// Lines).
    Views(StartChunk),
}

/// Makes the text of a chunk of records.
pub type RenderRecords = Box<dyn Fn(&[RunRecord]) -> io::Result<Vec<u8>> + Send + Sync>;

/// Starts the text of a chunk of [`RunView`]s in a buffer (empty, and
/// perhaps with room: see [`Buffers`]).
pub type StartChunk = Box<dyn Fn(Vec<u8>) -> Box<dyn ViewChunk> + Send + Sync>;

/// The buffers of chunks already written, for the next chunks' text: a
/// chunk of pretty JSON is a few megabytes, and a new buffer each time
/// would be paged in anew (the allocator gives freed pages back to the
/// system), a tenth of the CPU of `ls --json`. Holds as many buffers as
/// there are chunks in flight.
#[derive(Default)]
struct Buffers(std::sync::Mutex<Vec<Vec<u8>>>);

impl Buffers {
    /// An empty buffer, one already grown if any is free.
    fn take(&self) -> Vec<u8> {
        let free = self
            .0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .pop();
        free.unwrap_or_else(|| Vec::with_capacity(1 << 20))
    }

    /// Writes `chunk`'s text with `printer`, then keeps its buffer for a
    /// next chunk.
    fn print(&self, printer: &mut dyn Printer, chunk: Box<dyn ViewChunk>) -> io::Result<()> {
        let text = chunk.into_text();
        printer.rendered(&text)?;
        self.give_back(text);
        Ok(())
    }

    /// Gives back a buffer whose text was written.
    fn give_back(&self, mut text: Vec<u8>) {
        text.clear();
        self.0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .push(text);
    }
}

/// The text of a chunk of runs, made from their views.
pub trait ViewChunk: Send {
    /// Appends a run's text.
    fn add(&mut self, run: &RunView<'_>) -> io::Result<()>;

    /// The chunk's text.
    fn into_text(self: Box<Self>) -> Vec<u8>;
}

/// A format that writes runs as they come.
pub trait Printer {
    /// Writes the next runs of the answer.
    fn runs(&mut self, runs: &[RunRecord]) -> io::Result<()>;

    /// The format's [`Renderer`], when its chunks can be made apart; they
    /// are then written by [`Printer::rendered`] instead of
    /// [`Printer::runs`].
    fn renderer(&self) -> Option<Renderer> {
        None
    }

    /// Writes the next chunk's text, made by [`Printer::renderer`].
    fn rendered(&mut self, text: &[u8]) -> io::Result<()> {
        let _ = text;
        Err(io::Error::other("this format makes no chunk apart"))
    }

    /// Ends the output (a JSON array's closing bracket) and flushes it.
    fn finish(&mut self) -> io::Result<()>;
}

/// Standard output, buffered (its own buffer flushes at every newline).
pub fn stdout() -> BufWriter<io::StdoutLock<'static>> {
    BufWriter::with_capacity(1 << 16, io::stdout().lock())
}

/// Streams the answer to `query` into `printer`, without the cache held
/// while it writes ([`Registry::stream`]); returns how many runs. A write
/// error is reported by `on_write_error` (a closed pipe ends quietly).
pub fn print(
    registry: &Registry,
    query: &Query,
    printer: &mut dyn Printer,
    on_write_error: impl Fn(io::Error) -> Failure,
) -> Result<usize, Failure> {
    let mut failed: Option<io::Error> = None;
    let mut keep = |e: io::Error| {
        let kind = e.kind();
        failed = Some(e);
        runreg::Error::Io {
            path: "-".into(),
            source: kind.into(),
        }
    };
    let threads = threads();
    let streamed = match printer.renderer() {
        Some(Renderer::Records(render)) => registry.stream_rendered(
            query,
            CHUNK,
            threads,
            |runs| Ok(render(&runs)),
            |text| {
                text.and_then(|text| printer.rendered(&text))
                    .map_err(&mut keep)
            },
        ),
        Some(Renderer::Views(start)) => {
            let buffers = Buffers::default();
            registry.stream_views(
                query,
                CHUNK,
                threads,
                || start(buffers.take()),
                // Rendering into memory fails only on a damaged record,
                // which the library then reports in place of this error.
                |chunk, run| {
                    chunk.add(run).map_err(|e| runreg::Error::Io {
                        path: "-".into(),
                        source: e,
                    })
                },
                |chunk| buffers.print(printer, chunk).map_err(&mut keep),
            )
        }
        None => registry.stream(query, CHUNK, |runs| printer.runs(&runs).map_err(&mut keep)),
    };
    if let Some(e) = failed {
        return Err(on_write_error(e));
    }
    let count = streamed?;
    printer.finish().map_err(on_write_error)?;
    Ok(count)
}

/// A chunk as the printer takes it: made apart, or runs to print in turn.
enum Chunk {
    Text(io::Result<Vec<u8>>),
    Runs(Vec<RunRecord>),
}

/// [`print`] with a printer made from the answer's keys (CSV's columns),
/// which the first pass over the cache finds with the runs
/// ([`Registry::stream_rendered_keyed`]).
pub fn print_keyed<P: Printer>(
    registry: &Registry,
    query: &Query,
    make: impl FnOnce(&AnswerKeys) -> io::Result<P>,
    on_write_error: impl Fn(io::Error) -> Failure,
) -> Result<usize, Failure> {
    let printer: RefCell<Option<P>> = RefCell::new(None);
    let render: OnceLock<Option<RenderRecords>> = OnceLock::new();
    let failed: RefCell<Option<io::Error>> = RefCell::new(None);
    let keep = |e: io::Error| {
        let kind = e.kind();
        *failed.borrow_mut() = Some(e);
        runreg::Error::Io {
            path: "-".into(),
            source: kind.into(),
        }
    };
    let threads = threads();
    let streamed = registry.stream_rendered_keyed(
        query,
        CHUNK,
        threads,
        |keys| {
            let made = make(keys).map_err(keep)?;
            let _ = render.set(match made.renderer() {
                Some(Renderer::Records(render)) => Some(render),
                _ => None,
            });
            *printer.borrow_mut() = Some(made);
            Ok(())
        },
        |runs| {
            Ok(match render.get() {
                Some(Some(render)) => Chunk::Text(render(&runs)),
                _ => Chunk::Runs(runs),
            })
        },
        |chunk| {
            let mut printer = printer.borrow_mut();
            let Some(printer) = printer.as_mut() else {
                return Ok(());
            };
            match chunk {
                Chunk::Text(text) => text.and_then(|text| printer.rendered(&text)),
                Chunk::Runs(runs) => printer.runs(&runs),
            }
            .map_err(keep)
        },
    );
    if let Some(e) = failed.take() {
        return Err(on_write_error(e));
    }
    let count = streamed?;
    if let Some(printer) = printer.borrow_mut().as_mut() {
        printer.finish().map_err(on_write_error)?;
    }
    Ok(count)
}

/// Writes the answer to `query` into `printer` from one snapshot (a file
/// holds one state of the cache), the chunks of a format that makes them
/// apart on every core; returns how many runs. Write errors name `path`.
pub fn print_snapshot(
    snapshot: &Snapshot<'_>,
    query: &Query,
    printer: &mut dyn Printer,
    path: &Path,
) -> runreg::Result<usize> {
    let io = |source: io::Error| runreg::Error::Io {
        path: path.to_owned(),
        source,
    };
    let threads = threads();
    match printer.renderer() {
        Some(Renderer::Records(render)) => snapshot.stream_rendered(
            query,
            CHUNK,
            threads,
            |runs| Ok(render(&runs)),
            |text| text.and_then(|text| printer.rendered(&text)).map_err(io),
        ),
        Some(Renderer::Views(start)) => {
            let buffers = Buffers::default();
            snapshot.stream_views(
                query,
                CHUNK,
                threads,
                || start(buffers.take()),
                |chunk, run| chunk.add(run).map_err(io),
                |chunk| buffers.print(printer, chunk).map_err(io),
            )
        }
        _ => snapshot.for_each(query, |run| {
            printer.runs(std::slice::from_ref(&run)).map_err(io)
        }),
    }
}

/// [`print`] to standard output.
pub fn print_to_stdout(
    registry: &Registry,
    query: &Query,
    printer: &mut dyn Printer,
) -> Result<usize, Failure> {
    print(registry, query, printer, output::write_failure)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_buffer_given_back_comes_back_empty_with_its_room() {
        let buffers = Buffers::default();
        let mut text = buffers.take();
        assert!(text.is_empty());
        text.extend_from_slice(&[b'x'; 3 << 20]);
        let (room, at) = (text.capacity(), text.as_ptr());
        buffers.give_back(text);
        let again = buffers.take();
        assert!(again.is_empty());
        assert_eq!((again.capacity(), again.as_ptr()), (room, at));
        // None free while `again` is out: a new one.
        let fresh = buffers.take();
        assert!(fresh.is_empty());
        assert_ne!(fresh.as_ptr(), again.as_ptr());
    }
}
