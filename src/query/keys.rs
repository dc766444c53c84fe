//! The keys an answer holds: every hparams and summary key of the runs a
//! query returns, with the kinds of values found under each. Columnar
//! output needs them before its first row: one column a key, one type a
//! column.

use std::collections::{BTreeMap, BTreeSet};

use crate::status::Status;
use crate::store::ValueRef;

/// The kinds of values found under one key across the runs of an answer.
///
/// ```
/// use runreg::ValueKinds;
///
/// let kinds = ValueKinds::INT | ValueKinds::FLOAT;
/// assert!(kinds.only_numbers());
/// assert!(!kinds.only_ints());
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct ValueKinds(u8);

impl ValueKinds {
    /// `null`
    pub const NULL: ValueKinds = ValueKinds(1);
    /// `true` or `false`
    pub const BOOL: ValueKinds = ValueKinds(2);
    /// An integer.
    pub const INT: ValueKinds = ValueKinds(4);
    /// A float (NaN and infinities included).
    pub const FLOAT: ValueKinds = ValueKinds(8);
    /// A string.
    pub const STR: ValueKinds = ValueKinds(16);
    /// A list or an object.
    pub const NESTED: ValueKinds = ValueKinds(32);

    /// Whether every kind of `other` is among these.
    pub fn contains(self, other: ValueKinds) -> bool {
        self.0 & other.0 == other.0
    }

    /// The kinds besides `null`.
    pub fn present(self) -> ValueKinds {
        ValueKinds(self.0 & !ValueKinds::NULL.0)
    }

    /// Integers only (and nulls).
    pub fn only_ints(self) -> bool {
        self.present() == ValueKinds::INT
    }

    /// Numbers only, integers or floats (and nulls), at least one.
    pub fn only_numbers(self) -> bool {
        let present = self.present();
        present.0 != 0 && (ValueKinds::INT | ValueKinds::FLOAT).contains(present)
    }

    /// Exactly one kind besides `null`: `Some(kind)`.
    pub fn single(self) -> Option<ValueKinds> {
        let present = self.present();
        (present.0.count_ones() == 1).then_some(present)
    }

    pub(crate) fn of(value: ValueRef<'_>) -> ValueKinds {
        match value {
            ValueRef::Null => ValueKinds::NULL,
            ValueRef::Bool(_) => ValueKinds::BOOL,
            ValueRef::Int(_) => ValueKinds::INT,
            ValueRef::Float(_) => ValueKinds::FLOAT,
            ValueRef::Str(_) => ValueKinds::STR,
            ValueRef::Nested => ValueKinds::NESTED,
        }
    }
}

impl std::ops::BitOr for ValueKinds {
    type Output = ValueKinds;

    fn bitor(self, rhs: ValueKinds) -> ValueKinds {
        ValueKinds(self.0 | rhs.0)
    }
}

