//! Running a query against a cache snapshot.
//!
//! Two passes: the first decodes only what the filters and sort keys name
//! (the hot section always, hparams or the cold section only when asked)
//! and keeps `(sort values, run_id)` for the matches; after sorting and
//! paging, the second decodes whole records for the runs returned.

use std::collections::BTreeMap;

use super::Query;
use super::sort::{Column, SortKey, SortSpec, compare};
use crate::error::Result;
use crate::liveness::Liveness;
use crate::record::{RunRecord, lookup_nested};
use crate::store::{Cold, Hot, Reader, RecordBytes};
use crate::value::Value;

/// What liveness is judged against.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Context {
    pub liveness: Liveness,
    /// Epoch seconds.
    pub now: f64,
}

/// A match of the first pass.
struct Row {
    run_id: String,
    keys: Vec<Option<Value>>,
}

/// The runs matching `query`, sorted and paged.
pub(crate) fn run(reader: &Reader<'_>, query: &Query, ctx: &Context) -> Result<Vec<RunRecord>> {
    let default_sort = [SortSpec::desc(SortKey::Column(Column::CreatedAt))];
    let specs: &[SortSpec] = if query.sort.is_empty() {
        &default_sort
    } else {
        &query.sort
    };
    let needs_hparams =
        !query.hparams.is_empty() || specs.iter().any(|s| matches!(s.key, SortKey::Hparam(_)));
    let needs_cold = specs.iter().any(|s| {
        matches!(
            s.key,
            SortKey::Config(_)
                | SortKey::Column(Column::RunDir | Column::CheckpointPath | Column::Notes)
        )
    });

    let mut rows = Vec::new();
    let mut visit = |run_id: &str, bytes: RecordBytes<'_>| -> Result<()> {
        let corrupt = |e| reader.corrupt(run_id, e);
        let hot = bytes.hot().map_err(corrupt)?;
        if !matches_hot(&hot, query, ctx) {
            return Ok(());
        }
        let hparams = if needs_hparams {
            bytes.hparams().map_err(corrupt)?
        } else {
            BTreeMap::new()
        };
        if !query.hparams.iter().all(|(k, v)| hparams.get(k) == Some(v)) {
            return Ok(());
        }
        let cold = if needs_cold {
            Some(bytes.cold().map_err(corrupt)?)
        } else {
            None
        };
        let alive = ctx
            .liveness
            .is_alive(&hot.status, hot.heartbeat_at, ctx.now);
        let keys = specs
            .iter()
            .map(|spec| sort_value(&spec.key, run_id, &hot, alive, &hparams, cold.as_ref()))
            .collect();
        rows.push(Row {
            run_id: run_id.to_owned(),
            keys,
        });
        Ok(())
    };

    match candidates(reader, query)? {
        Some(ids) => {
            for id in &ids {
                reader.with_run(id, |bytes| visit(id, bytes))?;
            }
        }
        None => reader.for_each_run(visit)?,
    }

    rows.sort_by(|a, b| {
        specs
            .iter()
            .zip(a.keys.iter().zip(&b.keys))
            .map(|(spec, (x, y))| compare(x.as_ref(), y.as_ref(), spec.descending))
            .find(|o| o.is_ne())
            .unwrap_or(std::cmp::Ordering::Equal)
            .then_with(|| a.run_id.cmp(&b.run_id))
    });
    let page = rows
        .into_iter()
        .skip(query.offset)
        .take(query.limit.unwrap_or(usize::MAX));
    let mut records = Vec::new();
    for row in page {
        if let Some(record) = get(reader, &row.run_id, ctx)? {
            records.push(record);
        }
    }
    Ok(records)
}

/// One run, whole.
pub(crate) fn get(reader: &Reader<'_>, run_id: &str, ctx: &Context) -> Result<Option<RunRecord>> {
    reader.with_run(run_id, |bytes| {
        let corrupt = |e| reader.corrupt(run_id, e);
        let hot = bytes.hot().map_err(corrupt)?;
        let hparams = bytes.hparams().map_err(corrupt)?;
        let cold = bytes.cold().map_err(corrupt)?;
        Ok(into_record(run_id, hot, hparams, cold, ctx))
    })
}

/// The run ids the indexes allow, sorted; `None` when no indexed filter is
/// given (every run is a candidate).
fn candidates(reader: &Reader<'_>, query: &Query) -> Result<Option<Vec<String>>> {
    let by_tag = query
        .tag
        .as_deref()
        .map(|t| reader.run_ids_with_tag(t))
        .transpose()?;
    let by_status = query
        .status
        .as_ref()
        .map(|s| reader.run_ids_with_status(s.as_str()))
        .transpose()?;
    Ok(match (by_tag, by_status) {
        (Some(mut tagged), Some(in_status)) => {
            tagged.retain(|id| in_status.binary_search(id).is_ok());
            Some(tagged)
        }
        (one, other) => one.or(other),
    })
}

