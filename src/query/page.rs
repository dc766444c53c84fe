//! The runs of an answer, in its order, packed.

use std::ops::Range;

use crate::store::RunKey;

/// The keys of an answer's runs (see `store::RunKey`), packed: run ids
/// back to back in one string, with where each ends, and the order of
/// each key. An answer of a million runs costs its ids' bytes and sixteen
/// more a run, not a `String` (and an allocation) each. What a query's
/// first pass hands to the second, which finds the records by these keys.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct Page {
    text: String,
    ends: Vec<usize>,
    orders: Vec<u64>,
    /// See [`Page::reads_in_one_pass`].
    in_one_pass: bool,
}

impl Page {
    /// Appends the run of key `key`.
    pub fn push(&mut self, key: RunKey<'_>) {
        self.text.push_str(key.run_id);
        self.ends.push(self.text.len());
        self.orders.push(key.order);
    }

    pub fn len(&self) -> usize {
        self.ends.len()
    }

    /// The `i`th run id; panics past the end, as a slice does.
    pub fn get(&self, i: usize) -> &str {
        let start = if i == 0 { 0 } else { self.ends[i - 1] };
        &self.text[start..self.ends[i]]
    }

    /// The key of the `i`th run; panics past the end.
    pub fn key(&self, i: usize) -> RunKey<'_> {
        RunKey {
            order: self.orders[i],
            run_id: self.get(i),
        }
    }

    /// The run ids in order.
    pub fn iter(&self) -> impl ExactSizeIterator<Item = &str> + '_ {
        (0..self.len()).map(|i| self.get(i))
    }

    /// The keys of the runs of `range`.
    pub fn keys(&self, range: Range<usize>) -> Vec<RunKey<'_>> {
        range.map(|i| self.key(i)).collect()
    }

    /// The page of a cache of `cache_len` runs, told whether its stretches
    /// are best read in one pass each ([`Page::reads_in_one_pass`]).
    pub fn in_cache_of(mut self, cache_len: u64) -> Page {
        self.in_one_pass = super::fetch::is_dense(self.len() as u64, cache_len)
            && (self.in_table_order() || self.in_reverse_table_order());
        self
    }

    /// Whether the records of each stretch of the page are best read in one
    /// pass over the range of the runs table they lie in: the page comes in
    /// the table's order (newest first: an answer with no sort key) or its
    /// reverse (oldest first) and holds a good part of its cache (see
    /// [`Page::in_cache_of`]), so that range holds few other runs.
    pub fn reads_in_one_pass(&self) -> bool {
        self.in_one_pass
    }

    /// Whether the runs come in the runs table's order (newest first, the
    /// order of an answer with no sort key): then the records of any
    /// stretch of them lie in one range of the table.
    pub fn in_table_order(&self) -> bool {
        (1..self.len()).all(|i| self.key(i - 1) < self.key(i))
    }

    /// Whether the runs come in the reverse of the table's order (oldest
    /// first): the records of any stretch of them lie in one range of the
    /// table too, to be passed over backwards.
    pub fn in_reverse_table_order(&self) -> bool {
        (1..self.len()).all(|i| self.key(i - 1) > self.key(i))
    }

    /// The page cut in ranges of `chunk` ids (the last may hold fewer).
    pub fn ranges(&self, chunk: usize) -> Vec<Range<usize>> {
        let chunk = chunk.max(1);
        (0..self.len())
            .step_by(chunk)
            .map(|start| start..(start + chunk).min(self.len()))
            .collect()
    }
}

