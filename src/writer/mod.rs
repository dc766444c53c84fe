//! Writing runs: [`RunWriter`] for training code, in stable-pretraining's
//! format, so that runreg and the reference registry both read them
//! (docs/FORMAT.md §8).
//!
//! A run lives in `{cache_dir}/runs/<YYYYMMDD>/<HHMMSS>/<run_id>/` (UTC):
//!
//! - `sidecar.json`: id, status, tags, notes, flat hparams, config, the last
//!   value of each metric; rewritten atomically at each flush;
//! - `summary.json`: per-metric `last`, `min`, `max`, `count`, the last step
//!   and epoch; rewritten with the sidecar;
//! - `metrics.csv`: one row per [`RunWriter::log_metrics`] call;
//! - `heartbeat`: touched while metrics are logged.
//!
//! The writer never writes outside the run directory: file names are
//! fixed, run ids are validated ([`validate_run_id`]), and files that are
//! symlinks are refused or replaced, never written through.

mod atomic;
mod flatten;
mod heartbeat;
mod metrics_csv;
mod options;
mod pyvalue;
pub(crate) mod run_files;
mod run_id;
mod summary;
mod utc;

use std::fs;
use std::io;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use parking_lot::Mutex;
use serde::Serialize;

use crate::error::{Error, Result};
use crate::sidecar::{HEARTBEAT_NAME, MAX_SIDECAR_BYTES, SIDECAR_NAME, Sidecar};
use crate::status::Status;
use crate::value::Value;

pub use flatten::flatten_hparams;
pub use metrics_csv::METRICS_CSV_NAME;
pub use options::{
    DEFAULT_FLUSH_INTERVAL, DEFAULT_HEARTBEAT_INTERVAL, DEFAULT_LOCK_WAIT, RunOptions,
};
pub use run_id::{MAX_RUN_ID_BYTES, generate_run_id, validate_run_id};
pub use summary::{MetricStats, SUMMARY_NAME};

use heartbeat::Heartbeat;
use metrics_csv::MetricsCsv;
use summary::MetricTable;

/// How many times `create` draws a new id when the generated one's
/// directory already exists (two processes in the same millisecond drawing
/// the same 32 random bits).
const CREATE_ATTEMPTS: usize = 8;

/// A metric value: any number (and `bool`, as 1.0 or 0.0), stored as `f64`.
///
/// stable-pretraining keeps every metric as a Python float; so does runreg.
pub trait MetricValue {
    /// The value as a float.
    fn to_f64(self) -> f64;
}

macro_rules! metric_value {
    ($($t:ty),*) => {$(
        impl MetricValue for $t {
            #[allow(clippy::cast_lossless, clippy::cast_precision_loss)]
            fn to_f64(self) -> f64 {
                self as f64
            }
        }
        impl MetricValue for &$t {
            #[allow(clippy::cast_lossless, clippy::cast_precision_loss)]
            fn to_f64(self) -> f64 {
                *self as f64
            }
        }
    )*};
}
metric_value!(f64, f32, i8, i16, i32, i64, isize, u8, u16, u32, u64, usize);

impl MetricValue for bool {
    fn to_f64(self) -> f64 {
        if self { 1.0 } else { 0.0 }
    }
}

impl MetricValue for &bool {
    fn to_f64(self) -> f64 {
        (*self).to_f64()
    }
}

