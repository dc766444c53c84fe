//! The rows a query's first pass keeps: all of them, or under a limit only
//! the best `offset + limit` seen so far.

use std::cmp::Ordering;

use super::page::Page;
use super::sort::{SortSpec, compare};
use crate::store::{RunKey, float_order};
use crate::value::Value;

/// Collects the matches of a first pass (a run id and what it sorts by);
/// with a limit, a candidate that cannot enter the first `wanted` is
/// dropped before anything is kept of it.
///
/// Rows are packed: the ids in one [`Page`], the sort values of every row
/// in one vector (a row's `k` values back to back), so that an answer of
/// every run of a large cache costs a few tens of bytes a run. Under a
/// limit, rows are buffered up to twice `wanted`, then cut back to the best
/// `wanted` by a selection (linear); the worst kept row is the bar later
/// candidates must pass. A pass over 100,000 runs for a top 10 thus keeps
/// a few hundred of them.
pub(super) struct TopRows<'s> {
    specs: &'s [SortSpec],
    wanted: Option<usize>,
    ids: Page,
    /// Row `i`'s sort values: `keys[i * specs.len()..][..specs.len()]`.
    keys: Vec<Option<Value>>,
    /// Once the buffer was cut: rows must sort before row `wanted - 1`,
    /// the worst of those kept by the cut.
    cut: bool,
}

impl<'s> TopRows<'s> {
    /// Keeps every row (`wanted` = `None`) or the best `wanted`.
    pub fn new(specs: &'s [SortSpec], wanted: Option<usize>) -> Self {
        TopRows {
            specs,
            wanted,
            ids: Page::default(),
            keys: Vec::new(),
            cut: false,
        }
    }

    fn len(&self) -> usize {
        self.ids.len()
    }

    fn row(&self, i: usize) -> (&[Option<Value>], &str) {
        let k = self.specs.len();
        (&self.keys[i * k..(i + 1) * k], self.ids.get(i))
    }

    /// Offers a matching run (its key in the cache) with its sort values
    /// (one a spec), which are taken (`keys` is left empty) when the row is
    /// kept.
    pub fn offer(&mut self, run: RunKey<'_>, keys: &mut Vec<Option<Value>>) {
        debug_assert_eq!(keys.len(), self.specs.len());
        let Some(wanted) = self.wanted else {
            return self.push(run, keys);
        };
        if wanted == 0 {
            return;
        }
        let row = (keys.as_slice(), run.run_id);
        if self.cut && order(self.specs, row, self.row(wanted - 1)) != Ordering::Less {
            return;
        }
        self.push(run, keys);
        if self.len() >= wanted.saturating_mul(2).max(64) {
            self.cut_to(wanted);
        }
    }

    /// Offers every row another collector kept (of other runs): the rows
    /// kept are those one collector offered every run would have kept.
    pub fn merge(&mut self, mut other: TopRows<'_>) {
        let k = self.specs.len();
        let mut keys = Vec::with_capacity(k);
        for i in 0..other.len() {
            keys.extend(other.keys[i * k..(i + 1) * k].iter_mut().map(Option::take));
            self.offer(other.ids.key(i), &mut keys);
            keys.clear();
        }
    }

    fn push(&mut self, run: RunKey<'_>, keys: &mut Vec<Option<Value>>) {
        self.ids.push(run);
        self.keys.append(keys);
    }

