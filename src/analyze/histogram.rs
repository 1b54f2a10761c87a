//! Pure numeric summaries: [`Summary`] (min/mean/median/p95/max) and fixed-width [`Histogram`]s.
use serde::{Deserialize, Serialize};

/// Five-number-style summary of a list of counts.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Summary {
    pub min: usize,
    pub max: usize,
    pub mean: f64,
    pub median: f64,
    pub p95: usize,
}

impl Summary {
    /// `None` for an empty list. Median averages the two middle values; p95 is the nearest-rank percentile.
    pub fn of(values: &[usize]) -> Option<Summary> {
        if values.is_empty() {
            return None;
        }
        let mut v = values.to_vec();
        v.sort_unstable();
        let n = v.len();
        let median = if n % 2 == 1 { v[n / 2] as f64 } else { (v[n / 2 - 1] + v[n / 2]) as f64 / 2.0 };
        let rank = ((0.95 * n as f64).ceil() as usize).clamp(1, n);
        Some(Summary {
            min: v[0],
            max: v[n - 1],
            mean: v.iter().sum::<usize>() as f64 / n as f64,
            median,
            p95: v[rank - 1],
        })
    }
}

/// One histogram bin covering `lo..hi` (`hi` exclusive).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Bin {
    pub lo: usize,
    pub hi: usize,
    pub count: usize,
}

/// Counts of values in consecutive bins of equal width starting at 0; trailing empty bins are dropped.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Histogram {
    pub bin_width: usize,
    pub bins: Vec<Bin>,
}

impl Histogram {
    pub fn build(values: &[usize], bin_width: usize) -> Histogram {
        let bin_width = bin_width.max(1);
        let n_bins = values.iter().max().map_or(0, |m| m / bin_width + 1);
        let mut bins: Vec<Bin> =
            (0..n_bins).map(|b| Bin { lo: b * bin_width, hi: (b + 1) * bin_width, count: 0 }).collect();
        for v in values {
            bins[v / bin_width].count += 1;
        }
        Histogram { bin_width, bins }
    }
}

/// A "nice" bin width (1, 2, 5, 10, 20, 50, ...) giving at most `target` bins up to `max`.
pub fn nice_bin_width(max: usize, target: usize) -> usize {
    let target = target.max(1);
    let mut scale = 1;
    loop {
        for step in [1, 2, 5] {
            let w = step * scale;
            if max / w < target {
                return w;
            }
        }
        scale *= 10;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn summary_of_known_values() {
        let s = Summary::of(&[5, 1, 3, 2, 4, 100]).unwrap();
        assert_eq!((s.min, s.max, s.p95), (1, 100, 100));
        assert_eq!(s.median, 3.5);
        assert!((s.mean - 115.0 / 6.0).abs() < 1e-12);
        let twenty: Vec<usize> = (1..=20).collect();
        assert_eq!(Summary::of(&twenty).unwrap().p95, 19);
        assert!(Summary::of(&[]).is_none());
    }

    #[test]
    fn histogram_bins() {
        let h = Histogram::build(&[0, 4, 5, 5, 14], 5);
        assert_eq!(h.bins.iter().map(|b| b.count).collect::<Vec<_>>(), [2, 2, 1]);
        assert_eq!((h.bins[2].lo, h.bins[2].hi), (10, 15));
        assert!(Histogram::build(&[], 5).bins.is_empty());
    }

    #[test]
    fn nice_widths() {
        assert_eq!(nice_bin_width(10, 30), 1);
        assert_eq!(nice_bin_width(45, 30), 2);
        assert_eq!(nice_bin_width(120, 30), 5);
        assert_eq!(nice_bin_width(400, 30), 20);
    }
}
