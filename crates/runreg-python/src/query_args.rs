//! A query's keyword arguments (`tag=`, `status=`, `sort_by=`, ...) as a
//! [`runreg::Query`]: the reference's arguments and runreg's own, parsed in
//! this one place for `query`, `to_arrow` and `to_dataframe`.

use pyo3::exceptions::{PyTypeError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::{PyDict, PyString};
use runreg::{Field, Filter, Literal, Query, SortSpec, Status, Value};

use crate::convert::py_to_value;
use crate::errors::IntoPyResult;

/// The keyword arguments a query takes.
pub const QUERY_KEYWORDS: [&str; 9] = [
    "tag",
    "status",
    "alive",
    "hparams",
    "sort_by",
    "descending",
    "limit",
    "offset",
    "where",
];

/// The query `kwargs` ask for. Unknown keywords raise `TypeError`, values
/// of the wrong type `TypeError`, a bad filter or sort field `ValueError`.
pub fn query_from_kwargs(kwargs: Option<&Bound<'_, PyDict>>) -> PyResult<Query> {
    let mut query = Query::new();
    let Some(kwargs) = kwargs else {
        return Ok(query);
    };
    for key in kwargs.keys() {
        let key: String = key.extract()?;
        if !QUERY_KEYWORDS.contains(&key.as_str()) {
            return Err(PyTypeError::new_err(format!(
                "unexpected keyword argument '{key}'; a query takes {}",
                QUERY_KEYWORDS.join(", ")
            )));
        }
    }
    let arg = |name: &str| -> PyResult<Option<Bound<'_, PyAny>>> {
        Ok(kwargs.get_item(name)?.filter(|v| !v.is_none()))
    };

    if let Some(tag) = arg("tag")? {
        query = query.tag(extract_str(&tag, "tag")?);
    }
    if let Some(status) = arg("status")? {
        query = with_statuses(query, &status)?;
    }
    if let Some(alive) = arg("alive")? {
        query = query.alive(alive.extract().map_err(|_| type_error("alive", "a bool"))?);
    }
    if let Some(hparams) = arg("hparams")? {
        let hparams = hparams
            .cast::<PyDict>()
            .map_err(|_| type_error("hparams", "a dict"))?;
        for (key, value) in hparams.iter() {
            query = query.hparam(extract_str(&key, "hparams keys")?, py_to_value(&value)?);
        }
    }
    let descending = match arg("descending")? {
        Some(d) => d
            .extract()
            .map_err(|_| type_error("descending", "a bool"))?,
        None => true,
    };
    if let Some(sort_by) = arg("sort_by")? {
        for spec in str_or_strs(&sort_by, "sort_by")? {
            query = query.sort(sort_spec(&spec, descending)?);
        }
    }
    if let Some(limit) = arg("limit")? {
        query = query.limit(count(&limit, "limit")?);
    }
    if let Some(offset) = arg("offset")? {
        query = query.offset(count(&offset, "offset")?);
    }
    if let Some(expression) = arg("where")? {
        let expression = extract_str(&expression, "where")?;
        let filter = Filter::parse(&expression)
            .map_err(runreg::Error::from)
            .into_py_result()?;
        query = query.filter(filter);
    }
    Ok(query)
}

/// One status, or several (any of them).
fn with_statuses(query: Query, status: &Bound<'_, PyAny>) -> PyResult<Query> {
    let statuses = str_or_strs(status, "status")?;
    Ok(match statuses.as_slice() {
        [one] => query.status(Status::from_sidecar(one)),
        many => query.filter(Filter::In {
            field: Field::Status,
            literals: many
                .iter()
                .map(|s| Literal::Value(Value::Str(s.as_str().into())))
                .collect(),
            negated: false,
        }),
    })
}

/// `FIELD`, `FIELD:desc` or `FIELD:asc`; without a direction, `descending`
/// says which.
fn sort_spec(text: &str, descending: bool) -> PyResult<SortSpec> {
    let text = text.trim();
    let explicit = text.ends_with(":asc") || text.ends_with(":desc");
    let spec = if explicit {
        text.to_owned()
    } else {
        format!("{text}:{}", if descending { "desc" } else { "asc" })
    };
    spec.parse::<SortSpec>().into_py_result()
}

fn str_or_strs(value: &Bound<'_, PyAny>, name: &str) -> PyResult<Vec<String>> {
    if let Ok(s) = value.cast::<PyString>() {
        return Ok(vec![s.to_cow()?.into_owned()]);
    }
    let wrong = || type_error(name, "a str or a list of str");
    let items = value.try_iter().map_err(|_| wrong())?;
    items
        .map(|item| item.and_then(|item| item.extract::<String>().map_err(|_| wrong())))
        .collect()
}

fn extract_str(value: &Bound<'_, PyAny>, name: &str) -> PyResult<String> {
    value.extract().map_err(|_| type_error(name, "a str"))
}

fn count(value: &Bound<'_, PyAny>, name: &str) -> PyResult<usize> {
    let n: i64 = value.extract().map_err(|_| type_error(name, "an int"))?;
    usize::try_from(n).map_err(|_| PyValueError::new_err(format!("{name} must be >= 0, got {n}")))
}

fn type_error(name: &str, want: &str) -> PyErr {
    PyTypeError::new_err(format!("{name} must be {want}"))
}
