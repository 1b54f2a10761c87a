//! Carving a validation split out of train, and exact-duplicate detection.
//!
//! [`carve_validation`]: the sentence indices are shuffled with `StdRng::seed_from_u64(seed)` (rand 0.9), and
//! the last `round(fraction × n)` shuffled indices (at least 1, at most n − 1) become validation. Both parts
//! then keep the original file order, so a sentence's position is easy to trace. Same data + same seed →
//! the same split on every platform.
use std::collections::HashMap;

use rand::seq::SliceRandom;
use rand::SeedableRng;

use super::{Dataset, Sentence};

/// Default share of train carved out as validation.
pub const DEFAULT_VAL_FRACTION: f64 = 0.1;

/// Why a split could not be made.
#[derive(Debug, thiserror::Error, PartialEq)]
pub enum SplitError {
    #[error("validation fraction {0} is outside (0, 1)")]
    BadFraction(f64),
    #[error("`{name}` has {len} sentence(s); at least 2 are needed to carve a validation split")]
    TooSmall { name: String, len: usize },
}

/// The carve on indices: shuffles `0..n` with `seed` and takes the last `round(n · fraction)` (at least 1 when
/// `fraction > 0` and `n ≥ 2`, never all) as validation. Returns `(train, validation)`, each sorted. `fraction`
/// 0 (or `n < 2`) gives no validation. The one definition used by `train`, `prepare` and `analyze`.
pub fn split_indices(n: usize, fraction: f64, seed: u64) -> (Vec<usize>, Vec<usize>) {
    if fraction <= 0.0 || n < 2 {
        return ((0..n).collect(), Vec::new());
    }
    let n_val = ((n as f64 * fraction.min(1.0)).round() as usize).clamp(1, n - 1);
    let mut order: Vec<usize> = (0..n).collect();
    order.shuffle(&mut rand::rngs::StdRng::seed_from_u64(seed));
    let mut val = order[n - n_val..].to_vec();
    let mut train = order[..n - n_val].to_vec();
    val.sort_unstable();
    train.sort_unstable();
    (train, val)
}

/// Splits `train` into `(train, validation)`, named `train` and `validation`; see the module doc.
pub fn carve_validation(train: Dataset, fraction: f64, seed: u64) -> Result<(Dataset, Dataset), SplitError> {
    if !(fraction > 0.0 && fraction < 1.0) {
        return Err(SplitError::BadFraction(fraction));
    }
    let n = train.sentences.len();
    if n < 2 {
        return Err(SplitError::TooSmall { name: train.name, len: n });
    }
    let (_, val_idx) = split_indices(n, fraction, seed);
    let mut is_val = vec![false; n];
    for &i in &val_idx {
        is_val[i] = true;
    }
    let (mut kept, mut val) = (Vec::with_capacity(n - val_idx.len()), Vec::with_capacity(val_idx.len()));
    for (s, v) in train.sentences.into_iter().zip(is_val) {
        if v {
            val.push(s);
        } else {
            kept.push(s);
        }
    }
    Ok((Dataset { name: "train".into(), sentences: kept }, Dataset { name: "validation".into(), sentences: val }))
}

/// Groups of indices of sentences with identical word sequences (groups of size ≥ 2, in first-seen order).
pub fn duplicate_groups(sentences: &[Sentence]) -> Vec<Vec<usize>> {
    let mut by_words: HashMap<&[String], usize> = HashMap::new();
    let mut groups: Vec<Vec<usize>> = Vec::new();
    for (i, s) in sentences.iter().enumerate() {
        let g = *by_words.entry(s.words.as_slice()).or_insert_with(|| {
            groups.push(Vec::new());
            groups.len() - 1
        });
        groups[g].push(i);
    }
    groups.retain(|g| g.len() > 1);
    groups
}

/// Indices of sentences in `other` whose word sequence also occurs in `reference`.
pub fn shared_sentences(reference: &[Sentence], other: &[Sentence]) -> Vec<usize> {
    let seen: std::collections::HashSet<&[String]> = reference.iter().map(|s| s.words.as_slice()).collect();
    other.iter().enumerate().filter(|(_, s)| seen.contains(s.words.as_slice())).map(|(i, _)| i).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn index_split_is_deterministic_and_disjoint() {
        let (t, v) = split_indices(1072, 0.1, 42);
        assert_eq!(v.len(), 107);
        assert_eq!(t.len() + v.len(), 1072);
        assert!(v.iter().all(|i| t.binary_search(i).is_err()));
        assert_eq!(split_indices(1072, 0.1, 42), (t.clone(), v.clone()));
        assert_ne!(split_indices(1072, 0.1, 43).1, v);
        assert_eq!(split_indices(5, 0.0, 1), ((0..5).collect(), vec![]));
        assert_eq!(split_indices(5, 0.01, 1).1.len(), 1);
        assert_eq!(split_indices(1, 0.5, 1).1.len(), 0);
    }

    fn ds(n: usize) -> Dataset {
        let sentences = (0..n)
            .map(|i| Sentence { origin: format!("f:{i}"), words: vec![format!("w{i}")], tags: vec!["O".into()] })
            .collect();
        Dataset { name: "all".into(), sentences }
    }

    #[test]
    fn carve_is_deterministic_disjoint_and_ordered() {
        let (t1, v1) = carve_validation(ds(100), 0.1, 42).unwrap();
        let (t2, v2) = carve_validation(ds(100), 0.1, 42).unwrap();
        assert_eq!((t1.sentences.len(), v1.sentences.len()), (90, 10));
        assert_eq!(v1.sentences, v2.sentences);
        assert_eq!(t1.sentences, t2.sentences);
        assert_eq!((t1.name.as_str(), v1.name.as_str()), ("train", "validation"));
        let (_, v3) = carve_validation(ds(100), 0.1, 7).unwrap();
        assert_ne!(v1.sentences, v3.sentences, "another seed picks another validation set");
        assert!(shared_sentences(&t1.sentences, &v1.sentences).is_empty());
        let idx = |s: &Sentence| s.words[0][1..].parse::<usize>().unwrap();
        assert!(v1.sentences.windows(2).all(|w| idx(&w[0]) < idx(&w[1])), "file order kept");
    }

    #[test]
    fn carve_bounds() {
        assert_eq!(carve_validation(ds(3), 0.01, 1).unwrap().1.sentences.len(), 1);
        assert_eq!(carve_validation(ds(3), 0.99, 1).unwrap().0.sentences.len(), 1);
        assert_eq!(carve_validation(ds(3), 1.0, 1).unwrap_err(), SplitError::BadFraction(1.0));
        assert!(matches!(carve_validation(ds(1), 0.5, 1), Err(SplitError::TooSmall { len: 1, .. })));
    }

    #[test]
    fn finds_duplicates_within_and_across() {
        let mut a = ds(4).sentences;
        a[3].words = a[1].words.clone();
        assert_eq!(duplicate_groups(&a), vec![vec![1, 3]]);
        let b = vec![a[2].clone(), ds(10).sentences[9].clone()];
        assert_eq!(shared_sentences(&a, &b), vec![0]);
    }
}
