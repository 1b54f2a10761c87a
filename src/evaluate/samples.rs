//! Which sentences to show as sample predictions: the worst ones, then a seeded random draw.
use rand::seq::SliceRandom;
use rand::SeedableRng;
use serde::{Deserialize, Serialize};

use super::errors::ErrorCase;

/// Why a sentence is shown.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SampleReason {
    Worst,
    Random,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Sample {
    pub sentence: usize,
    pub reason: SampleReason,
    /// Entity errors in the sentence.
    pub errors: usize,
}

/// Up to `n` samples: `n / 2` worst sentences (most entity errors, then most words wrong; only sentences
/// with errors), then random sentences (seeded) from the rest, in file order within each group.
pub fn choose_samples(n_sentences: usize, errors: &[ErrorCase], n: usize, seed: u64) -> Vec<Sample> {
    let mut per = vec![(0usize, 0usize); n_sentences];
    for e in errors {
        per[e.sentence].0 += 1;
        per[e.sentence].1 += e.words_wrong;
    }
    let mut by_badness: Vec<usize> = (0..n_sentences).filter(|&i| per[i].0 > 0).collect();
    by_badness.sort_by(|&a, &b| per[b].cmp(&per[a]).then(a.cmp(&b)));
    let mut worst: Vec<usize> = by_badness.into_iter().take(n / 2).collect();
    worst.sort_unstable();
    let mut rest: Vec<usize> = (0..n_sentences).filter(|i| !worst.contains(i)).collect();
    rest.shuffle(&mut rand::rngs::StdRng::seed_from_u64(seed));
    let mut random: Vec<usize> = rest.into_iter().take(n.saturating_sub(worst.len())).collect();
    random.sort_unstable();
    worst
        .into_iter()
        .map(|s| Sample { sentence: s, reason: SampleReason::Worst, errors: per[s].0 })
        .chain(random.into_iter().map(|s| Sample { sentence: s, reason: SampleReason::Random, errors: per[s].0 }))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::evaluate::errors::Category;

    fn err(sentence: usize, words_wrong: usize) -> ErrorCase {
        ErrorCase { category: Category::Missed, sentence, gold: None, pred: None, words_wrong, confidence: None }
    }

    #[test]
    fn worst_first_then_seeded_random() {
        let errors = vec![err(3, 1), err(3, 1), err(7, 4), err(1, 1)];
        let a = choose_samples(20, &errors, 6, 42);
        assert_eq!(a.len(), 6);
        let worst: Vec<usize> = a.iter().filter(|s| s.reason == SampleReason::Worst).map(|s| s.sentence).collect();
        assert_eq!(worst, vec![1, 3, 7]);
        assert_eq!(a, choose_samples(20, &errors, 6, 42), "same seed, same draw");
        let seen: std::collections::BTreeSet<usize> = a.iter().map(|s| s.sentence).collect();
        assert_eq!(seen.len(), 6);
        // with n = 2 only the single worst sentence (7 has fewer errors than 3) is shown
        assert_eq!(choose_samples(20, &errors, 2, 42)[0].sentence, 3);
        assert_eq!(choose_samples(2, &[], 10, 1).len(), 2);
    }
}