/// Writes one training run: its sidecar, summary, metrics and heartbeat.
///
/// Create a run with [`RunWriter::create`] (or continue one with
/// [`RunWriter::resume`]), call [`RunWriter::log_metrics`] in the training
/// loop, and [`RunWriter::finish`] at the end. The handle is `Send + Sync`:
/// share it by reference or in an `Arc`, and log from any thread. A run has
/// one writer at a time: an open writer holds a lock on the run's heartbeat
/// file, and a second one waits for it ([`RunOptions::lock_wait`]).
///
/// `log_metrics` is cheap: it updates the summary in memory, appends a row
/// to a buffered `metrics.csv` and touches the heartbeat (at most once per
/// [`RunOptions::heartbeat_interval`]). The sidecar and `summary.json` are
/// rewritten (atomically) only by [`RunWriter::flush`], which happens on its
/// own every [`RunOptions::flush_interval`] during `log_metrics`, and by
/// the calls that change the run's metadata.
///
/// A writer dropped without `finish` (a panic, an early return) marks the
/// run `interrupted`, best effort, and removes its heartbeat so that it
/// does not look alive; [`RunWriter::resume`] continues it. A process that
/// is killed leaves the run `running` with a heartbeat that goes stale,
/// which readers take as dead.
///
/// # Examples
///
/// ```
/// # fn main() -> runreg::Result<()> {
/// # let dir = tempfile::tempdir().unwrap();
/// # let cache_dir = dir.path();
/// use runreg::Status;
/// use runreg::writer::{RunOptions, RunWriter};
///
/// #[derive(serde::Serialize)]
/// struct Optim { name: &'static str, lr: f64 }
///
/// let run = RunWriter::create(
///     cache_dir,
///     RunOptions::new().tag("resnet18").hparams(&Optim { name: "sgd", lr: 0.1 }),
/// )?;
/// for step in 0..100u64 {
///     let loss = 1.0 / (step + 1) as f64;
///     run.log_metrics(step, [("train_loss", loss), ("lr", 0.1)])?;
/// }
/// run.finish(Status::Completed)?;
///
/// let sidecar = run.sidecar();
/// assert_eq!(sidecar.hparams["lr"], runreg::Value::Float(0.1));
/// assert_eq!(sidecar.summary["train_loss"], runreg::Value::Float(0.01));
/// assert_eq!(sidecar.status, Status::Completed);
/// assert!(run.run_dir().join("sidecar.json").is_file());
/// # Ok(())
/// # }
/// ```
#[derive(Debug)]
pub struct RunWriter {
    run_id: String,
    run_dir: PathBuf,
    state: Mutex<State>,
}

/// Why a writer accepts no more changes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Closed {
    Finished,
    Detached,
}

impl Closed {
    fn name(self) -> &'static str {
        match self {
            Closed::Finished => "finished",
            Closed::Detached => "detached",
        }
    }
}

/// Marks a metric whose CSV column is not yet known (a metric of a resumed
/// run that was not logged again: its column is added only when it is).
const NO_COLUMN: usize = usize::MAX;

#[derive(Debug)]
struct State {
    /// The run's metadata; `summary` holds values not (yet) in `metrics`,
    /// such as those of a resumed run without summary.json.
    sidecar: Sidecar,
    metrics: MetricTable,
    /// The CSV column of each metric, by its index in `metrics`.
    columns: Vec<usize>,
    csv: MetricsCsv,
    heartbeat: Heartbeat,
    last_step: u64,
    last_epoch: i64,
    flush_interval: Duration,
    heartbeat_interval: Duration,
    last_flush: Instant,
    last_touch: Instant,
    closed: Option<Closed>,
    /// A close whose flush failed: Drop tries it again.
    close_pending: bool,
    /// Reused for each row.
    cells: Vec<(usize, f64)>,
}

/// Seconds since the epoch, now.
fn epoch_now() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0.0, |d| d.as_secs_f64())
}

/// The first error of several attempted steps.
fn first_error(results: impl IntoIterator<Item = Result<()>>) -> Result<()> {
    results.into_iter().find(Result::is_err).unwrap_or(Ok(()))
}

impl RunWriter {
    /// Creates a new run under `{cache_dir}/runs/<YYYYMMDD>/<HHMMSS>/<run_id>/`
    /// (the UTC date and time of creation) and writes its sidecar (status
    /// `running`), an empty summary and its heartbeat. The cache directory
    /// is created when missing.
    ///
    /// # Errors
    ///
    /// - [`Error::InvalidRunId`] for an id given in `options` that cannot
    ///   name a directory;
    /// - [`Error::Serialize`] when the hparams or config given in `options`
    ///   could not be serialized;
    /// - [`Error::Io`] when a directory or file cannot be created, including
    ///   a given run id whose directory exists already (`File exists`).
    pub fn create(cache_dir: impl AsRef<Path>, options: RunOptions) -> Result<RunWriter> {
        options.check()?;
        if let Some(id) = &options.run_id {
            validate_run_id(id)?;
        }
        let runs = cache_dir.as_ref().join("runs");
        let created_at = epoch_now();
        let (run_id, dir) = make_run_dir(&runs, options.run_id.as_deref())?;
        RunWriter::start(run_id, &dir, created_at, &options).inspect_err(|_| {
            // The directory was made by this call (exclusively): a run that
            // could not be started leaves nothing behind.
            let _ = fs::remove_dir_all(&dir);
        })
    }

