//! Exported graphs against transformers and across engines:
//! - MiniLM (embedded model) + a formula classifier vs `BertForTokenClassification` outputs recorded by
//!   `scripts/fixtures/bert_parity.py` (tests/fixtures/parity/minilm.json), on ONNX Runtime CPU and on tract;
//! - a tiny random BERT: ORT vs tract, fp32 and int8; `load_backend` on an exported directory.
//!
//! Needs the ONNX Runtime library (`make setup`, or ORT_DYLIB_PATH) and the embedded model in NERKIT_HOME.
mod common;

use std::path::Path;

use ndarray::{Array2, Array3, Ix3};
use nerkit::infer::compare::agreement;
use nerkit::infer::ort_backend::OrtBackend;
use nerkit::infer::tract_backend::TractBackend;
use nerkit::infer::{load_backend, Backend, BackendOptions, EngineSpec, Graph, PaddedBatch};
use nerkit::runtime::Device;
use nerkit_export::builder::{model_bytes, pb};
use nerkit_export::config::BertConfig;
use nerkit_export::inference::{inference_model, InferenceOptions, LAST_HIDDEN_STATE};
use nerkit_export::quantize::{quantize_int8, ActivationScale, QuantizeOptions};
use nerkit_export::weights::Weights;
use serde_json::Value;
use tract_onnx::prelude::*;

use common::{embedded_dir, formula_classifier};

const TOL: f32 = 1e-4;

