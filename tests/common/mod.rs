//! Helpers shared by the integration tests that run the embedded MiniLM against transformers fixtures.
#![allow(dead_code)] // each test binary uses its own subset
use std::path::{Path, PathBuf};

pub mod server;

use nerkit_export::config::BertConfig;
use nerkit_export::weights::{Tensor, Weights};

/// A tiny random BERT (2 layers, hidden 32, `num_labels` classes) with the embedded tokenizer in `dir/tiny-model`.
pub fn tiny_model(dir: &Path, num_labels: usize) -> PathBuf {
    let model = dir.join("tiny-model");
    std::fs::create_dir_all(&model).unwrap();
    let cfg = BertConfig {
        hidden_size: 32,
        num_hidden_layers: 2,
        num_attention_heads: 4,
        intermediate_size: 64,
        max_position_embeddings: 128,
        ..BertConfig::default()
    };
    std::fs::write(model.join("config.json"), serde_json::to_string(&cfg).unwrap()).unwrap();
    Weights::random(&cfg, num_labels, 7).save(&model.join("model.safetensors")).unwrap();
    let tokenizer = nerkit::paths::embedded_model_dir().join("tokenizer.json");
    assert!(tokenizer.is_file(), "{} missing: run `make setup`", tokenizer.display());
    std::fs::copy(tokenizer, model.join("tokenizer.json")).unwrap();
    model
}

/// The PLOD data root (`plod-cw-2024-lowercased/`, `sdu-aaai22-sci-en-bio/` inside): [`nerkit::data::plod_dir`]
/// (`$PLOD_DIR`, else the nearest ancestor holding `shared/data/plod`).
pub fn plod() -> PathBuf {
    nerkit::data::plod_dir().unwrap_or_else(|e| panic!("this test needs the offline PLOD data: {e}"))
}

/// PLOD-CW's train.jsonl ([`plod`]).
pub fn plod_train() -> PathBuf {
    plod().join("plod-cw-2024-lowercased/train.jsonl")
}

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

/// A token-classifier directory: the embedded MiniLM with the formula head and labels O, B-AC, B-LF, I-LF (config with id2label, weights with the formula head, tokenizer) in `dir`.
pub fn token_classifier_dir(dir: &Path) -> PathBuf {
    let src = embedded_dir();
    let out = dir.join("model");
    std::fs::create_dir_all(&out).unwrap();
    let mut cfg = nerkit_export::config::BertConfig::from_file(&src.join("config.json")).unwrap();
    let labels: Vec<String> = ["O", "B-AC", "B-LF", "I-LF"].map(String::from).to_vec();
    cfg.set_labels(&labels);
    std::fs::write(out.join("config.json"), serde_json::to_string_pretty(&cfg).unwrap()).unwrap();
    let mut w = nerkit_export::weights::Weights::load(&src.join("model.safetensors")).unwrap();
    formula_classifier(&mut w, 4, cfg.hidden_size);
    w.save(&out.join("model.safetensors")).unwrap();
    std::fs::copy(src.join("tokenizer.json"), out.join("tokenizer.json")).unwrap();
    out
}