impl std::ops::BitOrAssign for ValueKinds {
    fn bitor_assign(&mut self, rhs: ValueKinds) {
        self.0 |= rhs.0;
    }
}

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
    /// Adds one run's entries (each map's names sorted, as stored).
    pub fn add(&mut self, hparams: &[(&[u8], ValueRef<'_>)], summary: &[(&[u8], ValueRef<'_>)]) {
        self.hparams.add(hparams);
        self.summary.add(summary);
    }

    /// Adds one run's status.
    pub fn add_status(&mut self, status: &Status) {
        if !self.statuses.contains(status) {
            self.statuses.insert(status.clone());
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

/// The keys of one map across runs. Runs of a sweep have the same names:
/// those of the run before are kept with where each went, so a run with
/// the same names costs one comparison a name, not a search of the map.
#[derive(Default)]
struct MapUnion {
    /// Each key's slot in `kinds`.
    slots: BTreeMap<Vec<u8>, usize>,
    kinds: Vec<ValueKinds>,
    /// The last run's names, and the slot of each.
    last: Vec<(Vec<u8>, usize)>,
}

impl MapUnion {
    fn add(&mut self, entries: &[(&[u8], ValueRef<'_>)]) {
        let same = entries.len() == self.last.len()
            && entries
                .iter()
                .zip(&self.last)
                .all(|((k, _), (l, _))| *k == l.as_slice());
        if !same {
            self.last.clear();
            for (key, _) in entries {
                let next = self.slots.len();
                let slot = *self.slots.entry(key.to_vec()).or_insert(next);
                if slot == self.kinds.len() {
                    self.kinds.push(ValueKinds::default());
                }
                self.last.push((key.to_vec(), slot));
            }
        }
        for ((_, value), (_, slot)) in entries.iter().zip(&self.last) {
            self.kinds[*slot] |= ValueKinds::of(*value);
        }
    }

    fn merge(&mut self, other: MapUnion) {
        self.last.clear();
        for (key, slot) in other.slots {
            let next = self.slots.len();
            let mine = *self.slots.entry(key).or_insert(next);
            if mine == self.kinds.len() {
                self.kinds.push(ValueKinds::default());
            }
            self.kinds[mine] |= other.kinds[slot];
        }
    }

    /// Every key, in key order, with its kinds.
    fn finish(self) -> Vec<(String, ValueKinds)> {
        self.slots
            .into_iter()
            .map(|(k, slot)| (String::from_utf8_lossy(&k).into_owned(), self.kinds[slot]))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn runs_with_the_same_names_add_their_kinds_to_the_same_keys() {
        let mut union = KeyUnion::default();
        let a = |lr, seed| [(&b"lr"[..], lr), (&b"seed"[..], seed)];
        union.add(&a(ValueRef::Int(1), ValueRef::Int(2)), &[]);
        union.add(&a(ValueRef::Float(0.5), ValueRef::Int(2)), &[]);
        union.add(
            &[(b"lr", ValueRef::Null), (b"wd", ValueRef::Bool(true))],
            &[],
        );
        union.add(&a(ValueRef::Int(1), ValueRef::Str("s")), &[]);
        union.add(
            &[(b"seed", ValueRef::Nested)],
            &[(b"seed", ValueRef::Int(1))],
        );
        let keys = union.finish();
        assert_eq!(
            keys.hparams,
            vec![
                (
                    "lr".to_owned(),
                    ValueKinds::INT | ValueKinds::FLOAT | ValueKinds::NULL
                ),
                (
                    "seed".to_owned(),
                    ValueKinds::INT | ValueKinds::STR | ValueKinds::NESTED
                ),
                ("wd".to_owned(), ValueKinds::BOOL),
            ]
        );
        assert_eq!(keys.summary, vec![("seed".to_owned(), ValueKinds::INT)]);
        assert_eq!(keys.statuses, []);
    }

    #[test]
    fn unions_of_parts_merge_into_the_union_of_the_whole() {
        type Run<'a> = (Vec<(&'a [u8], ValueRef<'a>)>, Status);
        let runs: Vec<Run<'_>> = vec![
            (
                vec![(b"lr", ValueRef::Int(1)), (b"seed", ValueRef::Int(2))],
                Status::Failed,
            ),
            (vec![(b"lr", ValueRef::Float(0.5))], Status::Completed),
            (
                vec![(b"a", ValueRef::Str("x")), (b"lr", ValueRef::Null)],
                Status::Failed,
            ),
            (vec![(b"seed", ValueRef::Nested)], Status::Running),
            (vec![], Status::Interrupted),
        ];
        let union_of = |runs: &[Run<'_>]| {
            let mut union = KeyUnion::default();
            for (entries, status) in runs {
                union.add(entries, entries);
                union.add_status(status);
            }
            union
        };
        let whole = union_of(&runs).finish();
        for split in 0..=runs.len() {
            let mut merged = union_of(&runs[..split]);
            merged.merge(union_of(&runs[split..]));
            // A union that merged still takes runs of its own.
            merged.add(&runs[0].0, &[]);
            assert_eq!(merged.finish(), whole, "split at {split}");
        }
    }

    #[test]
    fn statuses_are_gathered_once_each_in_status_order() {
        let mut union = KeyUnion::default();
        for status in [
            Status::Failed,
            Status::Completed,
            Status::Failed,
            Status::Running,
        ] {
            union.add_status(&status);
        }
        let statuses = union.finish().statuses;
        assert_eq!(
            statuses,
            [Status::Running, Status::Completed, Status::Failed]
        );
    }

    #[test]
    fn kinds_accumulate_per_key_in_key_order() {
        let mut union = KeyUnion::default();
        union.add(
            &[(b"lr", ValueRef::Float(0.1)), (b"seed", ValueRef::Int(1))],
            &[(b"acc", ValueRef::Float(f64::NAN))],
        );
        union.add(
            &[(b"lr", ValueRef::Int(1)), (b"name", ValueRef::Str("x"))],
            &[(b"acc", ValueRef::Null), (b"a", ValueRef::Bool(true))],
        );
        let keys = union.finish();
        assert_eq!(
            keys.hparams,
            vec![
                ("lr".to_owned(), ValueKinds::FLOAT | ValueKinds::INT),
                ("name".to_owned(), ValueKinds::STR),
                ("seed".to_owned(), ValueKinds::INT),
            ]
        );
        assert_eq!(
            keys.summary,
            vec![
                ("a".to_owned(), ValueKinds::BOOL),
                ("acc".to_owned(), ValueKinds::FLOAT | ValueKinds::NULL),
            ]
        );
    }

    #[test]
    fn kind_predicates() {
        let ints = ValueKinds::INT | ValueKinds::NULL;
        assert!(ints.only_ints() && ints.only_numbers());
        assert_eq!(ints.single(), Some(ValueKinds::INT));
        assert!(!ValueKinds::NULL.only_numbers());
        assert_eq!(ValueKinds::NULL.single(), None);
        let mixed = ValueKinds::INT | ValueKinds::STR;
        assert!(!mixed.only_numbers());
        assert_eq!(mixed.single(), None);
    }
}
