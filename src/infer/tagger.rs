//! Word-level tagging with any [`Backend`]: sentences → sub-word windows → length-sorted batches → logits →
//! the first sub-word's label (and its softmax probability as confidence) for every word → windows merged
//! back, so each word of each sentence gets exactly one prediction.
use ndarray::{Array2, ArrayView2};

use super::decode::{decode, Decoding};
use super::glossary::PairTypes;
use super::{Backend, InferError, PaddedBatch};
use crate::abbrev::hybrid::{self, Adopted};
use crate::abbrev::{schwartz_hearst, HybridOptions, PairMode};
use crate::labels::LabelSet;
use crate::prepare::batch::length_sorted_batches;
use crate::prepare::encode::{Encoder, Example};
use crate::prepare::windows::{merge_windows, MergeError};
use crate::prepare::PrepareError;

/// One word's predicted label id, the model's probability for it, and the log-probabilities of all labels
/// (for sentence-level decoding, see [`super::decode`]).
#[derive(Clone, Debug, PartialEq)]
pub struct WordTag {
    pub label: usize,
    pub score: f32,
    pub log_probs: Vec<f32>,
}

/// Re-labels a sentence's words with `decoding` (the scores become the chosen labels' probabilities).
pub fn decode_sentence(tags: &mut [WordTag], labels: &LabelSet, decoding: Decoding) {
    let lp: Vec<Vec<f32>> = tags.iter().map(|t| t.log_probs.clone()).collect();
    for (t, label) in tags.iter_mut().zip(decode(&lp, labels, decoding)) {
        t.label = label;
        t.score = t.log_probs[label].exp();
    }
}

/// How a sentence's abbreviation definitions are decided ([`crate::abbrev::PairMode`]) for a model whose label
/// set pairs ([`PairTypes`]).
#[derive(Clone, Debug, PartialEq)]
pub struct PairDecoding {
    pub types: PairTypes,
    pub mode: PairMode,
    pub hybrid: HybridOptions,
}

/// Applies the pair mode to one sentence already decoded with `decoding` (`words` are its words): `hybrid`
/// re-decodes with the short forms' letters ([`crate::abbrev::hybrid`]; with argmax decoding only the adopted
/// definitions' words change), `rules` replaces the tags by Schwartz–Hearst's (score 1), `model` keeps them.
/// Returns the definitions the hybrid decoder adopted.
pub fn decode_pairs(
    words: &[&str],
    tags: &mut [WordTag],
    labels: &LabelSet,
    decoding: Decoding,
    pairs: &PairDecoding,
) -> Vec<Adopted> {
    let (short, long) = (pairs.types.short.as_str(), pairs.types.long.as_str());
    match pairs.mode {
        PairMode::Model => Vec::new(),
        PairMode::Rules => {
            let inside = labels.id(&format!("I-{short}")).is_some();
            for (t, name) in tags.iter_mut().zip(schwartz_hearst::tags(words, short, long, inside)) {
                t.label = labels.id(&name).unwrap_or(labels.outside_id());
                t.score = 1.0;
            }
            Vec::new()
        }
        PairMode::Hybrid => {
            let candidates = hybrid::candidates(words);
            if candidates.is_empty() {
                return Vec::new(); // nothing to decide: the model's decoding stands
            }
            let lp: Vec<Vec<f32>> = tags.iter().map(|t| t.log_probs.clone()).collect();
            let (path, adopted) = hybrid::decode(words, &candidates, &lp, labels, short, long, &pairs.hybrid);
            let pinned = |w: usize| adopted.iter().any(|a| a.short.contains(&w) || a.long.contains(&w));
            for (w, (t, label)) in tags.iter_mut().zip(path).enumerate() {
                if decoding == Decoding::Viterbi || pinned(w) {
                    t.label = label;
                    t.score = t.log_probs[label].exp();
                }
            }
            adopted
        }
    }
}

/// Placeholder tags for `words` words where no model runs (`rules` mode: [`decode_pairs`] sets every label):
/// `O`, score 1, no log-probabilities.
pub fn untagged(words: usize, labels: &LabelSet) -> Vec<WordTag> {
    vec![WordTag { label: labels.outside_id(), score: 1.0, log_probs: Vec::new() }; words]
}

