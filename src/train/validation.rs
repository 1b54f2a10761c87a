//! Validation during training: word-level predictions from the first sub-word of each word, windows merged
//! back into sentences, decoded per sentence (argmax or BIO-constrained Viterbi), scored with the
//! seqeval-equivalent metrics.
use ort::session::Session;

use super::engine::eval_step;
use super::state::TrainState;
use super::TrainError;
use crate::data::Sentence;
use crate::infer::decode::Decoding;
use crate::infer::tagger::{decode_sentence, word_tags, WordTag};
use crate::labels::LabelSet;
use crate::metrics::{Metrics, MetricsAccumulator};
use crate::prepare::batch::{batches_by_length, pad_batch};
use crate::prepare::encode::{label_ids, Encoder, Example, IGNORE_INDEX};
use crate::prepare::windows::merge_windows;

/// Encoded validation sentences with their gold word labels.
pub struct ValidationSet {
    pub examples: Vec<Example>,
    gold: Vec<Vec<usize>>,
    batches: Vec<Vec<usize>>,
    pad_id: i64,
}

/// Loss and metrics of one validation pass, plus the predicted label ids per word of every sentence.
pub struct ValidationResult {
    pub loss: f64,
    pub metrics: Metrics,
    pub predictions: Vec<Vec<usize>>,
}

impl ValidationSet {
    pub fn new(
        encoder: &Encoder,
        sentences: &[Sentence],
        labels: &LabelSet,
        batch_size: usize,
    ) -> Result<Self, TrainError> {
        let (examples, _) = encoder.encode_sentences(sentences, labels)?;
        let gold = sentences.iter().map(|s| label_ids(s, labels)).collect::<Result<Vec<_>, _>>()?;
        let lengths: Vec<usize> = examples.iter().map(Example::len).collect();
        // Evaluation order does not matter; batching by length only saves padding.
        let batches = batches_by_length(&lengths, batch_size, 0);
        Ok(ValidationSet { examples, gold, batches, pad_id: i64::from(encoder.pad_id()) })
    }

    pub fn sentences(&self) -> usize {
        self.gold.len()
    }
}

pub fn validate(
    session: &mut Session,
    state: &TrainState,
    set: &ValidationSet,
    class_weights: &[f32],
    labels: &LabelSet,
    decoding: Decoding,
) -> Result<ValidationResult, TrainError> {
    let mut window_preds: Vec<Vec<WordTag>> = vec![Vec::new(); set.examples.len()];
    let (mut loss_sum, mut loss_tokens) = (0.0f64, 0usize);
    for indices in &set.batches {
        let batch = pad_batch(&set.examples, indices, set.pad_id);
        let (loss, logits) = eval_step(session, state, &batch, class_weights)?;
        let tokens = batch.labels.iter().filter(|&&l| l != IGNORE_INDEX).count();
        loss_sum += f64::from(loss) * tokens as f64;
        loss_tokens += tokens;
        for (row, &i) in indices.iter().enumerate() {
            window_preds[i] = word_tags(&set.examples[i], logits.index_axis(ndarray::Axis(0), row));
        }
    }
    let mut merged = merge_windows(&set.examples, &window_preds)?;
    for tags in &mut merged {
        decode_sentence(tags, labels, decoding);
    }
    let predictions: Vec<Vec<usize>> = merged.iter().map(|s| s.iter().map(|t| t.label).collect()).collect();
    let mut acc = MetricsAccumulator::new(labels);
    for (gold, pred) in set.gold.iter().zip(&predictions) {
        acc.add_ids(gold, pred)?;
    }
    Ok(ValidationResult { loss: loss_sum / loss_tokens.max(1) as f64, metrics: acc.finalize(), predictions })
}
