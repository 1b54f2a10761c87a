//! Word-level decoding of per-word label log-probabilities: plain argmax, or BIO-constrained Viterbi, which
//! only allows `I-X` after `B-X` or `I-X` (and never first), so every predicted span is well-formed. Long-form
//! boundaries are the model's weak spot; the constraint repairs the stray `I-LF` that argmax produces.

use crate::labels::LabelSet;

pub use nerkit_api::Decoding;

/// `allowed[prev][next]`: may label `next` follow label `prev`? `I-X` only after `B-X` or `I-X`.
fn transitions(labels: &LabelSet) -> (Vec<Vec<bool>>, Vec<bool>) {
    let inside_of = |l: &str| l.strip_prefix("I-").map(str::to_string);
    let type_of = |l: &str| l.strip_prefix("B-").or_else(|| l.strip_prefix("I-")).map(str::to_string);
    let names = labels.labels();
    let allowed = names
        .iter()
        .map(|prev| {
            names
                .iter()
                .map(|next| match inside_of(next) {
                    Some(t) => type_of(prev).as_deref() == Some(t.as_str()),
                    None => true,
                })
                .collect()
        })
        .collect();
    let start = names.iter().map(|l| inside_of(l).is_none()).collect();
    (allowed, start)
}

/// Index of the first maximum (numpy's `argmax`).
pub(crate) fn argmax(row: &[f32]) -> usize {
    row.iter().enumerate().fold((0, f32::NEG_INFINITY), |b, (i, &v)| if v > b.1 { (i, v) } else { b }).0
}

/// Label ids for one sentence from its per-word log-probabilities (`log_probs[word][label]`).
pub fn decode(log_probs: &[Vec<f32>], labels: &LabelSet, decoding: Decoding) -> Vec<usize> {
    match decoding {
        Decoding::Argmax => log_probs.iter().map(|r| argmax(r)).collect(),
        Decoding::Viterbi => viterbi(log_probs, labels),
    }
}

fn viterbi(log_probs: &[Vec<f32>], labels: &LabelSet) -> Vec<usize> {
    viterbi_scored(log_probs, labels).0
}

/// The most probable BIO-valid label sequence and its log-probability (`-inf` when no valid sequence exists,
/// e.g. when a caller pinned impossible labels by setting the others to `-inf`).
pub fn viterbi_scored(log_probs: &[Vec<f32>], labels: &LabelSet) -> (Vec<usize>, f32) {
    let n = log_probs.len();
    if n == 0 {
        return (Vec::new(), 0.0);
    }
    let (allowed, start) = transitions(labels);
    let l = labels.len();
    let mut score: Vec<f32> = (0..l).map(|j| if start[j] { log_probs[0][j] } else { f32::NEG_INFINITY }).collect();
    let mut back = vec![vec![0usize; l]; n];
    for w in 1..n {
        let mut next = vec![f32::NEG_INFINITY; l];
        for j in 0..l {
            for i in 0..l {
                if allowed[i][j] && score[i] + log_probs[w][j] > next[j] {
                    next[j] = score[i] + log_probs[w][j];
                    back[w][j] = i;
                }
            }
        }
        score = next;
    }
    let last = argmax(&score);
    let mut path = vec![last; n];
    for w in (1..n).rev() {
        path[w - 1] = back[w][path[w]];
    }
    (path, score[last])
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lp(rows: &[[f32; 4]]) -> Vec<Vec<f32>> {
        rows.iter().map(|r| r.iter().map(|p| p.ln()).collect()).collect()
    }

    #[test]
    fn viterbi_repairs_a_stray_inside_tag() {
        // Labels O, B-AC, B-LF, I-LF. Word 1 prefers I-LF after an O: invalid. The best valid sequence makes
        // word 0 the B-LF (0.4 · 0.6 = 0.24 beats O then O: 0.6 · 0.3 = 0.18).
        let l = LabelSet::plod();
        let probs = lp(&[[0.6, 0.0001, 0.4, 0.0001], [0.3, 0.05, 0.05, 0.6]]);
        assert_eq!(decode(&probs, &l, Decoding::Argmax), vec![0, 3]);
        assert_eq!(decode(&probs, &l, Decoding::Viterbi), vec![2, 3]);
    }

    #[test]
    fn viterbi_never_starts_inside_and_keeps_valid_argmax() {
        let l = LabelSet::plod();
        let first_inside = lp(&[[0.2, 0.1, 0.1, 0.6]]);
        assert_eq!(decode(&first_inside, &l, Decoding::Viterbi), vec![0]);
        let valid = lp(&[[0.1, 0.1, 0.7, 0.1], [0.1, 0.1, 0.1, 0.7], [0.7, 0.1, 0.1, 0.1], [0.1, 0.7, 0.1, 0.1]]);
        assert_eq!(decode(&valid, &l, Decoding::Viterbi), decode(&valid, &l, Decoding::Argmax));
    }

    #[test]
    fn inside_of_another_type_is_not_a_continuation() {
        // B-AC then I-LF is invalid: the LF must start with B-LF.
        let l = LabelSet::plod();
        let probs = lp(&[[0.05, 0.9, 0.04, 0.01], [0.3, 0.05, 0.05, 0.6]]);
        assert_eq!(decode(&probs, &l, Decoding::Viterbi), vec![1, 0]);
    }
}
