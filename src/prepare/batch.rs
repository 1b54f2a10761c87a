//! Length-bucketed batching and padding into `ndarray` tensors.
//!
//! [`batches`]: shuffle example indices, cut them into chunks of `50 × batch_size`, sort each chunk by length,
//! cut chunks into batches, then shuffle the batch order. Similar lengths share a batch (little padding) while
//! batches still vary from epoch to epoch; the same seed always gives the same batches.
use super::encode::{Example, IGNORE_INDEX};
use crate::infer::PaddedBatch;
use ndarray::Array2;
use rand::rngs::StdRng;
use rand::seq::SliceRandom;
use rand::SeedableRng;

/// Examples per sorting chunk, in batches.
pub const CHUNK_BATCHES: usize = 50;

/// Index batches over `examples` (see the module docs). `batch_size` 0 is treated as 1.
pub fn batches(examples: &[Example], batch_size: usize, seed: u64) -> Vec<Vec<usize>> {
    let lengths: Vec<usize> = examples.iter().map(Example::len).collect();
    batches_by_length(&lengths, batch_size, seed)
}

/// [`batches`] over plain lengths.
pub fn batches_by_length(lengths: &[usize], batch_size: usize, seed: u64) -> Vec<Vec<usize>> {
    let batch_size = batch_size.max(1);
    let mut rng = StdRng::seed_from_u64(seed);
    let mut order: Vec<usize> = (0..lengths.len()).collect();
    order.shuffle(&mut rng);
    let mut out = Vec::with_capacity(lengths.len().div_ceil(batch_size));
    for chunk in order.chunks_mut(batch_size * CHUNK_BATCHES) {
        chunk.sort_by_key(|&i| lengths[i]); // stable: ties keep their shuffled order
        out.extend(chunk.chunks(batch_size).map(<[usize]>::to_vec));
    }
    out.shuffle(&mut rng);
    out
}

/// A training batch: the model inputs padded to the longest example ([`PaddedBatch`], what inference runs on)
/// plus the labels, `[batch, max_len]`.
#[derive(Clone, Debug, PartialEq)]
pub struct LabelledBatch {
    pub inputs: PaddedBatch,
    /// Padding positions are [`IGNORE_INDEX`].
    pub labels: Array2<i64>,
}

/// Pads `examples[indices]` to the longest of them (`input_ids` with `pad_id`, mask 0, type 0, label -100).
pub fn pad_batch(examples: &[Example], indices: &[usize], pad_id: i64) -> LabelledBatch {
    let width = indices.iter().map(|&i| examples[i].len()).max().unwrap_or(0);
    let shape = (indices.len(), width);
    let mut inputs = PaddedBatch {
        input_ids: Array2::from_elem(shape, pad_id),
        attention_mask: Array2::zeros(shape),
        token_type_ids: Array2::zeros(shape),
    };
    let mut labels = Array2::from_elem(shape, IGNORE_INDEX);
    for (row, &i) in indices.iter().enumerate() {
        let ex = &examples[i];
        for col in 0..ex.len() {
            inputs.input_ids[[row, col]] = ex.input_ids[col];
            inputs.attention_mask[[row, col]] = ex.attention_mask[col];
            inputs.token_type_ids[[row, col]] = ex.token_type_ids[col];
            labels[[row, col]] = ex.labels[col];
        }
    }
    LabelledBatch { inputs, labels }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::prepare::windows::WindowSpan;

    fn example(len: usize, tag: i64) -> Example {
        Example {
            input_ids: vec![tag; len],
            attention_mask: vec![1; len],
            token_type_ids: vec![0; len],
            labels: vec![tag; len],
            word_ids: (0..len).map(Some).collect(),
            window: WindowSpan { sentence_index: 0, words: 0..len, owned: 0..len },
        }
    }

    #[test]
    fn batches_cover_everything_once_and_are_deterministic() {
        let lengths: Vec<usize> = (0..1000).map(|i| (i * 37) % 120 + 3).collect();
        let a = batches_by_length(&lengths, 16, 7);
        assert_eq!(a, batches_by_length(&lengths, 16, 7));
        assert_ne!(a, batches_by_length(&lengths, 16, 8));
        let mut all: Vec<usize> = a.iter().flatten().copied().collect();
        all.sort();
        assert_eq!(all, (0..1000).collect::<Vec<_>>());
        assert!(a.iter().all(|b| !b.is_empty() && b.len() <= 16));
        // Bucketing: padding is far below that of random batches.
        let pad = |bs: &[Vec<usize>]| -> usize {
            bs.iter()
                .map(|b| {
                    b.iter().map(|&i| lengths[i]).max().unwrap() * b.len()
                        - b.iter().map(|&i| lengths[i]).sum::<usize>()
                })
                .sum()
        };
        let random: Vec<Vec<usize>> = (0..1000).collect::<Vec<_>>().chunks(16).map(<[usize]>::to_vec).collect();
        assert!(pad(&a) * 5 < pad(&random), "bucketed {} vs random {}", pad(&a), pad(&random));
    }

    #[test]
    fn empty_and_zero_batch_size() {
        assert!(batches_by_length(&[], 8, 1).is_empty());
        assert_eq!(batches_by_length(&[3, 4], 0, 1).len(), 2);
    }

    #[test]
    fn pads_to_longest() {
        let exs = vec![example(3, 5), example(5, 6), example(2, 7)];
        let b = pad_batch(&exs, &[2, 0], 0);
        assert_eq!(b.inputs.input_ids.shape(), &[2, 3]);
        assert_eq!(b.inputs.input_ids.row(0).to_vec(), vec![7, 7, 0]);
        assert_eq!(b.inputs.attention_mask.row(0).to_vec(), vec![1, 1, 0]);
        assert_eq!(b.labels.row(0).to_vec(), vec![7, 7, IGNORE_INDEX]);
        assert_eq!(b.inputs.input_ids.row(1).to_vec(), vec![5, 5, 5]);
        b.inputs.validate().unwrap();
    }
}
