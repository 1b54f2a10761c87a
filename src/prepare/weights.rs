//! Class weights for the token-classification loss, from label counts of first sub-words.
//!
//! With `n_c` the number of labelled first sub-words of class `c`, `N = Σ n_c` and `K` the number of classes
//! with `n_c > 0`:
//! - `none`:         `w_c = 1`
//! - `inverse`:      `w_c = N / (K · n_c)`
//! - `sqrt-inverse`: `w_c = N / (√n_c · Σ_k √n_k)`
//!
//! Both non-trivial schemes are normalised so that the weighted mean over the counted tokens is 1
//! (`Σ n_c w_c / N = 1`), which keeps the loss scale (and a tuned learning rate) comparable to unweighted
//! training. Classes absent from the data get weight 1 (they never occur as a target, so their weight is unused).
use super::encode::Example;
use serde::{Deserialize, Serialize};

/// How to weight classes in the loss.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "kebab-case")]
pub enum ClassWeighting {
    #[default]
    None,
    Inverse,
    SqrtInverse,
}

/// `"abc"` is not `none`, `inverse` or `sqrt-inverse`.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("unknown class weighting `{0}`: expected `none`, `inverse` or `sqrt-inverse`")]
pub struct UnknownWeighting(pub String);

impl std::str::FromStr for ClassWeighting {
    type Err = UnknownWeighting;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "none" => Ok(ClassWeighting::None),
            "inverse" => Ok(ClassWeighting::Inverse),
            "sqrt-inverse" | "sqrt_inverse" => Ok(ClassWeighting::SqrtInverse),
            other => Err(UnknownWeighting(other.to_string())),
        }
    }
}

impl std::fmt::Display for ClassWeighting {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            ClassWeighting::None => "none",
            ClassWeighting::Inverse => "inverse",
            ClassWeighting::SqrtInverse => "sqrt-inverse",
        })
    }
}

/// Counts, per label id (`0..num_labels`), the labelled *first* sub-words of every word in every example
/// (what the loss sees; words in window overlaps count once per window). Out-of-range labels are ignored.
pub fn label_counts(examples: &[Example], num_labels: usize) -> Vec<u64> {
    let mut counts = vec![0u64; num_labels];
    for ex in examples {
        for pos in ex.first_subword_positions() {
            if let Some(c) = usize::try_from(ex.labels[pos]).ok().and_then(|l| counts.get_mut(l)) {
                *c += 1;
            }
        }
    }
    counts
}

/// Weights per class from `counts` (see the module docs for the formulas).
pub fn class_weights(counts: &[u64], weighting: ClassWeighting) -> Vec<f32> {
    let total: f64 = counts.iter().map(|&c| c as f64).sum();
    let present = counts.iter().filter(|&&c| c > 0).count() as f64;
    let norm = match weighting {
        ClassWeighting::None => return vec![1.0; counts.len()],
        ClassWeighting::Inverse => total / present,
        ClassWeighting::SqrtInverse => total / counts.iter().map(|&c| (c as f64).sqrt()).sum::<f64>(),
    };
    counts
        .iter()
        .map(|&c| match (c, weighting) {
            (0, _) => 1.0,
            (c, ClassWeighting::Inverse) => (norm / c as f64) as f32,
            (c, _) => (norm / (c as f64).sqrt()) as f32,
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn weighted_mean(counts: &[u64], w: &[f32]) -> f64 {
        let n: f64 = counts.iter().map(|&c| c as f64).sum();
        counts.iter().zip(w).map(|(&c, &w)| c as f64 * w as f64).sum::<f64>() / n
    }

    #[test]
    fn weights_have_unit_weighted_mean() {
        let counts = [32_971u64, 2_336, 1_500, 3_193];
        for m in [ClassWeighting::None, ClassWeighting::Inverse, ClassWeighting::SqrtInverse] {
            let w = class_weights(&counts, m);
            assert!((weighted_mean(&counts, &w) - 1.0).abs() < 1e-6, "{m}: {w:?}");
        }
        let inv = class_weights(&counts, ClassWeighting::Inverse);
        // Inverse: every class contributes equally (n_c · w_c = N / K).
        for (&c, &w) in counts.iter().zip(&inv) {
            assert!((c as f64 * w as f64 - 40_000.0 / 4.0).abs() < 0.5);
        }
        let sq = class_weights(&counts, ClassWeighting::SqrtInverse);
        assert!(sq[2] > sq[1] && sq[1] > sq[0] && inv[2] / inv[0] > sq[2] / sq[0]);
    }

    #[test]
    fn absent_classes_get_one() {
        let w = class_weights(&[10, 0, 30], ClassWeighting::Inverse);
        assert_eq!(w[1], 1.0);
        assert!((w[0] - 2.0).abs() < 1e-6 && (w[2] - 2.0 / 3.0).abs() < 1e-6);
    }

    #[test]
    fn parses_names() {
        assert_eq!("sqrt-inverse".parse::<ClassWeighting>(), Ok(ClassWeighting::SqrtInverse));
        assert!("log".parse::<ClassWeighting>().is_err());
        assert_eq!(ClassWeighting::Inverse.to_string(), "inverse");
    }
}
