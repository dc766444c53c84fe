//! The store checked against a plain model: random upserts and removes,
//! over several transactions, must leave the records equal to a `BTreeMap`
//! and the indexes equal to a full decode. Used by the property tests and
//! by the `store_model` fuzz target.

use std::collections::BTreeMap;
use std::path::Path;
use std::time::Duration;

use super::{Cold, Hot, Store, StoredRun};
use crate::ValueMap;
use crate::status::Status;
use crate::value::Value;

/// One step on the store.
#[derive(Clone, Debug)]
pub enum ModelOp {
    /// Insert or replace run `r<id>`.
    Upsert {
        /// Which of a few run ids.
        id: u8,
        /// Picks a status (the five known ones and one other).
        status: u8,
        /// A bit set of up to eight tags.
        tags: u8,
        /// The run's updated_at, in hundreds of seconds.
        updated: u8,
        /// Picks the run's created_at among a few, NaN and `-0.0` among
        /// them: a run whose created_at changes moves in the runs table.
        created: u8,
        /// A summary metric.
        metric: Option<f64>,
    },
    /// Remove run `r<id>`.
    Remove {
        /// Which run.
        id: u8,
    },
    /// Commit and start another transaction.
    Commit,
    /// Write the rows a first build holds back now, mid-transaction.
    Flush,
}

fn status_of(n: u8) -> Status {
    Status::KNOWN
        .get(usize::from(n % 6))
        .cloned()
        .unwrap_or_else(|| Status::Other("paused".into()))
}

/// The created_at times a modelled run may have.
const CREATED: [f64; 5] = [1.0, 2.0, 0.0, -0.0, f64::NAN];

fn stored(status: u8, tags: u8, updated: u8, created: u8, metric: Option<f64>) -> StoredRun {
    StoredRun {
        hot: Hot {
            status: status_of(status),
            created_at: CREATED[usize::from(created) % CREATED.len()],
            updated_at: f64::from(updated) * 100.0,
            ended_at: None,
            heartbeat_at: None,
            tags: (0..8)
                .filter(|b| tags & (1 << b) != 0)
                .map(|b| format!("t{b}"))
                .collect(),
            summary: metric
                .map(|m| ("m".to_owned(), Value::Float(m)))
                .into_iter()
                .collect(),
        },
        hparams: ValueMap::new(),
        cold: Cold {
            run_dir: "/r".into(),
            checkpoint_path: None,
            notes: String::new(),
            config: ValueMap::new(),
        },
    }
}

/// Whether a run read back is the one modelled (both absent, or the same
/// record). Compared through the encoding: a NaN metric is not equal to
/// itself as a value.
fn same_run(got: Option<&StoredRun>, want: Option<&StoredRun>) -> bool {
    match (got, want) {
        (Some(g), Some(w)) => super::codec::encode_record(g) == super::codec::encode_record(w),
        (None, None) => true,
        _ => false,
    }
}

/// Applies `ops` to a fresh store in `dir` and to a model; returns what
/// disagrees, if anything.
pub fn check(dir: &Path, ops: &[ModelOp]) -> Result<(), String> {
    let store = Store::new(dir.join("model.redb"), Duration::from_secs(5));
    let mut model: BTreeMap<String, StoredRun> = BTreeMap::new();
    for batch in ops.split(|op| matches!(op, ModelOp::Commit)) {
        let mut pending = model.clone();
        store
            .write(|w, _| {
                pending = model.clone();
                for op in batch {
                    match op {
                        ModelOp::Upsert {
                            id,
                            status,
                            tags,
                            updated,
                            created,
                            metric,
                        } => {
                            let run = stored(*status, *tags, *updated, *created, *metric);
                            w.upsert(&format!("r{id}"), &run)?;
                            pending.insert(format!("r{id}"), run);
                        }
                        ModelOp::Remove { id } => {
                            let existed = w.remove(&format!("r{id}"))?;
                            let modelled = pending.remove(&format!("r{id}")).is_some();
                            if existed != modelled {
                                return Err(crate::Error::internal(
                                    dir,
                                    format!("remove r{id}: store {existed}, model {modelled}"),
                                ));
                            }
                        }
                        ModelOp::Flush => w.flush()?,
                        ModelOp::Commit => {}
                    }
                    // Every op leaves the writer reading back what the
                    // model holds.
                    for id in 0..16u8 {
                        let id = format!("r{id}");
                        let got = w.record(&id)?;
                        let want = pending.get(&id);
                        if !same_run(got.as_ref(), want) {
                            return Err(crate::Error::internal(
                                dir,
                                format!("{id} in the transaction: {got:?}, modelled {want:?}"),
                            ));
                        }
                    }
                }
                Ok(())
            })
            .map_err(|e| e.to_string())?;
        model = pending;
    }
    store
        .read(|r| {
            let problems = r.verify_indexes()?;
            if !problems.is_empty() {
                return Err(crate::Error::internal(dir, problems.join("; ")));
            }
            if r.len()? as usize != model.len() {
                return Err(crate::Error::internal(
                    dir,
                    format!("{} runs stored, {} modelled", r.len()?, model.len()),
                ));
            }
            for (id, want) in &model {
                let got = r.with_run(id, |b| Ok(b.whole().ok()))?.flatten();
                if !same_run(got.as_ref(), Some(want)) {
                    return Err(crate::Error::internal(
                        dir,
                        format!("run {id}: stored {got:?}, modelled {want:?}"),
                    ));
                }
            }
            // A pass over the table meets the runs newest first.
            let mut newest_first: Vec<(u64, &str)> = model
                .iter()
                .map(|(id, run)| {
                    (
                        super::run_key::created_order(run.hot.created_at),
                        id.as_str(),
                    )
                })
                .collect();
            newest_first.sort_unstable();
            let mut passed = Vec::new();
            r.for_each_run(|key, _| {
                passed.push(key.run_id.to_owned());
                Ok(())
            })?;
            let expected: Vec<&str> = newest_first.iter().map(|(_, id)| *id).collect();
            if passed != expected {
                return Err(crate::Error::internal(
                    dir,
                    format!("the runs table holds {passed:?}, modelled {expected:?}"),
                ));
            }
            Ok(())
        })
        .map_err(|e| e.to_string())
}
