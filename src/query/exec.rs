//! Running a query against a cache snapshot.
//!
//! Two passes: the first decodes only what the filters and sort keys name
//! (the hot section always, hparams or the cold section only when asked)
//! and keeps `(sort values, run key)` for the matches (a run's key in the
//! runs table comes from its hot row's `created_at`); after sorting and
//! paging, the second reads whole records by those keys. On a
//! large cache the first pass is cut in ranges of run ids (or slices of the
//! candidates the indexes give), taken by every core, each thread keeping
//! its own best rows, count and keys, merged at the end.

use super::fetch::{fetch, is_dense};
use super::filter::{CmpOp, Filter, Literal, RunView};
use super::in_order::{cores, fold_parts};
use super::keys::{AnswerKeys, KeyUnion};
use super::page::Page;
use super::sort::SortSpec;
use super::top::TopRows;
use super::{Context, Detail, Query};
use crate::error::Result;
use crate::field::{Field, Part};
use crate::record::RunRecord;
use crate::store::{HotRef, Reader, RecordBytes, RunKey, RunShape, ShapeKinds, lookup};
use crate::value::Value;

/// The runs matching `query`, sorted and paged.
pub(crate) fn run(reader: &Reader<'_>, query: &Query, ctx: &Context) -> Result<Vec<RunRecord>> {
    let page = page(reader, query, ctx)?;
    fetch(reader, &page.keys(0..page.len()), ctx, query.detail, false)
}

/// Records materialized at a time by [`for_each`].
const STREAM_CHUNK: usize = 1024;

/// Calls `visit` with each run matching `query`, in the query's order,
/// materializing [`STREAM_CHUNK`] records at a time; returns how many.
pub(crate) fn for_each(
    reader: &Reader<'_>,
    query: &Query,
    ctx: &Context,
    visit: impl FnMut(RunRecord) -> Result<()>,
) -> Result<usize> {
    for_each_in_chunks(reader, query, ctx, STREAM_CHUNK, visit)
}

fn for_each_in_chunks(
    reader: &Reader<'_>,
    query: &Query,
    ctx: &Context,
    chunk: usize,
    mut visit: impl FnMut(RunRecord) -> Result<()>,
) -> Result<usize> {
    let page = page(reader, query, ctx)?;
    let in_one_pass = page.reads_in_one_pass();
    for range in page.ranges(chunk) {
        let records = fetch(reader, &page.keys(range), ctx, query.detail, in_one_pass)?;
        records.into_iter().try_for_each(&mut visit)?;
    }
    Ok(page.len())
}

/// The runs of the answer to `query` (their keys), in its order, and the
/// hparams and summary keys those runs hold ([`AnswerKeys`]: summary keys
/// always, hparams keys for [`Detail::Full`]), read from the runs' hot
/// rows, which keep the shape of their hparams (no record is read or
/// materialized).
pub(crate) fn page_and_keys(
    reader: &Reader<'_>,
    query: &Query,
    ctx: &Context,
    detail: Detail,
) -> Result<(Page, AnswerKeys)> {
    let hparams = detail == Detail::Full;
    if query.offset == 0 && query.limit.is_none() {
        // Every match is in the answer: the first pass, which reads each
        // match's hot row anyway, gathers the keys too.
        let mut union = KeyUnion::default();
        let (page, _) = page_counted(reader, query, ctx, Some((&mut union, hparams)), None)?;
        return Ok((page, union.finish()));
    }
    let page = page(reader, query, ctx)?;
    let add = |union: &mut KeyUnion,
               kinds: &mut ShapeKinds,
               run_id: &str,
               row: RecordBytes<'_>|
     -> Result<()> {
        let shape = RunShape::read(row, hparams, kinds).map_err(|e| reader.corrupt(run_id, e))?;
        union.add(&shape, kinds);
        Ok(())
    };
    let (mut union, mut kinds) = Default::default();
    if is_dense(page.len() as u64, reader.len()?) {
        // One ordered pass over the hot table.
        let mut sorted: Vec<&str> = page.iter().collect();
        sorted.sort_unstable();
        reader.for_each_hot_of(&sorted, |_, run_id, row| {
            add(&mut union, &mut kinds, run_id, row)
        })?;
    } else {
        for run_id in page.iter() {
            reader.with_hot(run_id, |row| add(&mut union, &mut kinds, run_id, row))?;
        }
    }
    Ok((page, union.finish()))
}

