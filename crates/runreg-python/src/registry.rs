//! `runreg.Registry`: the reference's query interface over a runreg cache.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use parking_lot::Mutex;
use pyo3::prelude::*;
use pyo3::types::{PyDict, PyList, PyTuple};
use runreg::columnar::BatchOptions;
use runreg::{RunRecord, ScanMode, ScanReport};

use crate::arrow_stream::RunTable;
use crate::errors::{IntoPyResult, RunregError};
use crate::fork_gate;
use crate::frame::frame_columns;
use crate::lookups::Lookups;
use crate::query_args::query_from_kwargs;
use crate::record::PyRunRecord;

/// Read-only query interface over the registry cache.
///
/// Instantiate via :func:`runreg.open_registry`. Every call opens the cache,
/// answers and closes it again, with the GIL released, so a ``Registry`` may
/// be shared by threads, and keeps working in a forked child (a DataLoader
/// worker): no file stays open between calls, and a fork waits for the calls
/// in flight. A ``get`` of a run asked for before, the cache file unchanged
/// since, opens no file: it is answered from memory, GIL held.
#[pyclass(frozen, subclass, module = "runreg._runreg", name = "Registry")]
pub struct PyRegistry {
    /// `None` once closed. The lock is held only to clone the handle, never
    /// during a call: a fork while another thread queries leaves the child
    /// nothing locked, and a scan does not hold up this process's queries
    /// (the cache's own file lock orders them).
    inner: Mutex<Option<Arc<runreg::Registry>>>,
    db_path: PathBuf,
    lookups: Lookups,
}

impl PyRegistry {
    fn handle(&self) -> PyResult<Arc<runreg::Registry>> {
        self.inner.lock().clone().ok_or_else(closed)
    }

    /// Runs `work` on the open registry, without the GIL.
    fn with<T: Send>(
        &self,
        py: Python<'_>,
        work: impl FnOnce(&runreg::Registry) -> runreg::Result<T> + Send,
    ) -> PyResult<T> {
        let registry = self.handle()?;
        py.detach(|| fork_gate::pass(|| work(&registry)).into_py_result())
    }

    fn records<'py>(py: Python<'py>, runs: Vec<RunRecord>) -> PyResult<Bound<'py, PyList>> {
        let list = PyList::empty(py);
        for run in runs {
            list.append(Bound::new(py, PyRunRecord::new(run))?)?;
        }
        Ok(list)
    }
}

fn closed() -> PyErr {
    RunregError::new_err("the registry is closed")
}

#[pymethods]
impl PyRegistry {
    /// Opens the registry of ``cache_dir`` (use :func:`runreg.open_registry`,
    /// which resolves the arguments as the reference does).
    #[new]
    #[pyo3(signature = (cache_dir, db_path=None, scan=true, scan_ttl_s=2.0))]
    fn new(
        py: Python<'_>,
        cache_dir: PathBuf,
        db_path: Option<PathBuf>,
        scan: bool,
        scan_ttl_s: f64,
    ) -> PyResult<Self> {
        let ttl = Duration::try_from_secs_f64(scan_ttl_s.max(0.0))
            .map_err(|e| pyo3::exceptions::PyValueError::new_err(format!("scan_ttl_s: {e}")))?;
        let mut builder = runreg::Registry::builder(&cache_dir)
            .scan(scan)
            .scan_ttl(ttl);
        if let Some(db_path) = db_path {
            builder = builder.db_path(db_path);
        }
        let registry = py.detach(|| fork_gate::pass(|| builder.open()).into_py_result())?;
        Ok(PyRegistry {
            db_path: registry.db_path().to_path_buf(),
            inner: Mutex::new(Some(Arc::new(registry))),
            lookups: Lookups::default(),
        })
    }