fn fixture() -> Value {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/parity/minilm.json");
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

fn array2(v: &Value) -> Array2<i64> {
    let rows: Vec<Vec<i64>> = serde_json::from_value(v.clone()).unwrap();
    let (r, c) = (rows.len(), rows[0].len());
    Array2::from_shape_vec((r, c), rows.into_iter().flatten().collect()).unwrap()
}

fn array3(v: &Value) -> Array3<f32> {
    let rows: Vec<Vec<Vec<f32>>> = serde_json::from_value(v.clone()).unwrap();
    let (a, b, c) = (rows.len(), rows[0].len(), rows[0][0].len());
    Array3::from_shape_vec((a, b, c), rows.into_iter().flatten().flatten().collect()).unwrap()
}

fn max_abs_diff(a: &Array3<f32>, b: &Array3<f32>) -> f32 {
    assert_eq!(a.dim(), b.dim());
    a.iter().zip(b.iter()).map(|(x, y)| (x - y).abs()).fold(0.0, f32::max)
}

/// Both outputs of a model with `last_hidden_state`, through ONNX Runtime directly.
fn ort_outputs(model: &pb::ModelProto, batch: &PaddedBatch) -> (Array3<f32>, Array3<f32>) {
    let env = nerkit::runtime::environment().unwrap();
    let mut session = ort::session::Session::builder(&env).unwrap().commit_from_memory(&model_bytes(model)).unwrap();
    let v = |a: &Array2<i64>| ort::value::Tensor::from_array(a.clone()).unwrap();
    let out = session
        .run(ort::inputs![
            "input_ids" => v(&batch.input_ids),
            "attention_mask" => v(&batch.attention_mask),
            "token_type_ids" => v(&batch.token_type_ids),
        ])
        .unwrap();
    let get =
        |name: &str| out[name].try_extract_array::<f32>().unwrap().to_owned().into_dimensionality::<Ix3>().unwrap();
    (get("logits"), get(LAST_HIDDEN_STATE))
}

fn tract_outputs(model: &pb::ModelProto, batch: &PaddedBatch) -> (Array3<f32>, Array3<f32>) {
    let plan =
        tract_onnx::onnx().model_for_proto_model(model).unwrap().into_optimized().unwrap().into_runnable().unwrap();
    let t = |a: &Array2<i64>| -> TValue {
        tract_ndarray::Array2::from_shape_vec(a.dim(), a.iter().copied().collect()).unwrap().into_tensor().into()
    };
    let out = plan.run(tvec![t(&batch.input_ids), t(&batch.attention_mask), t(&batch.token_type_ids)]).unwrap();
    let get = |i: usize| {
        let v = out[i].to_plain_array_view::<f32>().unwrap();
        let s = v.shape().to_vec();
        Array3::from_shape_vec((s[0], s[1], s[2]), v.iter().copied().collect()).unwrap()
    };
    (get(0), get(1))
}

/// The embedded MiniLM with the fixture's formula head, built by `build` (standard or fused graph, with
/// `last_hidden_state`), and the fixture's padded batch.
fn minilm_model_and_batch(
    build: impl Fn(&BertConfig, &Weights, &InferenceOptions) -> Result<pb::ModelProto, nerkit_export::ExportError>,
) -> (pb::ModelProto, PaddedBatch) {
    let fx = fixture();
    let dir = embedded_dir();
    let cfg = BertConfig::from_file(&dir.join("config.json")).unwrap();
    let mut weights = Weights::load(&dir.join("model.safetensors")).unwrap();
    formula_classifier(&mut weights, 4, cfg.hidden_size);
    let model = build(&cfg, &weights, &InferenceOptions { with_hidden_state: true, ..Default::default() }).unwrap();
    let batch = PaddedBatch {
        input_ids: array2(&fx["input_ids"]),
        attention_mask: array2(&fx["attention_mask"]),
        token_type_ids: array2(&fx["token_type_ids"]),
    };
    (model, batch)
}

#[test]
fn minilm_matches_transformers_on_ort_and_tract() {
    let fx = fixture();
    let (model, batch) = minilm_model_and_batch(inference_model);
    assert!(batch.attention_mask.iter().any(|&m| m == 0), "the fixture batch must contain padding");
    let want_logits = array3(&fx["logits"]);
    let want_hidden = array3(&fx["last_hidden_state_slice"]);
    let k = fx["hidden_slice"].as_u64().unwrap() as usize;
    for (engine, (logits, hidden)) in [("ort", ort_outputs(&model, &batch)), ("tract", tract_outputs(&model, &batch))] {
        let hidden = hidden.slice(ndarray::s![.., .., 0..k]).to_owned();
        // All positions, padded ones included: both sides compute them with the same masked attention.
        let (dl, dh) = (max_abs_diff(&logits, &want_logits), max_abs_diff(&hidden, &want_hidden));
        eprintln!("{engine} vs transformers: logits max|diff| {dl:.2e}, last_hidden_state[..{k}] {dh:.2e}");
        assert!(dl <= TOL && dh <= TOL, "{engine}: logits {dl}, hidden {dh} (tolerance {TOL})");
    }
}

#[test]
fn fp16_minilm_stays_close_to_transformers_on_ort() {
    let fx = fixture();
    let (model, batch) = minilm_model_and_batch(inference_model);
    let (half, report) = nerkit_export::half::to_fp16(&model);
    assert_eq!(report.outputs, 2, "logits and last_hidden_state are cast back to float32");
    assert!(report.saturated >= 1, "the mask's f32::MIN must saturate, not become -inf");
    let (logits, _) = ort_outputs(&half, &batch);
    let want = array3(&fx["logits"]);
    assert!(logits.iter().all(|v| v.is_finite()), "no NaN/inf, padded positions included");
    // fp16 keeps ~3 significant digits: the logits move by about 1e-3 of their scale, the argmax not at all.
    let scale = want.iter().fold(0f32, |m, v| m.max(v.abs()));
    let a = agreement(&logits, &want, &batch.attention_mask);
    eprintln!("fp16 ort vs transformers: logits max|diff| {:.2e} (max|logit| {scale:.2})", a.max_abs_diff);
    assert!(a.max_abs_diff <= 1e-2 * scale, "fp16 logits {} off (scale {scale})", a.max_abs_diff);
    assert_eq!(a.argmax_agree, a.positions, "fp16 must not change a tag");
}

#[test]
fn fused_minilm_matches_transformers_on_ort() {
    let fx = fixture();
    let (model, batch) = minilm_model_and_batch(nerkit_export::fused::fused_inference_model);
    let ops: std::collections::BTreeSet<&str> =
        model.graph.as_ref().unwrap().node.iter().map(|n| n.op_type.as_str()).collect();
    for op in ["MultiHeadAttention", "SkipLayerNormalization", "BiasGelu"] {
        assert!(ops.contains(op), "{op} missing from the fused graph: {ops:?}");
    }
    let (logits, hidden) = ort_outputs(&model, &batch);
    let k = fx["hidden_slice"].as_u64().unwrap() as usize;
    let hidden = hidden.slice(ndarray::s![.., .., 0..k]).to_owned();
    // Real positions only: the fused Attention masks with -10000 where transformers uses the dtype minimum, so
    // padded positions may differ; every real position must match.
    let mask = &batch.attention_mask;
    let (mut dl, mut dh) = (0f32, 0f32);
    for ((b, s), &m) in mask.indexed_iter() {
        if m == 1 {
            let d = |x: &Array3<f32>, y: &Array3<f32>| {
                x.slice(ndarray::s![b, s, ..])
                    .iter()
                    .zip(y.slice(ndarray::s![b, s, ..]))
                    .map(|(p, q)| (p - q).abs())
                    .fold(0f32, f32::max)
            };
            dl = dl.max(d(&logits, &array3(&fx["logits"])));
            dh = dh.max(d(&hidden, &array3(&fx["last_hidden_state_slice"])));
        }
    }
    eprintln!("fused ort vs transformers (real positions): logits max|diff| {dl:.2e}, hidden {dh:.2e}");
    assert!(dl <= TOL && dh <= TOL, "fused: logits {dl}, hidden {dh} (tolerance {TOL})");
}

fn tiny_config() -> BertConfig {
    let mut cfg: BertConfig = serde_json::from_str(
        r#"{"vocab_size": 100, "hidden_size": 32, "num_hidden_layers": 2, "num_attention_heads": 4,
            "intermediate_size": 64, "max_position_embeddings": 32}"#,
    )
    .unwrap();
    cfg.set_labels(&["O".into(), "B-AC".into(), "B-LF".into(), "I-LF".into()]);
    cfg
}

