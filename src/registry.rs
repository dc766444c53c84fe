//! [`Registry`]: the facade over scanner, store and queries.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, LazyLock};
use std::time::{Duration, Instant};

use parking_lot::Mutex;

use crate::cache_location;
use crate::error::{Error, Result};
use crate::liveness::Liveness;
use crate::metrics::MetricsReader;
use crate::query::{self, AnswerKeys, Context, Query};
use crate::record::RunRecord;
use crate::scan::{
    self, DEFAULT_IO_THREADS, MAX_IO_THREADS, ProgressFn, ScanMode, ScanProgress, ScanReport,
    ScanSettings, Threads, epoch_now,
};
use crate::snapshot::Snapshot;
use crate::status::Status;
use crate::store::{Memory, Peek, RunKey, RunView, Store};
use crate::writer::METRICS_CSV_NAME;
use crate::writer::run_files::open_existing;

/// When each cache was last scanned by this process (lazy scans within the
/// TTL are skipped).
static LAST_SCANS: LazyLock<Mutex<HashMap<PathBuf, Instant>>> = LazyLock::new(Default::default);

/// Takes the keys of an answer before its runs are read.
type KeysHook<'a> = &'a mut dyn FnMut(&AnswerKeys) -> Result<()>;

/// The runs of one cache directory (`{cache_dir}/runs/...`), queryable.
///
/// Opening runs an incremental scan first, unless this process scanned the
/// same cache within the scan TTL (2 s by default), so answers reflect the
/// tree. The cache is held only for the length of each call, so many
/// processes can use one cache at once.
///
/// # Examples
///
/// ```
/// # fn main() -> runreg::Result<()> {
/// # let dir = tempfile::tempdir().unwrap();
/// # let cache_dir = dir.path();
/// # std::fs::create_dir_all(cache_dir.join("runs/20261101/120000/r1")).unwrap();
/// # std::fs::write(cache_dir.join("runs/20261101/120000/r1/sidecar.json"),
/// #     r#"{"run_id": "r1", "status": "completed", "summary": {"val_acc": 0.9}}"#).unwrap();
/// use runreg::{Query, Registry, SortSpec};
///
/// let registry = Registry::open(cache_dir)?;
/// let best = registry.query(&Query::new().sort(SortSpec::desc("summary.val_acc".parse()?)).limit(5))?;
/// assert_eq!(best[0].run_id, "r1");
/// assert!(registry.get("r1")?.is_some());
/// # Ok(())
/// # }
/// ```
#[derive(Debug)]
pub struct Registry {
    cache_dir: PathBuf,
    relocated: bool,
    store: Store,
    liveness: Liveness,
    threads: Threads,
    progress: Option<ProgressFn>,
    last_scan: Option<ScanReport>,
}

/// Settings for opening a [`Registry`]; see [`Registry::builder`].
#[derive(Clone, Debug)]
pub struct RegistryBuilder {
    cache_dir: PathBuf,
    db_path: Option<PathBuf>,
    scan: bool,
    scan_ttl: Duration,
    heartbeat_timeout: Duration,
    lock_timeout: Duration,
    io_threads: usize,
    walk_threads: Option<usize>,
    progress: Option<ProgressFn>,
}

impl RegistryBuilder {
    /// The cache file (default `{cache_dir}/registry.redb`).
    pub fn db_path(mut self, path: impl Into<PathBuf>) -> Self {
        self.db_path = Some(path.into());
        self
    }

    /// Whether to scan on open (default `true`). Without it, queries answer
    /// from the cache as it is.
    pub fn scan(mut self, scan: bool) -> Self {
        self.scan = scan;
        self
    }

    /// Skip the scan on open when this process scanned the same cache this
    /// recently (default 2 s).
    pub fn scan_ttl(mut self, ttl: Duration) -> Self {
        self.scan_ttl = ttl;
        self
    }

    /// How old a heartbeat may be for a run to count as alive (default 180 s).
    pub fn heartbeat_timeout(mut self, timeout: Duration) -> Self {
        self.heartbeat_timeout = timeout;
        self
    }

    /// How long to wait for another process holding the cache before
    /// failing with [`Error::Busy`] (default 30 s).
    pub fn lock_timeout(mut self, timeout: Duration) -> Self {
        self.lock_timeout = timeout;
        self
    }

    /// File-system requests a scan keeps in flight: the threads that stat
    /// and read sidecars and list directories (default
    /// [`DEFAULT_IO_THREADS`], 16). On a network filesystem (NFS, Lustre,
    /// GPFS) each request waits a round trip on the server, and many in
    /// flight overlap those waits; 32 to 64 may pay there. Parsing stays on
    /// one thread a core whatever this says. From 1 (one request at a time,
    /// all on the calling thread but one parser a core) to
    /// [`MAX_IO_THREADS`]; [`open`](Self::open) refuses anything else.
    ///
    /// ```
    /// # fn main() -> runreg::Result<()> {
    /// # let dir = tempfile::tempdir().unwrap();
    /// # std::fs::create_dir_all(dir.path().join("runs")).unwrap();
    /// let registry = runreg::Registry::builder(dir.path()).io_threads(64).open()?;
    /// # assert!(runreg::Registry::builder(dir.path()).io_threads(0).open().is_err());
    /// # Ok(())
    /// # }
    /// ```
    pub fn io_threads(mut self, threads: usize) -> Self {
        self.io_threads = threads;
        self
    }

    /// Threads walking the tree (default: [`io_threads`](Self::io_threads);
    /// 1 walks on the calling thread).
    pub fn walk_threads(mut self, threads: usize) -> Self {
        self.walk_threads = Some(threads.max(1));
        self
    }

    /// Calls `report` every few hundred sidecars while a scan runs (for a
    /// progress bar), from the scanning thread.
    pub fn on_progress(mut self, report: impl Fn(ScanProgress) + Send + Sync + 'static) -> Self {
        self.progress = Some(ProgressFn(Arc::new(report)));
        self
    }

