//! How much a micro F1 measured on a small set can move: a percentile bootstrap over sentences. Each resample
//! draws as many sentences as the set has, with replacement (seeded), and recomputes the entity micro F1 from
//! the per-sentence true/false positives and false negatives. On a 107-sentence validation split the 95 %
//! interval spans several points, which is the scale to read recipe differences and reference gaps against.
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde::{Deserialize, Serialize};

use crate::metrics::Span;

/// A bootstrap interval of the entity micro F1.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct F1Interval {
    pub resamples: usize,
    /// Percentile bounds of the given confidence level (e.g. 0.95).
    pub confidence: f64,
    pub low: f64,
    pub high: f64,
    /// Standard deviation of the resampled F1.
    pub std: f64,
}

/// Exact-match counts (tp, fp, fn) of one sentence's predicted against gold entities.
fn counts(gold: &[Span], pred: &[Span]) -> (u32, u32, u32) {
    let tp = pred.iter().filter(|p| gold.contains(p)).count() as u32;
    (tp, pred.len() as u32 - tp, gold.len() as u32 - tp)
}

fn micro_f1(tp: u64, fp: u64, fn_: u64) -> f64 {
    if 2 * tp + fp + fn_ == 0 {
        0.0
    } else {
        2.0 * tp as f64 / (2 * tp + fp + fn_) as f64
    }
}

/// The percentile bootstrap interval of the micro F1 of `entities` (gold, predicted per sentence). `None` for an
/// empty set or zero resamples.
pub fn micro_f1_interval(
    entities: &[(Vec<Span>, Vec<Span>)],
    resamples: usize,
    confidence: f64,
    seed: u64,
) -> Option<F1Interval> {
    if entities.is_empty() || resamples == 0 {
        return None;
    }
    let per: Vec<(u32, u32, u32)> = entities.iter().map(|(g, p)| counts(g, p)).collect();
    let mut rng = StdRng::seed_from_u64(seed);
    let mut f1s: Vec<f64> = (0..resamples)
        .map(|_| {
            let (mut tp, mut fp, mut fn_) = (0u64, 0u64, 0u64);
            for _ in 0..per.len() {
                let (a, b, c) = per[rng.random_range(0..per.len())];
                (tp, fp, fn_) = (tp + a as u64, fp + b as u64, fn_ + c as u64);
            }
            micro_f1(tp, fp, fn_)
        })
        .collect();
    f1s.sort_by(f64::total_cmp);
    let at = |q: f64| f1s[((q * (resamples - 1) as f64).round() as usize).min(resamples - 1)];
    let mean = f1s.iter().sum::<f64>() / resamples as f64;
    let std = (f1s.iter().map(|f| (f - mean).powi(2)).sum::<f64>() / resamples as f64).sqrt();
    let tail = (1.0 - confidence) / 2.0;
    Some(F1Interval { resamples, confidence, low: at(tail), high: at(1.0 - tail), std })
}

/// The paired bootstrap interval of a difference in micro F1, `F1(b) - F1(a)`, of two systems on the same
/// sentences (fp32 vs int8, say).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct DifferenceInterval {
    /// The observed difference on the whole set.
    pub delta: f64,
    pub resamples: usize,
    pub confidence: f64,
    pub low: f64,
    pub high: f64,
    pub std: f64,
}

