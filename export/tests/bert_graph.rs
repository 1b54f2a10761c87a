//! The exported inference graph on a tiny random BERT, run by tract, against a plain-loop oracle
//! (`common/reference.rs`); graph structure (names, dims, metadata); int8 rewrite; error paths.
mod common {
    pub mod reference;
}

use nerkit_export::bert::{build_token_classifier, ForwardHooks, Inference};
use nerkit_export::builder::{pb, GraphBuilder};
use nerkit_export::config::BertConfig;
use nerkit_export::inference::{inference_model, labels_from_metadata, InferenceOptions};
use nerkit_export::quantize::{quantize_int8, ActivationScale, Granularity, QuantizeOptions};
use nerkit_export::weights::{Tensor, Weights};
use tract_onnx::prelude::*;

fn tiny() -> BertConfig {
    let mut cfg: BertConfig = serde_json::from_str(
        r#"{"vocab_size": 100, "hidden_size": 32, "num_hidden_layers": 2, "num_attention_heads": 4,
            "intermediate_size": 64, "max_position_embeddings": 16, "type_vocab_size": 2}"#,
    )
    .unwrap();
    cfg.set_labels(&["O".into(), "B-AC".into(), "B-LF".into(), "I-LF".into()]);
    cfg
}

/// Two sequences of length 6, the second padded after 4 tokens, with a token type switch.
fn batch() -> (Vec<i64>, Vec<i64>, Vec<i64>) {
    let ids = vec![1, 17, 42, 99, 5, 2, 1, 8, 63, 2, 0, 0];
    let mask = vec![1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0, 0];
    let types = vec![0, 0, 0, 1, 1, 1, 0, 0, 0, 0, 0, 0];
    (ids, mask, types)
}

fn run_tract(model: &pb::ModelProto, ids: &[i64], mask: &[i64], types: &[i64], b: usize, s: usize) -> TVec<TValue> {
    let plan =
        tract_onnx::onnx().model_for_proto_model(model).unwrap().into_optimized().unwrap().into_runnable().unwrap();
    let t = |v: &[i64]| -> TValue {
        tract_ndarray::Array2::from_shape_vec((b, s), v.to_vec()).unwrap().into_tensor().into()
    };
    plan.run(tvec![t(ids), t(mask), t(types)]).unwrap()
}

fn max_abs_diff(a: &[f32], b: &[f32]) -> f32 {
    assert_eq!(a.len(), b.len());
    a.iter().zip(b).map(|(x, y)| (x - y).abs()).fold(0.0, f32::max)
}

fn argmax_rows(v: &[f32], n: usize) -> Vec<usize> {
    v.chunks(n).map(|r| r.iter().enumerate().max_by(|a, b| a.1.total_cmp(b.1)).unwrap().0).collect()
}

#[test]
fn tract_runs_the_graph_like_the_reference_implementation() {
    let cfg = tiny();
    let weights = Weights::random(&cfg, 4, 11);
    let model =
        inference_model(&cfg, &weights, &InferenceOptions { with_hidden_state: true, ..Default::default() }).unwrap();
    let (ids, mask, types) = batch();
    let out = run_tract(&model, &ids, &mask, &types, 2, 6);
    let logits = out[0].to_plain_array_view::<f32>().unwrap();
    assert_eq!(logits.shape(), &[2, 6, 4]);
    let (ref_logits, ref_hidden) = common::reference::forward(&cfg, &weights, &ids, &mask, &types, 2, 6);
    let d_logits = max_abs_diff(logits.as_slice().unwrap(), &ref_logits);
    let hidden = out[1].to_plain_array_view::<f32>().unwrap();
    let d_hidden = max_abs_diff(hidden.as_slice().unwrap(), &ref_hidden);
    eprintln!("tract vs reference: logits max|diff| {d_logits:.2e}, hidden {d_hidden:.2e}");
    assert!(d_logits <= 1e-5 && d_hidden <= 1e-4, "logits {d_logits} hidden {d_hidden}");
}