impl<'a> FromIterator<RunKey<'a>> for Page {
    fn from_iter<I: IntoIterator<Item = RunKey<'a>>>(keys: I) -> Page {
        let mut page = Page::default();
        keys.into_iter().for_each(|key| page.push(key));
        page
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_come_back_as_pushed_in_ranges_of_any_size() {
        let ids = ["b", "", "a12", "é", "zz"];
        let keys = |orders: [u64; 5]| -> Vec<RunKey<'_>> {
            ids.iter()
                .zip(orders)
                .map(|(run_id, order)| RunKey { order, run_id })
                .collect()
        };
        let page: Page = keys([9, 3, 3, 0, u64::MAX]).into_iter().collect();
        assert_eq!(page.len(), 5);
        assert_eq!(page.iter().collect::<Vec<_>>(), ids);
        assert_eq!(page.get(3), "é");
        assert_eq!(
            page.key(3),
            RunKey {
                order: 0,
                run_id: "é"
            }
        );
        assert_eq!(page.keys(1..3), keys([9, 3, 3, 0, 0])[1..3]);
        assert!(!page.in_table_order());
        assert_eq!(page.ranges(2), [0..2, 2..4, 4..5]);
        assert_eq!(page.ranges(0), [0..1, 1..2, 2..3, 3..4, 4..5]);
        assert_eq!(page.ranges(9), vec![Range { start: 0, end: 5 }]);
        assert_eq!(Page::default().ranges(3), Vec::<Range<usize>>::new());
    }

    /// Pages are read a stretch at a time in one pass when they hold a
    /// good part of a large cache in the table's order or its reverse, and
    /// only then.
    #[test]
    fn only_large_pages_in_the_table_order_are_read_in_passes() {
        let ids: Vec<String> = (0..5000).map(|i| format!("r{i:04}")).collect();
        let page = |step: usize, backwards: bool, cache_len: u64| -> bool {
            let keys = ids
                .iter()
                .enumerate()
                .step_by(step)
                .map(|(i, run_id)| RunKey {
                    order: i as u64 / 2,
                    run_id,
                });
            let page: Page = match backwards {
                true => keys.rev().collect(),
                false => keys.collect(),
            };
            page.in_cache_of(cache_len).reads_in_one_pass()
        };
        assert!(page(1, false, 5000));
        assert!(page(3, false, 5000));
        assert!(page(1, true, 5000));
        assert!(page(3, true, 5000));
        // A fifth of the cache; a small cache.
        assert!(!page(5, false, 5000));
        assert!(!page(5, true, 5000));
        let small: Page = (0..100)
            .map(|i| RunKey {
                order: i,
                run_id: "r",
            })
            .collect();
        assert!(!small.in_cache_of(100).reads_in_one_pass());
        // Neither order: newest first, then oldest first.
        let mixed: Page = (0..2500)
            .map(|i| RunKey {
                order: i,
                run_id: "r",
            })
            .chain((0..2500).rev().map(|i| RunKey {
                order: i,
                run_id: "s",
            }))
            .collect();
        assert!(!mixed.in_cache_of(5000).reads_in_one_pass());
        // Not told its cache: read by lookups.
        let told_nothing: Page = (0..5000)
            .map(|i| RunKey {
                order: i,
                run_id: "r",
            })
            .collect();
        assert!(!told_nothing.reads_in_one_pass());
    }

    #[test]
    fn a_page_is_in_table_order_when_its_keys_ascend() {
        let page = |keys: &[(u64, &'static str)]| -> Page {
            keys.iter()
                .map(|&(order, run_id)| RunKey { order, run_id })
                .collect()
        };
        assert!(page(&[]).in_table_order());
        assert!(page(&[(5, "z")]).in_table_order());
        assert!(page(&[(1, "b"), (1, "c"), (2, "a")]).in_table_order());
        // Same order, ids down; orders down; a key twice.
        assert!(!page(&[(1, "c"), (1, "b")]).in_table_order());
        assert!(!page(&[(2, "a"), (1, "b")]).in_table_order());
        assert!(!page(&[(1, "a"), (1, "a")]).in_table_order());
        // And the other way.
        assert!(page(&[(2, "a"), (1, "c"), (1, "b")]).in_reverse_table_order());
        assert!(!page(&[(1, "b"), (1, "c")]).in_reverse_table_order());
        assert!(!page(&[(1, "a"), (1, "a")]).in_reverse_table_order());
        assert!(page(&[(5, "z")]).in_reverse_table_order());
    }
}