fn tiny_batch() -> PaddedBatch {
    let seqs: Vec<Vec<i64>> =
        vec![vec![1, 12, 45, 77, 3, 9, 2], vec![1, 5, 2], (0..20).map(|i| (i * 7 % 97) as i64 + 1).collect()];
    PaddedBatch::from_sequences(&seqs, 0)
}

#[test]
fn tiny_bert_ort_and_tract_agree_in_fp32_and_int8() {
    let cfg = tiny_config();
    let weights = Weights::random(&cfg, 4, 2024);
    let fp32 = inference_model(&cfg, &weights, &InferenceOptions::default()).unwrap();
    // tract runs the per-tensor activation variant; the per-row default is ONNX Runtime's (next test)
    let per_tensor = QuantizeOptions { activations: ActivationScale::PerTensor, ..Default::default() };
    let (int8, report) = quantize_int8(&fp32, &per_tensor).unwrap();
    let batch = tiny_batch();
    let origin = Path::new("tiny.onnx");
    let mut runs = Vec::new();
    for (tag, model) in [("fp32", &fp32), ("int8", &int8)] {
        let mut ort = OrtBackend::from_bytes(&model_bytes(model), origin, &BackendOptions::default()).unwrap();
        let mut tract = TractBackend::from_proto(model, origin, None).unwrap();
        assert_eq!(ort.labels(), ["O", "B-AC", "B-LF", "I-LF"]);
        assert_eq!(tract.num_labels(), 4);
        let (lo, lt) = (ort.run(&batch).unwrap(), tract.run(&batch).unwrap());
        assert_eq!(lo.dim(), (3, 20, 4));
        let a = agreement(&lo, &lt, &batch.attention_mask);
        eprintln!("{tag}: ort vs tract max|diff| {:.2e}, argmax {}/{}", a.max_abs_diff, a.argmax_agree, a.positions);
        runs.push((lo, lt, a));
    }
    assert!(runs[0].2.max_abs_diff <= 1e-5, "fp32 engines disagree: {:?}", runs[0].2);
    // int8: both engines quantize activations identically (DynamicQuantizeLinear); integer matmuls are exact.
    assert!(runs[1].2.max_abs_diff <= 1e-4, "int8 engines disagree: {:?}", runs[1].2);
    let q = agreement(&runs[0].0, &runs[1].0, &batch.attention_mask);
    let scale = runs[0].0.iter().fold(0f32, |m, v| m.max(v.abs()));
    eprintln!(
        "fp32 vs int8 (ort): max|diff| {:.3e} (logit scale {scale:.3e}), argmax {}/{}, sizes {} → {} bytes",
        q.max_abs_diff, q.argmax_agree, q.positions, report.fp32_bytes, report.int8_bytes
    );
    assert!(q.max_abs_diff < 0.1 * scale, "int8 drifted: {q:?}");
}

