//! Cutting long sentences into overlapping windows of whole words, and merging per-window predictions back.
//!
//! A sentence whose sub-words exceed the window budget (`max_len` minus the special tokens) is cut into windows
//! of consecutive *whole* words; consecutive windows overlap by at most `stride` sub-words (at least one word of
//! progress per window). A word is split across windows only when it alone exceeds the budget: it then gets a
//! window of its own, truncated to the budget (its first sub-word, which carries its label, is always kept).
//!
//! Each window *owns* a contiguous range of its words for scoring: inside an overlap, the boundary sits at the
//! sub-word midpoint, so every owned word has context on both sides where possible. The owned ranges of one
//! sentence tile `0..n_words` exactly, so [`merge_windows`] yields one prediction per word.
use serde::{Deserialize, Serialize};
use std::ops::Range;

/// Where a window sits in its sentence: `words` in the window, `owned` ⊆ `words` the ones it scores.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct WindowSpan {
    pub sentence_index: usize,
    pub words: Range<usize>,
    pub owned: Range<usize>,
}

impl AsRef<WindowSpan> for WindowSpan {
    fn as_ref(&self) -> &WindowSpan {
        self
    }
}

/// Why per-window predictions cannot be merged.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum MergeError {
    #[error("{windows} windows but {predictions} prediction lists")]
    CountMismatch { windows: usize, predictions: usize },
    #[error("window {window} (sentence {sentence}) covers {expected} words but has {got} predictions")]
    LengthMismatch { window: usize, sentence: usize, expected: usize, got: usize },
    #[error("window {window}: owned words {owned:?} not inside its words {words:?}")]
    BadOwnership { window: usize, owned: Range<usize>, words: Range<usize> },
    #[error("sentence {sentence}: owned ranges do not tile its words (expected a window owning from word {expected}, got {got})")]
    Gap { sentence: usize, expected: usize, got: usize },
    #[error("sentence {sentence} has no window")]
    MissingSentence { sentence: usize },
}

/// Plans windows over the per-word sub-word counts of one sentence. `budget` is the number of sub-word slots
/// per window (≥ 1); `stride` the sub-word overlap wanted between consecutive windows.
pub fn plan_windows(sentence_index: usize, counts: &[usize], budget: usize, stride: usize) -> Vec<WindowSpan> {
    let n = counts.len();
    let budget = budget.max(1);
    let total: usize = counts.iter().sum();
    if total <= budget {
        return vec![WindowSpan { sentence_index, words: 0..n, owned: 0..n }];
    }
    let mut spans: Vec<Range<usize>> = Vec::new();
    let mut start = 0;
    loop {
        let (mut end, mut used) = (start, 0);
        while end < n && used + counts[end] <= budget {
            used += counts[end];
            end += 1;
        }
        if end == start {
            end = start + 1; // one over-long word: its own, truncated window
        }
        spans.push(start..end);
        if end == n {
            break;
        }
        // Step back over whole words while the overlap stays within `stride`, keeping progress ≥ 1 word.
        let (mut next, mut overlap) = (end, 0);
        while next > start + 1 && overlap + counts[next - 1] <= stride {
            overlap += counts[next - 1];
            next -= 1;
        }
        start = next;
    }
    let mut windows = Vec::with_capacity(spans.len());
    let mut owned_start = 0;
    for (i, words) in spans.iter().enumerate() {
        let owned_end = match spans.get(i + 1) {
            None => n,
            Some(next) => {
                // Overlap is next.start..words.end; put the boundary at the inner word boundary closest to its
                // sub-word midpoint (with a one-word overlap, the earlier window keeps the word).
                let ov = next.start..words.end.max(next.start);
                let half = counts[ov.clone()].iter().sum::<usize>() as f64 / 2.0;
                let mut best = (ov.end, f64::INFINITY);
                let mut acc = 0;
                for m in ov.start + 1..ov.end {
                    acc += counts[m - 1];
                    let d = (acc as f64 - half).abs();
                    if d < best.1 {
                        best = (m, d);
                    }
                }
                best.0.max(owned_start)
            }
        };
        windows.push(WindowSpan { sentence_index, words: words.clone(), owned: owned_start..owned_end });
        owned_start = owned_end;
    }
    windows
}