/// The runs matching `query`, sorted and paged, and how many runs match
/// before the offset and limit apply.
pub(crate) fn run_counted(
    reader: &Reader<'_>,
    query: &Query,
    ctx: &Context,
) -> Result<(Vec<RunRecord>, usize)> {
    let (page, total) = page_counted(reader, query, ctx, None, None)?;
    Ok((
        fetch(reader, &page.keys(0..page.len()), ctx, query.detail, false)?,
        total,
    ))
}

/// The runs of the page `query` asks for (their keys), in its order: the
/// first pass, which decodes only what the filters and sort keys name.
pub(crate) fn page(reader: &Reader<'_>, query: &Query, ctx: &Context) -> Result<Page> {
    page_counted(reader, query, ctx, None, None).map(|(page, _)| page)
}

/// [`page`], and how many runs matched before the offset and limit. The
/// summary keys and statuses of every match go to `answer_keys`' union
/// when given, their hparams keys too when its flag says so. The pass is
/// cut in `parts` parts (`None`: one, or for [`PARALLEL_PASS_MIN`] runs
/// and more, [`PARTS_PER_CORE`] a core).
fn page_counted(
    reader: &Reader<'_>,
    query: &Query,
    ctx: &Context,
    answer_keys: Option<(&mut KeyUnion, bool)>,
    parts: Option<usize>,
) -> Result<(Page, usize)> {
    let default_sort = [SortSpec::desc(Field::CreatedAt)];
    let specs: &[SortSpec] = if query.sort.is_empty() {
        &default_sort
    } else {
        &query.sort
    };
    let needs = query.filter.as_ref().map(Filter::needs).unwrap_or_default();
    let needs_hparams = needs.hparams
        || !query.hparams.is_empty()
        || specs.iter().any(|s| s.key.part() == Part::Hparams);
    let needs_cold = needs.cold || specs.iter().any(|s| s.key.part() == Part::Cold);
    let needs_hot =
        needs.hot || query.tag.is_some() || specs.iter().any(|s| s.key.part() == Part::Hot);

    // The first pass reads the hot table; the whole record only when the
    // query names hparams or cold fields.
    // `keys` receives the sort values of a match.
    let evaluate = |run_id: &str,
                    hot: &HotRef<'_>,
                    full: Option<RecordBytes<'_>>,
                    keys: &mut Vec<Option<Value>>|
     -> Result<bool> {
        let corrupt = |e| reader.corrupt(run_id, e);
        let hparams = match full {
            Some(full) if needs_hparams => full.hparams_ref().map_err(corrupt)?,
            _ => Vec::new(),
        };
        if !query
            .hparams
            .iter()
            .all(|(k, v)| lookup(&hparams, k).is_some_and(|h| h.equals(v)))
        {
            return Ok(false);
        }
        let cold = match full {
            Some(full) if needs_cold => Some(full.cold().map_err(corrupt)?),
            _ => None,
        };
        let alive = ctx
            .liveness
            .is_alive(&hot.status, hot.heartbeat_at, ctx.now);
        let view = RunView {
            run_id,
            hot,
            alive,
            hparams: &hparams,
            cold: cold.as_ref(),
            now: ctx.now,
        };
        if query.filter.as_ref().is_some_and(|f| !f.matches(&view)) {
            return Ok(false);
        }
        keys.clear();
        keys.extend(specs.iter().map(|spec| view.value(&spec.key)));
        Ok(true)
    };
    let wanted = query.limit.map(|l| l.saturating_add(query.offset));
    let hparams_keys = answer_keys.as_ref().map(|(_, hparams)| *hparams);
    let start = || Pass {
        top: TopRows::new(specs, wanted),
        keys: Vec::new(),
        kinds: ShapeKinds::default(),
        total: 0,
        union: hparams_keys.map(|_| KeyUnion::default()),
    };
    let visit = |pass: &mut Pass<'_>, run_id: &str, hot_bytes: RecordBytes<'_>| -> Result<()> {
        let hot = hot_bytes
            .hot_ref(needs_hot)
            .map_err(|e| reader.corrupt(run_id, e))?;
        if !matches_hot(&hot, query, ctx) {
            return Ok(());
        }
        let at = RunKey::new(hot.created_at, run_id);
        let matched = if needs_hparams || needs_cold {
            reader
                .with_run_at(at, |full| {
                    evaluate(run_id, &hot, Some(full), &mut pass.keys)
                })?
                .unwrap_or(false)
        } else {
            evaluate(run_id, &hot, None, &mut pass.keys)?
        };
        if matched {
            pass.total += 1;
            pass.top.offer(at, &mut pass.keys);
            if let Some(union) = pass.union.as_mut() {
                let hparams = hparams_keys == Some(true);
                let shape = RunShape::read(hot_bytes, hparams, &mut pass.kinds)
                    .map_err(|e| reader.corrupt(run_id, e))?;
                union.add(&shape, &pass.kinds);
            }
        }
        Ok(())
    };

    // The pass is cut in parts, taken by every core: runs by id range, or
    // the candidates the indexes give in slices.
    let candidates = candidates(reader, query, ctx.now)?;
    let count = match &candidates {
        Some(ids) => ids.len(),
        None => reader.len()? as usize,
    };
    let parts = parts.unwrap_or(if count >= PARALLEL_PASS_MIN {
        cores() * PARTS_PER_CORE
    } else {
        1
    });
    let passes = match &candidates {
        Some(ids) => {
            let slices: Vec<&[String]> = ids.chunks(ids.len().div_ceil(parts).max(1)).collect();
            fold_parts(slices.len(), cores(), start, |part, pass| {
                for id in slices[part] {
                    reader.with_hot(id, |bytes| visit(pass, id, bytes))?;
                }
                Ok(())
            })?
        }
        None => {
            let cuts = reader.run_id_cuts(parts)?;
            fold_parts(cuts.len() + 1, cores(), start, |part, pass| {
                let from = part.checked_sub(1).map(|i| cuts[i].as_str());
                let to = cuts.get(part).map(String::as_str);
                reader.for_each_hot_in(from, to, |id, bytes| visit(pass, id, bytes))
            })?
        }
    };

    let mut passes = passes.into_iter();
    let mut whole = passes.next().unwrap_or_else(start);
    for pass in passes {
        whole.total += pass.total;
        whole.top.merge(pass.top);
        if let (Some(union), Some(theirs)) = (whole.union.as_mut(), pass.union) {
            union.merge(theirs);
        }
    }
    if let (Some((union, _)), Some(gathered)) = (answer_keys, whole.union) {
        union.merge(gathered);
    }
    let page = whole.top.into_page(query.offset, query.limit);
    let page = page.in_cache_of(reader.len()?);
    Ok((page, whole.total))
}