    /// The rest of [`RunWriter::create`], once the run directory exists.
    fn start(
        run_id: String,
        dir: &Path,
        created_at: f64,
        options: &RunOptions,
    ) -> Result<RunWriter> {
        let run_dir = fs::canonicalize(dir).map_err(|e| Error::io(dir, e))?;
        let mut sidecar = Sidecar::new(&run_id);
        sidecar.run_dir = Some(run_dir.to_string_lossy().into_owned());
        sidecar.created_at = Some(created_at);
        sidecar.tags = options.all_tags();
        sidecar.notes = options.notes.clone().unwrap_or_default();
        sidecar.hparams = options.hparams.clone();
        sidecar.config = options.config.clone();

        let heartbeat = Heartbeat::open_locked(&run_dir, options.lock_wait)?;
        let csv = MetricsCsv::new(&run_dir);
        let writer = RunWriter::assemble(
            run_id,
            run_dir,
            sidecar,
            MetricTable::default(),
            (0, 0),
            csv,
            heartbeat,
            options,
        );
        let written = writer.state.lock().flush(&writer.run_id);
        if let Err(e) = written {
            // Nothing for Drop to write: the caller removes the directory.
            writer.state.lock().closed = Some(Closed::Detached);
            return Err(e);
        }
        Ok(writer)
    }

    /// Continues the run in `run_dir` (a directory holding a `sidecar.json`),
    /// as a job requeued after preemption does: `created_at`, tags, notes,
    /// hparams, config, checkpoint, the summary, the per-metric statistics
    /// and the rows of `metrics.csv` are kept. The status goes back to
    /// `running` and `ended_at` is cleared.
    ///
    /// Statistics come from `summary.json`; when it is missing or invalid
    /// they are rebuilt from `metrics.csv`, and failing that from the
    /// sidecar's summary (one value per metric).
    ///
    /// # Errors
    ///
    /// [`Error::NotARun`] when `run_dir` has no valid sidecar;
    /// [`Error::Io`] when its files cannot be read or written.
    pub fn resume(run_dir: impl AsRef<Path>) -> Result<RunWriter> {
        RunWriter::resume_with(run_dir, RunOptions::new())
    }

    /// [`RunWriter::resume`], with `options` applied on top: their tags are
    /// added, their notes (when given) replace the run's, their hparams and
    /// config are merged in, and their flush and heartbeat settings apply.
    ///
    /// # Errors
    ///
    /// As [`RunWriter::resume`]; also [`Error::InvalidRunId`] when `options`
    /// name a run id other than the run's, and [`Error::Serialize`] as
    /// [`RunWriter::create`].
    pub fn resume_with(run_dir: impl AsRef<Path>, options: RunOptions) -> Result<RunWriter> {
        options.check()?;
        let given = run_dir.as_ref();
        let run_dir = fs::canonicalize(given).map_err(|e| Error::io(given, e))?;
        let read_sidecar = || {
            Sidecar::read(&run_dir.join(SIDECAR_NAME)).map_err(|source| Error::NotARun {
                path: run_dir.clone(),
                source,
            })
        };
        // A run, before anything is written to the directory...
        read_sidecar()?;
        // ... then its state as the previous writer left it, read under the
        // lock.
        let had_heartbeat = fs::symlink_metadata(run_dir.join(HEARTBEAT_NAME)).is_ok();
        let heartbeat = Heartbeat::open_locked(&run_dir, options.lock_wait)?;
        let loaded = read_sidecar().and_then(|(sidecar, _)| {
            if let Some(id) = &options.run_id
                && *id != sidecar.run_id
            {
                return Err(Error::InvalidRunId {
                    run_id: id.clone(),
                    reason: format!("the run in {} is {:?}", run_dir.display(), sidecar.run_id),
                });
            }
            let csv = MetricsCsv::resume(&run_dir)?;
            let metrics = resumed_metrics(&run_dir, &sidecar, &csv)?;
            Ok((sidecar, csv, metrics))
        });
        let (mut sidecar, csv, (metrics, step, epoch)) = match loaded {
            Ok(loaded) => loaded,
            Err(e) => {
                // A run that could not be resumed must not look alive.
                if !had_heartbeat {
                    let _ = heartbeat.retire();
                }
                return Err(e);
            }
        };
        let before = sidecar.clone();
        sidecar.status = Status::Running;
        sidecar.ended_at = None;
        sidecar.run_dir = Some(run_dir.to_string_lossy().into_owned());
        for tag in options.all_tags() {
            if !sidecar.tags.contains(&tag) {
                sidecar.tags.push(tag);
            }
        }
        if let Some(notes) = &options.notes {
            sidecar.notes.clone_from(notes);
        }
        sidecar.hparams.extend(options.hparams.clone());
        sidecar.config.extend(options.config.clone());
        if sidecar.created_at.is_none() {
            sidecar.created_at = Some(epoch_now());
        }

        let changed = !same_metadata(&before, &sidecar);
        let writer = RunWriter::assemble(
            sidecar.run_id.clone(),
            run_dir,
            sidecar,
            metrics,
            (step, epoch),
            csv,
            heartbeat,
            &options,
        );
        if changed {
            writer.state.lock().flush(&writer.run_id)?;
        }
        Ok(writer)
    }