/// The default int8 graph quantizes activations per token: close to fp32, and a sequence's logits do not depend
/// on the batch it runs in (the server batches unrelated requests), where per-tensor scales do.
#[test]
fn per_row_int8_is_close_to_fp32_and_independent_of_the_batch() {
    let cfg = tiny_config();
    let weights = Weights::random(&cfg, 4, 2024);
    let fp32 = inference_model(&cfg, &weights, &InferenceOptions::default()).unwrap();
    let (int8, _) = quantize_int8(&fp32, &QuantizeOptions::default()).unwrap();
    let origin = Path::new("tiny.onnx");
    let opts = BackendOptions::default();
    let mut f = OrtBackend::from_bytes(&model_bytes(&fp32), origin, &opts).unwrap();
    let mut q = OrtBackend::from_bytes(&model_bytes(&int8), origin, &opts).unwrap();
    let batch = tiny_batch();
    let (lf, lq) = (f.run(&batch).unwrap(), q.run(&batch).unwrap());
    let a = agreement(&lf, &lq, &batch.attention_mask);
    let scale = lf.iter().fold(0f32, |m, v| m.max(v.abs()));
    assert!(a.max_abs_diff < 0.1 * scale, "per-row int8 drifted from fp32: {a:?}");
    let seqs: Vec<Vec<i64>> =
        vec![vec![1, 12, 45, 77, 3, 9, 2], vec![1, 5, 2], (0..20).map(|i| (i * 7 % 97) as i64 + 1).collect()];
    for (i, s) in seqs.iter().enumerate() {
        let alone = q.run(&PaddedBatch::from_sequences(std::slice::from_ref(s), 0)).unwrap();
        let d = (0..s.len())
            .flat_map(|t| (0..4).map(move |k| (t, k)))
            .map(|(t, k)| (alone[[0, t, k]] - lq[[i, t, k]]).abs())
            .fold(0f32, f32::max);
        assert!(d <= 1e-5, "sequence {i}: logits moved by {d} when batched");
    }
}

