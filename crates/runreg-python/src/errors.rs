//! The library's errors as Python exceptions.
//!
//! A bad argument (a filter that does not parse, an unknown sort field) is
//! a `ValueError`; everything else the library reports (a busy or damaged
//! cache, an unreadable file) is a `runreg.RunregError`, with the library's
//! message, which names the path or run involved.

use pyo3::create_exception;
use pyo3::exceptions::{PyException, PyFileNotFoundError, PyKeyError, PyValueError};
use pyo3::prelude::*;
use runreg::Error;

create_exception!(
    runreg,
    RunregError,
    PyException,
    "Raised for a failure of the registry itself: a cache that is busy, damaged or cannot be written, an unreadable file. The message names the path or run."
);

/// `error` as the Python exception that fits it.
pub fn to_py(error: Error) -> PyErr {
    let message = error.to_string();
    match error {
        Error::InvalidField(_) | Error::InvalidFilter(_) | Error::UnknownStatus(_) => {
            PyValueError::new_err(message)
        }
        Error::CacheDirMissing { .. } | Error::NoMetrics { .. } => {
            PyFileNotFoundError::new_err(message)
        }
        Error::RunNotFound { run_id } => PyKeyError::new_err(run_id),
        _ => RunregError::new_err(message),
    }
}

/// `Result<T, runreg::Error>` to `PyResult<T>`.
pub trait IntoPyResult<T> {
    /// The error, if any, as a Python exception.
    fn into_py_result(self) -> PyResult<T>;
}

impl<T> IntoPyResult<T> for runreg::Result<T> {
    fn into_py_result(self) -> PyResult<T> {
        self.map_err(to_py)
    }
}
