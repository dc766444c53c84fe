//! The keys an answer holds: every hparams and summary key of the runs a
//! query returns, with the kinds of values found under each. Columnar
//! output needs them before its first row: one column a key, one type a
//! column.

use std::collections::{BTreeMap, BTreeSet};

use crate::status::Status;
use crate::store::{MapNames, RunShape, ShapeKinds};
use crate::value_kinds::ValueKinds;
use crate::value_map::ByKeyList;

/// Every hparams and summary key of an answer's runs, in key order (bytes),
/// each with the kinds of values found under it.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct AnswerKeys {
    /// `hparams.<k>` keys.
    pub hparams: Vec<(String, ValueKinds)>,
    /// `summary.<k>` keys.
    pub summary: Vec<(String, ValueKinds)>,
    /// The statuses the runs have, each once, in [`Status`]'s order: one
    /// dictionary for the `status` column of every batch of a columnar
    /// answer (an Arrow IPC file allows no other).
    pub statuses: Vec<Status>,
}

/// Gathers [`AnswerKeys`] run by run.
#[derive(Default)]
pub(crate) struct KeyUnion {
    hparams: MapUnion,
    summary: MapUnion,
    statuses: BTreeSet<Status>,
}

impl KeyUnion {
    /// Adds one run: its status, and the names of its maps with the kind of
    /// each value.
    pub fn add(&mut self, run: &RunShape<'_>, kinds: &ShapeKinds) {
        self.hparams.add(&run.hparams, &kinds.hparams);
        self.summary.add(&run.summary, &kinds.summary);
        if !self.statuses.contains(&run.status) {
            self.statuses.insert(run.status.clone());
        }
    }

    /// Adds what another union gathered (from other runs).
    pub fn merge(&mut self, other: KeyUnion) {
        self.hparams.merge(other.hparams);
        self.summary.merge(other.summary);
        self.statuses.extend(other.statuses);
    }

    pub fn finish(self) -> AnswerKeys {
        AnswerKeys {
            hparams: self.hparams.finish(),
            summary: self.summary.finish(),
            statuses: self.statuses.into_iter().collect(),
        }
    }
}

/// The keys of one map across runs, with the kinds of their values.
///
/// Most runs name a stored key list (the same `Arc` for every run of a
/// snapshot that names it): their kinds are gathered per list, position by
/// position, and put under the list's names once, at the end. A run with
/// names of its own is added name by name; the names of the last such run
/// are kept with where each went, so a run with the same names costs one
/// comparison a name, not a search.
#[derive(Default)]
struct MapUnion {
    /// Each key's slot in `kinds`.
    slots: BTreeMap<Vec<u8>, usize>,
    kinds: Vec<ValueKinds>,
    /// The kinds found at each position of each stored list met.
    lists: ByKeyList<Vec<ValueKinds>>,
    /// The last run's own names, and the slot of each.
    last: Vec<(Vec<u8>, usize)>,
}

impl MapUnion {
    fn add(&mut self, names: &MapNames<'_>, kinds: &[ValueKinds]) {
        match names {
            MapNames::Stored(list) => {
                let found = self
                    .lists
                    .get_or_make(list, |list| vec![ValueKinds::default(); list.len()]);
                for (found, kind) in found.iter_mut().zip(kinds) {
                    *found |= *kind;
                }
            }
            MapNames::Inline(names) => {
                let same = names.len() == self.last.len()
                    && names
                        .iter()
                        .zip(&self.last)
                        .all(|(k, (l, _))| k.as_bytes() == l.as_slice());
                if !same {
                    self.last.clear();
                    for name in names {
                        let slot = self.slot(name.as_bytes());
                        self.last.push((name.as_bytes().to_vec(), slot));
                    }
                }
                for (kind, (_, slot)) in kinds.iter().zip(&self.last) {
                    self.kinds[*slot] |= *kind;
                }
            }
        }
    }

    /// The slot of key `name`, made if new.
    fn slot(&mut self, name: &[u8]) -> usize {
        if let Some(&slot) = self.slots.get(name) {
            return slot;
        }
        let slot = self.kinds.len();
        self.slots.insert(name.to_vec(), slot);
        self.kinds.push(ValueKinds::default());
        slot
    }

    /// Puts the kinds gathered per stored list under the lists' names.
    fn settle(&mut self) {
        let lists: Vec<_> = self.lists.drain().collect();
        for (list, kinds) in lists {
            for (name, kind) in list.iter().zip(kinds) {
                let slot = self.slot(name.as_bytes());
                self.kinds[slot] |= kind;
            }
        }
    }

    fn merge(&mut self, mut other: MapUnion) {
        self.settle();
        other.settle();
        self.last.clear();
        for (key, slot) in other.slots {
            let mine = self.slot(&key);
            self.kinds[mine] |= other.kinds[slot];
        }
    }