#[test]
fn load_backend_runs_an_exported_directory() {
    let cfg = tiny_config();
    let src = tempfile::tempdir().unwrap();
    let mut raw = serde_json::to_value(&cfg).unwrap();
    raw.as_object_mut().unwrap().remove("id2label");
    raw.as_object_mut().unwrap().remove("label2id");
    std::fs::write(src.path().join("config.json"), raw.to_string()).unwrap();
    let mut weights = Weights::random(&cfg, 4, 9);
    weights.remove("classifier.weight");
    weights.remove("classifier.bias");
    weights.save(&src.path().join("model.safetensors")).unwrap();
    let out = tempfile::tempdir().unwrap();
    let labels: Vec<String> = ["O", "B-AC", "B-LF", "I-LF"].map(String::from).to_vec();
    let req = nerkit_export::pipeline::ExportRequest {
        labels: Some(labels.clone()),
        seed: 1,
        int8: Some(QuantizeOptions::default()),
        fused: true,
        fp16: true,
        ..nerkit_export::pipeline::ExportRequest::new(src.path(), out.path())
    };
    let summary = nerkit_export::pipeline::export_model_dir(&req).unwrap();
    assert!(summary.fused.is_some() && summary.fused_int8.is_some() && summary.fp16.is_some());
    assert!(summary.classifier_initialised);
    let written = BertConfig::from_file(&out.path().join("config.json")).unwrap();
    assert_eq!(written.labels(4), labels);
    let batch = tiny_batch();
    let mut logits = Vec::new();
    let kinds = [
        EngineSpec::ORT,
        EngineSpec::ORT_INT8,
        EngineSpec::TRACT,
        EngineSpec::ORT_FUSED,
        EngineSpec::ORT_FUSED_INT8,
        EngineSpec::ort(Graph::Fp16, Device::Cpu),
    ];
    for kind in kinds {
        let mut b = load_backend(kind, out.path(), None).unwrap();
        assert_eq!(b.spec(), kind, "the engine says what it runs");
        assert_eq!(b.labels(), labels.as_slice());
        logits.push(b.run(&batch).unwrap());
    }
    let close = |i: usize, j: usize| agreement(&logits[i], &logits[j], &batch.attention_mask).max_abs_diff;
    assert!(close(0, 2) <= 1e-5, "ort vs tract");
    assert!(close(0, 3) <= 1e-5, "standard vs fused fp32: {}", close(0, 3));
    assert_ne!(logits[0], logits[1], "ort-int8 must load model.int8.onnx");
    assert_ne!(logits[1], logits[4], "ort-fused-int8 must load model.fused.int8.onnx");
    assert_ne!(logits[0], logits[5], "ort-fp16 must load model.fp16.onnx");
    let scale = logits[0].iter().fold(0f32, |m, v| m.max(v.abs()));
    assert!(close(0, 5) <= 1e-2 * scale, "fp32 vs fp16: {} (scale {scale})", close(0, 5));
    // Without the fused files the fused kinds fall back to the standard graphs.
    std::fs::remove_file(out.path().join(nerkit::infer::FUSED_INT8_FILE)).unwrap();
    let mut b = load_backend(EngineSpec::ORT_FUSED_INT8, out.path(), None).unwrap();
    assert_eq!(b.run(&batch).unwrap(), logits[1], "falls back to model.int8.onnx");
    assert_eq!(b.spec(), EngineSpec::ORT_INT8, "and says so");
    let e = load_backend(EngineSpec::TRACT, src.path(), None).err().unwrap();
    assert!(e.to_string().contains("nerkit export"), "{e}");
}

#[test]
fn export_cache_is_redone_when_the_weights_change_fp16_included() {
    let tmp = tempfile::tempdir().unwrap();
    let model = common::token_classifier_dir(tmp.path());
    let dir = nerkit::infer::select::exported_dir(&model).unwrap();
    nerkit::infer::select::ensure_fp16(&dir).unwrap();
    let fp16 = dir.join(nerkit::infer::FP16_FILE);
    let first = std::fs::read(&fp16).unwrap();
    // new weights (another classifier), then the same directory asked for again
    let mut w = Weights::load(&model.join("model.safetensors")).unwrap();
    let bias = w.get("classifier.bias").unwrap().clone();
    let shifted = bias.data.iter().map(|b| b + 1.0).collect();
    w.insert("classifier.bias", nerkit_export::weights::Tensor::new(bias.shape.clone(), shifted));
    std::fs::remove_file(model.join("model.safetensors")).unwrap();
    w.save(&model.join("model.safetensors")).unwrap();
    assert_eq!(nerkit::infer::select::exported_dir(&model).unwrap(), dir);
    assert!(!fp16.exists(), "the fp16 graph of the old weights must not survive a re-export");
    nerkit::infer::select::ensure_fp16(&dir).unwrap();
    assert_ne!(std::fs::read(&fp16).unwrap(), first, "converted again from the new weights");
}