    /// The rows' indices in the query's order: all of them, or (`wanted`)
    /// the best `wanted` with only the last in its place.
    fn ordered(&self, wanted: Option<usize>) -> Vec<usize> {
        let mut order_of: Vec<usize> = (0..self.len()).collect();
        let by = |a: &usize, b: &usize| order(self.specs, self.row(*a), self.row(*b));
        match wanted {
            Some(wanted) if wanted < order_of.len() => {
                order_of.select_nth_unstable_by(wanted - 1, by);
                order_of.truncate(wanted);
            }
            // The order is total (run ids are unique): an unstable sort
            // gives the one answer.
            _ => match self.float_keys() {
                Some(keys) => {
                    let mut rows: Vec<(u64, u32)> = keys.into_iter().zip(0..).collect();
                    rows.sort_unstable_by(|a, b| {
                        a.0.cmp(&b.0).then_with(|| {
                            self.ids.get(a.1 as usize).cmp(self.ids.get(b.1 as usize))
                        })
                    });
                    order_of = rows.into_iter().map(|(_, i)| i as usize).collect();
                }
                None => order_of.sort_unstable_by(by),
            },
        }
        order_of
    }

    /// For rows sorted by one key whose values are all floats (or missing),
    /// as `created_at` and most metrics are: each row's value as a `u64`
    /// whose order is the sort's, so that a full sort compares integers,
    /// not [`Value`]s. `None` when the rows are not such (or too many).
    fn float_keys(&self) -> Option<Vec<u64>> {
        let [spec] = self.specs else {
            return None;
        };
        u32::try_from(self.len()).ok()?;
        self.keys
            .iter()
            .map(|value| float_key(value.as_ref(), spec.descending))
            .collect()
    }

    /// Keeps the best `wanted` rows (at least one), the worst of them last.
    fn cut_to(&mut self, wanted: usize) {
        let kept = self.ordered(Some(wanted));
        let k = self.specs.len();
        let mut keys = Vec::with_capacity(kept.len() * k);
        for &i in &kept {
            keys.extend(self.keys[i * k..(i + 1) * k].iter_mut().map(Option::take));
        }
        self.ids = kept.iter().map(|&i| self.ids.key(i)).collect();
        self.keys = keys;
        self.cut = true;
    }

    /// The run ids of the rows in the query's order, from the `offset`th
    /// on, at most `limit` of them.
    pub fn into_page(self, offset: usize, limit: Option<usize>) -> Page {
        let mut order_of = match self.wanted {
            Some(0) => Vec::new(),
            Some(wanted) => {
                let mut best = self.ordered(Some(wanted));
                best.sort_unstable_by(|a, b| order(self.specs, self.row(*a), self.row(*b)));
                best
            }
            None => self.ordered(None),
        };
        order_of.truncate(offset.saturating_add(limit.unwrap_or(usize::MAX)));
        order_of
            .iter()
            .skip(offset)
            .map(|&i| self.ids.key(i))
            .collect()
    }
}

