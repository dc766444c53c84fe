//! Values between runreg and Python: a run's [`Value`]s as the objects
//! `json.loads` gives (the reference's records hold those), and a query's
//! Python arguments as [`Value`]s.

use std::sync::Arc;

use pyo3::exceptions::PyTypeError;
use pyo3::prelude::*;
use pyo3::types::{PyBool, PyDict, PyFloat, PyInt, PyList, PyString};
use runreg::{Value, ValueMap};

/// `value` as the object `json.loads` makes of it: `None`, `bool`, `int`,
/// `float` (`nan` and `inf` included), `str`, `list`, `dict`.
pub fn value_to_py<'py>(py: Python<'py>, value: &Value) -> PyResult<Bound<'py, PyAny>> {
    Ok(match value {
        Value::Null => py.None().into_bound(py),
        Value::Bool(b) => PyBool::new(py, *b).to_owned().into_any(),
        Value::Int(i) => i.into_pyobject(py)?.into_any(),
        Value::Float(f) => PyFloat::new(py, *f).into_any(),
        Value::Str(s) => PyString::new(py, s).into_any(),
        Value::List(items) => {
            let list = PyList::empty(py);
            for item in items {
                list.append(value_to_py(py, item)?)?;
            }
            list.into_any()
        }
        Value::Map(entries) => {
            let dict = PyDict::new(py);
            for (key, item) in entries {
                dict.set_item(key, value_to_py(py, item)?)?;
            }
            dict.into_any()
        }
    })
}

/// `map` as a `dict`, in key order.
pub fn map_to_py<'py>(py: Python<'py>, map: &ValueMap) -> PyResult<Bound<'py, PyDict>> {
    let dict = PyDict::new(py);
    for (key, value) in map {
        dict.set_item(key, value_to_py(py, value)?)?;
    }
    Ok(dict)
}

/// A Python value given in a query (`hparams={"optim.lr": 0.1}`) as a
/// [`Value`]: what `json.dumps` would write of it. Integers beyond 64 bits
/// become floats, as runreg reads them from sidecars.
pub fn py_to_value(object: &Bound<'_, PyAny>) -> PyResult<Value> {
    if object.is_none() {
        return Ok(Value::Null);
    }
    // bool first: Python's bool is an int.
    if let Ok(b) = object.cast::<PyBool>() {
        return Ok(Value::Bool(b.is_true()));
    }
    if object.is_instance_of::<PyInt>() {
        return Ok(match object.extract::<i64>() {
            Ok(i) => Value::Int(i),
            Err(_) => Value::Float(object.extract::<f64>()?),
        });
    }
    if let Ok(f) = object.cast::<PyFloat>() {
        return Ok(Value::Float(f.value()));
    }
    if let Ok(s) = object.cast::<PyString>() {
        return Ok(Value::Str(Arc::from(s.to_cow()?.as_ref())));
    }
    if let Ok(dict) = object.cast::<PyDict>() {
        let mut entries = Vec::with_capacity(dict.len());
        for (key, item) in dict.iter() {
            let key = key.cast::<PyString>().map_err(|_| {
                PyTypeError::new_err(format!("dict keys must be strings, found {key:?}"))
            })?;
            entries.push((key.to_cow()?.into_owned(), py_to_value(&item)?));
        }
        return Ok(Value::Map(entries));
    }
    if let Ok(list) = object.cast::<PyList>() {
        return list
            .iter()
            .map(|item| py_to_value(&item))
            .collect::<PyResult<_>>()
            .map(Value::List);
    }
    Err(PyTypeError::new_err(format!(
        "cannot compare with a value of type {}: use None, bool, int, float, str, list or dict",
        object.get_type().name()?
    )))
}
