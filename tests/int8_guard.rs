//! int8 variants and the accuracy guard (`nerkit export --int8 --data`), on the embedded MiniLM with the
//! fixtures' formula head (real vocabulary and sizes) and real PLOD sentences:
//! - every variant (static min-max / percentile / entropy, per-row, per-tensor) stays within a stated logit
//!   bound of fp32; the static graph is batch-invariant and runs one fused kernel per MatMul;
//! - with one layer made deliberately sensitive (an outlier activation channel planted in layer 3's FFN), the
//!   sensitivity ranking names that layer first, the guard passes over the static graph it breaks, and
//!   keeping the layer in fp32 (mixed precision) recovers most of the error.
//!
//! Needs the ONNX Runtime library and the embedded model (`make setup`) and `../shared/data/plod`.
mod common;

use nerkit::infer::decode::Decoding;
use nerkit::infer::tagger::tag_sentences;
use nerkit::infer::{Backend, PaddedBatch};
use nerkit::labels::LabelSet;
use nerkit::prepare::encode::{EncodeOptions, Encoder};
use nerkit::quantize::accuracy::Labelled;
use nerkit::quantize::calibrate::{batches, collect, ranges};
use nerkit::quantize::guard::{self, GuardOptions};
use nerkit::quantize::sensitivity::{logit_rmse, probe_logits, session};
use nerkit_export::builder::pb;
use nerkit_export::calibrate::CalibrationMethod;
use nerkit_export::config::BertConfig;
use nerkit_export::inference::{inference_model, InferenceOptions};
use nerkit_export::quantize::{quantize_int8, ActivationScale, QuantizeOptions};
use nerkit_export::weights::{Tensor, Weights};

use common::{embedded_dir, formula_classifier};

fn plod_sentences(skip: usize, n: usize) -> Vec<Vec<String>> {
    let text = std::fs::read_to_string(common::plod_train()).expect("PLOD-CW train.jsonl");
    text.lines()
        .skip(skip)
        .take(n)
        .map(|l| {
            let v: serde_json::Value = serde_json::from_str(l).unwrap();
            serde_json::from_value(v["tokens"].clone()).unwrap()
        })
        .collect()
}

/// MiniLM with the formula head scaled by `head_scale` (wider logit margins than the bare formula head), and
/// when `plant` the outlier channel: unit 0 of layer 3's FFN scaled up 40× into GELU and down 40× out of it
/// (nearly the same function; one activation channel 40× the others).
fn minilm(head_scale: f32, plant: bool) -> (BertConfig, pb::ModelProto, Encoder) {
    let src = embedded_dir();
    let mut cfg = BertConfig::from_file(&src.join("config.json")).unwrap();
    cfg.set_labels(&["O", "B-AC", "B-LF", "I-LF"].map(String::from));
    let mut w = Weights::load(&src.join("model.safetensors")).unwrap();
    formula_classifier(&mut w, 4, cfg.hidden_size);
    let scale = |w: &mut Weights, name: &str, f: &dyn Fn(usize, f32) -> f32| {
        let t = w.get(name).unwrap().clone();
        let data = t.data.iter().enumerate().map(|(i, &v)| f(i, v)).collect();
        w.insert(name, Tensor::new(t.shape.clone(), data));
    };
    scale(&mut w, "classifier.weight", &|_, v| v * head_scale);
    if plant {
        let (inter, hidden, a) = (cfg.intermediate_size, cfg.hidden_size, 40.0);
        // intermediate.dense.weight [inter, hidden]: row 0 is unit 0; output.dense.weight [hidden, inter]: column 0
        scale(&mut w, "bert.encoder.layer.3.intermediate.dense.weight", &|i, v| {
            if i / hidden == 0 {
                v * a
            } else {
                v
            }
        });
        scale(&mut w, "bert.encoder.layer.3.intermediate.dense.bias", &|i, v| if i == 0 { v * a } else { v });
        scale(&mut w, "bert.encoder.layer.3.output.dense.weight", &|i, v| if i % inter == 0 { v / a } else { v });
    }
    let model = inference_model(&cfg, &w, &InferenceOptions::default()).unwrap();
    let tok = nerkit::model::load_tokenizer(&src.join("tokenizer.json")).unwrap();
    (cfg, model, Encoder::new(tok, EncodeOptions::default()).unwrap())
}

fn ops(model: &pb::ModelProto) -> std::collections::BTreeSet<String> {
    model.graph.as_ref().unwrap().node.iter().map(|n| n.op_type.clone()).collect()
}