/// Runs from which a first pass is cut in parts for every core.
const PARALLEL_PASS_MIN: usize = 8192;
/// Parts a core: many, so that parts of uneven size even out (the cuts
/// are spread over the range of the ids' bytes, and hex ids use 16 of the
/// 55 values from `0` to `f`: a third of the parts hold them all).
const PARTS_PER_CORE: usize = 32;

/// What one thread of a first pass gathers.
struct Pass<'s> {
    top: TopRows<'s>,
    /// The sort values of the run at hand.
    keys: Vec<Option<Value>>,
    kinds: ShapeKinds,
    /// Matches.
    total: usize,
    union: Option<KeyUnion>,
}

/// The run ids the indexes allow, sorted; `None` when no indexed filter is
/// given (every run is a candidate). Indexed: the tag and status of the
/// query, and the top-level conjuncts of its filter that name a tag
/// (`tags has`), a status (`=` or `in`) or an `updated_at` bound.
///
/// A set holding more than a quarter of a large cache is not read: one pass
/// over the hot table costs less than a lookup per run in it.
fn candidates(reader: &Reader<'_>, query: &Query, now: f64) -> Result<Option<Vec<String>>> {
    let total = reader.len()?;
    let mut sets: Vec<Vec<String>> = Vec::new();
    let with_tag = |tag: &str, sets: &mut Vec<Vec<String>>| -> Result<()> {
        if !is_dense(reader.count_with_tag(tag)?, total) {
            sets.push(reader.run_ids_with_tag(tag)?);
        }
        Ok(())
    };
    let with_statuses = |statuses: &[&str], sets: &mut Vec<Vec<String>>| -> Result<()> {
        let mut count = 0;
        for status in statuses {
            count += reader.count_with_status(status)?;
        }
        if is_dense(count, total) {
            return Ok(());
        }
        let mut ids = Vec::new();
        for status in statuses {
            ids.extend(reader.run_ids_with_status(status)?);
        }
        ids.sort_unstable();
        ids.dedup();
        sets.push(ids);
        Ok(())
    };
    if let Some(tag) = &query.tag {
        with_tag(tag, &mut sets)?;
    }
    if let Some(status) = &query.status {
        with_statuses(&[status.as_str()], &mut sets)?;
    }
    let conjuncts = query
        .filter
        .as_ref()
        .map(Filter::conjuncts)
        .unwrap_or_default();
    let mut updated = (f64::NEG_INFINITY, f64::INFINITY);
    for conjunct in conjuncts {
        match conjunct {
            Filter::HasTag(tag) => with_tag(tag, &mut sets)?,
            Filter::Compare {
                field: Field::Status,
                op: CmpOp::Eq,
                literal: Literal::Value(Value::Str(status)),
            } => with_statuses(&[&**status], &mut sets)?,
            Filter::In {
                field: Field::Status,
                literals,
                negated: false,
            } => {
                let statuses: Option<Vec<&str>> = literals
                    .iter()
                    .map(|l| match l {
                        Literal::Value(Value::Str(s)) => Some(&**s),
                        _ => None,
                    })
                    .collect();
                if let Some(statuses) = statuses {
                    with_statuses(&statuses, &mut sets)?;
                }
            }
            Filter::Compare {
                field: Field::UpdatedAt,
                op,
                literal,
            } => {
                let bound = match literal {
                    Literal::Time(t) => Some(t.resolve(now)),
                    Literal::Value(v) => v.as_f64(),
                };
                match (op, bound) {
                    (CmpOp::Gt | CmpOp::Ge, Some(b)) if !b.is_nan() => updated.0 = updated.0.max(b),
                    (CmpOp::Lt | CmpOp::Le, Some(b)) if !b.is_nan() => updated.1 = updated.1.min(b),
                    _ => {}
                }
            }
            _ => {}
        }
    }
    if updated != (f64::NEG_INFINITY, f64::INFINITY) {
        sets.push(reader.run_ids_updated_between(updated.0, updated.1)?);
    }
    // Intersect, smallest set first.
    sets.sort_by_key(Vec::len);
    let mut sets = sets.into_iter();
    let Some(mut ids) = sets.next() else {
        return Ok(None);
    };
    for other in sets {
        ids.retain(|id| other.binary_search(id).is_ok());
    }
    Ok(Some(ids))
}

