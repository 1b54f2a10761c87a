//! Training batches (length-bucketed or plainly shuffled) and padding into `ndarray` tensors.
//!
//! [`batches_by_length`]: shuffle example indices, cut them into chunks of `50 × batch_size`, sort each chunk by
//! length, cut chunks into batches, then shuffle the batch order. Similar lengths share a batch (little padding)
//! while batches still vary from epoch to epoch; the same seed always gives the same batches.
//! [`Batching::Shuffled`] is the plain alternative (what a PyTorch `DataLoader(shuffle=True)` does): more padding,
//! but every batch is a uniform sample of the data, so every token weighs the same in the loss on average.
use super::encode::{Example, IGNORE_INDEX};
use ndarray::Array2;
use rand::rngs::StdRng;
use rand::seq::SliceRandom;
use rand::SeedableRng;

/// Examples per sorting chunk, in batches.
pub const CHUNK_BATCHES: usize = 50;

/// How training examples are grouped into batches.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize, clap::ValueEnum)]
#[serde(rename_all = "kebab-case")]
pub enum Batching {
    /// Seeded shuffle, then a uniform cut into batches (the PyTorch / Hugging Face default).
    #[default]
    Shuffled,
    /// Similar lengths share a batch ([`batches_by_length`]): fewer padded positions to compute, but a batch of
    /// short sentences weighs as much in the loss as a batch of long ones (on PLOD-CW recipe 1 this cost ~1.4
    /// validation F1 points against `Shuffled`, and the CPU runs were not faster: docs/recipes.md).
    Bucketed,
}

/// Index batches over `examples` (see the module docs). `batch_size` 0 is treated as 1.
pub fn batches(examples: &[Example], batch_size: usize, seed: u64, batching: Batching) -> Vec<Vec<usize>> {
    match batching {
        Batching::Bucketed => {
            let lengths: Vec<usize> = examples.iter().map(Example::len).collect();
            batches_by_length(&lengths, batch_size, seed)
        }
        Batching::Shuffled => shuffled_batches(examples.len(), batch_size, seed),
    }
}

/// `0..n` shuffled with `seed` and cut into batches of `batch_size` (the last may be shorter).
pub fn shuffled_batches(n: usize, batch_size: usize, seed: u64) -> Vec<Vec<usize>> {
    let mut order: Vec<usize> = (0..n).collect();
    order.shuffle(&mut StdRng::seed_from_u64(seed));
    order.chunks(batch_size.max(1)).map(<[usize]>::to_vec).collect()
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

/// A padded batch of token sequences (all three int64 [batch, sequence]).
#[derive(Clone, Debug, PartialEq)]
pub struct PaddedBatch {
    pub input_ids: Array2<i64>,
    pub attention_mask: Array2<i64>,
    pub token_type_ids: Array2<i64>,
}

impl PaddedBatch {
    /// Right-pads `sequences` with `pad_id` to the longest one (mask 0, token type 0).
    pub fn from_sequences(sequences: &[Vec<i64>], pad_id: i64) -> PaddedBatch {
        let (b, s) = (sequences.len(), sequences.iter().map(Vec::len).max().unwrap_or(0));
        let mut ids = Array2::from_elem((b, s), pad_id);
        let mut mask = Array2::zeros((b, s));
        for (i, seq) in sequences.iter().enumerate() {
            for (j, &t) in seq.iter().enumerate() {
                ids[[i, j]] = t;
                mask[[i, j]] = 1;
            }
        }
        PaddedBatch { input_ids: ids, attention_mask: mask, token_type_ids: Array2::zeros((b, s)) }
    }

    pub fn batch_size(&self) -> usize {
        self.input_ids.nrows()
    }

    pub fn seq_len(&self) -> usize {
        self.input_ids.ncols()
    }

    /// Checks that the three arrays have one shape and at least one token.
    pub fn validate(&self) -> Result<(), BadBatch> {
        let shape = self.input_ids.dim();
        if self.attention_mask.dim() != shape || self.token_type_ids.dim() != shape {
            return Err(BadBatch(format!(
                "input_ids {:?}, attention_mask {:?}, token_type_ids {:?} differ",
                shape,
                self.attention_mask.dim(),
                self.token_type_ids.dim()
            )));
        }
        if shape.0 == 0 || shape.1 == 0 {
            return Err(BadBatch(format!("empty batch {shape:?}")));
        }
        Ok(())
    }
}

/// A [`PaddedBatch`] whose arrays disagree in shape, or that holds no token.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct BadBatch(pub String);

/// Inference batches: `0..lengths.len()` sorted by length (stable) and cut into batches of `batch_size`, so each
/// batch pads to nearly its own length. Training uses [`batches_by_length`] instead, which keeps randomness.
pub fn length_sorted_batches(lengths: &[usize], batch_size: usize) -> Vec<Vec<usize>> {
    let mut order: Vec<usize> = (0..lengths.len()).collect();
    order.sort_by_key(|&i| lengths[i]);
    order.chunks(batch_size.max(1)).map(<[usize]>::to_vec).collect()
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
    fn inference_batches_are_sorted_by_length() {
        let lengths = [5, 1, 9, 3, 7, 3];
        let b = length_sorted_batches(&lengths, 4);
        assert_eq!(b, vec![vec![1, 3, 5, 0], vec![4, 2]]);
        assert!(length_sorted_batches(&[], 4).is_empty());
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
        assert!(shuffled_batches(0, 8, 1).is_empty());
        assert_eq!(shuffled_batches(2, 0, 1).len(), 2);
    }

    #[test]
    fn shuffled_batches_are_a_seeded_permutation_cut_in_order() {
        let a = shuffled_batches(100, 16, 3);
        assert_eq!(a, shuffled_batches(100, 16, 3));
        assert_ne!(a, shuffled_batches(100, 16, 4));
        assert_eq!(a.iter().map(Vec::len).collect::<Vec<_>>(), vec![16, 16, 16, 16, 16, 16, 4]);
        let mut all: Vec<usize> = a.iter().flatten().copied().collect();
        assert_ne!(all, (0..100).collect::<Vec<_>>(), "not shuffled");
        all.sort();
        assert_eq!(all, (0..100).collect::<Vec<_>>());
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