#[test]
fn every_int8_variant_stays_near_fp32_and_static_is_batch_invariant() {
    let (_, fp32, encoder) = minilm(1.0, false);
    let base = QuantizeOptions::default();
    let calib = batches(&encoder, &plod_sentences(0, 48), 16).unwrap();
    let stats = collect(&fp32, &base, &calib, None).unwrap();
    assert_eq!(stats.len(), 6 * 4, "one activation per Q/K/V, attention output, FFN in and FFN out of 6 layers");
    let probes = batches(&encoder, &plod_sentences(100, 24), 8).unwrap();
    let mut f = session(&fp32, None).unwrap();
    let reference = probe_logits(&mut f, &probes).unwrap();
    let scale = reference.iter().flat_map(|l| l.iter()).fold(0f32, |m, v| m.max(v.abs()));
    let mut variants: Vec<(String, QuantizeOptions)> = Vec::new();
    for method in [CalibrationMethod::MinMax, CalibrationMethod::Percentile(99.99), CalibrationMethod::Entropy] {
        let opts =
            QuantizeOptions { activations: ActivationScale::Static, ranges: ranges(&stats, method), ..base.clone() };
        variants.push((format!("static {}", method.name()), opts));
    }
    let hybrid = QuantizeOptions { per_row: vec!["layer.0.output".into(), "layer.1".into()], ..variants[0].1.clone() };
    variants.push(("hybrid".into(), hybrid));
    variants.push(("per-row".into(), base.clone()));
    variants.push(("per-tensor".into(), QuantizeOptions { activations: ActivationScale::PerTensor, ..base.clone() }));
    let mut failures = Vec::new();
    for (name, opts) in &variants {
        let (q, report) = quantize_int8(&fp32, opts).unwrap();
        assert_eq!(report.quantized.len(), 6 * 6 + 3, "{name}: 36 MatMul weights and 3 embedding tables");
        let mut b = session(&q, None).unwrap();
        let logits = probe_logits(&mut b, &probes).unwrap();
        let rmse = logit_rmse(&reference, &logits, &probes);
        let max = reference
            .iter()
            .zip(&logits)
            .flat_map(|(a, b)| a.iter().zip(b.iter()).map(|(x, y)| (x - y).abs()))
            .fold(0f32, f32::max);
        eprintln!("{name}: logit RMSE {rmse:.4}, max|diff| {max:.4} (fp32 max|logit| {scale:.3})");
        // the stated bound: RMSE under 5 % and every logit within 25 % of the largest fp32 logit; the clipping
        // methods cut MiniLM's outlier channels and get 10 % / 40 % (measured: 2.4-2.6x min-max's RMSE)
        let (r, m) = if name.contains("percentile") || name.contains("entropy") { (0.10, 0.40) } else { (0.05, 0.25) };
        if !(rmse < r * scale as f64 && max < m * scale) {
            failures.push(format!("{name}: RMSE {rmse}, max {max}, scale {scale}"));
        }
        if opts.activations == ActivationScale::Static {
            let ops = ops(&q);
            let per_row = !opts.per_row.is_empty();
            assert!(ops.contains("MatMulIntegerToFloat") && ops.contains("ReduceMax") == per_row, "{name}: {ops:?}");
            // every dense layer's bias is added inside the fused kernel, not by a separate Add
            let fused: Vec<_> =
                q.graph.as_ref().unwrap().node.iter().filter(|n| n.op_type == "MatMulIntegerToFloat").collect();
            assert!(fused.iter().all(|n| n.input.len() == 7 && n.input[6].ends_with(".bias")), "{name}");
            // the hybrid: layer.0.output (FFN out) and all six of layer.1 per row
            assert_eq!(fused.len(), if per_row { 6 * 6 - 1 - 6 } else { 6 * 6 }, "{name}: static MatMuls");
        }
    }
    assert!(failures.is_empty(), "{failures:#?}");
    // Static scales are constants and per-row ones depend on the token alone: a sentence's logits are the same
    // alone and in any batch, for static and the hybrid.
    let seqs: Vec<Vec<i64>> = plod_sentences(200, 6)
        .iter()
        .enumerate()
        .map(|(i, w)| encoder.encode_unlabelled(i, w).unwrap()[0].input_ids.clone())
        .collect();
    for (name, opts) in variants.iter().filter(|(n, _)| n == "static percentile-99.99" || n == "hybrid") {
        let (q, _) = quantize_int8(&fp32, opts).unwrap();
        let mut b = session(&q, None).unwrap();
        let together = b.run(&PaddedBatch::from_sequences(&seqs, 0)).unwrap();
        for (i, s) in seqs.iter().enumerate() {
            let alone = b.run(&PaddedBatch::from_sequences(std::slice::from_ref(s), 0)).unwrap();
            let d = (0..s.len())
                .flat_map(|t| (0..4).map(move |k| (t, k)))
                .map(|(t, k)| (alone[[0, t, k]] - together[[i, t, k]]).abs())
                .fold(0f32, f32::max);
            assert!(d <= 1e-5, "{name}, sentence {i}: int8 logits moved by {d} when batched");
        }
    }
}