/// The filters the hot section answers (the indexed ones are checked again:
/// the record is the truth).
fn matches_hot(hot: &HotRef<'_>, query: &Query, ctx: &Context) -> bool {
    if query.status.as_ref().is_some_and(|s| *s != hot.status) {
        return false;
    }
    if query
        .tag
        .as_ref()
        .is_some_and(|t| !hot.tags.contains(&t.as_str()))
    {
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

#[cfg(test)]
mod tests {

    use std::time::Duration;

    use super::*;
    use crate::query::{Query, get};
    use crate::status::Status;
    use crate::store::{Cold, Hot, Store, StoredRun};
    use crate::value_map::ValueMap;

    fn parts(status: Status, tag: &str) -> StoredRun {
        let hot = Hot {
            status,
            created_at: 1.0,
            updated_at: 1.0,
            ended_at: None,
            heartbeat_at: None,
            tags: vec![tag.to_owned()],
            summary: ValueMap::new(),
        };
        let cold = Cold {
            run_dir: "/r".into(),
            checkpoint_path: None,
            notes: String::new(),
            config: ValueMap::new(),
        };
        StoredRun {
            hot,
            hparams: ValueMap::new(),
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
            liveness: crate::liveness::Liveness::default(),
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
    fn filter_conjuncts_on_tags_and_status_decode_only_runs_inside_them() {
        let (_dir, store) = store_with_a_corrupt_record();
        for text in [
            "tags has 'fine'",
            "status = 'completed'",
            "status in ('completed', 'failed') and not exists summary.x",
        ] {
            let filter = Filter::parse(text).unwrap();
            let found = store.read(|r| run(r, &Query::new().filter(filter), &ctx()));
            assert_eq!(found.unwrap().len(), 1, "{text}");
        }
        // An `or` at the top cannot narrow: every record is decoded.
        let either = Filter::parse("tags has 'fine' or status = 'completed'").unwrap();
        let err = store
            .read(|r| run(r, &Query::new().filter(either), &ctx()))
            .unwrap_err();
        assert!(err.to_string().contains("run bad"), "{err}");
    }

    #[test]
    fn updated_at_bounds_go_through_the_index() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::new(dir.path().join("c.redb"), Duration::from_secs(5));
        store
            .write(|w, _| {
                for (id, t) in [("old", 100.0), ("mid", 200.0), ("new", 300.0)] {
                    let mut run = parts(Status::Completed, "x");
                    run.hot.updated_at = t;
                    w.upsert(id, &run)?;
                }
                w.put_raw_record("bad", "x", b"garbage")
            })
            .unwrap();
        // `bad` has no updated_at index entry, so a bounded query never meets it.
        let q =
            Query::new().filter(Filter::parse("updated_at >= 150 and updated_at <= 300").unwrap());
        let mut ids: Vec<String> = store
            .read(|r| run(r, &q, &ctx()))
            .unwrap()
            .into_iter()
            .map(|r| r.run_id)
            .collect();
        ids.sort();
        assert_eq!(ids, ["mid", "new"]);
        let q = Query::new().filter(Filter::parse("updated_at > 200").unwrap());
        let ids: Vec<String> = store
            .read(|r| run(r, &q, &ctx()))
            .unwrap()
            .into_iter()
            .map(|r| r.run_id)
            .collect();
        assert_eq!(ids, ["new"], "the bound is exact, not the index's rounding");
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

#[cfg(test)]
mod properties {

    use std::time::Duration;

    use proptest::prelude::*;

    use std::collections::{BTreeMap, BTreeSet};

    use super::*;
    use crate::ValueKinds;
    use crate::query::filter::tests::filter;
    use crate::status::Status;
    use crate::store::{Cold, Hot, Store, StoredRun};
    use crate::value_map::ValueMap;

    fn stored(status: u8, tags: &[u8], metric: Option<i8>, updated: u8) -> StoredRun {
        let mut summary = ValueMap::new();
        if let Some(m) = metric {
            summary.insert("acc", Value::Float(f64::from(m) / 10.0));
        }
        StoredRun {
            hot: Hot {
                status: Status::KNOWN[usize::from(status) % 5].clone(),
                created_at: 1.0,
                updated_at: f64::from(updated) * 100.0,
                ended_at: None,
                heartbeat_at: None,
                tags: tags.iter().map(|t| format!("t{t}")).collect(),
                summary,
            },
            hparams: [("lr".to_owned(), Value::Int(i64::from(updated % 3)))].into(),
            cold: Cold {
                run_dir: "/r".into(),
                checkpoint_path: None,
                notes: String::new(),
                config: ValueMap::new(),
            },
        }
    }

    #[test]
    fn for_each_visits_what_a_query_returns_in_its_order_chunk_by_chunk() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::new(dir.path().join("c.redb"), Duration::from_secs(5));
        store
            .write(|w, _| {
                for i in 0..40u8 {
                    let metric = (i % 7 != 3).then_some((i % 13) as i8 - 6);
                    w.upsert(&format!("r{i:02}"), &stored(i % 5, &[i % 3], metric, i % 6))?;
                }
                Ok(())
            })
            .unwrap();
        let ctx = Context {
            liveness: crate::liveness::Liveness::default(),
            now: 0.0,
        };
        let by_acc = Query::new().sort(SortSpec::desc("summary.acc".parse().unwrap()));
        for query in [
            Query::new(),
            by_acc.clone(),
            by_acc.clone().offset(5).limit(17),
            by_acc
                .clone()
                .filter(Filter::parse("tags has 't1' or summary.acc > 0").unwrap()),
            Query::new().limit(0),
        ] {
            let whole = store.read(|r| run(r, &query, &ctx)).unwrap();
            for chunk in [1, 3, 16, 1000] {
                let mut visited = Vec::new();
                let count = store
                    .read(|r| {
                        for_each_in_chunks(r, &query, &ctx, chunk, |record| {
                            visited.push(record);
                            Ok(())
                        })
                    })
                    .unwrap();
                assert_eq!(count, whole.len());
                assert!(visited == whole, "{query:?}, chunks of {chunk}");
            }
        }
        // An error from the visitor stops the pass and is returned.
        let mut seen = 0;
        let err = store
            .read(|r| {
                for_each_in_chunks(r, &Query::new(), &ctx, 3, |_| {
                    seen += 1;
                    if seen == 5 {
                        return Err(crate::Error::io("out", std::io::Error::other("disk full")));
                    }
                    Ok(())
                })
            })
            .unwrap_err();
        assert_eq!(seen, 5);
        assert!(err.to_string().contains("disk full"), "{err}");
    }

    /// Each key of `map` with the kind of its value, added to `keys`.
    fn add_kinds(keys: &mut BTreeMap<String, ValueKinds>, map: &ValueMap) {
        for (name, value) in map.iter() {
            *keys.entry(name.to_owned()).or_default() |= ValueKinds::of(value);
        }
    }

    /// The keys of an answer, read from the hot rows (by the first pass for
    /// a whole answer; for a page, by lookups or by one pass over the hot
    /// table when the page is a good part of it), are those of the records
    /// it returns, hparams for the full detail only.
    #[test]
    fn the_keys_of_an_answer_are_those_of_its_records() {
        let ctx = || Context {
            liveness: crate::liveness::Liveness::default(),
            now: 0.0,
        };
        let dir = tempfile::tempdir().unwrap();
        let store = Store::new(dir.path().join("c.redb"), Duration::from_secs(5));
        // More than `is_dense`'s smallest cache.
        let runs = 5000u32;
        store
            .write(|w, _| {
                for i in 0..runs {
                    let metric = (i % 7 != 3).then_some((i % 13) as i8 - 6);
                    let mut run = stored((i % 5) as u8, &[(i % 3) as u8], metric, (i % 200) as u8);
                    run.hot.created_at = f64::from(i % 977);
                    if i % 1000 == 7 {
                        run.hparams.insert("lr", Value::Float(0.5));
                    }
                    if i % 1200 == 11 {
                        run.hparams.insert("opt", Value::from("sgd"));
                        run.hot.summary.insert("note", Value::Null);
                    }
                    if i == 0 {
                        run.hparams.insert("warmup", Value::Bool(true));
                        run.hot.summary.insert("first", Value::Int(1));
                    }
                    w.upsert(&format!("r{i:04}"), &run)?;
                }
                Ok(())
            })
            .unwrap();
        let sorted = Query::new().sort(SortSpec::desc("summary.acc".parse().unwrap()));
        for query in [
            Query::new(),
            sorted.clone(),
            // Pages: by lookups, and by one pass (more than a quarter).
            sorted.clone().limit(3),
            sorted.clone().offset(2).limit(1),
            Query::new().offset(4990),
            sorted.clone().limit(3000),
            Query::new().offset(1000).limit(2000),
            Query::new().sort(SortSpec::asc(Field::RunId)).limit(2000),
            Query::new().filter(Filter::parse("hparams.opt = 'sgd'").unwrap()),
            Query::new().limit(0),
        ] {
            for detail in [Detail::Full, Detail::Summary] {
                let query = query.clone().detail(detail);
                let (page, keys) = store
                    .read(|r| page_and_keys(r, &query, &ctx(), detail))
                    .unwrap();
                let records = store.read(|r| run(r, &query, &ctx())).unwrap();
                let ids: Vec<&str> = records.iter().map(|r| r.run_id.as_str()).collect();
                assert_eq!(page.iter().collect::<Vec<_>>(), ids, "{query:?}");
                let (mut hparams, mut summary) = (BTreeMap::new(), BTreeMap::new());
                let mut statuses = BTreeSet::new();
                for record in &records {
                    add_kinds(&mut hparams, &record.hparams);
                    add_kinds(&mut summary, &record.summary);
                    statuses.insert(record.status.clone());
                }
                if detail == Detail::Summary {
                    assert!(hparams.is_empty());
                }
                assert_eq!(
                    keys.hparams,
                    hparams.into_iter().collect::<Vec<_>>(),
                    "{query:?}"
                );
                assert_eq!(
                    keys.summary,
                    summary.into_iter().collect::<Vec<_>>(),
                    "{query:?}"
                );
                assert_eq!(keys.statuses, statuses.into_iter().collect::<Vec<_>>());
            }
        }
    }

    /// The first pass decodes a run's tags and summary only for a query
    /// that names them: each such query is checked against what the runs
    /// were written with.
    #[test]
    fn queries_that_name_tags_or_summary_read_them() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::new(dir.path().join("c.redb"), Duration::from_secs(5));
        let metric = |i: u8| (i % 7 != 3).then_some((i % 13) as i8 - 6);
        store
            .write(|w, _| {
                for i in 0..40u8 {
                    w.upsert(
                        &format!("r{i:02}"),
                        &stored(i % 5, &[i % 3], metric(i), i % 6),
                    )?;
                }
                Ok(())
            })
            .unwrap();
        let ctx = Context {
            liveness: crate::liveness::Liveness::default(),
            now: 0.0,
        };
        let answer = |query: Query| -> Vec<u8> {
            store
                .read(|r| run(r, &query, &ctx))
                .unwrap()
                .iter()
                .map(|r| r.run_id[1..].parse().unwrap())
                .collect()
        };
        let all = 0..40u8;
        // Default order: created_at (equal), then run id.
        let expect =
            |keep: &dyn Fn(u8) -> bool| -> Vec<u8> { all.clone().filter(|&i| keep(i)).collect() };
        let by = |text: &str| {
            Query::new()
                .sort(SortSpec::asc(Field::RunId))
                .filter(Filter::parse(text).unwrap())
        };
        assert_eq!(
            answer(by("summary.acc > 0")),
            expect(&|i| metric(i).is_some_and(|m| m > 0))
        );
        assert_eq!(
            answer(by("exists summary.acc")),
            expect(&|i| metric(i).is_some())
        );
        assert_eq!(answer(by("tags has 't2'")), expect(&|i| i % 3 == 2));
        assert_eq!(answer(by("tags ~ 't1*'")), expect(&|i| i % 3 == 1));
        let mut tagged = Query::new().sort(SortSpec::asc(Field::RunId));
        tagged.tag = Some("t1".to_owned());
        assert_eq!(answer(tagged), expect(&|i| i % 3 == 1));
        // Sorted by the metric: largest first, missing last, ties by id.
        let mut by_acc: Vec<u8> = all.clone().collect();
        by_acc.sort_by_key(|&i| (metric(i).map_or(i8::MAX, |m| -m), i));
        let sorted = Query::new().sort(SortSpec::desc("summary.acc".parse().unwrap()));
        assert_eq!(answer(sorted.clone()), by_acc);
        assert_eq!(answer(sorted.limit(5)), by_acc[..5]);
    }

    fn runs() -> impl Strategy<Value = Vec<(u8, Vec<u8>, Option<i8>, u8)>> {
        proptest::collection::vec(
            (
                0u8..5,
                proptest::collection::vec(0u8..3, 0..3),
                proptest::option::of(-10i8..10),
                0u8..6,
            ),
            0..12,
        )
    }

    /// Filters built around what the runs hold, so that index conjuncts
    /// narrow for real.
    fn indexed_filter() -> impl Strategy<Value = Filter> {
        let conjunct = prop_oneof![
            (0u8..3).prop_map(|t| format!("tags has 't{t}'")),
            (0usize..5).prop_map(|s| format!("status = '{}'", Status::KNOWN[s])),
            (0usize..5, 0usize..5).prop_map(|(a, b)| format!(
                "status in ('{}', '{}')",
                Status::KNOWN[a],
                Status::KNOWN[b]
            )),
            (0u8..6).prop_map(|u| format!("updated_at >= {}", u32::from(u) * 100)),
            (0u8..6).prop_map(|u| format!("updated_at < {}", u32::from(u) * 100)),
            (-10i8..10).prop_map(|m| format!("summary.acc > {}", f64::from(m) / 10.0)),
            (0u8..3).prop_map(|l| format!("hparams.lr = {l}")),
            Just("not exists summary.acc".to_owned()),
        ];
        proptest::collection::vec(conjunct, 1..4)
            .prop_map(|parts| Filter::parse(&parts.join(" and ")).unwrap())
    }

    fn ids(store: &Store, query: &Query) -> Vec<String> {
        let ctx = Context {
            liveness: crate::liveness::Liveness::default(),
            now: 0.0,
        };
        let mut ids: Vec<String> = store
            .read(|r| run(r, query, &ctx))
            .unwrap()
            .into_iter()
            .map(|r| r.run_id)
            .collect();
        ids.sort();
        ids
    }

    fn check(runs: &[(u8, Vec<u8>, Option<i8>, u8)], filter: Filter) -> Result<(), TestCaseError> {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::new(dir.path().join("c.redb"), Duration::from_secs(5));
        store
            .write(|w, _| {
                for (i, (status, tags, metric, updated)) in runs.iter().enumerate() {
                    w.upsert(
                        &format!("r{i:02}"),
                        &stored(*status, tags, *metric, *updated),
                    )?;
                }
                Ok(())
            })
            .unwrap();
        let indexed = ids(&store, &Query::new().filter(filter.clone()));
        // `not not f` holds exactly when `f` does, but has no conjunct an
        // index can serve: every record is decoded and evaluated.
        let plain = ids(
            &store,
            &Query::new().filter(Filter::Not(Box::new(Filter::Not(Box::new(filter.clone()))))),
        );
        prop_assert_eq!(indexed, plain);
        // A first pass cut in parts (on every core) finds what one pass
        // finds: the page, the count and the keys.
        let ctx = Context {
            liveness: crate::liveness::Liveness::default(),
            now: 0.0,
        };
        let by_acc = SortSpec::desc("summary.acc".parse().unwrap());
        for query in [
            Query::new().filter(filter.clone()),
            Query::new().filter(filter).sort(by_acc).offset(1).limit(3),
        ] {
            let cut_in = |parts| {
                store
                    .read(|r| {
                        let mut union = KeyUnion::default();
                        let (page, total) =
                            page_counted(r, &query, &ctx, Some((&mut union, true)), Some(parts))?;
                        let ids: Vec<String> = page.iter().map(str::to_owned).collect();
                        Ok((ids, total, union.finish()))
                    })
                    .unwrap()
            };
            let whole = cut_in(1);
            for parts in [2, 3, 7, 64] {
                prop_assert_eq!(&cut_in(parts), &whole, "{} parts", parts);
            }
        }
        Ok(())
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

        /// For random runs and expressions, the indexed path and a plain
        /// evaluation over every record agree.
        #[test]
        fn the_indexed_path_agrees_with_a_plain_evaluation(runs in runs(), filter in indexed_filter()) {
            check(&runs, filter)?;
        }

        /// The same for arbitrary expressions.
        #[test]
        fn arbitrary_expressions_agree_too(runs in runs(), filter in filter()) {
            check(&runs, filter)?;
        }
    }
}