    #[allow(clippy::too_many_arguments)]
    fn assemble(
        run_id: String,
        run_dir: PathBuf,
        sidecar: Sidecar,
        metrics: MetricTable,
        (last_step, last_epoch): (u64, i64),
        csv: MetricsCsv,
        heartbeat: Heartbeat,
        options: &RunOptions,
    ) -> RunWriter {
        let now = Instant::now();
        let columns = vec![NO_COLUMN; metrics.entries().len()];
        RunWriter {
            run_id,
            run_dir,
            state: Mutex::new(State {
                sidecar,
                metrics,
                columns,
                csv,
                heartbeat,
                last_step,
                last_epoch,
                flush_interval: options.flush_interval,
                heartbeat_interval: options.heartbeat_interval,
                last_flush: now,
                last_touch: now,
                closed: None,
                close_pending: false,
                cells: Vec::new(),
            }),
        }
    }

    /// The run's id.
    pub fn run_id(&self) -> &str {
        &self.run_id
    }

    /// The run's directory (absolute, symlinks resolved).
    pub fn run_dir(&self) -> &Path {
        &self.run_dir
    }

    /// Records the metrics logged at `step`: each metric's last value, min,
    /// max and count; a row of `metrics.csv` (a metric seen for the first
    /// time adds a column, rewriting the file's header); a heartbeat touch.
    /// A metric named `epoch` also sets the epoch of `summary.json`.
    ///
    /// Every pair counts, so a name given twice in one call is counted
    /// twice. The `step` column of `metrics.csv` always holds `step`, even
    /// when a metric is named `step` (as in Lightning's CSV logger).
    ///
    /// # Errors
    ///
    /// [`Error::RunClosed`] after [`finish`](RunWriter::finish) or
    /// [`detach`](RunWriter::detach); [`Error::Io`] when `metrics.csv`,
    /// the heartbeat or (at a periodic flush) the sidecar could not be
    /// written. The values are recorded in memory even then, and the next
    /// flush writes them.
    pub fn log_metrics<I, K, V>(&self, step: u64, metrics: I) -> Result<()>
    where
        I: IntoIterator<Item = (K, V)>,
        K: AsRef<str>,
        V: MetricValue,
    {
        let mut state = self.state.lock();
        state.check_open(&self.run_id)?;
        let state = &mut *state;
        let mut cells = std::mem::take(&mut state.cells);
        cells.clear();
        let mut epoch = None;
        for (name, value) in metrics {
            let (name, value) = (name.as_ref(), value.to_f64());
            let i = match state.metrics.get(name) {
                Some(i) => {
                    state.metrics.update(i, value);
                    i
                }
                None => {
                    state.columns.push(NO_COLUMN);
                    state.metrics.push(name, summary::MetricStats::first(value))
                }
            };
            let column = match state.columns.get(i) {
                Some(&c) if c != NO_COLUMN => c,
                _ => {
                    let c = state.csv.column(name);
                    if let Some(slot) = state.columns.get_mut(i) {
                        *slot = c;
                    }
                    c
                }
            };
            cells.push((column, value));
            if name == "epoch" {
                epoch = Some(value);
            }
        }
        state.last_step = step;
        if let Some(e) = epoch.filter(|e| e.is_finite()) {
            // Python's int(): toward zero.
            state.last_epoch = e as i64;
        }
        let row = state.csv.append(step, &cells);
        state.cells = cells;

        let now = Instant::now();
        let touch = if now.duration_since(state.last_touch) >= state.heartbeat_interval {
            state.last_touch = now;
            state.heartbeat.touch()
        } else {
            Ok(())
        };
        let flush = if now.duration_since(state.last_flush) >= state.flush_interval {
            state.flush(&self.run_id)
        } else {
            Ok(())
        };
        first_error([row, touch, flush])
    }