/// The filters the hot section answers (the indexed ones are checked again:
/// the record is the truth).
fn matches_hot(hot: &Hot, query: &Query, ctx: &Context) -> bool {
    if query.status.as_ref().is_some_and(|s| *s != hot.status) {
        return false;
    }
    if query.tag.as_ref().is_some_and(|t| !hot.tags.contains(t)) {
        return false;
    }
    if let Some(alive) = query.alive
        && ctx
            .liveness
            .is_alive(&hot.status, hot.heartbeat_at, ctx.now)
            != alive
    {
        return false;
    }
    true
}

fn sort_value(
    key: &SortKey,
    run_id: &str,
    hot: &Hot,
    alive: bool,
    hparams: &BTreeMap<String, Value>,
    cold: Option<&Cold>,
) -> Option<Value> {
    match key {
        SortKey::Summary(k) => hot.summary.get(k).cloned(),
        SortKey::Hparam(k) => hparams.get(k).cloned(),
        SortKey::Config(k) => cold.and_then(|c| lookup_nested(&c.config, k)).cloned(),
        SortKey::Column(column) => match column {
            Column::RunId => Some(Value::from(run_id)),
            Column::Status => Some(Value::from(hot.status.as_str())),
            Column::CreatedAt => Some(Value::Float(hot.created_at)),
            Column::UpdatedAt => Some(Value::Float(hot.updated_at)),
            Column::EndedAt => hot.ended_at.map(Value::Float),
            Column::Alive => Some(Value::Bool(alive)),
            Column::RunDir => cold.map(|c| Value::from(c.run_dir.as_str())),
            Column::CheckpointPath => {
                cold.and_then(|c| c.checkpoint_path.as_deref().map(Value::from))
            }
            Column::Notes => cold.map(|c| Value::from(c.notes.as_str())),
        },
    }
}

fn into_record(
    run_id: &str,
    hot: Hot,
    hparams: BTreeMap<String, Value>,
    cold: Cold,
    ctx: &Context,
) -> RunRecord {
    RunRecord {
        run_id: run_id.to_owned(),
        alive: ctx
            .liveness
            .is_alive(&hot.status, hot.heartbeat_at, ctx.now),
        status: hot.status,
        created_at: hot.created_at,
        updated_at: hot.updated_at,
        ended_at: hot.ended_at,
        run_dir: cold.run_dir,
        checkpoint_path: cold.checkpoint_path,
        config: cold.config,
        hparams,
        summary: hot.summary,
        tags: hot.tags,
        notes: cold.notes,
        heartbeat_at: hot.heartbeat_at,
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;
    use std::time::Duration;

    use super::*;
    use crate::query::Query;
    use crate::status::Status;
    use crate::store::{Store, StoredRun};

    fn parts(status: Status, tag: &str) -> StoredRun {
        let hot = Hot {
            status,
            created_at: 1.0,
            updated_at: 1.0,
            ended_at: None,
            heartbeat_at: None,
            tags: vec![tag.to_owned()],
            summary: BTreeMap::new(),
        };
        let cold = Cold {
            run_dir: "/r".into(),
            checkpoint_path: None,
            notes: String::new(),
            config: BTreeMap::new(),
        };
        StoredRun {
            hot,
            hparams: BTreeMap::new(),
            cold,
        }
    }

    /// A store where run `bad` has an undecodable record (tag `broken`,
    /// status running) and `good` a sound one (tag `fine`, completed): any
    /// query that decodes `bad` fails, so a query that succeeds never
    /// decoded it.
    fn store_with_a_corrupt_record() -> (tempfile::TempDir, Store) {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::new(dir.path().join("c.redb"), Duration::from_secs(5));
        store
            .write(|w, _| {
                w.upsert("good", &parts(Status::Completed, "fine"))?;
                w.put_raw_record("bad", "broken", b"\xff\xff garbage")
            })
            .unwrap();
        (dir, store)
    }

    fn ctx() -> Context {
        Context {
            liveness: Liveness::default(),
            now: 0.0,
        }
    }

    #[test]
    fn tag_and_status_filters_decode_only_runs_inside_them() {
        let (_dir, store) = store_with_a_corrupt_record();
        let by_tag = store
            .read(|r| run(r, &Query::new().tag("fine"), &ctx()))
            .unwrap();
        assert_eq!(by_tag.len(), 1);
        let by_status = store
            .read(|r| run(r, &Query::new().status(Status::Completed), &ctx()))
            .unwrap();
        assert_eq!(by_status.len(), 1);
        // The same question without the index decodes every record.
        let everything = store.read(|r| run(r, &Query::new().alive(false), &ctx()));
        let err = everything.unwrap_err().to_string();
        assert!(err.contains("run bad"), "{err}");
    }

    #[test]
    fn a_corrupt_record_is_reported_with_its_run_id() {
        let (_dir, store) = store_with_a_corrupt_record();
        let err = store
            .read(|r| get(r, "bad", &ctx()))
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("run bad") && err.contains("undecodable"),
            "{err}"
        );
    }
}