/// Merges per-window word predictions (`predictions[i][k]` = prediction for word `windows[i].words.start + k`)
/// into one prediction list per sentence, taking each word from the window that owns it. Windows may come in
/// any order; sentences are numbered `0..=max sentence_index` and each must be covered.
pub fn merge_windows<W: AsRef<WindowSpan>, T: Clone>(
    windows: &[W],
    predictions: &[Vec<T>],
) -> Result<Vec<Vec<T>>, MergeError> {
    if windows.len() != predictions.len() {
        return Err(MergeError::CountMismatch { windows: windows.len(), predictions: predictions.len() });
    }
    let mut order: Vec<usize> = (0..windows.len()).collect();
    order.sort_by_key(|&i| {
        let w = windows[i].as_ref();
        (w.sentence_index, w.owned.start, w.owned.end)
    });
    let n_sentences = windows.iter().map(|w| w.as_ref().sentence_index + 1).max().unwrap_or(0);
    let mut merged: Vec<Option<Vec<T>>> = vec![None; n_sentences];
    for i in order {
        let w = windows[i].as_ref();
        let preds = &predictions[i];
        if preds.len() != w.words.len() {
            let (expected, got) = (w.words.len(), preds.len());
            return Err(MergeError::LengthMismatch { window: i, sentence: w.sentence_index, expected, got });
        }
        if w.owned.start < w.words.start || w.owned.end > w.words.end || w.owned.start > w.owned.end {
            return Err(MergeError::BadOwnership { window: i, owned: w.owned.clone(), words: w.words.clone() });
        }
        let out = merged[w.sentence_index].get_or_insert_with(Vec::new);
        if w.owned.start != out.len() {
            return Err(MergeError::Gap { sentence: w.sentence_index, expected: out.len(), got: w.owned.start });
        }
        let local = w.owned.start - w.words.start..w.owned.end - w.words.start;
        out.extend_from_slice(&preds[local]);
    }
    merged.into_iter().enumerate().map(|(s, m)| m.ok_or(MergeError::MissingSentence { sentence: s })).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Deterministic pseudo-random sub-word counts in 1..=4.
    fn counts(n: usize, seed: u64) -> Vec<usize> {
        let mut x = seed;
        (0..n)
            .map(|_| {
                x = x.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
                1 + (x >> 61) as usize % 4
            })
            .collect()
    }

    fn check_plan(counts: &[usize], budget: usize, stride: usize) -> Vec<WindowSpan> {
        let windows = plan_windows(3, counts, budget, stride);
        let mut next_owned = 0;
        for (i, w) in windows.iter().enumerate() {
            assert_eq!(w.sentence_index, 3);
            let pieces: usize = counts[w.words.clone()].iter().sum();
            assert!(pieces <= budget || w.words.len() == 1, "window {i} {w:?} has {pieces} > {budget}");
            assert!(w.owned.start >= w.words.start && w.owned.end <= w.words.end, "{w:?}");
            assert_eq!(w.owned.start, next_owned);
            next_owned = w.owned.end;
            if i > 0 {
                let prev = &windows[i - 1];
                assert!(w.words.start > prev.words.start, "no progress at {i}");
                let overlap: usize = counts[w.words.start..prev.words.end.max(w.words.start)].iter().sum();
                assert!(overlap <= stride, "overlap {overlap} > stride {stride}");
            }
        }
        assert_eq!(next_owned, counts.len());
        assert_eq!(windows.first().unwrap().words.start, 0);
        assert_eq!(windows.last().unwrap().words.end, counts.len());
        windows
    }

    #[test]
    fn short_sentence_is_one_window() {
        let w = check_plan(&[1, 2, 3], 6, 2);
        assert_eq!(w, vec![WindowSpan { sentence_index: 3, words: 0..3, owned: 0..3 }]);
        let w = check_plan(&[], 6, 2);
        assert_eq!(w.len(), 1);
    }

    #[test]
    fn long_sentences_overlap_and_tile() {
        for seed in 0..20 {
            let c = counts(300, seed);
            let windows = check_plan(&c, 30, 8);
            assert!(windows.len() >= 300 * 2 / 30, "{} windows", windows.len());
            // Each inner boundary has context on both sides: owned words are not at a window's very edge.
            for w in &windows[1..windows.len() - 1] {
                assert!(w.owned.start > w.words.start && w.owned.end < w.words.end, "{w:?}");
            }
        }
        // Zero stride: windows touch without overlap.
        let c = counts(100, 7);
        for w in check_plan(&c, 16, 0) {
            assert_eq!(w.words, w.owned);
        }
    }

    #[test]
    fn over_long_word_gets_its_own_window() {
        let c = [2, 50, 2, 2];
        let w = check_plan(&c, 10, 4);
        assert!(w.iter().any(|w| w.words == (1..2)), "{w:?}");
    }

    #[test]
    fn merge_round_trip_300_words_max_len_32() {
        // max_len 32 with [CLS]/[SEP] → budget 30; stride 8.
        let c = counts(300, 42);
        let windows = plan_windows(0, &c, 30, 8);
        assert!(windows.len() > 10);
        let preds: Vec<Vec<usize>> = windows.iter().map(|w| w.words.clone().collect()).collect();
        let merged = merge_windows(&windows, &preds).unwrap();
        assert_eq!(merged, vec![(0..300).collect::<Vec<_>>()]);
        // Order of windows does not matter.
        let mut rev: Vec<(WindowSpan, Vec<usize>)> = windows.into_iter().zip(preds).rev().collect();
        rev.rotate_left(3);
        let (w, p): (Vec<_>, Vec<_>) = rev.into_iter().unzip();
        assert_eq!(merge_windows(&w, &p).unwrap(), vec![(0..300).collect::<Vec<_>>()]);
    }

    #[test]
    fn merge_reports_problems() {
        let w = vec![WindowSpan { sentence_index: 1, words: 0..2, owned: 0..2 }];
        assert_eq!(merge_windows(&w, &[vec![1, 2]]), Err(MergeError::MissingSentence { sentence: 0 }));
        assert!(matches!(merge_windows(&w, &[vec![1]]), Err(MergeError::LengthMismatch { .. })));
        assert!(matches!(merge_windows(&w, &[] as &[Vec<i32>]), Err(MergeError::CountMismatch { .. })));
        let gap = vec![
            WindowSpan { sentence_index: 0, words: 0..3, owned: 0..2 },
            WindowSpan { sentence_index: 0, words: 2..5, owned: 3..5 },
        ];
        let err = merge_windows(&gap, &[vec![0; 3], vec![0; 3]]).unwrap_err();
        assert_eq!(err, MergeError::Gap { sentence: 0, expected: 2, got: 3 });
    }
}