    /// Merges hyper-parameters, flattened as [`RunOptions::hparams`] does,
    /// into the run's, and rewrites the sidecar.
    ///
    /// # Errors
    ///
    /// [`Error::Serialize`], [`Error::RunClosed`], or [`Error::Io`] from
    /// the rewrite.
    pub fn log_hparams<T: Serialize + ?Sized>(&self, hparams: &T) -> Result<()> {
        let flat = flatten_hparams(hparams)?;
        self.update(|s| s.hparams.extend(flat))
    }

    /// Records the path of the best or last checkpoint, and rewrites the
    /// sidecar. The path is stored as given (nothing is written there).
    ///
    /// # Errors
    ///
    /// [`Error::RunClosed`], or [`Error::Io`] from the rewrite.
    pub fn set_checkpoint(&self, path: impl AsRef<Path>) -> Result<()> {
        let path = path.as_ref().to_string_lossy().into_owned();
        self.update(|s| s.checkpoint_path = Some(path))
    }

    /// Adds a tag (unless the run has it already), and rewrites the sidecar.
    ///
    /// # Errors
    ///
    /// [`Error::RunClosed`], or [`Error::Io`] from the rewrite.
    pub fn add_tag(&self, tag: impl Into<String>) -> Result<()> {
        let tag = tag.into();
        self.update(|s| {
            if !s.tags.contains(&tag) {
                s.tags.push(tag);
            }
        })
    }

    /// Replaces the run's notes, and rewrites the sidecar.
    ///
    /// # Errors
    ///
    /// [`Error::RunClosed`], or [`Error::Io`] from the rewrite.
    pub fn set_notes(&self, notes: impl Into<String>) -> Result<()> {
        let notes = notes.into();
        self.update(|s| s.notes = notes)
    }

    fn update(&self, change: impl FnOnce(&mut Sidecar)) -> Result<()> {
        let mut state = self.state.lock();
        state.check_open(&self.run_id)?;
        change(&mut state.sidecar);
        state.flush(&self.run_id)
    }

    /// Touches the heartbeat now, whatever the heartbeat interval (for a
    /// long evaluation that logs nothing).
    ///
    /// # Errors
    ///
    /// [`Error::RunClosed`], or [`Error::Io`].
    pub fn heartbeat(&self) -> Result<()> {
        let mut state = self.state.lock();
        state.check_open(&self.run_id)?;
        state.last_touch = Instant::now();
        state.heartbeat.refresh()
    }

    /// Writes everything out: the buffered rows of `metrics.csv` (to the
    /// disk), then `summary.json` and `sidecar.json`, each atomically. After
    /// [`finish`](RunWriter::finish) or [`detach`](RunWriter::detach) there
    /// is nothing left to write and this does nothing.
    ///
    /// # Errors
    ///
    /// [`Error::Io`] naming the file that could not be written; the others
    /// are still attempted.
    pub fn flush(&self) -> Result<()> {
        let mut state = self.state.lock();
        if state.closed.is_some() && !state.close_pending {
            return Ok(());
        }
        state.flush(&self.run_id)
    }

    /// Ends the run: writes `status` and `ended_at`, flushes everything, and
    /// closes the writer (later changes fail with [`Error::RunClosed`]).
    /// A status that is not terminal (`interrupted`) also removes the
    /// heartbeat: the run is not alive, though readers do not take
    /// `interrupted` as final.
    ///
    /// # Errors
    ///
    /// [`Error::FinishStatus`] for a status that reads as `running`;
    /// [`Error::RunClosed`] when the run was already finished or detached;
    /// [`Error::Io`] when the files could not be written (dropping the
    /// writer then tries again).
    pub fn finish(&self, status: Status) -> Result<()> {
        if Status::from_sidecar(status.as_str()) == Status::Running {
            return Err(Error::FinishStatus {
                run_id: self.run_id.clone(),
                status: status.as_str().to_owned(),
            });
        }
        let mut state = self.state.lock();
        state.check_open(&self.run_id)?;
        state.sidecar.status = status;
        state.sidecar.ended_at = Some(epoch_now());
        state.close(Closed::Finished, &self.run_id)
    }

