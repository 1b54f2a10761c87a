//! A model directory in (`config.json`, `model.safetensors`, `tokenizer.json`), an ONNX model directory out
//! (`model.onnx`, optionally `model.int8.onnx`, the ONNX Runtime–optimised `model.fused.onnx` /
//! `model.fused.int8.onnx`, the float16 `model.fp16.onnx`, `config.json` with `id2label`, `tokenizer.json`).
use std::path::{Path, PathBuf};

use crate::builder::save_model;
use crate::config::BertConfig;
use crate::fused::fused_inference_model;
use crate::half::{to_fp16, HalfReport};
use crate::inference::{inference_model, InferenceOptions};
use crate::quantize::{quantize_int8, QuantizeOptions, QuantizeReport};
use crate::weights::Weights;
use crate::ExportError;

pub const FP32_FILE: &str = "model.onnx";
pub const INT8_FILE: &str = "model.int8.onnx";
/// The graph in ONNX Runtime's fused `com.microsoft` ops ([`crate::fused`]); ONNX Runtime only.
pub const FUSED_FILE: &str = "model.fused.onnx";
pub const FUSED_INT8_FILE: &str = "model.fused.int8.onnx";
/// The fp16 graph for GPUs ([`crate::half`]).
pub const FP16_FILE: &str = "model.fp16.onnx";
/// Files copied verbatim from the source directory when present.
/// Files taken along from the model directory when present; `nerkit.toml` carries the training card and the
/// model's `pairs` types.
pub const COPIED_FILES: &[&str] =
    &["tokenizer.json", "tokenizer_config.json", "special_tokens_map.json", "vocab.txt", "nerkit.toml"];

#[derive(Clone, Debug)]
pub struct ExportRequest {
    pub model_dir: PathBuf,
    pub out_dir: PathBuf,
    /// Label names in class order; `None` uses the config's `id2label` (an error when it has none).
    pub labels: Option<Vec<String>>,
    /// Seed of a newly initialised classifier head.
    pub seed: u64,
    pub opset: i64,
    /// Also write `model.int8.onnx` (and `model.fused.int8.onnx` with `fused`).
    pub int8: Option<QuantizeOptions>,
    /// Also write the ONNX Runtime–optimised `model.fused.onnx`.
    pub fused: bool,
    /// Also write the float16 `model.fp16.onnx` (for GPUs).
    pub fp16: bool,
}

impl ExportRequest {
    /// `model_dir` → `out_dir` with the CLI's defaults: labels from the config, seed 42, opset 17, the fp32 graph
    /// only. Callers set the rest with struct-update syntax.
    pub fn new(model_dir: impl Into<PathBuf>, out_dir: impl Into<PathBuf>) -> Self {
        ExportRequest {
            model_dir: model_dir.into(),
            out_dir: out_dir.into(),
            labels: None,
            seed: 42,
            opset: 17,
            int8: None,
            fused: false,
            fp16: false,
        }
    }
}

#[derive(Clone, Debug)]
pub struct ExportSummary {
    pub fp32_path: PathBuf,
    pub fp32_bytes: u64,
    pub int8: Option<(PathBuf, QuantizeReport)>,
    /// `model.fused.onnx` and its size.
    pub fused: Option<(PathBuf, u64)>,
    pub fused_int8: Option<(PathBuf, QuantizeReport)>,
    /// `model.fp16.onnx` and what the conversion did.
    pub fp16: Option<(PathBuf, HalfReport)>,
    pub labels: Vec<String>,
    /// True when the checkpoint had no classifier for these labels and one was initialised from the seed.
    pub classifier_initialised: bool,
    pub copied: Vec<String>,
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> ExportError + '_ {
    move |source| ExportError::Io { path: path.to_path_buf(), source }
}