    /// Opens the registry, scanning first unless told not to.
    ///
    /// # Errors
    ///
    /// [`Error::CacheDirMissing`] when the cache directory does not exist
    /// (it is never created); [`Error::CacheDirNotWritable`] when it cannot
    /// hold the cache and the environment names no other place; [`Error::Busy`]
    /// when another process holds the cache longer than the lock timeout;
    /// [`Error::Database`] or [`Error::Io`] when the cache cannot be written;
    /// [`Error::InvalidSetting`] for an [`io_threads`](Self::io_threads) out
    /// of range.
    pub fn open(self) -> Result<Registry> {
        if !(1..=MAX_IO_THREADS).contains(&self.io_threads) {
            return Err(Error::InvalidSetting {
                setting: "io_threads",
                reason: format!(
                    "must be from 1 to {MAX_IO_THREADS} (file-system requests in flight), not {}",
                    self.io_threads
                ),
            });
        }
        if !self.cache_dir.is_dir() {
            return Err(Error::CacheDirMissing {
                path: self.cache_dir,
            });
        }
        let cache_dir = self
            .cache_dir
            .canonicalize()
            .map_err(|e| Error::io(&self.cache_dir, e))?;
        let (db_path, relocated) = match self.db_path {
            Some(path) => (path, false),
            None => cache_location::default_db_path(&cache_dir)?,
        };
        let mut registry = Registry {
            relocated,
            store: Store::new(db_path, self.lock_timeout),
            cache_dir,
            liveness: Liveness::new(self.heartbeat_timeout),
            threads: Threads {
                walk: self.walk_threads.unwrap_or(self.io_threads),
                ..Threads::io(self.io_threads)
            },
            progress: self.progress,
            last_scan: None,
        };
        if self.scan {
            registry.lazy_scan(self.scan_ttl)?;
        }
        Ok(registry)
    }
}

impl Registry {
    /// Opens the registry of `cache_dir` with the default settings,
    /// scanning first.
    pub fn open(cache_dir: impl AsRef<Path>) -> Result<Registry> {
        Registry::builder(cache_dir).open()
    }

    /// Settings for opening the registry of `cache_dir`.
    pub fn builder(cache_dir: impl AsRef<Path>) -> RegistryBuilder {
        RegistryBuilder {
            cache_dir: cache_dir.as_ref().to_path_buf(),
            db_path: None,
            scan: true,
            scan_ttl: Duration::from_secs(2),
            heartbeat_timeout: Liveness::DEFAULT_TIMEOUT,
            lock_timeout: Duration::from_secs(30),
            io_threads: DEFAULT_IO_THREADS,
            walk_threads: None,
            progress: None,
        }
    }

    /// The cache directory (canonical).
    pub fn cache_dir(&self) -> &Path {
        &self.cache_dir
    }

    /// Whether the cache file lives outside the cache directory because that
    /// is not writable (under `$XDG_CACHE_HOME/runreg/`, else
    /// `~/.cache/runreg/`); then [`db_path`](Self::db_path) says where.
    pub fn is_relocated(&self) -> bool {
        self.relocated
    }

    /// The cache file.
    pub fn db_path(&self) -> &Path {
        self.store.path()
    }

    /// The report of the scan this handle ran, if it ran one.
    pub fn last_scan(&self) -> Option<&ScanReport> {
        self.last_scan.as_ref()
    }

    /// Scans the tree into the cache now. A cache that could not be used is
    /// rebuilt with a full scan ([`ScanReport::rebuilt`] says so): moved
    /// aside when damaged or not runreg's, deleted when written by another
    /// format version of runreg.
    pub fn scan(&mut self, mode: ScanMode) -> Result<ScanReport> {
        let report = self.scan_unless(mode, None)?.unwrap_or_default();
        self.remember_scan();
        self.last_scan = Some(report.clone());
        Ok(report)
    }

    fn lazy_scan(&mut self, ttl: Duration) -> Result<()> {
        let recent = LAST_SCANS
            .lock()
            .get(self.store.path())
            .is_some_and(|at| at.elapsed() < ttl);
        if recent {
            return Ok(());
        }
        // Another process may finish a scan while this one waits for the
        // lock: then the tree was just reconciled and this scan is skipped.
        let requested = epoch_now();
        self.last_scan = self.scan_unless(ScanMode::Incremental, Some(requested))?;
        self.remember_scan();
        Ok(())
    }

    fn remember_scan(&self) {
        LAST_SCANS
            .lock()
            .insert(self.store.path().to_path_buf(), Instant::now());
    }

    /// Scans, unless a scan finished after `skip_if_scanned_since`.
    ///
    /// An incremental scan first looks through a read-only open of the
    /// cache: a tree as the cache remembers it is answered there, and the
    /// file is not opened for writing (which alone writes and fsyncs it).
    fn scan_unless(
        &self,
        mode: ScanMode,
        skip_if_scanned_since: Option<f64>,
    ) -> Result<Option<ScanReport>> {
        let settings = ScanSettings {
            mode,
            threads: self.threads,
            progress: self.progress.clone(),
        };
        let scanned_since = |finished: Option<f64>| {
            skip_if_scanned_since.is_some_and(|since| finished.is_some_and(|f| f >= since))
        };
        let peek = |memory: &Memory| {
            if scanned_since(scan::last_scan_finished(memory)?) {
                return Ok(Peek::Done(None));
            }
            Ok(match scan::peek(&self.cache_dir, memory, &settings)? {
                Peek::Done(report) => Peek::Done(Some(report)),
                Peek::Write(prepared) => Peek::Write(prepared),
            })
        };
        let (report, _) = self.store.write_unless(peek, |writer, opening, prepared| {
            let rebuild = opening.fresh;
            if !rebuild && scanned_since(scan::last_scan_finished(writer)?) {
                return Ok(None);
            }
            let settings = ScanSettings {
                mode: if rebuild { ScanMode::Full } else { mode },
                ..settings.clone()
            };
            // What the read-only look found holds for this file only.
            let prepared = prepared.filter(|_| !rebuild);
            let mut report = scan::scan(&self.cache_dir, writer, &settings, prepared)?;
            let path = self.store.path().display();
            report.rebuilt = opening.replaced.as_ref().map(|replaced| {
                let why = &replaced.why;
                match &replaced.moved_to {
                    Some(aside) => {
                        format!("{path} was unusable ({why}); moved to {}", aside.display())
                    }
                    None => format!(
                        "{path} was {why} (deleted: a cache holds nothing its sidecars do not)"
                    ),
                }
            });
            Ok(Some(report))
        })?;
        Ok(report)
    }

    fn context(&self) -> Context {
        Context {
            liveness: self.liveness,
            now: epoch_now(),
        }
    }

