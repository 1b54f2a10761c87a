//! Logit agreement between two engines or graphs (fp32 vs int8, ort vs tract) on a padded batch, counted
//! over real (mask = 1) positions only.
use std::path::Path;

use ndarray::{Array2, Axis};

use super::{InferError, Logits, PaddedBatch};

/// Built-in biomedical sentences for quick parity summaries.
pub const SAMPLE_SENTENCES: &[&str] = &[
    "The epidermal growth factor receptor (EGFR) is overexpressed in many tumours.",
    "Patients with chronic obstructive pulmonary disease (COPD) were treated with inhaled corticosteroids.",
    "Magnetic resonance imaging (MRI) and computed tomography (CT) scans were reviewed.",
    "BMI was calculated as weight in kilograms divided by height in metres squared.",
];

#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Agreement {
    /// Largest |a - b| over real positions and all labels.
    pub max_abs_diff: f32,
    /// Real positions whose argmax label is the same.
    pub argmax_agree: usize,
    /// Real (unpadded) positions compared.
    pub positions: usize,
    /// Largest |a| over real positions: the scale `max_abs_diff` is measured against.
    pub max_abs_a: f32,
}

impl Agreement {
    pub fn argmax_rate(&self) -> f64 {
        if self.positions == 0 {
            1.0
        } else {
            self.argmax_agree as f64 / self.positions as f64
        }
    }
}

fn argmax(row: ndarray::ArrayView1<f32>) -> usize {
    row.iter().enumerate().max_by(|a, b| a.1.total_cmp(b.1)).map_or(0, |(i, _)| i)
}

/// Compares `a` and `b` ([batch, sequence, labels]) where `mask` [batch, sequence] is 1.
pub fn agreement(a: &Logits, b: &Logits, mask: &Array2<i64>) -> Agreement {
    assert_eq!(a.dim(), b.dim(), "logit shapes differ");
    let mut out = Agreement { max_abs_diff: 0.0, argmax_agree: 0, positions: 0, max_abs_a: 0.0 };
    for (i, (ra, rb)) in a.axis_iter(Axis(0)).zip(b.axis_iter(Axis(0))).enumerate() {
        for (j, (pa, pb)) in ra.axis_iter(Axis(0)).zip(rb.axis_iter(Axis(0))).enumerate() {
            if mask[[i, j]] == 0 {
                continue;
            }
            out.positions += 1;
            out.argmax_agree += (argmax(pa) == argmax(pb)) as usize;
            for (x, y) in pa.iter().zip(pb.iter()) {
                out.max_abs_diff = out.max_abs_diff.max((x - y).abs());
                out.max_abs_a = out.max_abs_a.max(x.abs());
            }
        }
    }
    out
}

/// Tokenizes `sentences` with `tokenizer.json` (special tokens added) into a right-padded batch.
pub fn tokenize_batch(tokenizer_json: &Path, sentences: &[&str]) -> Result<PaddedBatch, InferError> {
    let err = |message: String| InferError::Tokenizer { path: tokenizer_json.into(), message };
    let mut tok = tokenizers::Tokenizer::from_file(tokenizer_json).map_err(|e| err(e.to_string()))?;
    // Pad here, to the longest sentence, whatever padding tokenizer.json configures.
    let pad_id = tok.get_padding().map_or(0, |p| p.pad_id as i64);
    tok.with_padding(None);
    let enc = tok.encode_batch(sentences.to_vec(), true).map_err(|e| err(e.to_string()))?;
    let ids: Vec<Vec<i64>> = enc.iter().map(|e| e.get_ids().iter().map(|&i| i as i64).collect()).collect();
    let mut batch = PaddedBatch::from_sequences(&ids, pad_id);
    for (i, e) in enc.iter().enumerate() {
        for (j, &t) in e.get_type_ids().iter().enumerate() {
            batch.token_type_ids[[i, j]] = t as i64;
        }
    }
    Ok(batch)
}

/// Runs `engines.0` and `engines.1` (see [`super::load_backend`]) on the exported directory `dir` for
/// `sentences` (tokenized with `dir/tokenizer.json`); returns the agreement and "name / name".
pub fn compare_dir(
    dir: &Path,
    engines: (super::EngineSpec, super::EngineSpec),
    sentences: &[&str],
    threads: Option<usize>,
) -> Result<(Agreement, String), InferError> {
    let batch = tokenize_batch(&dir.join("tokenizer.json"), sentences)?;
    let mut a = super::load_backend(engines.0, dir, threads)?;
    let la = a.run(&batch)?;
    let mut b = super::load_backend(engines.1, dir, threads)?;
    let lb = b.run(&batch)?;
    Ok((agreement(&la, &lb, &batch.attention_mask), format!("{} / {}", a.spec(), b.spec())))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn agreement_ignores_padded_positions() {
        let a = Logits::from_shape_vec((1, 3, 2), vec![1.0, 0.0, 0.0, 1.0, 5.0, -5.0]).unwrap();
        let b = Logits::from_shape_vec((1, 3, 2), vec![0.9, 0.0, 0.2, 0.1, -5.0, 5.0]).unwrap();
        let mask = ndarray::array![[1, 1, 0]];
        let r = agreement(&a, &b, &mask);
        assert_eq!(r.positions, 2);
        assert_eq!(r.argmax_agree, 1);
        assert!((r.max_abs_diff - 0.9).abs() < 1e-6, "{r:?}");
        assert_eq!(r.argmax_rate(), 0.5);
        assert_eq!(r.max_abs_a, 1.0, "the padded 5.0 is not counted");
    }
}
