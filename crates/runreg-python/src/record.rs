//! `runreg.RunRecord`: one run, immutable, with the reference's fields.

use std::sync::Arc;

use pyo3::exceptions::PyTypeError;
use pyo3::prelude::*;
use pyo3::pyclass::CompareOp;
use pyo3::sync::PyOnceLock;
use pyo3::types::{PyDict, PyList, PyString, PyTuple};
use runreg::{Status, ValueMap};

use crate::convert::{map_to_py, py_to_value};

/// Immutable view of a single training run, hydrated from the cache.
///
/// The fields of stable-pretraining's ``RunRecord`` (``run_id``, ``status``,
/// ``created_at``, ``updated_at``, ``alive``, ``run_dir``,
/// ``checkpoint_path``, ``config``, ``hparams``, ``summary``, ``tags``,
/// ``notes``) plus ``ended_at`` (epoch seconds, ``None`` until the run
/// ends). Setting an attribute raises ``AttributeError``.
///
/// ``run_dir`` is the directory where the sidecar was found, not the path
/// the sidecar stores (which goes stale when a tree is moved).
///
/// The dicts are built on first access and then kept, so that a query of
/// many runs costs little until their values are read. Two records are
/// equal when every field is; unlike the reference, a ``NaN`` equals a
/// ``NaN`` at the same place, so a record equals itself read again. As the
/// reference's dataclass, it is built from its fields in that order (then
/// ``ended_at=``), and it pickles (DataLoader workers send records back).
#[pyclass(frozen, module = "runreg", name = "RunRecord")]
pub struct PyRunRecord {
    /// Shared with `get`'s memory of answers (lookups.rs): a run asked for
    /// again is not copied. Its `alive` is that of its read; see `alive`.
    run: Arc<runreg::RunRecord>,
    /// Whether the run was alive at the call that returned this record.
    alive: bool,
    config: PyOnceLock<Py<PyDict>>,
    hparams: PyOnceLock<Py<PyDict>>,
    summary: PyOnceLock<Py<PyDict>>,
    tags: PyOnceLock<Py<PyList>>,
}

impl PyRunRecord {
    /// Wraps a record just read; nothing is converted yet.
    pub fn new(run: runreg::RunRecord) -> PyRunRecord {
        PyRunRecord::shared(run.alive, Arc::new(run))
    }

    /// Wraps a shared record, `alive` as judged at this call.
    pub fn shared(alive: bool, run: Arc<runreg::RunRecord>) -> PyRunRecord {
        PyRunRecord {
            run,
            alive,
            config: PyOnceLock::new(),
            hparams: PyOnceLock::new(),
            summary: PyOnceLock::new(),
            tags: PyOnceLock::new(),
        }
    }

    fn dict<'py>(
        py: Python<'py>,
        cell: &PyOnceLock<Py<PyDict>>,
        map: &ValueMap,
    ) -> PyResult<Bound<'py, PyDict>> {
        cell.get_or_try_init(py, || map_to_py(py, map).map(Bound::unbind))
            .map(|dict| dict.bind(py).clone())
    }
}

#[pymethods]
impl PyRunRecord {
    /// A record from its fields, in the order of the reference's dataclass
    /// (``ended_at`` last, optional). Pickling goes through it too.
    #[new]
    #[pyo3(signature = (run_id, status, created_at, updated_at, alive, run_dir, checkpoint_path, config, hparams, summary, tags, notes, ended_at=None))]
    #[allow(clippy::too_many_arguments)]
    fn py_new(
        run_id: String,
        status: &str,
        created_at: f64,
        updated_at: f64,
        alive: bool,
        run_dir: Option<String>,
        checkpoint_path: Option<String>,
        config: &Bound<'_, PyDict>,
        hparams: &Bound<'_, PyDict>,
        summary: &Bound<'_, PyDict>,
        tags: Vec<String>,
        notes: String,
        ended_at: Option<f64>,
    ) -> PyResult<Self> {
        Ok(PyRunRecord::new(runreg::RunRecord {
            run_id,
            status: Status::from_sidecar(status),
            created_at,
            updated_at,
            ended_at,
            alive,
            run_dir: run_dir.unwrap_or_default(),
            checkpoint_path,
            config: dict_to_map(config)?,
            hparams: dict_to_map(hparams)?,
            summary: dict_to_map(summary)?,
            tags,
            notes,
            heartbeat_at: None,
        }))
    }