    /// Query runs matching filters.
    ///
    /// Args:
    ///     tag: Include runs that carry this tag (exact match; the
    ///         reference's ``LIKE`` also matched ``a_b`` for ``axb``).
    ///     status: A status, or a list of statuses (any of them).
    ///     alive: Filter by heartbeat-based liveness.
    ///     hparams: ``{key: value}`` pairs the flattened hparams must match
    ///         (AND; numbers compare as numbers).
    ///     sort_by: A field (``created_at``, ``summary.val_acc``,
    ///         ``hparams.optim.lr``: everything after the first dot is one
    ///         key), or a list of them, each optionally suffixed ``:asc`` or
    ///         ``:desc``. Runs lacking the key, or holding ``None`` or
    ///         ``NaN`` there, come last in both directions; ties by run_id.
    ///     descending: Sort order of keys given without a suffix.
    ///     limit: Max rows, applied after every filter (the reference
    ///         applied it before the hparams filter).
    ///     offset: Rows to skip after sorting.
    ///     where: A filter expression, e.g.
    ///         ``"summary.val_acc > 0.9 and tags has 'dino'"``; a bad one
    ///         raises ``ValueError`` pointing at the error.
    ///
    /// Without ``sort_by``, runs come newest first.
    #[pyo3(signature = (**query))]
    fn query<'py>(
        &self,
        py: Python<'py>,
        query: Option<&Bound<'py, PyDict>>,
    ) -> PyResult<Bound<'py, PyList>> {
        let query = query_from_kwargs(query)?;
        let runs = self.with(py, |r| r.query(&query))?;
        Self::records(py, runs)
    }

    /// The run ``run_id``, or ``None``.
    fn get<'py>(&self, py: Python<'py>, run_id: &str) -> PyResult<Option<Bound<'py, PyRunRecord>>> {
        if self.inner.lock().is_none() {
            return Err(closed());
        }
        // A run asked for before is answered with the GIL held (lookups.rs):
        // only a miss releases it, to read the cache.
        let found = self
            .lookups
            .get(&self.db_path, run_id, || self.with(py, |r| r.get(run_id)))?;
        found
            .map(|found| Bound::new(py, PyRunRecord::shared(found.alive, found.run)))
            .transpose()
    }

    /// The run ``run_id``; ``KeyError`` when there is none.
    fn __getitem__<'py>(&self, py: Python<'py>, run_id: &str) -> PyResult<Bound<'py, PyRunRecord>> {
        self.get(py, run_id)?
            .ok_or_else(|| pyo3::exceptions::PyKeyError::new_err(run_id.to_owned()))
    }

    /// The number of runs in the cache (orphaned ones included).
    fn __len__(&self, py: Python<'_>) -> PyResult<usize> {
        self.with(py, |r| r.len())
    }

    fn __repr__(&self, py: Python<'_>) -> String {
        let path = self.db_path.display().to_string();
        let path = path.replace('\\', "\\\\").replace('\'', "\\'");
        match self.__len__(py) {
            Ok(runs) => format!("Registry(db_path='{path}', runs={runs})"),
            Err(_) => format!("Registry(db_path='{path}', closed)"),
        }
    }

    /// Lookups by id answered from memory, the cache file unchanged (for
    /// the tests).
    #[getter]
    fn _lookups_from_memory(&self) -> u64 {
        self.lookups.hits()
    }

    /// runreg's cache file (``registry.redb``).
    #[getter]
    fn db_path(&self) -> PathBuf {
        self.db_path.clone()
    }

    /// The cache directory, holding ``runs/``.
    #[getter]
    fn cache_dir(&self, py: Python<'_>) -> PyResult<PathBuf> {
        self.with(py, |r| Ok(r.cache_dir().to_path_buf()))
    }

    /// Closes the registry; later calls raise ``RunregError``. No file is
    /// held between calls, so this only drops the handle.
    fn close(&self, py: Python<'_>) {
        let handle = self.inner.lock().take();
        py.detach(|| drop(handle));
    }

    fn __enter__(slf: Bound<'_, Self>) -> Bound<'_, Self> {
        slf
    }

    #[pyo3(signature = (*_exc))]
    fn __exit__(&self, py: Python<'_>, _exc: &Bound<'_, PyTuple>) -> bool {
        self.close(py);
        false
    }

    /// Scans the tree into the cache now (``full=True`` re-reads every
    /// sidecar) and returns the report as a dict: ``full``,
    /// ``total_sidecars``, ``upserted``, ``skipped_unchanged``,
    /// ``skipped_invalid``, ``dirs_read``, ``orphaned``, ``duplicates``,
    /// ``errors``, ``invalid``, ``rebuilt``, ``cache_written``,
    /// ``elapsed_s``.
    #[pyo3(signature = (full=false))]
    fn scan<'py>(&self, py: Python<'py>, full: bool) -> PyResult<Bound<'py, PyDict>> {
        let mode = if full {
            ScanMode::Full
        } else {
            ScanMode::Incremental
        };
        let registry = self.handle()?;
        // A handle of its own (scanning needs `&mut`), on the same cache
        // file: nothing in this process waits for the scan but its caller.
        let report = py.detach(|| {
            fork_gate::pass(|| {
                runreg::Registry::builder(registry.cache_dir())
                    .db_path(registry.db_path())
                    .scan(false)
                    .open()
                    .and_then(|mut scanner| scanner.scan(mode))
            })
            .into_py_result()
        })?;
        report_to_dict(py, &report)
    }

    /// The runs a query matches (same keywords as :meth:`query`) as Arrow
    /// columns: a :class:`RunTable` with ``__arrow_c_stream__``, for
    /// ``pyarrow.table()``, ``polars.DataFrame()`` or duckdb. Needs no
    /// pyarrow.
    #[pyo3(signature = (**query))]
    fn to_arrow(&self, py: Python<'_>, query: Option<&Bound<'_, PyDict>>) -> PyResult<RunTable> {
        let query = query_from_kwargs(query)?;
        // Batches are built on every core: small enough that each has its
        // share (two batches of 65,536 rows left one core idle).
        let answer = self.with(py, |r| {
            r.batches(&query, &BatchOptions::default().rows(8_192))
        })?;
        let schema = answer
            .schema
            .ok_or_else(|| RunregError::new_err("no schema in the answer"))?;
        Ok(RunTable::new(schema, answer.batches))
    }

    /// The columns ``to_dataframe`` builds its frame from (see
    /// ``runreg/__init__.py``); not a stable API.
    #[pyo3(signature = (**query))]
    fn _frame_columns<'py>(
        &self,
        py: Python<'py>,
        query: Option<&Bound<'py, PyDict>>,
    ) -> PyResult<Bound<'py, PyList>> {
        let query = query_from_kwargs(query)?;
        let runs = self.with(py, |r| r.query(&query))?;
        let columns = frame_columns(py, &runs);
        // Freeing a hundred thousand records takes a tenth of a second: it
        // is done on another thread while pandas builds the frame (here,
        // when no thread can be started: the failed spawn drops them).
        let _ = std::thread::Builder::new()
            .name("runreg-free".into())
            .spawn(move || drop(runs));
        columns
    }

    /// Run ``run_id``'s metric history from its ``metrics.csv``: a dict of
    /// metric name to a list of ``(step, value)`` tuples, in file order.
    /// ``KeyError`` for an unknown run, ``FileNotFoundError`` when it has no
    /// ``metrics.csv``.
    fn metrics<'py>(&self, py: Python<'py>, run_id: &str) -> PyResult<Bound<'py, PyDict>> {
        let history = self.with(py, |r| r.metrics(run_id)?.history(&[], None))?;
        let dict = PyDict::new(py);
        for series in history.series {
            let points: Vec<(u64, f64)> = series.points.iter().map(|p| (p.step, p.value)).collect();
            dict.set_item(series.name, points)?;
        }
        Ok(dict)
    }
}

