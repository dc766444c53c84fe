//! The run ids of an answer, in its order, packed.

use std::ops::Range;

/// Run ids back to back in one string, with where each ends: an answer of
/// a million runs costs its ids' bytes and eight more a run, not a
/// `String` (and an allocation) each. What a query's first pass hands to
/// the second.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct Page {
    text: String,
    ends: Vec<usize>,
}

impl Page {
    /// Appends `run_id`.
    pub fn push(&mut self, run_id: &str) {
        self.text.push_str(run_id);
        self.ends.push(self.text.len());
    }

    pub fn len(&self) -> usize {
        self.ends.len()
    }

    /// The `i`th run id; panics past the end, as a slice does.
    pub fn get(&self, i: usize) -> &str {
        let start = if i == 0 { 0 } else { self.ends[i - 1] };
        &self.text[start..self.ends[i]]
    }

    /// The run ids in order.
    pub fn iter(&self) -> impl ExactSizeIterator<Item = &str> + '_ {
        (0..self.len()).map(|i| self.get(i))
    }

    /// The run ids of `range`.
    pub fn ids(&self, range: Range<usize>) -> Vec<&str> {
        range.map(|i| self.get(i)).collect()
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

impl<'a> FromIterator<&'a str> for Page {
    fn from_iter<I: IntoIterator<Item = &'a str>>(ids: I) -> Page {
        let mut page = Page::default();
        ids.into_iter().for_each(|id| page.push(id));
        page
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_come_back_as_pushed_in_ranges_of_any_size() {
        let ids = ["b", "", "a12", "é", "zz"];
        let page: Page = ids.iter().copied().collect();
        assert_eq!(page.len(), 5);
        assert_eq!(page.iter().collect::<Vec<_>>(), ids);
        assert_eq!(page.get(3), "é");
        assert_eq!(page.ids(1..3), ["", "a12"]);
        assert_eq!(page.ranges(2), [0..2, 2..4, 4..5]);
        assert_eq!(page.ranges(0), [0..1, 1..2, 2..3, 3..4, 4..5]);
        assert_eq!(page.ranges(9), vec![Range { start: 0, end: 5 }]);
        assert_eq!(Page::default().ranges(3), Vec::<Range<usize>>::new());
    }
}