    /// Pickles as the constructor's arguments.
    fn __reduce__<'py>(
        slf: &Bound<'py, Self>,
    ) -> PyResult<(Bound<'py, PyAny>, Bound<'py, PyTuple>)> {
        let py = slf.py();
        let this = slf.get();
        let run = &this.run;
        let args = PyTuple::new(
            py,
            [
                run.run_id.as_str().into_pyobject(py)?.into_any(),
                this.status().into_pyobject(py)?.into_any(),
                run.created_at.into_pyobject(py)?.into_any(),
                run.updated_at.into_pyobject(py)?.into_any(),
                this.alive.into_pyobject(py)?.to_owned().into_any(),
                run.run_dir.as_str().into_pyobject(py)?.into_any(),
                run.checkpoint_path.as_deref().into_pyobject(py)?.into_any(),
                this.config(py)?.into_any(),
                this.hparams(py)?.into_any(),
                this.summary(py)?.into_any(),
                this.tags(py)?.into_any(),
                run.notes.as_str().into_pyobject(py)?.into_any(),
                run.ended_at.into_pyobject(py)?.into_any(),
            ],
        )?;
        Ok((py.get_type::<PyRunRecord>().into_any(), args))
    }

    /// The run's id.
    #[getter]
    fn run_id(&self) -> &str {
        &self.run.run_id
    }

    /// ``running``, ``completed``, ``failed``, ``interrupted``,
    /// ``orphaned`` (sidecar gone), or any other status verbatim.
    #[getter]
    fn status(&self) -> &str {
        self.run.status.as_str()
    }

    /// Epoch seconds the run was created.
    #[getter]
    fn created_at(&self) -> f64 {
        self.run.created_at
    }

    /// Epoch seconds of the sidecar's last write.
    #[getter]
    fn updated_at(&self) -> f64 {
        self.run.updated_at
    }

    /// Epoch seconds the run ended, or ``None`` while it has not.
    #[getter]
    fn ended_at(&self) -> Option<f64> {
        self.run.ended_at
    }

    /// Whether the run is alive: not finished, and its heartbeat fresh.
    #[getter]
    fn alive(&self) -> bool {
        self.alive
    }

    /// The directory where the run's sidecar was found.
    #[getter]
    fn run_dir(&self) -> &str {
        &self.run.run_dir
    }

    /// The best or last checkpoint, or ``None``.
    #[getter]
    fn checkpoint_path(&self) -> Option<&str> {
        self.run.checkpoint_path.as_deref()
    }

    /// The sidecar's ``config``, nested as written.
    #[getter]
    fn config<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        Self::dict(py, &self.config, &self.run.config)
    }

    /// Flattened hyper-parameters (``optim.lr``, ``layers.0``).
    #[getter]
    fn hparams<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        Self::dict(py, &self.hparams, &self.run.hparams)
    }

    /// The last logged value of each metric.
    #[getter]
    fn summary<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        Self::dict(py, &self.summary, &self.run.summary)
    }

    /// The run's tags, in the sidecar's order.
    #[getter]
    fn tags<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyList>> {
        self.tags
            .get_or_try_init(py, || PyList::new(py, &self.run.tags).map(Bound::unbind))
            .map(|list| list.bind(py).clone())
    }

    /// Free text.
    #[getter]
    fn notes(&self) -> &str {
        &self.run.notes
    }

    fn __richcmp__(&self, other: &Bound<'_, PyAny>, op: CompareOp) -> PyResult<Py<PyAny>> {
        let py = other.py();
        let Ok(other) = other.cast::<PyRunRecord>() else {
            return Ok(py.NotImplemented());
        };
        let other = other.get();
        let equal = self.alive == other.alive && same_run(&self.run, &other.run);
        Ok(match op {
            CompareOp::Eq => equal.into_pyobject(py)?.to_owned().into_any().unbind(),
            CompareOp::Ne => (!equal).into_pyobject(py)?.to_owned().into_any().unbind(),
            _ => py.NotImplemented(),
        })
    }

    fn __repr__(slf: &Bound<'_, Self>) -> PyResult<String> {
        let this = slf.get();
        let py = slf.py();
        let repr =
            |object: Bound<'_, PyAny>| -> PyResult<String> { object.repr()?.extract::<String>() };
        Ok(format!(
            "RunRecord(run_id={}, status={}, created_at={}, updated_at={}, alive={}, run_dir={}, \
             checkpoint_path={}, config={}, hparams={}, summary={}, tags={}, notes={}, ended_at={})",
            repr(this.run.run_id.as_str().into_pyobject(py)?.into_any())?,
            repr(this.status().into_pyobject(py)?.into_any())?,
            repr(this.run.created_at.into_pyobject(py)?.into_any())?,
            repr(this.run.updated_at.into_pyobject(py)?.into_any())?,
            if this.alive { "True" } else { "False" },
            repr(this.run.run_dir.as_str().into_pyobject(py)?.into_any())?,
            repr(
                this.run
                    .checkpoint_path
                    .as_deref()
                    .into_pyobject(py)?
                    .into_any()
            )?,
            repr(this.config(py)?.into_any())?,
            repr(this.hparams(py)?.into_any())?,
            repr(this.summary(py)?.into_any())?,
            repr(this.tags(py)?.into_any())?,
            repr(this.run.notes.as_str().into_pyobject(py)?.into_any())?,
            repr(this.run.ended_at.into_pyobject(py)?.into_any())?,
        ))
    }
}

