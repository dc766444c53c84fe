//! Where a run's record is in the runs table: newest first.
//!
//! The runs table is keyed by a run's [`RunKey`]: its `created_at` as a
//! number that sorts newest first, then its id. A pass over the table
//! meets the runs in the order of an answer with no sort key, so such an
//! answer (the common one: `ls`, `export`) reads the table's leaves in
//! turn, each once, where a table keyed by id would be read a leaf a run
//! in an order of its own. The hot table, keyed by id, holds each run's
//! `created_at`: it is the index from a run id to its key.

/// A run's place in the runs table. Keys sort as the default answer does:
/// `created_at` descending (NaN last), then run id.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub(crate) struct RunKey<'a> {
    /// [`created_order`] of the run's `created_at`.
    pub order: u64,
    pub run_id: &'a str,
}

impl<'a> RunKey<'a> {
    /// The key of run `run_id` created at `created_at`.
    pub fn new(created_at: f64, run_id: &'a str) -> RunKey<'a> {
        RunKey {
            order: created_order(created_at),
            run_id,
        }
    }
}

/// `created_at` as a `u64` whose ascending order is newest first, NaN last
/// (the default order of an answer).
pub(crate) fn created_order(created_at: f64) -> u64 {
    float_order(created_at, true)
}

/// A float as a `u64` whose order is that of the numbers (`descending`:
/// reversed), NaN last either way and `-0.0` equal to `0.0`: what sorting
/// by a float compares.
///
/// ```ignore
/// assert!(float_order(-1.0, false) < float_order(2.0, false));
/// assert!(float_order(2.0, true) < float_order(-1.0, true));
/// assert_eq!(float_order(f64::NAN, true), u64::MAX);
/// ```
pub(crate) fn float_order(value: f64, descending: bool) -> u64 {
    if value.is_nan() {
        return u64::MAX;
    }
    // Flipping the sign bit of a positive float, and every bit of a
    // negative one, orders the bits as the numbers. No number's key, nor
    // its complement, is `u64::MAX` (that would be a NaN's bits).
    let bits = (value + 0.0).to_bits();
    let key = if bits >> 63 == 1 {
        !bits
    } else {
        bits | 1 << 63
    };
    if descending { !key } else { key }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn float() -> impl Strategy<Value = f64> {
        prop_oneof![
            any::<f64>(),
            Just(0.0),
            Just(-0.0),
            Just(f64::INFINITY),
            Just(f64::NEG_INFINITY),
            Just(f64::NAN),
            -1e3..1e3f64,
        ]
    }

    proptest! {
        /// Orders compare as the floats do, NaN after every number, in
        /// both directions.
        #[test]
        fn orders_sort_as_their_floats(a in float(), b in float()) {
            for descending in [false, true] {
                let (ka, kb) = (float_order(a, descending), float_order(b, descending));
                let expected = match (a.is_nan(), b.is_nan()) {
                    (true, true) => std::cmp::Ordering::Equal,
                    (true, false) => std::cmp::Ordering::Greater,
                    (false, true) => std::cmp::Ordering::Less,
                    _ if descending => b.partial_cmp(&a).unwrap(),
                    _ => a.partial_cmp(&b).unwrap(),
                };
                prop_assert_eq!(ka.cmp(&kb), expected, "{} {} {}", a, b, descending);
            }
        }

        /// Keys sort newest first, then by id.
        #[test]
        fn keys_sort_newest_first_then_by_id(a in float(), b in float(), x in "[a-c]{0,2}", y in "[a-c]{0,2}") {
            let (ka, kb) = (RunKey::new(a, &x), RunKey::new(b, &y));
            let by_time = created_order(a).cmp(&created_order(b));
            prop_assert_eq!(ka.cmp(&kb), by_time.then(x.cmp(&y)));
            if !a.is_nan() && !b.is_nan() && a > b {
                prop_assert!(ka < kb);
            }
        }
    }
}