#[test]
fn padding_does_not_change_real_positions() {
    let cfg = tiny();
    let weights = Weights::random(&cfg, 4, 3);
    let model = inference_model(&cfg, &weights, &InferenceOptions::default()).unwrap();
    let (ids, mask, types) = batch();
    let padded = run_tract(&model, &ids, &mask, &types, 2, 6);
    let alone = run_tract(&model, &ids[6..10], &mask[6..10], &types[6..10], 1, 4);
    let padded = padded[0].to_plain_array_view::<f32>().unwrap();
    let padded_row: Vec<f32> = padded.slice(tract_ndarray::s![1, 0..4, ..]).iter().copied().collect();
    let d = max_abs_diff(&padded_row, alone[0].to_plain_array_view::<f32>().unwrap().as_slice().unwrap());
    assert!(d <= 1e-5, "padding leaked into real positions: {d}");
}

#[test]
fn graph_names_follow_hf_keys_and_dims_are_symbolic() {
    let cfg = tiny();
    let weights = Weights::random(&cfg, 4, 1);
    let model = inference_model(&cfg, &weights, &InferenceOptions::default()).unwrap();
    assert_eq!(labels_from_metadata(&model).unwrap(), vec!["O", "B-AC", "B-LF", "I-LF"]);
    assert_eq!(model.opset_import[0].version, 17);
    let g = model.graph.as_ref().unwrap();
    // Every checkpoint tensor is an initializer of the same name and shape.
    for (name, t) in weights.iter() {
        let init = g.initializer.iter().find(|i| &i.name == name).unwrap_or_else(|| panic!("no initializer {name}"));
        assert_eq!(init.dims, t.dims_i64(), "{name}");
    }
    let inputs: Vec<&str> = g.input.iter().map(|i| i.name.as_str()).collect();
    assert_eq!(inputs, ["input_ids", "attention_mask", "token_type_ids"]);
    assert_eq!(g.output.iter().map(|o| o.name.as_str()).collect::<Vec<_>>(), ["logits"]);
    let dims = format!("{:?}", g.output[0].r#type);
    assert!(
        dims.contains("DimParam(\"batch\")") && dims.contains("DimParam(\"sequence\")") && dims.contains("DimValue(4)")
    );
    assert!(g.node.iter().any(|n| n.op_type == "LayerNormalization"));
    assert!(g.node.iter().any(|n| n.output[0] == "bert.encoder.layer.1.attention.self.query"));
}

/// Counts dropout sites and turns parameters into graph inputs, as the training graph does.
#[derive(Default)]
struct Recording {
    sites: Vec<(String, f32)>,
}

impl ForwardHooks for Recording {
    fn dropout(&mut self, _g: &mut GraphBuilder, value: &str, rate: f32, site: &str) -> String {
        self.sites.push((site.to_string(), rate));
        value.to_string()
    }
    fn parameter(&mut self, g: &mut GraphBuilder, name: &str, t: &Tensor) -> String {
        let dims: Vec<_> = t.shape.iter().map(|&d| nerkit_export::builder::Dim::Fixed(d as i64)).collect();
        g.input(name, nerkit_export::builder::ElemType::F32, &dims)
    }
}

#[test]
fn hooks_see_every_dropout_site_and_every_parameter() {
    let mut cfg = tiny();
    cfg.classifier_dropout = Some(0.3);
    let weights = Weights::random(&cfg, 4, 1);
    let mut g = GraphBuilder::new("t");
    let mut hooks = Recording::default();
    let out = build_token_classifier(&mut g, &cfg, &weights, &mut hooks).unwrap();
    assert_eq!(out.num_labels, 4);
    // embeddings + 3 per layer + classifier
    assert_eq!(hooks.sites.len(), 1 + 3 * cfg.num_hidden_layers + 1);
    assert_eq!(hooks.sites[0].0, "bert.embeddings.dropout");
    assert!(hooks.sites.contains(&("bert.encoder.layer.1.attention.self.dropout".into(), 0.1)));
    assert_eq!(hooks.sites.last().unwrap(), &("dropout".to_string(), 0.3));
    assert!(g.initializers.iter().all(|i| !i.name.ends_with(".weight")), "parameters became inputs");
    assert_eq!(g.inputs.len(), 3 + weights.len());
    let mut plain = GraphBuilder::new("p");
    build_token_classifier(&mut plain, &cfg, &weights, &mut Inference).unwrap();
    assert_eq!(plain.nodes.len(), g.nodes.len());
}

#[test]
fn missing_or_misshaped_tensors_are_named() {
    let cfg = tiny();
    let mut weights = Weights::random(&cfg, 4, 1);
    weights.remove("bert.encoder.layer.1.intermediate.dense.bias");
    let e = inference_model(&cfg, &weights, &InferenceOptions::default()).unwrap_err().to_string();
    assert!(e.contains("missing tensor bert.encoder.layer.1.intermediate.dense.bias (expected shape [64])"), "{e}");
    let mut weights = Weights::random(&cfg, 4, 1);
    weights.insert("bert.encoder.layer.0.attention.self.key.weight", Tensor::filled(vec![32, 16], 0.0));
    let e = inference_model(&cfg, &weights, &InferenceOptions::default()).unwrap_err().to_string();
    assert!(e.contains("key.weight has shape [32, 16]; expected [32, 32]"), "{e}");
    let e = inference_model(&cfg, &weights, &InferenceOptions { opset: 13, ..Default::default() }).unwrap_err();
    assert!(e.to_string().contains("opset 13"), "{e}");
}

#[test]
fn int8_graph_runs_on_tract_close_to_fp32() {
    let cfg = tiny();
    let weights = Weights::random(&cfg, 4, 5);
    let model = inference_model(&cfg, &weights, &InferenceOptions::default()).unwrap();
    let (ids, mask, types) = batch();
    let fp32 = run_tract(&model, &ids, &mask, &types, 2, 6);
    let fp32 = fp32[0].to_plain_array_view::<f32>().unwrap();
    let scale = fp32.iter().fold(0f32, |m, v| m.max(v.abs()));
    // tract runs the per-tensor activation variant (the per-row one, a per-axis QuantizeLinear, is checked on
    // ONNX Runtime in tests/export_parity.rs)
    let variants =
        [(Granularity::PerChannel, ActivationScale::PerTensor), (Granularity::PerTensor, ActivationScale::PerTensor)];
    for (granularity, activations) in variants {
        let opts = QuantizeOptions { granularity, activations, ..Default::default() };
        let (q, report) = quantize_int8(&model, &opts).unwrap();
        // 2 layers × 6 linears + 3 embedding tables; the classifier is kept fp32 by default.
        assert_eq!(report.quantized.len(), 2 * 6 + 3, "{:?}", report.quantized);
        assert_eq!(report.kept_fp32, vec!["classifier.weight"]);
        // Tiny layers carry many fp32 biases and scales, so the ratio is far from 4x here.
        assert!(report.int8_bytes * 10 < report.fp32_bytes * 7, "{report:?}");
        let ops: Vec<&str> = q.graph.as_ref().unwrap().node.iter().map(|n| n.op_type.as_str()).collect();
        let quantizer = if activations == ActivationScale::PerRow { "ReduceMax" } else { "DynamicQuantizeLinear" };
        assert_eq!(ops.iter().filter(|o| **o == quantizer).count(), 2 * 4, "q/k/v share one");
        let int8 = run_tract(&q, &ids, &mask, &types, 2, 6);
        let int8 = int8[0].to_plain_array_view::<f32>().unwrap();
        let d = max_abs_diff(fp32.as_slice().unwrap(), int8.as_slice().unwrap());
        let agree = argmax_rows(fp32.as_slice().unwrap(), 4)
            .iter()
            .zip(argmax_rows(int8.as_slice().unwrap(), 4))
            .filter(|(a, b)| **a == *b)
            .count();
        eprintln!("{granularity:?}/{activations:?}: int8 vs fp32 max|diff| {d:.3e} (logit scale {scale:.3e}), argmax agree {agree}/12");
        assert!(d < 0.1 * scale, "{granularity:?}: {d} vs scale {scale}");
    }
}
