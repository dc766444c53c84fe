//! The columns of `Registry.to_dataframe()`, built so that pandas makes of
//! them exactly the frame the reference makes of its records (same names,
//! values and dtypes), without a Python object per number.
//!
//! The reference builds `pd.DataFrame(rows)` from one dict per run: a key
//! a run lacks is `NaN` there, so pandas infers each column from its values
//! and those `NaN`s. A column whose values are all integers (no run lacking
//! it) is int64; all numbers (or integers with gaps) float64 with `NaN` for
//! the gaps; all booleans bool. Those columns are handed over as raw bytes
//! (numpy reads them without a Python object per value); any other column
//! (strings, `None`, mixed kinds, booleans with gaps) as a list of the
//! Python objects and `NaN`s the reference's rows hold, for pandas to infer
//! the same way it does for the reference.

use pyo3::prelude::*;
use pyo3::types::{PyByteArray, PyList, PyTuple};
use runreg::{RunRecord, Value, ValueMap};

use crate::convert::value_to_py;

/// A column as pandas receives it.
enum Column {
    /// float64, native byte order.
    F8(Vec<f64>),
    /// int64, native byte order.
    I8(Vec<i64>),
    /// bool, one byte each.
    B1(Vec<bool>),
    /// Python objects, built with the GIL held.
    Objects,
}

/// The columns of `runs` in the reference's order for its fixed columns,
/// then `hparams.<k>` and `summary.<k>` in key order: a list of `(name,
/// kind, data)` where `kind` is a numpy dtype (`"f8"`, `"i8"`, `"b1"`, data
/// a bytearray) or `"O"` (data a list).
pub fn frame_columns<'py>(py: Python<'py>, runs: &[RunRecord]) -> PyResult<Bound<'py, PyList>> {
    let columns = PyList::empty(py);
    let push = |name: &str, kind: &str, data: Bound<'py, PyAny>| -> PyResult<()> {
        columns.append(PyTuple::new(
            py,
            [
                name.into_pyobject(py)?.into_any(),
                kind.into_pyobject(py)?.into_any(),
                data,
            ],
        )?)
    };
    let strings = |get: &dyn Fn(&RunRecord) -> &str| -> PyResult<Bound<'py, PyAny>> {
        Ok(PyList::new(py, runs.iter().map(get))?.into_any())
    };
    push("run_id", "O", strings(&|r| &r.run_id)?)?;
    push("status", "O", strings(&|r| r.status.as_str())?)?;
    let (kind, data) = typed(py, Column::B1(runs.iter().map(|r| r.alive).collect()))?;
    push("alive", kind, data)?;
    let (kind, data) = typed(py, Column::F8(runs.iter().map(|r| r.created_at).collect()))?;
    push("created_at", kind, data)?;
    let (kind, data) = typed(py, Column::F8(runs.iter().map(|r| r.updated_at).collect()))?;
    push("updated_at", kind, data)?;
    push("run_dir", "O", strings(&|r| &r.run_dir)?)?;
    push(
        "checkpoint_path",
        "O",
        PyList::new(py, runs.iter().map(|r| r.checkpoint_path.as_deref()))?.into_any(),
    )?;
    let tags = PyList::empty(py);
    for run in runs {
        tags.append(PyList::new(py, &run.tags)?)?;
    }
    push("tags", "O", tags.into_any())?;
    push("notes", "O", strings(&|r| &r.notes)?)?;

    for (section, map_of) in [
        (
            "hparams",
            (|r: &RunRecord| &r.hparams) as fn(&RunRecord) -> &ValueMap,
        ),
        ("summary", |r: &RunRecord| &r.summary),
    ] {
        for key in union_of_keys(runs.iter().map(map_of)) {
            let values = |r: &'_ RunRecord| map_of(r).get(&key).cloned();
            let column = classify(runs.iter().map(|r| map_of(r).get(&key)));
            let name = format!("{section}.{key}");
            let (kind, data) = match column {
                Column::Objects => {
                    let nan = f64::NAN.into_pyobject(py)?.into_any();
                    let list = PyList::empty(py);
                    for run in runs {
                        match values(run) {
                            Some(value) => list.append(value_to_py(py, &value)?)?,
                            None => list.append(&nan)?,
                        }
                    }
                    ("O", list.into_any())
                }
                Column::F8(_) => typed(
                    py,
                    Column::F8(runs.iter().map(|r| as_f64(map_of(r).get(&key))).collect()),
                )?,
                Column::I8(_) => typed(
                    py,
                    Column::I8(
                        runs.iter()
                            .map(|r| match map_of(r).get(&key) {
                                Some(Value::Int(i)) => *i,
                                _ => unreachable!("classified as integers"),
                            })
                            .collect(),
                    ),
                )?,
                Column::B1(_) => typed(
                    py,
                    Column::B1(
                        runs.iter()
                            .map(|r| matches!(map_of(r).get(&key), Some(Value::Bool(true))))
                            .collect(),
                    ),
                )?,
            };
            push(&name, kind, data)?;
        }
    }
    Ok(columns)
}

/// Every key of `maps`, sorted, once.
fn union_of_keys<'a>(maps: impl Iterator<Item = &'a ValueMap>) -> Vec<String> {
    let mut keys: Vec<&str> = Vec::new();
    let mut last_list: Option<Vec<&str>> = None;
    for map in maps {
        // Runs of a sweep share their key list: skip a list seen just before.
        let list: Vec<&str> = map.keys().collect();
        if last_list.as_ref() == Some(&list) {
            continue;
        }
        keys.extend(&list);
        last_list = Some(list);
    }
    keys.sort_unstable();
    keys.dedup();
    keys.into_iter().map(str::to_owned).collect()
}

/// Which kind of column pandas would infer from these values (`None`: the
/// run lacks the key, a `NaN` in the reference's row). The vectors of the
/// result are empty: only the kind is decided here.
fn classify<'a>(values: impl Iterator<Item = Option<&'a Value>>) -> Column {
    let (mut ints, mut floats, mut bools, mut missing, mut other) = (0, 0, 0, 0, 0);
    for value in values {
        match value {
            None => missing += 1,
            Some(Value::Int(_)) => ints += 1,
            Some(Value::Float(_)) => floats += 1,
            Some(Value::Bool(_)) => bools += 1,
            Some(_) => other += 1,
        }
    }
    match (ints, floats, bools, missing, other) {
        (_, _, _, _, 1..) => Column::Objects,
        (1.., 0, 0, 0, 0) => Column::I8(Vec::new()),
        (_, _, 0, _, 0) if ints + floats > 0 => Column::F8(Vec::new()),
        (0, 0, 1.., 0, 0) => Column::B1(Vec::new()),
        _ => Column::Objects,
    }
}

fn as_f64(value: Option<&Value>) -> f64 {
    match value {
        Some(Value::Int(i)) => *i as f64,
        Some(Value::Float(f)) => *f,
        _ => f64::NAN,
    }
}

/// A typed column as its numpy dtype and a bytearray of its values.
fn typed<'py>(py: Python<'py>, column: Column) -> PyResult<(&'static str, Bound<'py, PyAny>)> {
    let (kind, bytes): (&str, Vec<u8>) = match column {
        Column::F8(v) => ("f8", v.iter().flat_map(|x| x.to_ne_bytes()).collect()),
        Column::I8(v) => ("i8", v.iter().flat_map(|x| x.to_ne_bytes()).collect()),
        Column::B1(v) => ("b1", v.iter().map(|&b| u8::from(b)).collect()),
        Column::Objects => unreachable!("object columns are lists"),
    };
    Ok((kind, PyByteArray::new(py, &bytes).into_any()))
}
