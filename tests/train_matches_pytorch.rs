//! `nerkit train` on the full-size embedded MiniLM against PyTorch: ten AdamW steps on the hand-written sample
//! sentences must give the losses and gradient norms that transformers + torch autograd give
//! (tests/fixtures/train_minilm_reference.json, written once by scripts/fixtures/minilm_train_reference.py; the
//! test needs no Python). Covers what the tiny-model fixture cannot: the real vocabulary with the row-sparse
//! word-embedding update, 12 heads, the tokenizer and label alignment, padding, the learning-rate schedule.
//!
//! Dropout is off on both sides (its masks come from different generators); everything else is the
//! trainer's default path. Needs the ONNX Runtime library and the embedded model (`make setup`).
mod common;

use std::path::Path;
use std::sync::atomic::AtomicBool;

use nerkit::config::{Device, TrainConfig};
use nerkit::prepare::batch::Batching;
use nerkit::train::{train, TrainOptions};
use nerkit_export::config::BertConfig;
use nerkit_export::weights::Weights;
use serde_json::Value;

use common::{embedded_dir, formula_classifier};

/// Relative error allowed between nerkit (float32) and the float64 reference.
const REL_TOL: f64 = 1e-4;

/// The embedded model with dropout 0 and the formula head, written into `dir`.
fn minilm_without_dropout(dir: &Path) {
    let src = embedded_dir();
    let mut config: serde_json::Map<String, Value> =
        serde_json::from_str(&std::fs::read_to_string(src.join("config.json")).unwrap()).unwrap();
    config.insert("hidden_dropout_prob".into(), 0.0.into());
    config.insert("attention_probs_dropout_prob".into(), 0.0.into());
    std::fs::write(dir.join("config.json"), serde_json::to_string(&config).unwrap()).unwrap();
    let cfg = BertConfig::from_file(&dir.join("config.json")).unwrap();
    assert_eq!((cfg.hidden_dropout_prob, cfg.attention_probs_dropout_prob), (0.0, 0.0));
    let mut weights = Weights::load(&src.join("model.safetensors")).unwrap();
    formula_classifier(&mut weights, 4, cfg.hidden_size);
    weights.save(&dir.join("model.safetensors")).unwrap();
    std::fs::copy(src.join("tokenizer.json"), dir.join("tokenizer.json")).unwrap();
}

fn column(csv: &str, name: &str) -> Vec<f64> {
    let mut lines = csv.lines();
    let header: Vec<&str> = lines.next().unwrap().split(',').collect();
    let col = header.iter().position(|h| *h == name).unwrap();
    lines.filter(|l| l.starts_with("train,")).map(|l| l.split(',').nth(col).unwrap().parse().unwrap()).collect()
}

fn assert_close(what: &str, got: &[f64], want: &[f64]) {
    assert_eq!(got.len(), want.len(), "{what}: {} steps, reference has {}", got.len(), want.len());
    for (step, (g, w)) in got.iter().zip(want).enumerate() {
        let rel = (g - w).abs() / w.abs().max(1e-12);
        assert!(rel <= REL_TOL, "{what} at step {}: nerkit {g}, PyTorch {w} (relative error {rel:.2e})", step + 1);
    }
}

#[test]
fn minilm_fine_tuning_steps_match_pytorch() {
    let fx: Value = serde_json::from_str(
        &std::fs::read_to_string(
            Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/train_minilm_reference.json"),
        )
        .unwrap(),
    )
    .unwrap();
    let floats = |k: &str| -> Vec<f64> { serde_json::from_value(fx[k].clone()).unwrap() };
    let dir = tempfile::tempdir().unwrap();
    let model = dir.path().join("model");
    std::fs::create_dir_all(&model).unwrap();
    minilm_without_dropout(&model);
    let sample = Path::new(env!("CARGO_MANIFEST_DIR")).join("data/sample.jsonl").display().to_string();
    let steps = fx["steps"].as_u64().unwrap() as usize;
    let cfg = TrainConfig {
        model: model.display().to_string(),
        data: sample.clone(),
        validation: Some(sample),
        epochs: steps, // one batch of all 8 sentences per epoch
        batch_size: fx["batch_size"].as_u64().unwrap() as usize,
        batching: Batching::Shuffled,
        lr: fx["lr"].as_f64().unwrap(),
        warmup_ratio: fx["warmup_ratio"].as_f64().unwrap(),
        device: Device::Cpu,
        threads: 1,
        out: dir.path().join("run").display().to_string(),
        ..TrainConfig::default()
    };
    let summary =
        train(&cfg, &TrainOptions { progress: false, ..Default::default() }, &AtomicBool::new(false)).unwrap();
    assert_eq!(summary.steps as usize, steps);
    let metrics = std::fs::read_to_string(dir.path().join("run/metrics.csv")).unwrap();
    let lrs = column(&metrics, "lr");
    assert_close("learning rate", &lrs[1..], &floats("lrs")[1..]); // step 1 has lr 0 on both sides
    assert_eq!(lrs[0], 0.0);
    assert_close("loss", &column(&metrics, "loss"), &floats("losses"));
    assert_close("gradient norm", &column(&metrics, "grad_norm"), &floats("grad_norms"));
}
