//! The records of a whole answer copied out of the cache, for an answer
//! built whole in memory (`Registry::batches`): read in the table's order,
//! visited in the answer's.
//!
//! An answer sorted by a metric is not in the runs table's order (newest
//! first, then run id), so reading its runs in its order looks each one
//! up: a leaf page of the table read again for each of the few runs it
//! holds, and a third of the time of a large answer. When the answer is a
//! good part of the cache, its records are instead read in one ordered
//! pass over the table, each core a share of the keys, and their bytes
//! copied; its batches are then built from the copies in its order. That holds the records' bytes
//! (about half a kilobyte a run) while the batches are built, which is why
//! a streamed answer (`for_each_batch`) does not do it.

use std::ops::Range;

use super::fetch::{for_each_of, is_dense, render_view, table_order, with_bytes_of};
use super::in_order::fold_parts;
use super::{Context, Detail};
use crate::error::Result;
use crate::store::{Reader, RecordBytes, RunKey, RunView};

/// The records of some runs, copied, each found by its place among them.
pub(crate) struct CopiedRecords {
    /// What was copied of each run: its record, or its hot row.
    detail: Detail,
    /// The copies, one buffer a part of the pass.
    parts: Vec<Vec<u8>>,
    /// For each run, its part and where its bytes are in it; `None` for a
    /// run no longer cached.
    spans: Vec<Option<(usize, Range<usize>)>>,
}

/// Parts a core of the ordered pass.
const PARTS_PER_CORE: usize = 4;

impl CopiedRecords {
    /// The records of the runs of `keys` (distinct when they are a good
    /// part of the cache), or their hot rows for [`Detail::Summary`],
    /// copied: in one ordered pass over the table, on `threads` threads,
    /// when they are a good part of it (`is_dense`) or `in_one_pass` says
    /// they are a stretch of such an answer in the table's order
    /// (`Page::reads_in_one_pass`), else looked up one by one in the table's
    /// order (runs that share a leaf page then read it once: it is still
    /// in redb's cache for the next).
    pub fn copy(
        reader: &Reader<'_>,
        keys: &[RunKey<'_>],
        detail: Detail,
        threads: usize,
        in_one_pass: bool,
    ) -> Result<CopiedRecords> {
        let mut order: Vec<usize> = (0..keys.len()).collect();
        order.sort_unstable_by(|&a, &b| table_order(detail, &keys[a], &keys[b]));
        let sorted: Vec<RunKey<'_>> = order.iter().map(|&i| keys[i]).collect();
        let in_one_pass = in_one_pass && detail == Detail::Full;
        let dense = in_one_pass || is_dense(sorted.len() as u64, reader.len()?);
        let parts = if dense { threads * PARTS_PER_CORE } else { 1 };
        let share = sorted.len().div_ceil(parts).max(1);
        let slices: Vec<Range<usize>> = (0..sorted.len())
            .step_by(share)
            .map(|start| start..(start + share).min(sorted.len()))
            .collect();
        // Each part: its copies, and (place in `keys`, span) of each.
        type Part = (usize, Vec<u8>, Vec<(usize, Range<usize>)>);
        let copied: Vec<Vec<Part>> = fold_parts(
            slices.len(),
            if dense { threads } else { 1 },
            Vec::new,
            |part, done: &mut Vec<Part>| {
                let slice = slices[part].clone();
                let (mut bytes, mut spans) = (Vec::new(), Vec::with_capacity(slice.len()));
                let mut keep = |k: usize, record: RecordBytes<'_>| {
                    let start = bytes.len();
                    bytes.extend_from_slice(record.bytes);
                    spans.push((order[slice.start + k], start..bytes.len()));
                };
                let keys = &sorted[slice.clone()];
                if dense {
                    for_each_of(reader, detail, keys, |k, _, record| {
                        keep(k, record);
                        Ok(())
                    })?;
                } else {
                    for (k, key) in keys.iter().enumerate() {
                        with_bytes_of(reader, detail, *key, |record| {
                            keep(k, record);
                            Ok(())
                        })?;
                    }
                }
                done.push((part, bytes, spans));
                Ok(())
            },
        )?;
        let mut records = CopiedRecords {
            detail,
            parts: vec![Vec::new(); slices.len()],
            spans: vec![None; keys.len()],
        };
        for (part, bytes, spans) in copied.into_iter().flatten() {
            records.parts[part] = bytes;
            for (place, span) in spans {
                records.spans[place] = Some((part, span));
            }
        }
        Ok(records)
    }