    /// Runs `work` on one [`Snapshot`] of the cache, held open for many
    /// lookups; see [`Snapshot`].
    pub fn read<T>(&self, work: impl FnOnce(&Snapshot<'_>) -> Result<T>) -> Result<T> {
        let ctx = self.context();
        self.store.read(|reader| work(&Snapshot::new(reader, ctx)))
    }

    /// The runs matching `query`, sorted and paged.
    pub fn query(&self, query: &Query) -> Result<Vec<RunRecord>> {
        let ctx = self.context();
        self.store.read(|reader| query::run(reader, query, &ctx))
    }

    /// The runs matching `query`, sorted and paged, and how many runs match
    /// it before its offset and limit apply: a page of a long answer and
    /// the answer's length, from one read of the cache.
    ///
    /// ```
    /// # fn main() -> runreg::Result<()> {
    /// # let dir = tempfile::tempdir().unwrap();
    /// # for (id, acc) in [("a", 0.5), ("b", 0.75), ("c", 0.25)] {
    /// #     let run = dir.path().join("runs/20261101/120000").join(id);
    /// #     std::fs::create_dir_all(&run).unwrap();
    /// #     let sidecar = format!(r#"{{"run_id": "{id}", "summary": {{"val_acc": {acc}}}}}"#);
    /// #     std::fs::write(run.join("sidecar.json"), sidecar).unwrap();
    /// # }
    /// use runreg::{Filter, Query, Registry, SortSpec};
    ///
    /// let registry = Registry::open(dir.path())?;
    /// let query = Query::new()
    ///     .filter(Filter::parse("summary.val_acc > 0.3")?)
    ///     .sort(SortSpec::desc("summary.val_acc".parse()?))
    ///     .limit(1);
    /// let (page, total) = registry.query_counted(&query)?;
    /// assert_eq!((page[0].run_id.as_str(), total), ("b", 2));
    /// # Ok(())
    /// # }
    /// ```
    pub fn query_counted(&self, query: &Query) -> Result<(Vec<RunRecord>, usize)> {
        let ctx = self.context();
        self.store
            .read(|reader| query::run_counted(reader, query, &ctx))
    }

    /// Calls `visit` with each run matching `query`, in the query's order,
    /// on one snapshot; returns how many. The records are materialized a
    /// thousand at a time: an export of every run does not hold them all.
    /// Scans by other processes wait until it returns.
    ///
    /// # Examples
    ///
    /// ```
    /// # fn main() -> runreg::Result<()> {
    /// # let dir = tempfile::tempdir().unwrap();
    /// # for (id, acc) in [("a", 0.5), ("b", 0.75), ("c", 0.25)] {
    /// #     let run = dir.path().join("runs/20261101/120000").join(id);
    /// #     std::fs::create_dir_all(&run).unwrap();
    /// #     let sidecar = format!(r#"{{"run_id": "{id}", "summary": {{"val_acc": {acc}}}}}"#);
    /// #     std::fs::write(run.join("sidecar.json"), sidecar).unwrap();
    /// # }
    /// use runreg::{Query, Registry, SortSpec};
    ///
    /// let registry = Registry::open(dir.path())?;
    /// let by_acc = Query::new().sort(SortSpec::desc("summary.val_acc".parse()?));
    /// let mut lines = String::new();
    /// let count = registry.for_each(&by_acc, |run| {
    ///     lines.push_str(&run.run_id);
    ///     lines.push('\n');
    ///     Ok(())
    /// })?;
    /// assert_eq!((count, lines.as_str()), (3, "b\na\nc\n"));
    /// # Ok(())
    /// # }
    /// ```
    pub fn for_each(
        &self,
        query: &Query,
        visit: impl FnMut(RunRecord) -> Result<()>,
    ) -> Result<usize> {
        let ctx = self.context();
        self.store
            .read(|reader| query::for_each(reader, query, &ctx, visit))
    }

    /// Calls `visit` with the runs matching `query`, in the query's order,
    /// `chunk` at a time, **without the cache held** while `visit` runs: a
    /// slow consumer (a pipe, a terminal) never holds up a scan. Returns how
    /// many runs matched.
    ///
    /// Which runs, and in which order, is settled by one read of the cache;
    /// each chunk's records are read when it comes. A scan that ends while
    /// the answer is consumed may show in it: a run whose sidecar changed
    /// comes as the chunk's read finds it, and a run gone from the cache by
    /// then, or whose `created_at` changed (its record moved: the runs
    /// table is kept newest first), is left out. Use [`Registry::for_each`]
    /// for one snapshot throughout, which makes scans wait.
    ///
    /// ```
    /// # fn main() -> runreg::Result<()> {
    /// # let dir = tempfile::tempdir().unwrap();
    /// # for id in ["a", "b", "c"] {
    /// #     let run = dir.path().join("runs/20261101/120000").join(id);
    /// #     std::fs::create_dir_all(&run).unwrap();
    /// #     std::fs::write(run.join("sidecar.json"), format!(r#"{{"run_id": "{id}"}}"#)).unwrap();
    /// # }
    /// use runreg::{Query, Registry, SortSpec};
    ///
    /// let registry = Registry::open(dir.path())?;
    /// let mut chunks = Vec::new();
    /// let by_id = Query::new().sort(SortSpec::asc("run_id".parse()?));
    /// let count = registry.stream(&by_id, 2, |runs| {
    ///     chunks.push(runs.iter().map(|r| r.run_id.clone()).collect::<Vec<_>>());
    ///     Ok(())
    /// })?;
    /// assert_eq!((count, chunks), (3, vec![vec!["a".to_owned(), "b".into()], vec!["c".into()]]));
    /// # Ok(())
    /// # }
    /// ```
    pub fn stream(
        &self,
        query: &Query,
        chunk: usize,
        visit: impl FnMut(Vec<RunRecord>) -> Result<()>,
    ) -> Result<usize> {
        self.stream_rendered(query, chunk, 1, Ok, visit)
    }

    /// [`Registry::stream`], with each chunk turned into a `T` by `render`
    /// on one of `threads` threads (a chunk's text, say) while `visit` takes
    /// the chunks before it, in order. The cache is held only while a chunk
    /// is read, as with `stream`; at most one chunk a thread waits for
    /// `visit` (a thread hands its chunk over before it reads the next), so
    /// a slow consumer holds up no scan and memory stays bounded. The first
    /// error, of `render` or `visit`, ends the stream.
    ///
    /// ```
    /// # fn main() -> runreg::Result<()> {
    /// # let dir = tempfile::tempdir().unwrap();
    /// # for id in ["a", "b", "c", "d", "e"] {
    /// #     let run = dir.path().join("runs/20261101/120000").join(id);
    /// #     std::fs::create_dir_all(&run).unwrap();
    /// #     std::fs::write(run.join("sidecar.json"), format!(r#"{{"run_id": "{id}"}}"#)).unwrap();
    /// # }
    /// use runreg::{Query, Registry, SortSpec};
    ///
    /// let registry = Registry::open(dir.path())?;
    /// let by_id = Query::new().sort(SortSpec::asc("run_id".parse()?));
    /// let mut text = String::new();
    /// let render = |runs: Vec<runreg::RunRecord>| {
    ///     Ok(runs.iter().map(|r| format!("{}\n", r.run_id)).collect::<String>())
    /// };
    /// registry.stream_rendered(&by_id, 2, 2, render, |lines| {
    ///     text.push_str(&lines);
    ///     Ok(())
    /// })?;
    /// assert_eq!(text, "a\nb\nc\nd\ne\n");
    /// # Ok(())
    /// # }
    /// ```
    pub fn stream_rendered<T: Send>(
        &self,
        query: &Query,
        chunk: usize,
        threads: usize,
        render: impl Fn(Vec<RunRecord>) -> Result<T> + Sync,
        visit: impl FnMut(T) -> Result<()>,
    ) -> Result<usize> {
        self.stream_chunks(query, chunk, threads, None, render, visit)
    }

    /// [`Registry::stream_rendered`], with the hparams and summary keys of
    /// the answer (as [`Registry::answer_keys`] gives them) handed to `keys`
    /// before the first chunk is read: the columns of a table or a CSV file.
    /// For a query of [`Detail::Summary`](crate::Detail::Summary) with
    /// neither offset nor limit, one pass over the cache finds the runs and
    /// their keys together.
    ///
    /// ```
    /// # fn main() -> runreg::Result<()> {
    /// # let dir = tempfile::tempdir().unwrap();
    /// # for (id, metric) in [("a", "acc"), ("b", "loss")] {
    /// #     let run = dir.path().join("runs/20261101/120000").join(id);
    /// #     std::fs::create_dir_all(&run).unwrap();
    /// #     std::fs::write(run.join("sidecar.json"), format!(r#"{{"run_id": "{id}", "summary": {{"{metric}": 1.0}}}}"#)).unwrap();
    /// # }
    /// use runreg::{Detail, Query, Registry};
    ///
    /// let registry = Registry::open(dir.path())?;
    /// let mut header = Vec::new();
    /// let mut ids = Vec::new();
    /// registry.stream_rendered_keyed(
    ///     &Query::new().detail(Detail::Summary),
    ///     1,
    ///     2,
    ///     |keys| {
    ///         header.extend(keys.summary.iter().map(|(k, _)| k.clone()));
    ///         Ok(())
    ///     },
    ///     |runs| Ok(runs[0].run_id.clone()),
    ///     |id| {
    ///         ids.push(id);
    ///         Ok(())
    ///     },
    /// )?;
    /// assert_eq!((header, ids.len()), (vec!["acc".to_owned(), "loss".to_owned()], 2));
    /// # Ok(())
    /// # }
    /// ```
    pub fn stream_rendered_keyed<T: Send>(
        &self,
        query: &Query,
        chunk: usize,
        threads: usize,
        keys: impl FnOnce(&AnswerKeys) -> Result<()>,
        render: impl Fn(Vec<RunRecord>) -> Result<T> + Sync,
        visit: impl FnMut(T) -> Result<()>,
    ) -> Result<usize> {
        let mut keys = Some(keys);
        let mut take_keys = |answer_keys: &AnswerKeys| match keys.take() {
            Some(keys) => keys(answer_keys),
            None => Ok(()),
        };
        self.stream_chunks(query, chunk, threads, Some(&mut take_keys), render, visit)
    }

    /// [`Registry::stream_rendered`], the answer's keys to `keys` if given.
    fn stream_chunks<T: Send>(
        &self,
        query: &Query,
        chunk: usize,
        threads: usize,
        keys: Option<KeysHook<'_>>,
        render: impl Fn(Vec<RunRecord>) -> Result<T> + Sync,
        visit: impl FnMut(T) -> Result<()>,
    ) -> Result<usize> {
        let ctx = self.context();
        let page = match keys {
            None => self.store.read(|reader| query::page(reader, query, &ctx))?,
            Some(keys) => {
                let (page, answer_keys) = self
                    .store
                    .read(|reader| query::page_and_keys(reader, query, &ctx, query.detail))?;
                keys(&answer_keys)?;
                page
            }
        };
        let in_one_pass = page.reads_in_one_pass();
        // Each chunk is read under its own lock: every thread waits for
        // `visit` with the cache released.
        let read = |runs: &[RunKey<'_>]| {
            render(
                self.store
                    .read(|reader| query::fetch(reader, runs, &ctx, query.detail, in_one_pass))?,
            )
        };
        query::map_page_in_order(&page, chunk, threads, read, visit)
    }

    /// The runs matching `query`, in order, as borrowed [`RunView`]s: each
    /// chunk of `chunk` runs is read on one of `threads` threads, where
    /// `render` turns each view into the chunk's `T` (started by `start`),
    /// and `visit` takes the chunks in order, as [`Registry::stream_rendered`]
    /// does. A view serializes to what its [`RunRecord`] would, read
    /// straight from the cache's bytes: the way to write an answer out
    /// (JSON, say) without building the records. The cache is held while a
    /// chunk is read and rendered, not while `visit` runs. Returns how many
    /// runs matched.
    ///
    /// ```
    /// # fn main() -> runreg::Result<()> {
    /// # let dir = tempfile::tempdir().unwrap();
    /// # for id in ["a", "b", "c"] {
    /// #     let run = dir.path().join("runs/20261101/120000").join(id);
    /// #     std::fs::create_dir_all(&run).unwrap();
    /// #     std::fs::write(run.join("sidecar.json"), format!(r#"{{"run_id": "{id}", "hparams": {{"lr": 0.1}}}}"#)).unwrap();
    /// # }
    /// use runreg::{Query, Registry, SortSpec};
    ///
    /// let registry = Registry::open(dir.path())?;
    /// let by_id = Query::new().sort(SortSpec::asc("run_id".parse()?));
    /// let mut lines = String::new();
    /// registry.stream_views(&by_id, 2, 2, String::new, |text, run| {
    ///     text.push_str(&serde_json::to_string(run).unwrap());
    ///     text.push('\n');
    ///     Ok(())
    /// }, |text| {
    ///     lines.push_str(&text);
    ///     Ok(())
    /// })?;
    /// let records = registry.query(&by_id)?;
    /// let expected: String = records.iter().map(|r| serde_json::to_string(r).unwrap() + "\n").collect();
    /// assert_eq!(lines, expected);
    /// # Ok(())
    /// # }
    /// ```
    pub fn stream_views<T: Send>(
        &self,
        query: &Query,
        chunk: usize,
        threads: usize,
        start: impl Fn() -> T + Sync,
        render: impl Fn(&mut T, &RunView<'_>) -> Result<()> + Sync,
        visit: impl FnMut(T) -> Result<()>,
    ) -> Result<usize> {
        let ctx = self.context();
        let page = self.store.read(|reader| query::page(reader, query, &ctx))?;
        let in_one_pass = page.reads_in_one_pass();
        let read = |runs: &[RunKey<'_>]| {
            self.store.read(|reader| {
                let detail = query.detail;
                query::render_views(reader, runs, &ctx, detail, in_one_pass, &start, &render)
            })
        };
        query::map_page_in_order(&page, chunk, threads, read, visit)
    }

    /// The hparams and summary keys of the runs matching `query`, each
    /// with the kinds of values found under it, in key order: the columns a
    /// table or a columnar file of the answer needs. Read from the runs'
    /// rows in the hot table (which keep the names of a run's hparams and
    /// the kind of each value), by the query's first pass when the answer
    /// has no offset or limit; no record is read. For a query of
    /// [`Detail::Summary`](crate::Detail::Summary), the summary keys alone
    /// (`hparams` is empty).
    ///
    /// ```
    /// # fn main() -> runreg::Result<()> {
    /// # let dir = tempfile::tempdir().unwrap();
    /// # for (id, lr) in [("a", "0.1"), ("b", "1")] {
    /// #     let run = dir.path().join("runs/20261101/120000").join(id);
    /// #     std::fs::create_dir_all(&run).unwrap();
    /// #     let sidecar = format!(r#"{{"run_id": "{id}", "hparams": {{"lr": {lr}}}, "summary": {{"acc": NaN}}}}"#);
    /// #     std::fs::write(run.join("sidecar.json"), sidecar).unwrap();
    /// # }
    /// use runreg::{Query, Registry, ValueKinds};
    ///
    /// let keys = Registry::open(dir.path())?.answer_keys(&Query::new())?;
    /// assert_eq!(keys.hparams, [("lr".to_owned(), ValueKinds::FLOAT | ValueKinds::INT)]);
    /// assert_eq!(keys.summary, [("acc".to_owned(), ValueKinds::FLOAT)]);
    /// # Ok(())
    /// # }
    /// ```
    pub fn answer_keys(&self, query: &Query) -> Result<AnswerKeys> {
        let ctx = self.context();
        self.store.read(|reader| {
            query::page_and_keys(reader, query, &ctx, query.detail).map(|(_, keys)| keys)
        })
    }

    /// The runs matching `query` as Arrow record batches, in the query's
    /// order, handed to `sink` (its schema first): the columns and types of
    /// [`columnar`](crate::columnar). Returns how many runs. Scans by other
    /// processes wait until it returns. Needs the `arrow` feature.
    ///
    /// ```
    /// # fn main() -> runreg::Result<()> {
    /// # let dir = tempfile::tempdir().unwrap();
    /// # for (id, acc) in [("a", "0.5"), ("b", "NaN")] {
    /// #     let run = dir.path().join("runs/20261101/120000").join(id);
    /// #     std::fs::create_dir_all(&run).unwrap();
    /// #     let sidecar = format!(r#"{{"run_id": "{id}", "summary": {{"val_acc": {acc}}}}}"#);
    /// #     std::fs::write(run.join("sidecar.json"), sidecar).unwrap();
    /// # }
    /// use runreg::columnar::{BatchOptions, Batches};
    /// use runreg::{Query, Registry};
    ///
    /// let mut answer = Batches::default();
    /// let runs = Registry::open(dir.path())?.for_each_batch(
    ///     &Query::new(),
    ///     &BatchOptions::default().metadata("runreg.query", "every run"),
    ///     &mut answer,
    /// )?;
    /// let schema = answer.schema.unwrap();
    /// assert_eq!(runs, 2);
    /// assert_eq!(schema.field(0).name(), "run_id");
    /// assert!(schema.field_with_name("summary.val_acc").is_ok());
    /// assert_eq!(schema.metadata()["runreg.query"], "every run");
    /// # Ok(())
    /// # }
    /// ```
    #[cfg(feature = "arrow")]
    pub fn for_each_batch(
        &self,
        query: &Query,
        options: &crate::columnar::BatchOptions,
        sink: &mut dyn crate::columnar::BatchSink,
    ) -> Result<usize> {
        let ctx = self.context();
        self.store.read(|reader| {
            let (page, layout) = answer_layout(reader, query, options, &ctx)?;
            build_batches(reader, &page, &layout, &ctx, options.rows, false, sink)
        })
    }

    /// The runs matching `query` as Arrow record batches, all in memory:
    /// what [`Registry::for_each_batch`] hands a [`Batches`] sink
    /// (`crate::columnar::Batches`), the same batches, made faster when the
    /// answer is a good part of the cache in another order than the
    /// cache's (sorted by a metric, say). Its records are then read in one
    /// ordered pass over the cache, on every core, and copied (about half
    /// a kilobyte a run, held while the batches are built), where a
    /// streamed answer looks each run up. (An answer newest or oldest first
    /// needs no copy: each batch reads its stretch of the cache in one
    /// pass, streamed or not.) Needs the `arrow` feature.
    ///
    /// ```
    /// # fn main() -> runreg::Result<()> {
    /// # let dir = tempfile::tempdir().unwrap();
    /// # for (id, acc) in [("a", "0.5"), ("b", "NaN")] {
    /// #     let run = dir.path().join("runs/20261101/120000").join(id);
    /// #     std::fs::create_dir_all(&run).unwrap();
    /// #     let sidecar = format!(r#"{{"run_id": "{id}", "summary": {{"val_acc": {acc}}}}}"#);
    /// #     std::fs::write(run.join("sidecar.json"), sidecar).unwrap();
    /// # }
    /// use runreg::columnar::{BatchOptions, Batches};
    /// use runreg::{Query, Registry};
    ///
    /// let registry = Registry::open(dir.path())?;
    /// let options = BatchOptions::default().rows(1);
    /// let answer = registry.batches(&Query::new(), &options)?;
    /// assert_eq!(answer.batches.len(), 2);
    /// let mut streamed = Batches::default();
    /// registry.for_each_batch(&Query::new(), &options, &mut streamed)?;
    /// assert_eq!(answer.batches, streamed.batches);
    /// # Ok(())
    /// # }
    /// ```
    #[cfg(feature = "arrow")]
    pub fn batches(
        &self,
        query: &Query,
        options: &crate::columnar::BatchOptions,
    ) -> Result<crate::columnar::Batches> {
        let ctx = self.context();
        self.store.read(|reader| {
            let (page, layout) = answer_layout(reader, query, options, &ctx)?;
            let mut answer = crate::columnar::Batches::default();
            build_batches(
                reader,
                &page,
                &layout,
                &ctx,
                options.rows,
                true,
                &mut answer,
            )?;
            Ok(answer)
        })
    }

    /// The run `run_id`, or `None`.
    pub fn get(&self, run_id: &str) -> Result<Option<RunRecord>> {
        let ctx = self.context();
        self.store.read(|reader| query::get(reader, run_id, &ctx))
    }

    /// The rows of run `run_id`'s `metrics.csv`, as a stream (see
    /// [`MetricsReader`]). The file is the one in the run's directory (where
    /// its sidecar was found); it is never reached through a symbolic link.
    /// The cache is closed before the file is opened.
    ///
    /// # Errors
    ///
    /// [`Error::RunNotFound`] for an unknown id; [`Error::NoMetrics`] when the
    /// run has no `metrics.csv`; [`Error::Io`] when it cannot be opened or
    /// is not a regular file (a symlink, a directory).
    pub fn metrics(&self, run_id: &str) -> Result<MetricsReader> {
        let run = self.get(run_id)?.ok_or_else(|| Error::RunNotFound {
            run_id: run_id.to_owned(),
        })?;
        let run_dir = PathBuf::from(run.run_dir);
        let path = run_dir.join(METRICS_CSV_NAME);
        match open_existing(&path)? {
            Some(file) => MetricsReader::from_file(path, file),
            None => Err(Error::NoMetrics {
                run_id: run.run_id,
                run_dir,
            }),
        }
    }

    /// Up to `max` run ids that start with `prefix`, sorted: to accept a
    /// unique prefix where a run id is expected.
    pub fn run_ids_starting_with(&self, prefix: &str, max: usize) -> Result<Vec<String>> {
        self.store
            .read(|reader| reader.run_ids_with_prefix(prefix, max))
    }

    /// A stamp that changes with every write to the cache (a scan that
    /// that wrote something, a `gc`), by any process: a viewer polls it to
    /// redraw only when the cache changed. `None` for a cache written before
    /// stamps.
    ///
    /// ```
    /// # fn main() -> runreg::Result<()> {
    /// # let dir = tempfile::tempdir().unwrap();
    /// # let write = |id: &str| {
    /// #     let run = dir.path().join("runs/20261101/120000").join(id);
    /// #     std::fs::create_dir_all(&run).unwrap();
    /// #     std::fs::write(run.join("sidecar.json"), format!(r#"{{"run_id": "{id}"}}"#)).unwrap();
    /// # };
    /// # write("a");
    /// use runreg::{Registry, ScanMode};
    ///
    /// let mut registry = Registry::open(dir.path())?;
    /// let before = registry.generation()?;
    /// assert_eq!(registry.generation()?, before); // reads change nothing
    /// write("b");
    /// registry.scan(ScanMode::Incremental)?;
    /// assert_ne!(registry.generation()?, before);
    /// # Ok(())
    /// # }
    /// ```
    pub fn generation(&self) -> Result<Option<u64>> {
        self.store.read(|reader| reader.generation())
    }

    /// Number of runs in the cache (orphaned ones included).
    pub fn len(&self) -> Result<usize> {
        self.store.read(|reader| Ok(reader.len()? as usize))
    }

    /// Whether the cache holds no run.
    pub fn is_empty(&self) -> Result<bool> {
        Ok(self.len()? == 0)
    }

    /// Every tag with the number of runs carrying it, in tag order (read
    /// from the tag index, no record decoded).
    pub fn tags(&self) -> Result<Vec<(String, u64)>> {
        self.store.read(|reader| reader.tag_counts())
    }

    /// How many runs are in each known status (in [`Status::KNOWN`] order),
    /// and how many runs there are in all, read from the indexes without
    /// decoding a record; with `tag`, only the runs carrying it. Runs in a
    /// status outside the known five count in the total only.
    ///
    /// # Examples
    ///
    /// ```
    /// # fn main() -> runreg::Result<()> {
    /// # let dir = tempfile::tempdir().unwrap();
    /// # for (id, status, tag) in [("a", "completed", "x"), ("b", "failed", "x"), ("c", "paused", "y")] {
    /// #     let run = dir.path().join("runs").join(id);
    /// #     std::fs::create_dir_all(&run).unwrap();
    /// #     std::fs::write(run.join("sidecar.json"), format!(
    /// #         r#"{{"run_id": "{id}", "status": "{status}", "tags": ["{tag}"]}}"#)).unwrap();
    /// # }
    /// use runreg::{Registry, Status};
    ///
    /// let registry = Registry::open(dir.path())?;
    /// let (counts, total) = registry.status_counts(None)?;
    /// assert_eq!(total, 3); // "paused" is in the total only
    /// assert_eq!(counts[1], (Status::Completed, 1));
    /// let (counts, total) = registry.status_counts(Some("x"))?;
    /// assert_eq!((counts[2].clone(), total), ((Status::Failed, 1), 2));
    /// # Ok(())
    /// # }
    /// ```
    pub fn status_counts(&self, tag: Option<&str>) -> Result<(Vec<(Status, usize)>, usize)> {
        self.store.read(|reader| {
            let tagged = tag.map(|t| reader.run_ids_with_tag(t)).transpose()?;
            let mut counts = Vec::with_capacity(Status::KNOWN.len());
            for status in Status::KNOWN {
                let ids = reader.run_ids_with_status(status.as_str())?;
                let n = match &tagged {
                    // Both id lists are sorted.
                    Some(tagged) => ids
                        .iter()
                        .filter(|id| tagged.binary_search(id).is_ok())
                        .count(),
                    None => ids.len(),
                };
                counts.push((status, n));
            }
            let total = match &tagged {
                Some(tagged) => tagged.len(),
                None => reader.len()? as usize,
            };
            Ok((counts, total))
        })
    }

    /// Removes orphaned runs (whose sidecar is gone) from the cache and
    /// returns their ids; with `dry_run`, only lists them. Run directories
    /// are never touched: only the cache changes.
    pub fn remove_orphans(&self, dry_run: bool) -> Result<Vec<String>> {
        let status = Status::Orphaned;
        if dry_run {
            return self
                .store
                .read(|reader| reader.run_ids_with_status(status.as_str()));
        }
        let (removed, _) = self.store.write(|writer, _| {
            let ids = writer.run_ids_with_status(status.as_str())?;
            for id in &ids {
                writer.remove(id)?;
            }
            Ok(ids)
        })?;
        Ok(removed)
    }

    /// Checks the cache's indexes against its records; returns every
    /// disagreement found (none in a sound cache).
    pub fn check(&self) -> Result<Vec<String>> {
        self.store.read(|reader| reader.verify_indexes())
    }
}

/// The batches of `page`, `rows` runs each, built on every core and handed
/// to `sink` in order, its schema first. Each batch copies its records:
/// read in one pass over its range of the runs table when the page is a
/// large answer in the table's order or its reverse (`Page::reads_in_one_pass`),
/// else looked up in the table's order (runs sharing a leaf page read it
/// once). But when the caller keeps every batch anyway (`whole`) and the
/// page is a good part of the cache in another order, its records are
/// first copied in one ordered pass over the cache. Returns how many runs.
#[cfg(feature = "arrow")]
fn build_batches(
    reader: &crate::store::Reader<'_>,
    page: &query::Page,
    layout: &crate::columnar::Layout,
    ctx: &query::Context,
    rows: usize,
    whole: bool,
    sink: &mut dyn crate::columnar::BatchSink,
) -> Result<usize> {
    use query::{CopiedRecords, Detail};
    sink.schema(layout.schema())?;
    let threads = query::cores();
    // An answer in the table's order reads each batch's records in one
    // pass over its range anyway: nothing to gain from copying them all.
    let in_one_pass = page.reads_in_one_pass();
    let copy_all = whole && !in_one_pass && query::is_dense(page.len() as u64, reader.len()?);
    let all: Vec<RunKey<'_>> = match copy_all {
        true => page.keys(0..page.len()),
        false => Vec::new(),
    };
    let copied_all = match copy_all {
        true => Some(CopiedRecords::copy(
            reader,
            &all,
            Detail::Full,
            threads,
            false,
        )?),
        false => None,
    };
    let build = |places: &std::ops::Range<usize>| {
        let mut batch = layout.builder(places.len())?;
        let mut add = |run: &RunView<'_>| batch.add(run);
        match &copied_all {
            Some(copied) => copied.for_each_view(reader, &all, places.clone(), ctx, &mut add)?,
            None => {
                let keys = page.keys(places.clone());
                let copied = CopiedRecords::copy(reader, &keys, Detail::Full, 1, in_one_pass)?;
                copied.for_each_view(reader, &keys, 0..keys.len(), ctx, &mut add)?;
            }
        }
        batch.finish()
    };
    query::map_in_order(&page.ranges(rows), threads, build, |batch| {
        sink.batch(batch)
    })?;
    Ok(page.len())
}

/// The run ids of the answer to `query` and the columns of its batches
/// (found by the same first pass).
#[cfg(feature = "arrow")]
fn answer_layout(
    reader: &crate::store::Reader<'_>,
    query: &Query,
    options: &crate::columnar::BatchOptions,
    ctx: &query::Context,
) -> Result<(query::Page, crate::columnar::Layout)> {
    let (page, keys) = query::page_and_keys(reader, query, ctx, query::Detail::Full)?;
    let layout = crate::columnar::Layout::new(&keys, &options.metadata);
    Ok((page, layout))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A scan that ends while a stream is consumed shows in its later
    /// chunks: a changed run as it is now, a run gone or moved (its
    /// `created_at` changed) left out.
    #[test]
    fn a_stream_shows_a_scan_that_ends_while_it_is_consumed() {
        let dir = tempfile::tempdir().unwrap();
        let write = |id: &str, created: f64, acc: f64| {
            let run = dir.path().join("runs/20261101/120000").join(id);
            std::fs::create_dir_all(&run).unwrap();
            let sidecar = format!(
                r#"{{"run_id": "{id}", "status": "completed", "created_at": {created}, "summary": {{"acc": {acc}}}}}"#
            );
            std::fs::write(run.join("sidecar.json"), sidecar).unwrap();
        };
        for (id, created) in [("a", 4.0), ("b", 3.0), ("c", 2.0), ("d", 1.0)] {
            write(id, created, 0.1);
        }
        let registry = Registry::open(dir.path()).unwrap();
        let mut seen = Vec::new();
        let count = registry
            .stream(&Query::new(), 1, |runs| {
                if seen.is_empty() {
                    write("b", 0.5, 0.1);
                    std::fs::remove_dir_all(dir.path().join("runs/20261101/120000/c")).unwrap();
                    write("d", 1.0, 0.9);
                    // c is orphaned by the scan, then dropped from the cache.
                    let mut other = Registry::open(dir.path())?;
                    other.scan(ScanMode::Full)?;
                    assert_eq!(other.remove_orphans(false)?, ["c"]);
                }
                seen.extend(
                    runs.into_iter()
                        .map(|r| (r.run_id, r.summary.get("acc").cloned())),
                );
                Ok(())
            })
            .unwrap();
        assert_eq!(count, 4, "the answer was settled before the scan");
        assert_eq!(
            seen,
            [
                ("a".to_owned(), Some(crate::Value::Float(0.1))),
                ("d".to_owned(), Some(crate::Value::Float(0.9))),
            ]
        );
        // Asked again: b in its new place.
        let ids: Vec<String> = registry
            .query(&Query::new())
            .unwrap()
            .into_iter()
            .map(|r| r.run_id)
            .collect();
        assert_eq!(ids, ["a", "d", "b"]);
    }

    /// `batches` (a dense answer copied in one pass) and `for_each_batch`
    /// (each batch looked up) give the same batches, for answers that are
    /// most of a large cache and for ones that are a small part of it.
    #[cfg(feature = "arrow")]
    #[test]
    fn whole_and_streamed_batches_are_the_same() {
        use crate::SortSpec;
        use crate::columnar::{BatchOptions, Batches};
        let dir = tempfile::tempdir().unwrap();
        for i in 0..4200 {
            let run = dir.path().join(format!("runs/20261101/{:06}/r{i}", i % 97));
            std::fs::create_dir_all(&run).unwrap();
            let sidecar = format!(
                r#"{{"run_id": "r{i}", "status": "{}", "created_at": {}, "tags": ["t{}"], "hparams": {{"lr": {}}}, "summary": {{"acc": {}}}}}"#,
                ["completed", "failed"][i % 2],
                i * 7919 % 4200,
                i % 10,
                i % 13,
                f64::from(i as u32) / 7.0,
            );
            std::fs::write(run.join("sidecar.json"), sidecar).unwrap();
        }
        let registry = Registry::open(dir.path()).unwrap();
        let options = BatchOptions::default().rows(1000);
        let by_acc = Query::new().sort(SortSpec::desc("summary.acc".parse().unwrap()));
        for query in [
            Query::new(),
            by_acc.clone(),
            by_acc.tag("t3"),
            Query::new().limit(5),
        ] {
            let whole = registry.batches(&query, &options).unwrap();
            let mut streamed = Batches::default();
            let runs = registry
                .for_each_batch(&query, &options, &mut streamed)
                .unwrap();
            assert_eq!(whole.schema, streamed.schema);
            assert_eq!(whole.batches, streamed.batches, "{query:?}");
            let rows: usize = whole.batches.iter().map(|b| b.num_rows()).sum();
            assert_eq!(rows, runs);
        }
    }

    #[test]
    fn a_corrupt_record_names_its_run_and_a_full_scan_rewrites_it() {
        let dir = tempfile::tempdir().unwrap();
        let run = dir.path().join("runs/20261101/120000/a");
        std::fs::create_dir_all(&run).unwrap();
        std::fs::write(
            run.join("sidecar.json"),
            r#"{"run_id": "a", "status": "completed"}"#,
        )
        .unwrap();
        let mut registry = Registry::open(dir.path()).unwrap();
        registry
            .store
            .write(|w, _| w.put_raw_record("a", "t", b"\xff garbage"))
            .unwrap();
        let err = registry.get("a").unwrap_err();
        assert!(
            matches!(&err, Error::CorruptRecord { path, run_id, reason }
                if path == registry.db_path() && run_id == "a" && reason.contains("undecodable")),
            "{err:?}"
        );
        // What is wrong, not which command fixes it: that is the CLI's.
        let message = err.to_string();
        assert!(
            message.starts_with(&format!("cache {}: run a: ", registry.db_path().display())),
            "{message}"
        );
        assert!(
            !message.contains("runreg ") && !message.contains("--"),
            "{message}"
        );
        // An incremental scan sees an unchanged sidecar; a full scan reads
        // it again and replaces the record, as the message says.
        registry.scan(ScanMode::Full).unwrap();
        let record = registry.get("a").unwrap().unwrap();
        assert_eq!(record.status, Status::Completed);
        assert!(registry.check().unwrap().is_empty());
    }

    #[test]
    fn a_damaged_record_in_a_stream_of_views_is_reported_as_damage() {
        use crate::store::{Cold, Hot, StoredRun, encode_record};
        let dir = tempfile::tempdir().unwrap();
        let run = dir.path().join("runs/20261101/120000/a");
        std::fs::create_dir_all(&run).unwrap();
        std::fs::write(run.join("sidecar.json"), r#"{"run_id": "a"}"#).unwrap();
        let registry = Registry::open(dir.path()).unwrap();
        let stored = StoredRun {
            hot: Hot {
                status: Status::Completed,
                created_at: 1.0,
                updated_at: 2.0,
                ended_at: None,
                heartbeat_at: None,
                tags: vec![],
                summary: crate::ValueMap::new(),
            },
            hparams: crate::ValueMap::new(),
            cold: Cold {
                run_dir: "/r".into(),
                checkpoint_path: None,
                notes: "some notes".into(),
                config: crate::ValueMap::new(),
            },
        };
        let whole = encode_record(&stored);
        // Cut inside the cold section: the view is made (its head reads),
        // serializing it fails; and garbage, whose head does not read.
        for damaged in [&whole[..whole.len() - 4], b"\xff garbage".as_slice()] {
            registry
                .store
                .write(|w, _| w.put_raw_record("a", "t", damaged))
                .unwrap();
            let render = |text: &mut Vec<u8>, run: &RunView<'_>| {
                serde_json::to_writer(text, run).map_err(|e| Error::io("-", e.into()))
            };
            let err = registry
                .stream_views(&Query::new(), 8, 1, Vec::new, render, |_| Ok(()))
                .unwrap_err();
            assert!(
                matches!(&err, Error::CorruptRecord { run_id, .. } if run_id == "a"),
                "{err:?}"
            );
        }
        // Whole, it streams as the record.
        registry
            .store
            .write(|w, _| w.put_raw_record("a", "t", &whole))
            .unwrap();
        let mut text = Vec::new();
        registry
            .stream_views(
                &Query::new(),
                8,
                1,
                Vec::new,
                |t, run| serde_json::to_writer(t, run).map_err(|e| Error::io("-", e.into())),
                |t| {
                    text.extend(t);
                    Ok(())
                },
            )
            .unwrap();
        let record = registry.get("a").unwrap().unwrap();
        assert_eq!(text, serde_json::to_vec(&record).unwrap());
    }
}
