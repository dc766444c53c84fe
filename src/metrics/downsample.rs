//! Downsampling a series for plots, in bounded memory and one pass, so
//! that a spike survives: each bucket of consecutive points keeps its
//! first, minimum, maximum and last point, and its first `NaN`.
//!
//! The number of points is not known until the end of the file, so buckets
//! start one point wide and double: when `2 * buckets` are full, adjacent
//! pairs merge (a pair's extremes are the extremes of its two halves). Each
//! point is pushed once and each merge halves the buckets, so the work is
//! linear in the points; memory is `2 * buckets` buckets.

use crate::metrics::Point;

/// Keep about `buckets` buckets of each series: at most `5 * buckets`
/// points (first, min, max, last and first `NaN` of each bucket), in file
/// order. A series with no more than `buckets` points is kept whole.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Downsample {
    /// How many buckets (at least 1).
    pub buckets: usize,
}

/// A point with its index in the series, to put the kept points back in
/// file order.
#[derive(Clone, Copy, Debug)]
struct Kept {
    index: u64,
    point: Point,
}

#[derive(Clone, Copy, Debug)]
struct Bucket {
    first: Kept,
    last: Kept,
    /// The smallest and largest values that are not `NaN`.
    min: Option<Kept>,
    max: Option<Kept>,
    nan: Option<Kept>,
}

impl Bucket {
    fn new(kept: Kept) -> Bucket {
        let number = (!kept.point.value.is_nan()).then_some(kept);
        Bucket {
            first: kept,
            last: kept,
            min: number,
            max: number,
            nan: if number.is_none() { Some(kept) } else { None },
        }
    }

    /// The bucket of `self`'s points followed by `later`'s.
    fn merge(self, later: Bucket) -> Bucket {
        // Ties keep the earlier point.
        let pick = |a: Option<Kept>, b: Option<Kept>, b_wins: fn(f64, f64) -> bool| match (a, b) {
            (Some(a), Some(b)) if b_wins(a.point.value, b.point.value) => Some(b),
            (Some(a), _) => Some(a),
            (None, b) => b,
        };
        Bucket {
            first: self.first,
            last: later.last,
            min: pick(self.min, later.min, |a, b| b < a),
            max: pick(self.max, later.max, |a, b| b > a),
            nan: self.nan.or(later.nan),
        }
    }
}

/// One series being downsampled.
#[derive(Debug)]
pub(crate) struct Sampler {
    max: usize,
    /// Points per bucket; a power of two.
    width: u64,
    count: u64,
    buckets: Vec<Bucket>,
}

impl Sampler {
    pub fn new(downsample: Downsample) -> Sampler {
        let max = downsample.buckets.max(1);
        Sampler {
            max,
            width: 1,
            count: 0,
            buckets: Vec::with_capacity(2 * max),
        }
    }

    pub fn push(&mut self, point: Point) {
        let kept = Kept {
            index: self.count,
            point,
        };
        if self.count.is_multiple_of(self.width) {
            if self.buckets.len() == 2 * self.max {
                // count == 2 * max * width: a multiple of the new width too.
                self.halve();
                self.width *= 2;
            }
            self.buckets.push(Bucket::new(kept));
        } else if let Some(bucket) = self.buckets.last_mut() {
            *bucket = bucket.merge(Bucket::new(kept));
        }
        self.count += 1;
    }

    /// Merges adjacent pairs (an odd last bucket stays as it is).
    fn halve(&mut self) {
        let merged: Vec<Bucket> = self
            .buckets
            .chunks(2)
            .filter_map(|pair| pair.iter().copied().reduce(Bucket::merge))
            .collect();
        self.buckets = merged;
    }

    /// The kept points, in series order.
    pub fn finish(mut self) -> Vec<Point> {
        while self.buckets.len() > self.max {
            self.halve();
        }
        let mut kept: Vec<Kept> = Vec::with_capacity(self.buckets.len() * 5);
        for b in &self.buckets {
            kept.push(b.first);
            kept.extend(b.min);
            kept.extend(b.max);
            kept.extend(b.nan);
            kept.push(b.last);
        }
        kept.sort_by_key(|k| k.index);
        kept.dedup_by_key(|k| k.index);
        kept.into_iter().map(|k| k.point).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample(values: &[f64], buckets: usize) -> Vec<Point> {
        let mut sampler = Sampler::new(Downsample { buckets });
        for (i, &value) in values.iter().enumerate() {
            sampler.push(Point {
                step: i as u64 * 10,
                value,
            });
        }
        sampler.finish()
    }

    #[test]
    fn a_short_series_is_kept_whole() {
        let values = [3.0, 1.0, 2.0];
        let points = sample(&values, 3);
        assert_eq!(points.iter().map(|p| p.value).collect::<Vec<_>>(), values);
    }

    #[test]
    fn a_spike_survives() {
        let mut values = vec![1.0; 100_000];
        values[54_321] = 1e9;
        values[77_777] = -5.0;
        let points = sample(&values, 10);
        assert!(points.contains(&Point {
            step: 543_210,
            value: 1e9
        }));
        assert!(points.contains(&Point {
            step: 777_770,
            value: -5.0
        }));
        // The ends are kept too.
        assert_eq!(points[0].step, 0);
        assert_eq!(points.last().unwrap().step, 999_990);
    }

    #[test]
    fn a_nan_survives_between_numbers() {
        let mut values = vec![0.5; 1000];
        values[500] = f64::NAN;
        let points = sample(&values, 4);
        assert!(points.iter().any(|p| p.value.is_nan() && p.step == 5000));
    }

    proptest::proptest! {
        /// At most 5 points per bucket, in step order, each one of the
        /// input's, with the global min and max among them.
        #[test]
        fn bounded_ordered_and_extremes_kept(
            values in proptest::collection::vec(-1e6f64..1e6, 0..3000),
            buckets in 1usize..50,
        ) {
            let points = sample(&values, buckets);
            proptest::prop_assert!(points.len() <= 5 * buckets);
            proptest::prop_assert!(points.windows(2).all(|w| w[0].step < w[1].step));
            for p in &points {
                proptest::prop_assert_eq!(values[(p.step / 10) as usize], p.value);
            }
            if !values.is_empty() {
                let min = values.iter().copied().fold(f64::INFINITY, f64::min);
                let max = values.iter().copied().fold(f64::NEG_INFINITY, f64::max);
                proptest::prop_assert!(points.iter().any(|p| p.value == min));
                proptest::prop_assert!(points.iter().any(|p| p.value == max));
            }
        }
    }
}
