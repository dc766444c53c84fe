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
use pyo3::types::{PyByteArray, PyList, PyString, PyTuple};
use runreg::{RunRecord, Value, ValueMap};
use rustc_hash::FxHashMap;

use crate::convert::value_to_py;

/// A column as pandas receives it.
enum Column<'r> {
    /// A numpy dtype (`"f8"`, `"i8"`, `"b1"`) and the values' bytes in
    /// native order.
    Typed(&'static str, Vec<u8>),
    /// Each run's value (`None`: the run lacks the key), as Python objects.
    Objects(Vec<Option<&'r Value>>),
}

/// The columns of `runs`: the reference's fixed columns in its order, then
/// `hparams.<k>` and `summary.<k>` in key order; a list of `(name, kind,
/// data)` where `kind` is a numpy dtype and data a bytearray, or `kind` is
/// `"O"` and data a list. The columns are sorted out with the GIL released;
/// only the Python objects are made with it.
pub fn frame_columns<'r, 'py>(
    py: Python<'py>,
    runs: &'r [RunRecord],
) -> PyResult<Bound<'py, PyList>> {
    let maps = py.detach(|| {
        let mut columns = Vec::new();
        for (section, map_of) in [
            (
                "hparams",
                (|r: &RunRecord| &r.hparams) as fn(&RunRecord) -> &ValueMap,
            ),
            ("summary", |r: &RunRecord| &r.summary),
        ] {
            for (key, values) in key_columns(runs, map_of) {
                columns.push((format!("{section}.{key}"), typed_or_objects(values)));
            }
        }
        columns
    });
    let (alive, created_at, updated_at) = py.detach(|| {
        (
            raw(runs.iter().map(|r| [u8::from(r.alive)])),
            raw(runs.iter().map(|r| r.created_at.to_ne_bytes())),
            raw(runs.iter().map(|r| r.updated_at.to_ne_bytes())),
        )
    });

    let out = PyList::empty(py);
    let push = |name: &str, kind: &str, data: Bound<'py, PyAny>| -> PyResult<()> {
        let (name, kind) = (PyString::new(py, name), PyString::new(py, kind));
        out.append(PyTuple::new(py, [name.into_any(), kind.into_any(), data])?)
    };
    let bytearray = |data: &[u8]| PyByteArray::new(py, data).into_any();
    let mut strings = Strings::default();
    push("run_id", "O", texts(py, runs, |r| &r.run_id, None)?)?;
    push(
        "status",
        "O",
        texts(py, runs, |r| r.status.as_str(), Some(&mut strings))?,
    )?;
    push("alive", "b1", bytearray(&alive))?;
    push("created_at", "f8", bytearray(&created_at))?;
    push("updated_at", "f8", bytearray(&updated_at))?;
    push("run_dir", "O", texts(py, runs, |r| &r.run_dir, None)?)?;
    let checkpoints = runs.iter().map(|r| match &r.checkpoint_path {
        Some(path) => PyString::new(py, path).into_any(),
        None => py.None().into_bound(py),
    });
    push(
        "checkpoint_path",
        "O",
        PyList::new(py, checkpoints)?.into_any(),
    )?;
    let tags = runs
        .iter()
        .map(|run| PyList::new(py, run.tags.iter().map(|t| strings.get(py, t))))
        .collect::<PyResult<Vec<_>>>()?;
    push("tags", "O", PyList::new(py, tags)?.into_any())?;
    push(
        "notes",
        "O",
        texts(py, runs, |r| &r.notes, Some(&mut strings))?,
    )?;

    let nan = f64::NAN.into_pyobject(py)?.into_any();
    for (name, column) in maps {
        match column {
            Column::Typed(kind, data) => push(&name, kind, bytearray(&data))?,
            Column::Objects(values) => {
                // Made first, then handed to a list of the right length.
                let items = values
                    .into_iter()
                    .map(|value| match value {
                        Some(Value::Str(s)) => Ok(strings.get(py, s).into_any()),
                        Some(value) => value_to_py(py, value),
                        None => Ok(nan.clone()),
                    })
                    .collect::<PyResult<Vec<_>>>()?;
                push(&name, "O", PyList::new(py, items)?.into_any())?;
            }
        }
    }
    Ok(out)
}

/// A text field of every run as a list of str; through `shared` for texts
/// that recur (statuses, notes).
fn texts<'r, 'py>(
    py: Python<'py>,
    runs: &'r [RunRecord],
    get: fn(&RunRecord) -> &str,
    mut shared: Option<&mut Strings<'r, 'py>>,
) -> PyResult<Bound<'py, PyAny>> {
    let items = runs.iter().map(|r| match shared.as_mut() {
        Some(strings) => strings.get(py, get(r)),
        None => PyString::new(py, get(r)),
    });
    PyList::new(py, items).map(Bound::into_any)
}