#[test]
fn guard_finds_a_deliberately_sensitive_layer_and_skips_the_variant_it_breaks() {
    let labels = LabelSet::plod();
    let (cfg, fp32, encoder) = minilm(20.0, true);
    // Gold = the fp32 graph's own predictions, so fp32 scores 1.0 and every int8 disagreement is a loss.
    let words = plod_sentences(300, 80);
    let mut f = session(&fp32, None).unwrap();
    let tags = tag_sentences(&mut f, &encoder, &words, 32, &labels, Decoding::Viterbi).unwrap();
    drop(f);
    let gold: Vec<Vec<String>> =
        tags.iter().map(|s| s.iter().map(|t| labels.labels()[t.label].clone()).collect()).collect();
    let entities: usize = gold.iter().map(|t| t.iter().filter(|x| x.starts_with("B-")).count()).sum();
    assert!(entities > 40, "the scaled formula head should tag entities: {entities}");
    let data = Labelled::new("fp32 predictions", words, gold);
    // the 20x head amplifies every int8 error (per-row loses ~10 points here); the planted channel costs static
    // activations ~40, static with the two most sensitive groups in fp32 ~18
    let opts = GuardOptions { max_f1_drop: 15.0, max_type_drop: 30.0, ..Default::default() };
    let calibration = plod_sentences(0, 64);
    let (report, chosen) = guard::run(
        &fp32,
        cfg.num_hidden_layers,
        &QuantizeOptions::default(),
        &encoder,
        &labels,
        &data,
        &calibration,
        &opts,
    )
    .unwrap();
    assert!((report.fp32_f1 - 1.0).abs() < 1e-12);
    for v in &report.variants {
        eprintln!(
            "{}: F1 {:.4} ({:+.2} [{:+.2}, {:+.2}]), RMSE {:.4}, kept {:?}",
            v.name, v.f1, v.delta.micro, v.delta.micro_low, v.delta.micro_high, v.logit_rmse, v.kept_fp32
        );
    }
    for g in report.sensitivity.iter().take(5) {
        eprintln!("  {}: RMSE {:.4}, F1 {:+.2}", g.group, g.logit_rmse, g.f1_delta);
    }
    assert_eq!(report.sensitivity[0].group, "layer.3.output", "the planted layer is the most sensitive");
    assert_eq!(report.sensitivity.len(), 1 + 6 * 4);
    let by = |n: &str| report.variants.iter().find(|v| v.name == n).unwrap();
    assert!(!by("static").within_bound, "the outlier channel breaks per-tensor static scales");
    assert!(by("static").over_bound.as_deref().unwrap().contains("micro F1"));
    // the hybrid quantizes the planted layer per token, everything else static: within the bound, and faster
    // than per-row, so it is chosen
    assert_eq!(report.chosen.as_deref(), Some("hybrid"), "{}", report.reason);
    assert!(by("hybrid").per_row.contains(&"layer.3.output".to_string()));
    assert_eq!(by("hybrid").per_row.len(), GuardOptions::default().hybrid_groups);
    assert!(by("hybrid").logit_rmse < by("static").logit_rmse / 2.0, "per-token scales on the planted layer pay");
    assert!(by("static-mixed").kept_fp32.contains(&"layer.3.output".to_string()));
    assert!(by("static-mixed").logit_rmse < by("static").logit_rmse / 2.0, "keeping the planted layer in fp32 pays");
    assert!(by("static").speedup > 0.0 && report.fp32_p50_ms > 0.0, "speed is timed");
    let (q, _) = chosen.unwrap();
    let written = ops(&q);
    assert!(
        written.contains("MatMulIntegerToFloat") && written.contains("MatMulInteger") && written.contains("ReduceMax"),
        "the hybrid graph is written: static and per-row MatMuls"
    );

    // With a bound no variant meets, nothing is chosen.
    let strict = GuardOptions { max_f1_drop: -1.0, ..Default::default() };
    let (report, chosen) = guard::run(
        &fp32,
        cfg.num_hidden_layers,
        &QuantizeOptions::default(),
        &encoder,
        &labels,
        &data,
        &calibration,
        &strict,
    )
    .unwrap();
    assert!(chosen.is_none() && report.chosen.is_none(), "{}", report.reason);
    assert!(report.reason.contains("serve fp32"));
}