    /// Calls `render` with the view of each run of `places` (places in the
    /// `keys` the records were copied for) that was cached, in that order; as [`for_each_view`](super::fetch::for_each_view) does, a
    /// `render` error on a record that cannot be decoded is reported as
    /// that record's damage.
    pub fn for_each_view(
        &self,
        reader: &Reader<'_>,
        keys: &[RunKey<'_>],
        places: Range<usize>,
        ctx: &Context,
        mut render: impl FnMut(&RunView<'_>) -> Result<()>,
    ) -> Result<()> {
        for place in places {
            let Some((part, span)) = &self.spans[place] else {
                continue;
            };
            let bytes = RecordBytes::new(&self.parts[*part][span.clone()], reader.key_lists());
            render_view(
                reader,
                keys[place].run_id,
                bytes,
                ctx,
                self.detail,
                &mut render,
            )?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::query::fetch::for_each_view;
    use crate::query::fetch::tests::{ctx, keys_in, store};
    use crate::store::Store;

    /// The runs' JSON text as `visit` sees them, one per view, in order:
    /// looked up one by one (`threads` = 0), or copied on `threads`
    /// threads and visited in two halves.
    fn visited(
        store: &Store,
        ids: &[&str],
        detail: Detail,
        threads: usize,
    ) -> crate::error::Result<Vec<String>> {
        let mut seen = Vec::new();
        let mut visit = |run: &RunView<'_>| {
            seen.push(serde_json::to_string(run).map_err(|e| crate::Error::io("-", e.into()))?);
            Ok(())
        };
        store.read(|r| {
            let keys = keys_in(r, ids);
            if threads == 0 {
                return for_each_view(r, &keys, &ctx(), detail, false, visit);
            }
            let copied = CopiedRecords::copy(r, &keys, detail, threads, false)?;
            let half = ids.len() / 2;
            copied.for_each_view(r, &keys, 0..half, &ctx(), &mut visit)?;
            copied.for_each_view(r, &keys, half..ids.len(), &ctx(), &mut visit)
        })?;
        Ok(seen)
    }

    #[test]
    fn copied_views_come_in_the_order_asked() {
        let (_dir, store) = store(300, &[]);
        // No table order, a run the table lacks, and one asked twice.
        let mut ids: Vec<String> = (0..300)
            .map(|i| format!("r{:04}", (i * 37) % 300))
            .collect();
        ids.insert(17, "r9999".to_owned());
        ids.push("r0005".to_owned());
        let ids: Vec<&str> = ids.iter().map(String::as_str).collect();
        for detail in [Detail::Full, Detail::Summary] {
            let expected = visited(&store, &ids, detail, 0).unwrap();
            assert_eq!(expected.len(), 301);
            assert!(expected[0].starts_with(r#"{"run_id":"r0000""#));
            assert!(expected[1].starts_with(r#"{"run_id":"r0037""#));
            assert_eq!(visited(&store, &ids, detail, 1).unwrap(), expected);
        }
    }

    /// A good part of a large cache is copied in one ordered pass (on any
    /// number of threads), and a smaller part of it by lookups.
    #[test]
    fn views_copied_in_one_pass_or_by_many_lookups_come_in_the_order_asked() {
        let (_dir, store) = store(10_000, &[]);
        // 4,000 runs: one pass; 2,100: lookups.
        for count in [4000, 2100] {
            let ids: Vec<String> = (0..count)
                .map(|i| format!("r{:04}", (i * 2377) % 10_000))
                .collect();
            let ids: Vec<&str> = ids.iter().map(String::as_str).collect();
            for detail in [Detail::Full, Detail::Summary] {
                let expected = visited(&store, &ids, detail, 0).unwrap();
                assert_eq!(expected.len(), count);
                for threads in [1, 2, 3] {
                    assert_eq!(visited(&store, &ids, detail, threads).unwrap(), expected);
                }
            }
        }
    }

    #[test]
    fn a_corrupt_record_among_copied_views_is_reported() {
        for (count, threads) in [(50, 1), (5000, 2)] {
            let (_dir, store) = store(count, &[31]);
            let ids: Vec<String> = (0..count).rev().map(|i| format!("r{i:04}")).collect();
            let ids: Vec<&str> = ids.iter().map(String::as_str).collect();
            let err = visited(&store, &ids, Detail::Full, threads)
                .unwrap_err()
                .to_string();
            assert!(
                err.contains("run r0031") && err.contains("undecodable"),
                "{err}"
            );
        }
    }
}