/// A scan report as a dict; paths as strings.
fn report_to_dict<'py>(py: Python<'py>, report: &ScanReport) -> PyResult<Bound<'py, PyDict>> {
    let issues = |issues: &[runreg::ScanIssue]| -> PyResult<Bound<'py, PyList>> {
        let list = PyList::empty(py);
        for issue in issues {
            let item = PyDict::new(py);
            item.set_item("path", issue.path.to_string_lossy())?;
            item.set_item("reason", &issue.reason)?;
            list.append(item)?;
        }
        Ok(list)
    };
    let duplicates = PyList::empty(py);
    for duplicate in &report.duplicates {
        let item = PyDict::new(py);
        item.set_item("run_id", &duplicate.run_id)?;
        item.set_item("kept", duplicate.kept.to_string_lossy())?;
        let ignored: Vec<_> = duplicate
            .ignored
            .iter()
            .map(|p| p.to_string_lossy())
            .collect();
        item.set_item("ignored", ignored)?;
        duplicates.append(item)?;
    }
    let dict = PyDict::new(py);
    dict.set_item("full", report.full)?;
    dict.set_item("total_sidecars", report.total_sidecars)?;
    dict.set_item("upserted", report.upserted)?;
    dict.set_item("skipped_unchanged", report.skipped_unchanged)?;
    dict.set_item("skipped_invalid", report.skipped_invalid)?;
    dict.set_item("dirs_read", report.dirs_read)?;
    dict.set_item("orphaned", report.orphaned)?;
    dict.set_item("duplicates", duplicates)?;
    dict.set_item("errors", issues(&report.errors)?)?;
    dict.set_item("invalid", issues(&report.invalid)?)?;
    dict.set_item("rebuilt", report.rebuilt.as_deref())?;
    dict.set_item("cache_written", report.cache_written)?;
    dict.set_item("elapsed_s", report.elapsed.as_secs_f64())?;
    Ok(dict)
}