/// Every key of the runs' maps (sorted), with each run's value under it.
///
/// Runs of a sweep share their names: decoded maps with the same names
/// mostly hold the very same strings, so a map's names are matched to
/// columns once per list (found again by the address of its first name,
/// checked name by name by address), not once per run.
fn key_columns(
    runs: &[RunRecord],
    map_of: fn(&RunRecord) -> &ValueMap,
) -> Vec<(&str, Vec<Option<&Value>>)> {
    let mut keys: Vec<&str> = Vec::new();
    let mut column_of: FxHashMap<&str, usize> = FxHashMap::default();
    let mut columns: Vec<Vec<Option<&Value>>> = Vec::new();
    // By (address of the first name, number of names).
    let mut lists: FxHashMap<(usize, usize), NameList<'_>> = FxHashMap::default();
    for (row, run) in runs.iter().enumerate() {
        let map = map_of(run);
        let Some(first) = map.keys().next() else {
            continue;
        };
        let id = (first.as_ptr() as usize, map.len());
        let known = lists.get(&id).is_some_and(|list| {
            list.names
                .iter()
                .zip(map.keys())
                .all(|(a, b)| std::ptr::eq(*a, b))
        });
        if !known {
            let names: Vec<&str> = map.keys().collect();
            let columns_of = names
                .iter()
                .map(|name| {
                    *column_of.entry(name).or_insert_with(|| {
                        keys.push(name);
                        columns.push(vec![None; runs.len()]);
                        columns.len() - 1
                    })
                })
                .collect();
            lists.insert(
                id,
                NameList {
                    names,
                    columns: columns_of,
                },
            );
        }
        for (&column, value) in lists[&id].columns.iter().zip(map.values()) {
            columns[column][row] = Some(value);
        }
    }
    let mut named: Vec<(&str, Vec<Option<&Value>>)> = keys.into_iter().zip(columns).collect();
    named.sort_unstable_by(|a, b| a.0.cmp(b.0));
    named
}

/// The names of a map met before, and the column of each.
struct NameList<'r> {
    names: Vec<&'r str>,
    columns: Vec<usize>,
}

/// The column pandas would infer from these values (`None`: the run lacks
/// the key, a `NaN` in the reference's row): int64 for integers only,
/// float64 for numbers with or without gaps, bool for booleans only, else
/// objects.
fn typed_or_objects(values: Vec<Option<&Value>>) -> Column<'_> {
    let (mut ints, mut floats, mut bools, mut missing, mut other) = (0, 0, 0, 0, 0);
    for value in &values {
        match value {
            None => missing += 1,
            Some(Value::Int(_)) => ints += 1,
            Some(Value::Float(_)) => floats += 1,
            Some(Value::Bool(_)) => bools += 1,
            Some(_) => other += 1,
        }
    }
    let numbers = ints + floats;
    if other > 0 || (bools > 0 && (numbers > 0 || missing > 0)) || values.is_empty() {
        return Column::Objects(values);
    }
    if bools > 0 {
        return bytes(
            "b1",
            values
                .iter()
                .map(|v| [u8::from(matches!(v, Some(Value::Bool(true))))]),
        );
    }
    if floats == 0 && missing == 0 {
        return bytes(
            "i8",
            values.iter().map(|v| match v {
                Some(Value::Int(i)) => i.to_ne_bytes(),
                _ => unreachable!("only integers here"),
            }),
        );
    }
    if numbers == 0 {
        return Column::Objects(values);
    }
    bytes(
        "f8",
        values.iter().map(|v| {
            let x = match v {
                Some(Value::Int(i)) => *i as f64,
                Some(Value::Float(f)) => *f,
                _ => f64::NAN,
            };
            x.to_ne_bytes()
        }),
    )
}

/// Fixed-width values' bytes, one after the other.
fn raw<const N: usize>(values: impl Iterator<Item = [u8; N]>) -> Vec<u8> {
    values.flatten().collect()
}

fn bytes<'r, const N: usize>(
    kind: &'static str,
    values: impl Iterator<Item = [u8; N]>,
) -> Column<'r> {
    Column::Typed(kind, raw(values))
}

/// One Python string per distinct text: statuses, tags and categorical
/// hparams recur across thousands of runs.
#[derive(Default)]
struct Strings<'r, 'py> {
    /// FxHash: a few million lookups of short texts per frame, where
    /// SipHash's cost showed.
    made: FxHashMap<&'r str, Bound<'py, PyString>>,
}

impl<'r, 'py> Strings<'r, 'py> {
    fn get(&mut self, py: Python<'py>, text: &'r str) -> Bound<'py, PyString> {
        self.made
            .entry(text)
            .or_insert_with(|| PyString::new(py, text))
            .clone()
    }
}