/// A dict of str keys as a [`ValueMap`].
fn dict_to_map(dict: &Bound<'_, PyDict>) -> PyResult<ValueMap> {
    let mut map = ValueMap::with_capacity(dict.len());
    for (key, value) in dict.iter() {
        let key = key
            .cast::<PyString>()
            .map_err(|_| PyTypeError::new_err("RunRecord's dict keys must be str"))?;
        map.insert(key.to_cow()?, py_to_value(&value)?);
    }
    Ok(map)
}

/// Equal in every field a Python user sees but `alive` (which a
/// [`PyRunRecord`] holds apart); `NaN` equals `NaN` (the same run read twice
/// is equal to itself).
fn same_run(a: &runreg::RunRecord, b: &runreg::RunRecord) -> bool {
    a.run_id == b.run_id
        && a.status == b.status
        && same_f64(a.created_at, b.created_at)
        && same_f64(a.updated_at, b.updated_at)
        && match (a.ended_at, b.ended_at) {
            (Some(x), Some(y)) => same_f64(x, y),
            (x, y) => x.is_none() && y.is_none(),
        }
        && a.run_dir == b.run_dir
        && a.checkpoint_path == b.checkpoint_path
        && same_map(&a.config, &b.config)
        && same_map(&a.hparams, &b.hparams)
        && same_map(&a.summary, &b.summary)
        && a.tags == b.tags
        && a.notes == b.notes
}

fn same_f64(a: f64, b: f64) -> bool {
    a == b || (a.is_nan() && b.is_nan())
}

fn same_map(a: &ValueMap, b: &ValueMap) -> bool {
    a.len() == b.len()
        && a.iter()
            .zip(b.iter())
            .all(|((ka, va), (kb, vb))| ka == kb && va.same(vb))
}