    /// Flushes everything and closes the writer, leaving the run `running`:
    /// for a job handing the run over to another process, which continues
    /// it with [`RunWriter::resume`]. (The `runreg log` command works so.)
    ///
    /// # Errors
    ///
    /// [`Error::RunClosed`] when already closed; [`Error::Io`] as
    /// [`RunWriter::flush`].
    pub fn detach(&self) -> Result<()> {
        let mut state = self.state.lock();
        state.check_open(&self.run_id)?;
        state.close(Closed::Detached, &self.run_id)
    }

    /// The sidecar as the next flush writes it (`updated_at` is that of the
    /// last write).
    pub fn sidecar(&self) -> Sidecar {
        self.state.lock().sidecar_now(None)
    }

    /// Each metric's statistics, in the order the metrics were first logged.
    pub fn metric_stats(&self) -> Vec<(String, MetricStats)> {
        self.state.lock().metrics.entries().to_vec()
    }

    /// The last step logged, and the last epoch (0 when none was logged).
    pub fn step_and_epoch(&self) -> (u64, i64) {
        let state = self.state.lock();
        (state.last_step, state.last_epoch)
    }
}

impl Drop for RunWriter {
    /// A writer dropped without [`finish`](RunWriter::finish) or
    /// [`detach`](RunWriter::detach) marks its run `interrupted`. Errors are
    /// ignored: nothing here may panic.
    fn drop(&mut self) {
        let state = self.state.get_mut();
        match state.closed {
            None => {
                state.sidecar.status = Status::Interrupted;
                state.sidecar.ended_at = Some(epoch_now());
                let _ = state.close(Closed::Finished, &self.run_id);
            }
            Some(_) if state.close_pending => {
                let _ = state.flush(&self.run_id);
            }
            Some(_) => {}
        }
    }
}

impl State {
    fn check_open(&self, run_id: &str) -> Result<()> {
        match self.closed {
            None => Ok(()),
            Some(closed) => Err(Error::RunClosed {
                run_id: run_id.to_owned(),
                state: closed.name(),
            }),
        }
    }

    /// Closes the writer and writes the run out. A run finished without a
    /// terminal status (`interrupted`) loses its heartbeat first, so that
    /// it never looks alive once its writer is gone.
    fn close(&mut self, how: Closed, run_id: &str) -> Result<()> {
        self.closed = Some(how);
        self.close_pending = true;
        let retire = if how == Closed::Finished && !self.sidecar.status.is_terminal() {
            self.heartbeat.retire()
        } else {
            Ok(())
        };
        let result = first_error([retire, self.flush(run_id)]);
        self.heartbeat.unlock();
        result
    }

    /// The sidecar with the summary of every metric, stamped `updated_at`.
    fn sidecar_now(&self, updated_at: Option<f64>) -> Sidecar {
        let mut sidecar = self.sidecar.clone();
        for (name, stats) in self.metrics.entries() {
            sidecar
                .summary
                .insert(name.clone(), Value::Float(stats.last));
        }
        if updated_at.is_some() {
            sidecar.updated_at = updated_at;
        }
        sidecar
    }

    fn flush(&mut self, run_id: &str) -> Result<()> {
        let csv = self.csv.flush(true);
        let heartbeat = if self.closed.is_none() {
            self.heartbeat.refresh()
        } else {
            Ok(())
        };
        let now = epoch_now();
        let sidecar = self.sidecar_now(Some(now));
        let run_dir = sidecar.run_dir.clone().unwrap_or_default();
        let dir = Path::new(&run_dir);
        let summary_text = summary::render(
            run_id,
            &run_dir,
            now,
            self.last_step,
            self.last_epoch,
            self.metrics.entries(),
        );
        let files = write_pair(dir, &summary_text, &sidecar.to_json());
        if files.is_ok() {
            self.sidecar.updated_at = Some(now);
            self.last_flush = Instant::now();
        }
        let result = first_error([csv, heartbeat, files]);
        if result.is_ok() {
            self.close_pending = false;
        }
        result
    }
}