/// A float sort value (or none) as a `u64` that orders as [`compare`]
/// does: missing and `NaN` last whatever the direction, `-0.0` equal to
/// `0.0`; `None` for a value that is not a float.
fn float_key(value: Option<&Value>, descending: bool) -> Option<u64> {
    match value {
        None | Some(Value::Null) => Some(u64::MAX),
        Some(Value::Float(f)) => Some(float_order(*f, descending)),
        Some(_) => None,
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

    /// A run's key; the rows here sort by their values and ids only.
    fn at(run_id: &str) -> RunKey<'_> {
        RunKey { order: 0, run_id }
    }

    fn ids(page: &Page) -> Vec<&str> {
        page.iter().collect()
    }

    proptest! {
        /// Whatever the limit and the order of arrival, the rows kept are
        /// the first `wanted` of a full sort.
        #[test]
        fn keeps_the_first_rows_of_a_full_sort(
            metrics in prop::collection::vec((prop::option::of(-5i64..5), 0i64..3), 0..400),
            page in prop::option::of((0usize..40, prop::option::of(0usize..110))),
            descending in any::<bool>(),
            two_keys in any::<bool>(),
        ) {
            let mut specs = vec![SortSpec {
                key: Field::Summary("m".into()),
                descending,
            }];
            if two_keys {
                specs.push(SortSpec::asc(Field::Summary("n".into())));
            }
            let (offset, limit) = page.unwrap_or((0, None));
            let wanted = page.map(|(offset, limit)| offset + limit.unwrap_or(10_000));
            let mut top = TopRows::new(&specs, wanted);
            let mut all = TopRows::new(&specs, None);
            let mut every = Vec::new();
            for (i, (m, n)) in metrics.iter().enumerate() {
                let id = format!("r{:03}", (i * 7919) % 1000);
                let key = || {
                    let mut key = vec![m.map(Value::Int)];
                    if two_keys {
                        key.push(Some(Value::Int(*n)));
                    }
                    key
                };
                top.offer(at(&id), &mut key());
                all.offer(at(&id), &mut key());
                every.push((key(), id));
            }
            // The expected order, by a plain sort of every row.
            every.sort_by(|a, b| order(&specs, (&a.0, &a.1), (&b.0, &b.1)));
            let expected: Vec<&str> = every
                .iter()
                .map(|(_, id)| id.as_str())
                .skip(offset)
                .take(limit.unwrap_or(usize::MAX))
                .collect();
            let kept = top.into_page(offset, limit);
            prop_assert_eq!(ids(&kept), expected.clone());
            let all = all.into_page(offset, limit);
            prop_assert_eq!(ids(&all), expected);
        }
    }

    fn float_value() -> impl Strategy<Value = Option<Value>> {
        prop_oneof![
            Just(None),
            Just(Some(Value::Null)),
            Just(Some(Value::Float(f64::NAN))),
            Just(Some(Value::Float(-f64::NAN))),
            Just(Some(Value::Float(f64::INFINITY))),
            Just(Some(Value::Float(f64::NEG_INFINITY))),
            Just(Some(Value::Float(0.0))),
            Just(Some(Value::Float(-0.0))),
            Just(Some(Value::Float(f64::MIN_POSITIVE))),
            Just(Some(Value::Float(-f64::MAX))),
            (-4i8..4).prop_map(|x| Some(Value::Float(f64::from(x) / 2.0))),
            any::<f64>().prop_map(|f| Some(Value::Float(f))),
        ]
    }

    proptest! {
        /// A full sort by one float key (integer keys, not `Value`s) gives
        /// the order of [`compare`], ties by run id; a key that is not a
        /// float among them falls back to the general sort, the same order.
        #[test]
        fn a_full_sort_by_floats_is_the_general_order(
            values in prop::collection::vec((float_value(), 0usize..50), 0..300),
            descending in any::<bool>(),
            an_int in any::<bool>(),
        ) {
            let specs = [SortSpec { key: Field::Summary("m".into()), descending }];
            let mut all = TopRows::new(&specs, None);
            let mut every = Vec::new();
            for (i, (value, id)) in values.iter().enumerate() {
                // Unique ids, in an order unrelated to the rows'.
                let id = format!("r{id:02}-{i}");
                let value = if an_int && i == 0 { Some(Value::Int(1)) } else { value.clone() };
                all.offer(at(&id), &mut vec![value.clone()]);
                every.push((vec![value], id));
            }
            prop_assert_eq!(all.float_keys().is_some(), !an_int || values.is_empty());
            every.sort_by(|a, b| order(&specs, (&a.0, &a.1), (&b.0, &b.1)));
            let expected: Vec<&str> = every.iter().map(|(_, id)| id.as_str()).collect();
            let page = all.into_page(0, None);
            prop_assert_eq!(ids(&page), expected);
        }
    }

    #[test]
    fn a_candidate_behind_the_bar_is_not_kept() {
        let specs = [SortSpec::desc(Field::Summary("m".into()))];
        let mut top = TopRows::new(&specs, Some(1));
        for i in 0..64 {
            top.offer(at(&format!("r{i:02}")), &mut vec![Some(Value::Int(i))]);
        }
        let mut worse = vec![Some(Value::Int(-1))];
        top.offer(at("late"), &mut worse);
        assert_eq!(worse.len(), 1, "keys of a rejected row are left alone");
        assert_eq!(ids(&top.into_page(0, None)), ["r63"]);
    }
}