#[derive(Debug, thiserror::Error)]
pub enum TagError {
    #[error(transparent)]
    Infer(#[from] InferError),
    #[error(transparent)]
    Prepare(#[from] PrepareError),
    #[error(transparent)]
    Merge(#[from] MergeError),
    #[error(transparent)]
    Model(#[from] crate::model::ModelError),
    #[error("model labels {model:?} differ from the label set {expected:?}")]
    Labels { model: Vec<String>, expected: Vec<String> },
}

/// Label + confidence for each word of `example`'s window, read at the words' first sub-words from the
/// example's `[seq, labels]` logits.
pub fn word_tags(example: &Example, logits: ArrayView2<f32>) -> Vec<WordTag> {
    example
        .first_subword_positions()
        .into_iter()
        .map(|p| {
            let row = logits.row(p);
            let (label, max) =
                row.iter().enumerate().fold((0, f32::NEG_INFINITY), |b, (i, &v)| if v > b.1 { (i, v) } else { b });
            let log_z = row.iter().map(|&v| (v - max).exp()).sum::<f32>().ln();
            WordTag { label, score: (-log_z).exp(), log_probs: row.iter().map(|&v| v - max - log_z).collect() }
        })
        .collect()
}

/// Tags pre-split sentences; returns one [`WordTag`] per word, decoded per sentence with `decoding`.
pub fn tag_sentences(
    backend: &mut dyn Backend,
    encoder: &Encoder,
    sentences: &[Vec<String>],
    batch_size: usize,
    labels: &LabelSet,
    decoding: Decoding,
) -> Result<Vec<Vec<WordTag>>, TagError> {
    let mut examples = Vec::new();
    for (i, words) in sentences.iter().enumerate() {
        examples.extend(encoder.encode_unlabelled(i, words)?);
    }
    let seqs: Vec<Vec<i64>> = examples.iter().map(|e| e.input_ids.clone()).collect();
    let logits = run_batched(backend, &seqs, batch_size, i64::from(encoder.pad_id()))?;
    let per_window: Vec<Vec<WordTag>> = examples.iter().zip(&logits).map(|(e, l)| word_tags(e, l.view())).collect();
    let mut merged = merge_windows(&examples, &per_window)?;
    // Sentences with no words produce no window; give them an empty prediction list.
    merged.resize(sentences.len(), Vec::new());
    for tags in &mut merged {
        decode_sentence(tags, labels, decoding);
    }
    Ok(merged)
}

/// Runs `seqs` through `backend` in length-sorted batches ([`length_sorted_batches`]); returns each sequence's
/// `[len, labels]` logits in the order of `seqs`.
pub fn run_batched(
    backend: &mut dyn Backend,
    seqs: &[Vec<i64>],
    batch_size: usize,
    pad_id: i64,
) -> Result<Vec<Array2<f32>>, InferError> {
    let lengths: Vec<usize> = seqs.iter().map(Vec::len).collect();
    let batch_size = backend.max_batch_size().map_or(batch_size, |m| m.min(batch_size)).max(1);
    let mut out = vec![Array2::zeros((0, 0)); seqs.len()];
    for indices in length_sorted_batches(&lengths, batch_size) {
        let batch: Vec<Vec<i64>> = indices.iter().map(|&i| seqs[i].clone()).collect();
        let logits = backend.run(&PaddedBatch::from_sequences(&batch, pad_id))?;
        for (row, &i) in indices.iter().enumerate() {
            let l = logits.index_axis(ndarray::Axis(0), row);
            out[i] = l.slice(ndarray::s![..lengths[i], ..]).to_owned();
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::prepare::windows::WindowSpan;

    #[test]
    fn first_subword_label_and_probability() {
        // Tokens: [CLS] w0 w0' w1 [SEP]; word 0 has two sub-words, only its first one counts.
        let ex = Example {
            input_ids: vec![101, 5, 6, 7, 102],
            attention_mask: vec![1; 5],
            token_type_ids: vec![0; 5],
            labels: vec![-100; 5],
            word_ids: vec![None, Some(0), Some(0), Some(1), None],
            window: WindowSpan { sentence_index: 0, words: 0..2, owned: 0..2 },
        };
        let logits = ndarray::array![[9.0, 0.0], [0.0, 0.0], [9.0, 0.0], [0.0, 2.0f32.ln() + 0.0], [9.0, 0.0]];
        let tags = word_tags(&ex, logits.view());
        assert_eq!(tags.len(), 2);
        // Equal logits → label 0 at probability 1/2; logits (0, ln 2) → label 1 at probability 2/3.
        assert_eq!(tags[0].label, 0);
        assert!((tags[0].score - 0.5).abs() < 1e-6);
        assert_eq!(tags[1].label, 1);
        assert!((tags[1].score - 2.0 / 3.0).abs() < 1e-6);
    }
}
