//! The native module of the `runreg` Python package (`runreg._runreg`):
//! stable-pretraining's registry API answered by the runreg library. The
//! pure-Python part (`python/runreg/__init__.py`) adds `open_registry`'s
//! path resolution and the pandas and polars conversions.

mod arrow_stream;
mod convert;
mod errors;
mod fork_gate;
mod frame;
mod lookups;
mod query_args;
mod record;
mod registry;

use pyo3::prelude::*;

#[pymodule]
fn _runreg(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<registry::PyRegistry>()?;
    m.add_class::<record::PyRunRecord>()?;
    m.add_class::<arrow_stream::RunTable>()?;
    m.add_function(wrap_pyfunction!(fork_gate::_before_fork, m)?)?;
    m.add_function(wrap_pyfunction!(fork_gate::_after_fork, m)?)?;
    m.add("RunregError", m.py().get_type::<errors::RunregError>())?;
    m.add("QUERY_KEYWORDS", query_args::QUERY_KEYWORDS.to_vec())?;
    m.add("__version__", env!("CARGO_PKG_VERSION"))?;
    Ok(())
}
