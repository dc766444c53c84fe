//! `runreg.RunTable`: an answer as Arrow columns, handed to pyarrow,
//! polars or duckdb through the Arrow PyCapsule interface
//! (`__arrow_c_stream__`), without pyarrow on runreg's side.

use arrow_array::ffi_stream::FFI_ArrowArrayStream;
use arrow_array::{RecordBatch, RecordBatchIterator};
use arrow_schema::SchemaRef;
use pyo3::prelude::*;
use pyo3::types::PyCapsule;

/// A query's runs as Arrow record batches (the columns are described in
/// the README's "From Python": ``run_id``, ``status``, ``alive``, the
/// times as UTC timestamps, ..., then ``hparams.*`` and ``summary.*``).
///
/// Pass it to ``pyarrow.table()``, ``polars.DataFrame()`` or duckdb; each
/// of them reads it through ``__arrow_c_stream__``, as often as asked.
#[pyclass(frozen, module = "runreg", name = "RunTable")]
pub struct RunTable {
    schema: SchemaRef,
    batches: Vec<RecordBatch>,
}

impl RunTable {
    /// The answer's schema and batches.
    pub fn new(schema: SchemaRef, batches: Vec<RecordBatch>) -> RunTable {
        RunTable { schema, batches }
    }
}

#[pymethods]
impl RunTable {
    /// The Arrow C stream of the batches, in a PyCapsule named
    /// ``arrow_array_stream``. ``requested_schema`` is accepted and ignored,
    /// as the interface allows: the columns are always the answer's.
    #[pyo3(signature = (requested_schema=None))]
    fn __arrow_c_stream__<'py>(
        &self,
        py: Python<'py>,
        requested_schema: Option<Bound<'py, PyAny>>,
    ) -> PyResult<Bound<'py, PyCapsule>> {
        let _ = requested_schema;
        // Cloning batches clones reference counts, not buffers.
        let batches = self.batches.clone().into_iter().map(Ok);
        let reader = RecordBatchIterator::new(batches, self.schema.clone());
        let stream = FFI_ArrowArrayStream::new(Box::new(reader));
        PyCapsule::new_with_value(py, stream, c"arrow_array_stream")
    }

    /// How many runs.
    #[getter]
    fn num_rows(&self) -> usize {
        self.batches.iter().map(RecordBatch::num_rows).sum()
    }

    /// The column names, in order.
    #[getter]
    fn column_names(&self) -> Vec<String> {
        self.schema
            .fields()
            .iter()
            .map(|f| f.name().clone())
            .collect()
    }

    fn __len__(&self) -> usize {
        self.num_rows()
    }

    fn __repr__(&self) -> String {
        format!(
            "RunTable(rows={}, columns={})",
            self.num_rows(),
            self.schema.fields().len()
        )
    }
}