    /// Every key, in key order, with its kinds.
    fn finish(mut self) -> Vec<(String, ValueKinds)> {
        self.settle();
        self.slots
            .into_iter()
            .map(|(k, slot)| (String::from_utf8_lossy(&k).into_owned(), self.kinds[slot]))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;
    use crate::value_map::KeyList;

    /// A run: its status, and each map's names with the kind of each value.
    struct Run {
        status: Status,
        hparams: Vec<(&'static str, ValueKinds)>,
        summary: Vec<(&'static str, ValueKinds)>,
    }

    const I: ValueKinds = ValueKinds::INT;
    const F: ValueKinds = ValueKinds::FLOAT;
    const N: ValueKinds = ValueKinds::NULL;
    const S: ValueKinds = ValueKinds::STR;
    const B: ValueKinds = ValueKinds::BOOL;
    const X: ValueKinds = ValueKinds::NESTED;

    fn run(
        status: Status,
        hparams: &[(&'static str, ValueKinds)],
        summary: &[(&'static str, ValueKinds)],
    ) -> Run {
        Run {
            status,
            hparams: hparams.to_vec(),
            summary: summary.to_vec(),
        }
    }

    /// The union of `runs`, their names stored lists (one `Arc` for equal
    /// names, as a snapshot hands out) or their own.
    fn union_of(runs: &[Run], stored: bool) -> KeyUnion {
        let mut union = KeyUnion::default();
        add_runs(&mut union, runs, stored);
        union
    }

    /// Adds `runs` to `union`, their names stored lists (made for this
    /// call: other `Arc`s than another call's) or their own.
    fn add_runs(union: &mut KeyUnion, runs: &[Run], stored: bool) {
        let names_of = |map: &[(&str, ValueKinds)]| -> Vec<String> {
            map.iter().map(|(k, _)| k.to_string()).collect()
        };
        let mut lists: Vec<KeyList> = Vec::new();
        for map in runs.iter().flat_map(|r| [&r.hparams, &r.summary]) {
            let names = names_of(map);
            if !lists
                .iter()
                .any(|l| l.iter().map(|n| n.to_string()).eq(names.iter().cloned()))
            {
                lists.push(Arc::new(
                    names.iter().map(|n| Arc::from(n.as_str())).collect(),
                ));
            }
        }
        let names = |map: &[(&'static str, ValueKinds)]| -> MapNames<'_> {
            if !stored {
                return MapNames::Inline(map.iter().map(|(k, _)| *k).collect());
            }
            let names = names_of(map);
            let list = lists
                .iter()
                .find(|l| l.iter().map(|n| n.to_string()).eq(names.iter().cloned()))
                .expect("every map's list was made");
            MapNames::Stored(list)
        };
        for r in runs {
            let kinds = ShapeKinds {
                hparams: r.hparams.iter().map(|(_, k)| *k).collect(),
                summary: r.summary.iter().map(|(_, k)| *k).collect(),
            };
            let shape = RunShape {
                status: r.status.clone(),
                hparams: names(&r.hparams),
                summary: names(&r.summary),
            };
            union.add(&shape, &kinds);
        }
    }

    fn runs() -> Vec<Run> {
        vec![
            run(Status::Failed, &[("lr", I), ("seed", I)], &[("acc", F)]),
            run(Status::Completed, &[("lr", F), ("seed", I)], &[("acc", N)]),
            run(Status::Failed, &[("lr", N), ("wd", B)], &[]),
            run(
                Status::Running,
                &[("lr", I), ("seed", S)],
                &[("a", B), ("acc", F)],
            ),
            run(Status::Interrupted, &[("seed", X)], &[("seed", I)]),
            run(Status::Completed, &[("lr", I), ("seed", I)], &[("acc", F)]),
        ]
    }

    #[test]
    fn kinds_accumulate_per_key_in_key_order_whether_names_are_stored_or_not() {
        for stored in [false, true] {
            let keys = union_of(&runs(), stored).finish();
            assert_eq!(
                keys.hparams,
                vec![
                    ("lr".to_owned(), I | F | N),
                    ("seed".to_owned(), I | S | X),
                    ("wd".to_owned(), B),
                ],
                "stored lists: {stored}"
            );
            assert_eq!(
                keys.summary,
                vec![
                    ("a".to_owned(), B),
                    ("acc".to_owned(), F | N),
                    ("seed".to_owned(), I),
                ],
                "stored lists: {stored}"
            );
            assert_eq!(
                keys.statuses,
                [
                    Status::Running,
                    Status::Completed,
                    Status::Failed,
                    Status::Interrupted
                ]
            );
        }
    }

    #[test]
    fn unions_of_parts_merge_into_the_union_of_the_whole() {
        let runs = runs();
        for stored in [false, true] {
            let whole = union_of(&runs, stored).finish();
            for split in 0..=runs.len() {
                let mut merged = union_of(&runs[..split], stored);
                merged.merge(union_of(&runs[split..], stored));
                assert_eq!(merged.finish(), whole, "split at {split}, stored {stored}");
            }
        }
    }

    #[test]
    fn a_union_that_merged_still_takes_runs_of_its_own() {
        let runs = runs();
        for stored in [false, true] {
            let mut union = union_of(&runs[..2], true);
            union.merge(union_of(&runs[2..4], false));
            // Runs added after a merge, some with names met before it.
            add_runs(&mut union, &runs[4..], stored);
            add_runs(&mut union, &runs[..1], stored);
            assert_eq!(
                union.finish(),
                union_of(&runs, false).finish(),
                "stored lists: {stored}"
            );
        }
    }
}