/// Paired percentile bootstrap of `F1(b) - F1(a)`: every resample draws sentence indices with replacement once
/// and scores both systems on the same draw, so what the sentences have in common (their difficulty) cancels
/// and only the systems' disagreement is left. `gold`, `a` and `b` hold each sentence's entities. `None` for an
/// empty set, mismatched lengths or zero resamples.
pub fn paired_f1_difference(
    gold: &[Vec<Span>],
    a: &[Vec<Span>],
    b: &[Vec<Span>],
    resamples: usize,
    confidence: f64,
    seed: u64,
) -> Option<DifferenceInterval> {
    if gold.is_empty() || gold.len() != a.len() || gold.len() != b.len() || resamples == 0 {
        return None;
    }
    let ca: Vec<(u32, u32, u32)> = gold.iter().zip(a).map(|(g, p)| counts(g, p)).collect();
    let cb: Vec<(u32, u32, u32)> = gold.iter().zip(b).map(|(g, p)| counts(g, p)).collect();
    let f1_of = |c: &[(u32, u32, u32)], pick: &mut dyn Iterator<Item = usize>| {
        let (mut tp, mut fp, mut fn_) = (0u64, 0u64, 0u64);
        for i in pick {
            (tp, fp, fn_) = (tp + c[i].0 as u64, fp + c[i].1 as u64, fn_ + c[i].2 as u64);
        }
        micro_f1(tp, fp, fn_)
    };
    let n = gold.len();
    let delta = f1_of(&cb, &mut (0..n)) - f1_of(&ca, &mut (0..n));
    let mut rng = StdRng::seed_from_u64(seed);
    let mut diffs: Vec<f64> = (0..resamples)
        .map(|_| {
            let draw: Vec<usize> = (0..n).map(|_| rng.random_range(0..n)).collect();
            f1_of(&cb, &mut draw.iter().copied()) - f1_of(&ca, &mut draw.iter().copied())
        })
        .collect();
    diffs.sort_by(f64::total_cmp);
    let at = |q: f64| diffs[((q * (resamples - 1) as f64).round() as usize).min(resamples - 1)];
    let mean = diffs.iter().sum::<f64>() / resamples as f64;
    let std = (diffs.iter().map(|d| (d - mean).powi(2)).sum::<f64>() / resamples as f64).sqrt();
    let tail = (1.0 - confidence) / 2.0;
    Some(DifferenceInterval { delta, resamples, confidence, low: at(tail), high: at(1.0 - tail), std })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sentence(correct: usize, wrong: usize) -> (Vec<Span>, Vec<Span>) {
        let gold: Vec<Span> = (0..correct + wrong).map(|i| Span::new("AC", i, i + 1)).collect();
        let mut pred: Vec<Span> = gold[..correct].to_vec();
        pred.extend((0..wrong).map(|i| Span::new("LF", 100 + i, 101 + i)));
        (gold, pred)
    }

    #[test]
    fn identical_sentences_give_a_zero_width_interval_at_their_f1() {
        let set = vec![sentence(3, 1); 20];
        let ci = micro_f1_interval(&set, 200, 0.95, 1).unwrap();
        assert!((ci.low - 0.75).abs() < 1e-12 && (ci.high - 0.75).abs() < 1e-12, "{ci:?}");
        assert!(ci.std < 1e-12);
    }

    #[test]
    fn interval_covers_the_point_estimate_and_narrows_with_more_sentences() {
        let mixed = |n: usize| -> Vec<(Vec<Span>, Vec<Span>)> {
            (0..n).map(|i| if i % 3 == 0 { sentence(0, 2) } else { sentence(2, 0) }).collect()
        };
        let (small, large) = (mixed(30), mixed(600));
        let f1_of = |set: &[(Vec<Span>, Vec<Span>)]| {
            let (tp, fp, fn_) = set
                .iter()
                .map(|(g, p)| counts(g, p))
                .fold((0u64, 0u64, 0u64), |a, c| (a.0 + c.0 as u64, a.1 + c.1 as u64, a.2 + c.2 as u64));
            micro_f1(tp, fp, fn_)
        };
        let (a, b) =
            (micro_f1_interval(&small, 500, 0.95, 7).unwrap(), micro_f1_interval(&large, 500, 0.95, 7).unwrap());
        assert!(a.low <= f1_of(&small) && f1_of(&small) <= a.high, "{a:?}");
        assert!(b.low <= f1_of(&large) && f1_of(&large) <= b.high, "{b:?}");
        assert!(b.high - b.low < (a.high - a.low) / 2.0, "600 sentences should be much tighter: {a:?} {b:?}");
        assert_eq!(micro_f1_interval(&small, 500, 0.95, 7), Some(a), "seeded: reproducible");
        assert!(micro_f1_interval(&[], 100, 0.95, 1).is_none());
    }

    #[test]
    fn paired_difference_of_identical_systems_is_exactly_zero() {
        let set: Vec<(Vec<Span>, Vec<Span>)> = (0..40).map(|i| sentence(i % 3, i % 2)).collect();
        let gold: Vec<Vec<Span>> = set.iter().map(|s| s.0.clone()).collect();
        let pred: Vec<Vec<Span>> = set.iter().map(|s| s.1.clone()).collect();
        let d = paired_f1_difference(&gold, &pred, &pred, 300, 0.95, 3).unwrap();
        assert_eq!((d.delta, d.low, d.high, d.std), (0.0, 0.0, 0.0, 0.0));
    }

    #[test]
    fn paired_interval_is_tighter_than_the_unpaired_spread_and_sees_a_real_drop() {
        // 300 sentences of very different difficulty; system b loses one entity in every 10th sentence.
        let gold: Vec<Vec<Span>> =
            (0..300).map(|i| (0..(1 + i % 4)).map(|j| Span::new("AC", j, j + 1)).collect()).collect();
        let a: Vec<Vec<Span>> =
            gold.iter().enumerate().map(|(i, g)| if i % 2 == 0 { g.clone() } else { Vec::new() }).collect();
        let b: Vec<Vec<Span>> = a
            .iter()
            .enumerate()
            .map(|(i, p)| if i % 10 == 0 && !p.is_empty() { p[1..].to_vec() } else { p.clone() })
            .collect();
        let d = paired_f1_difference(&gold, &a, &b, 500, 0.95, 11).unwrap();
        assert!(d.delta < 0.0 && d.high < 0.0, "a real drop: the whole interval is below zero: {d:?}");
        assert!(d.low <= d.delta && d.delta <= d.high, "{d:?}");
        let pairs: Vec<(Vec<Span>, Vec<Span>)> = gold.iter().cloned().zip(a.iter().cloned()).collect();
        let unpaired = micro_f1_interval(&pairs, 500, 0.95, 11).unwrap();
        assert!(d.std < unpaired.std / 2.0, "pairing removes sentence difficulty: {} vs {}", d.std, unpaired.std);
        assert!(paired_f1_difference(&gold, &a, &b[1..], 10, 0.95, 1).is_none());
    }
}
