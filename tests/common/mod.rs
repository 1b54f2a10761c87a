//! Helpers shared by the integration tests that run the embedded MiniLM against transformers fixtures.
#![allow(dead_code)] // each test binary uses its own subset
use std::path::PathBuf;

use nerkit_export::weights::{Tensor, Weights};

/// The embedded MiniLM's directory; fails with the setup command when it is not installed.
pub fn embedded_dir() -> PathBuf {
    let dir = nerkit::paths::embedded_model_dir();
    assert!(dir.join("model.safetensors").is_file(), "embedded model missing in {}: run `make setup`", dir.display());
    dir
}

/// The fixtures' token-classification head: weight[j, k] = 0.05·sin(1 + j·hidden + k), bias[j] = 0.01·cos(j)
/// (scripts/fixtures/bert_parity.py and minilm_train_reference.py write the same numbers).
pub fn formula_classifier(weights: &mut Weights, labels: usize, hidden: usize) {
    let w = (0..labels * hidden).map(|i| (0.05 * ((1 + i) as f64).sin()) as f32).collect();
    weights.insert("classifier.weight", Tensor::new(vec![labels, hidden], w));
    weights.insert(
        "classifier.bias",
        Tensor::new(vec![labels], (0..labels).map(|j| (0.01 * (j as f64).cos()) as f32).collect()),
    );
}