/// Replaces `summary.json`, then `sidecar.json` (scanners look at the
/// sidecar: when it changes, the summary is already there), then makes both
/// renames durable.
fn write_pair(dir: &Path, summary_text: &str, sidecar_text: &str) -> Result<()> {
    use std::io::Write;
    atomic::stage(dir, SUMMARY_NAME, |out| {
        out.write_all(summary_text.as_bytes())
    })?
    .commit()?;
    atomic::stage(dir, SIDECAR_NAME, |out| {
        out.write_all(sidecar_text.as_bytes())
    })?
    .commit()?;
    atomic::sync_dir(dir)
}

/// Creates `runs/<date>/<time>/<id>`; a generated id whose directory exists
/// is drawn again.
fn make_run_dir(runs: &Path, given: Option<&str>) -> Result<(String, PathBuf)> {
    let millis = run_id::next_millis();
    let t = utc::UtcTime::from_unix_millis(u128::from(millis));
    let parent = runs.join(t.date()).join(t.time());
    fs::create_dir_all(&parent).map_err(|e| Error::io(&parent, e))?;
    let mut attempt = 0;
    loop {
        let run_id = given.map_or_else(|| run_id::run_id_at(millis), str::to_owned);
        let dir = parent.join(&run_id);
        match fs::create_dir(&dir) {
            Ok(()) => return Ok((run_id, dir)),
            Err(e)
                if e.kind() == io::ErrorKind::AlreadyExists
                    && given.is_none()
                    && attempt < CREATE_ATTEMPTS =>
            {
                attempt += 1;
            }
            Err(e) => return Err(Error::io(dir, e)),
        }
    }
}

/// The statistics, step and epoch of a resumed run: from summary.json, else
/// rebuilt from metrics.csv, else one value per metric of the sidecar's
/// summary.
fn resumed_metrics(
    run_dir: &Path,
    sidecar: &Sidecar,
    csv: &MetricsCsv,
) -> Result<(MetricTable, u64, i64)> {
    let summary_path = run_dir.join(SUMMARY_NAME);
    if let Some(doc) = run_files::read_small(&summary_path, MAX_SIDECAR_BYTES)?
        .as_deref()
        .and_then(summary::parse)
    {
        return Ok((MetricTable::from_entries(doc.metrics), doc.step, doc.epoch));
    }
    let columns = csv.read_numeric_columns()?;
    if columns.iter().any(|(_, values)| !values.is_empty()) {
        let mut step = 0;
        let mut epoch = 0;
        let mut entries = Vec::new();
        for (name, values) in columns {
            let Some((&first, rest)) = values.split_first() else {
                continue;
            };
            if name == metrics_csv::STEP_COLUMN {
                step = values.last().map_or(0, |&s| s as u64);
                continue;
            }
            if name == "epoch" {
                epoch = values
                    .last()
                    .filter(|e| e.is_finite())
                    .map_or(0, |&e| e as i64);
            }
            let mut stats = MetricStats::first(first);
            for &v in rest {
                stats.update(v);
            }
            entries.push((name, stats));
        }
        return Ok((MetricTable::from_entries(entries), step, epoch));
    }
    let entries = sidecar
        .summary
        .iter()
        .filter_map(|(name, v)| Some((name.to_owned(), MetricStats::first(v.as_f64()?))))
        .collect();
    Ok((MetricTable::from_entries(entries), 0, 0))
}

/// Whether two sidecars say the same (timestamps of writes aside).
fn same_metadata(a: &Sidecar, b: &Sidecar) -> bool {
    let mut a = a.clone();
    a.updated_at = b.updated_at;
    a.to_json() == b.to_json()
}

/// Touches the heartbeat of the run in `run_dir` (creating the file when
/// missing), after checking that `run_dir` holds a valid sidecar; nothing
/// else is written. For jobs that signal liveness between
/// [`RunWriter`] cycles (`runreg heartbeat`).
///
/// # Errors
///
/// [`Error::NotARun`] when `run_dir` has no valid sidecar; [`Error::Io`].
pub fn touch_heartbeat(run_dir: impl AsRef<Path>) -> Result<()> {
    let run_dir = run_dir.as_ref();
    Sidecar::read(&run_dir.join(SIDECAR_NAME)).map_err(|source| Error::NotARun {
        path: run_dir.to_owned(),
        source,
    })?;
    heartbeat::touch_once(run_dir)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn assert_send_sync<T: Send + Sync>() {}

    #[test]
    fn run_writer_is_send_and_sync() {
        assert_send_sync::<RunWriter>();
    }
}