/// Reads the config and weights of `dir`, with a classifier for `labels` (initialised from `seed` if absent).
/// Returns the config (with `id2label` set), the weights and whether the head was initialised.
pub fn load_for_labels(
    dir: &Path,
    labels: Option<&[String]>,
    seed: u64,
) -> Result<(BertConfig, Weights, bool), ExportError> {
    let mut cfg = BertConfig::from_file(&dir.join("config.json"))?;
    let mut weights = Weights::load(&dir.join("model.safetensors"))?;
    let labels: Vec<String> = match labels {
        Some(l) => l.to_vec(),
        None if !cfg.id2label.is_empty() => cfg.labels(cfg.id2label.keys().max().map_or(0, |m| m + 1)),
        None => return Err(ExportError::Labels(format!("{} has no id2label; pass the label names", dir.display()))),
    };
    if labels.is_empty() {
        return Err(ExportError::Labels("the label list is empty".into()));
    }
    cfg.set_labels(&labels);
    let initialised = weights.ensure_classifier(labels.len(), cfg.hidden_size, cfg.initializer_range, seed);
    Ok((cfg, weights, initialised))
}

/// Writes the ONNX model directory described by `req`.
pub fn export_model_dir(req: &ExportRequest) -> Result<ExportSummary, ExportError> {
    let (cfg, weights, classifier_initialised) = load_for_labels(&req.model_dir, req.labels.as_deref(), req.seed)?;
    std::fs::create_dir_all(&req.out_dir).map_err(io(&req.out_dir))?;
    let model = inference_model(&cfg, &weights, &InferenceOptions { opset: req.opset, with_hidden_state: false })?;
    let fp32_path = req.out_dir.join(FP32_FILE);
    save_model(&model, &fp32_path).map_err(io(&fp32_path))?;
    let fp32_bytes = std::fs::metadata(&fp32_path).map_err(io(&fp32_path))?.len();
    let int8 = write_int8(&model, req, INT8_FILE)?;
    let fp16 = if req.fp16 {
        let (half, report) = to_fp16(&model);
        let path = req.out_dir.join(FP16_FILE);
        save_model(&half, &path).map_err(io(&path))?;
        Some((path, report))
    } else {
        None
    };
    drop(model);
    let (mut fused, mut fused_int8) = (None, None);
    if req.fused {
        let opts = InferenceOptions { opset: req.opset, with_hidden_state: false };
        let model = fused_inference_model(&cfg, &weights, &opts)?;
        let path = req.out_dir.join(FUSED_FILE);
        save_model(&model, &path).map_err(io(&path))?;
        let bytes = std::fs::metadata(&path).map_err(io(&path))?.len();
        fused = Some((path, bytes));
        fused_int8 = write_int8(&model, req, FUSED_INT8_FILE)?;
    }
    drop(weights);
    let cfg_path = req.out_dir.join("config.json");
    let json = serde_json::to_string_pretty(&cfg).expect("config serialises");
    std::fs::write(&cfg_path, json).map_err(io(&cfg_path))?;
    let mut copied = Vec::new();
    if req.model_dir != req.out_dir {
        for f in COPIED_FILES {
            let src = req.model_dir.join(f);
            if src.is_file() {
                std::fs::copy(&src, req.out_dir.join(f)).map_err(io(&src))?;
                copied.push(f.to_string());
            }
        }
    }
    let labels = cfg.labels(cfg.id2label.len());
    Ok(ExportSummary { fp32_path, fp32_bytes, int8, fused, fused_int8, fp16, labels, classifier_initialised, copied })
}

/// Quantizes `model` into `req.out_dir/file` when `req.int8` asks for it.
fn write_int8(
    model: &crate::builder::pb::ModelProto,
    req: &ExportRequest,
    file: &str,
) -> Result<Option<(PathBuf, QuantizeReport)>, ExportError> {
    let Some(opts) = &req.int8 else { return Ok(None) };
    let (q, report) = quantize_int8(model, opts)?;
    let path = req.out_dir.join(file);
    save_model(&q, &path).map_err(io(&path))?;
    Ok(Some((path, report)))
}
