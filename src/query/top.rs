//! The rows a query's first pass keeps: all of them, or under a limit only
//! the best `offset + limit` seen so far.

use std::cmp::Ordering;

use super::sort::{SortSpec, compare};
use crate::value::Value;

/// A match of the first pass: what it sorts by.
pub(super) struct Row {
    pub run_id: String,
    pub keys: Vec<Option<Value>>,
}

/// Collects rows; with a limit, a candidate that cannot enter the first
/// `wanted` is dropped before anything is allocated for it.
///
/// Rows are buffered up to twice `wanted`, then cut back to the best
/// `wanted` by a selection (linear); the worst kept row is the bar later
/// candidates must pass. A pass over 100,000 runs for a top 10 thus
/// allocates for a few hundred of them.
pub(super) struct TopRows<'s> {
    specs: &'s [SortSpec],
    wanted: Option<usize>,
    rows: Vec<Row>,
    /// Once the buffer was cut: rows must sort before `rows[wanted - 1]`.
    cut: bool,
}

impl<'s> TopRows<'s> {
    /// Keeps every row (`wanted` = `None`) or the best `wanted`.
    pub fn new(specs: &'s [SortSpec], wanted: Option<usize>) -> Self {
        TopRows {
            specs,
            wanted,
            rows: Vec::new(),
            cut: false,
        }
    }

    /// The query's order: the sort specs, then run_id.
    fn order(&self, (keys, id): (&[Option<Value>], &str), b: &Row) -> Ordering {
        order(self.specs, (keys, id), (&b.keys, &b.run_id))
    }

    /// Offers a matching run; takes `keys` (leaving it empty) when kept.
    pub fn offer(&mut self, run_id: &str, keys: &mut Vec<Option<Value>>) {
        let Some(wanted) = self.wanted else {
            return self.push(run_id, keys);
        };
        if wanted == 0 {
            return;
        }
        if self.cut && self.order((keys, run_id), &self.rows[wanted - 1]) != Ordering::Less {
            return;
        }
        self.push(run_id, keys);
        if self.rows.len() >= wanted.saturating_mul(2).max(64) {
            self.cut_to(wanted);
        }
    }

    fn push(&mut self, run_id: &str, keys: &mut Vec<Option<Value>>) {
        self.rows.push(Row {
            run_id: run_id.to_owned(),
            keys: std::mem::take(keys),
        });
    }

    /// Keeps the best `wanted` rows, the worst of them last.
    fn cut_to(&mut self, wanted: usize) {
        let specs = self.specs;
        let by = |a: &Row, b: &Row| order(specs, (&a.keys, &a.run_id), (&b.keys, &b.run_id));
        self.rows.select_nth_unstable_by(wanted - 1, by);
        self.rows.truncate(wanted);
        self.cut = true;
    }

    /// The kept rows in the query's order (at most `wanted`).
    pub fn into_sorted(mut self) -> Vec<Row> {
        if let Some(wanted) = self.wanted {
            if wanted == 0 {
                return Vec::new();
            }
            if self.rows.len() > wanted {
                self.cut_to(wanted);
            }
        }
        let specs = self.specs;
        // The order is total (run ids are unique): an unstable sort gives
        // the one answer, without a scratch buffer.
        self.rows
            .sort_unstable_by(|a, b| order(specs, (&a.keys, &a.run_id), (&b.keys, &b.run_id)));
        self.rows
    }
}

/// Sort specs in turn, then run_id: a total order on rows.
fn order(
    specs: &[SortSpec],
    (a_keys, a_id): (&[Option<Value>], &str),
    (b_keys, b_id): (&[Option<Value>], &str),
) -> Ordering {
    specs
        .iter()
        .zip(a_keys.iter().zip(b_keys))
        .map(|(spec, (x, y))| compare(x.as_ref(), y.as_ref(), spec.descending))
        .find(|o| o.is_ne())
        .unwrap_or(Ordering::Equal)
        .then_with(|| a_id.cmp(b_id))
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;
    use crate::field::Field;

    fn ids(rows: &[Row]) -> Vec<&str> {
        rows.iter().map(|r| r.run_id.as_str()).collect()
    }

    proptest! {
        /// Whatever the limit and the order of arrival, the rows kept are
        /// the first `wanted` of a full sort.
        #[test]
        fn keeps_the_first_rows_of_a_full_sort(
            metrics in prop::collection::vec(prop::option::of(-5i64..5), 0..400),
            wanted in prop::option::of(0usize..150),
            descending in any::<bool>(),
        ) {
            let specs = [SortSpec {
                key: Field::Summary("m".into()),
                descending,
            }];
            let mut top = TopRows::new(&specs, wanted);
            let mut all = TopRows::new(&specs, None);
            for (i, m) in metrics.iter().enumerate() {
                let id = format!("r{:03}", (i * 7919) % 1000);
                let key = || vec![m.map(Value::Int)];
                top.offer(&id, &mut key());
                all.offer(&id, &mut key());
            }
            let mut expected = all.into_sorted();
            expected.truncate(wanted.unwrap_or(usize::MAX));
            let kept = top.into_sorted();
            prop_assert_eq!(ids(&kept), ids(&expected));
        }
    }

    #[test]
    fn a_candidate_behind_the_bar_is_not_kept() {
        let specs = [SortSpec::desc(Field::Summary("m".into()))];
        let mut top = TopRows::new(&specs, Some(1));
        for i in 0..64 {
            top.offer(&format!("r{i:02}"), &mut vec![Some(Value::Int(i))]);
        }
        let mut worse = vec![Some(Value::Int(-1))];
        top.offer("late", &mut worse);
        assert_eq!(worse.len(), 1, "keys of a rejected row are left alone");
        assert_eq!(ids(&top.into_sorted()), ["r63"]);
    }
}
