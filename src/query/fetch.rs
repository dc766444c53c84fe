//! The second pass of a query: the whole records of a page.
//!
//! A few runs are looked up one by one; many are read in one ordered pass
//! over the runs table.

use super::exec::{Context, is_dense};
use crate::error::Result;
use crate::record::RunRecord;
use crate::store::{Cold, Hot, Reader, RecordBytes};
use crate::value_map::ValueMap;

/// The whole records of `run_ids`, in that order.
pub(super) fn fetch(
    reader: &Reader<'_>,
    run_ids: &[&str],
    ctx: &Context,
) -> Result<Vec<RunRecord>> {
    if !is_dense(run_ids.len() as u64, reader.len()?) {
        let mut records = Vec::with_capacity(run_ids.len());
        for run_id in run_ids {
            records.extend(get(reader, run_id, ctx)?);
        }
        return Ok(records);
    }
    // Many runs: one ordered pass over the records instead of a lookup each.
    let mut order: Vec<usize> = (0..run_ids.len()).collect();
    order.sort_unstable_by_key(|&i| run_ids[i]);
    let sorted: Vec<&str> = order.iter().map(|&i| run_ids[i]).collect();
    let mut slots: Vec<Option<RunRecord>> = Vec::new();
    slots.resize_with(run_ids.len(), || None);
    reader.for_each_run_of(&sorted, |k, run_id, bytes| {
        slots[order[k]] = Some(record(reader, run_id, bytes, ctx)?);
        Ok(())
    })?;
    Ok(slots.into_iter().flatten().collect())
}

/// One run, whole.
pub(crate) fn get(reader: &Reader<'_>, run_id: &str, ctx: &Context) -> Result<Option<RunRecord>> {
    reader.with_run(run_id, |bytes| record(reader, run_id, bytes, ctx))
}

fn record(
    reader: &Reader<'_>,
    run_id: &str,
    bytes: RecordBytes<'_>,
    ctx: &Context,
) -> Result<RunRecord> {
    let corrupt = |e| reader.corrupt(run_id, e);
    let hot = bytes.hot().map_err(corrupt)?;
    let hparams = bytes.hparams().map_err(corrupt)?;
    let cold = bytes.cold().map_err(corrupt)?;
    Ok(into_record(run_id, hot, hparams, cold, ctx))
}

fn into_record(run_id: &str, hot: Hot, hparams: ValueMap, cold: Cold, ctx: &Context) -> RunRecord {
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
