//! `/api/runs` (a page of the runs table) and `/api/keys` (the columns the
//! answer could show).

use std::borrow::Cow;

use runreg::{Field, Registry, Status, Value, ValueKinds};
use serde::Serialize;

use super::{MAX_PAGE, Problem, params};
use crate::reply::Reply;
use crate::target::Target;

/// The columns of a page when none are asked for.
const DEFAULT_COLUMNS: [&str; 3] = ["status", "created_at", "tags"];

#[derive(Serialize)]
struct Page<'a> {
    total: usize,
    offset: usize,
    limit: usize,
    columns: Vec<String>,
    runs: Vec<Row<'a>>,
}

#[derive(Serialize)]
struct Row<'a> {
    run_id: &'a str,
    status: &'a Status,
    alive: bool,
    /// One value per column (`null` where the run has none).
    values: Vec<Option<Cow<'a, Value>>>,
}

/// `GET /api/runs?where=&sort=&offset=&limit=&columns=`.
pub fn runs(registry: &Registry, target: &Target) -> Result<Reply, Problem> {
    let offset = params::count(target, "offset", 0, usize::MAX)?;
    let limit = params::count(target, "limit", 100, MAX_PAGE)?;
    let columns = params::fields(target, "columns", &DEFAULT_COLUMNS, 200)?;
    let query = params::query(target)?.offset(offset).limit(limit);
    let (runs, total) = registry.query_counted(&query)?;
    let rows = runs
        .iter()
        .map(|run| Row {
            run_id: &run.run_id,
            status: &run.status,
            alive: run.alive,
            values: columns.iter().map(|c| c.get(run)).collect(),
        })
        .collect();
    Ok(Reply::json(&Page {
        total,
        offset,
        limit,
        columns: columns.iter().map(ToString::to_string).collect(),
        runs: rows,
    }))
}

#[derive(Serialize)]
struct Key {
    key: String,
    kinds: Vec<&'static str>,
}

#[derive(Serialize)]
struct Keys {
    /// The fields every run has (`status`, `created_at`, ...).
    fields: Vec<&'static str>,
    hparams: Vec<Key>,
    summary: Vec<Key>,
}

/// `GET /api/keys?where=&limit=`: every hparams and summary key of the
/// matching runs (of the first `limit` in the query's order, when given:
/// the newest thousand say which columns to show first at a fraction of the
/// cost), with the kinds of values under it.
pub fn keys(registry: &Registry, target: &Target) -> Result<Reply, Problem> {
    let mut query = params::query(target)?;
    if target.get("limit").is_some() {
        query = query.limit(params::count(target, "limit", usize::MAX, usize::MAX)?);
    }
    let keys = registry.answer_keys(&query)?;
    let list = |keys: Vec<(String, ValueKinds)>| {
        keys.into_iter()
            .map(|(key, kinds)| Key {
                key,
                kinds: kind_names(kinds),
            })
            .collect()
    };
    Ok(Reply::json(&Keys {
        fields: Field::COLUMNS.iter().map(|(name, _)| *name).collect(),
        hparams: list(keys.hparams),
        summary: list(keys.summary),
    }))
}

fn kind_names(kinds: ValueKinds) -> Vec<&'static str> {
    [
        (ValueKinds::NULL, "null"),
        (ValueKinds::BOOL, "bool"),
        (ValueKinds::INT, "int"),
        (ValueKinds::FLOAT, "float"),
        (ValueKinds::STR, "str"),
        (ValueKinds::NESTED, "nested"),
    ]
    .into_iter()
    .filter(|(kind, _)| kinds.contains(*kind))
    .map(|(_, name)| name)
    .collect()
}
