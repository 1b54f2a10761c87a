//! Inference engines behind one small [`Backend`] trait (TEI-style): ONNX Runtime ([`ort_backend`], CPU or
//! CUDA, fp32 or int8 graph) and tract ([`tract_backend`], pure Rust, no native library). [`load_backend`]
//! picks one for a model directory and logs every fallback.
//!
//! Engines take a [`PaddedBatch`] (int64 [batch, sequence] ids / mask / token types) and return [`Logits`]
//! (f32 [batch, sequence, num_labels]).
use std::path::{Path, PathBuf};

use ndarray::Array3;

use crate::runtime::{Device, RuntimeError};

pub mod compare;
pub mod decode;
pub mod entity;
pub mod glossary;
pub mod hf_pipeline;
pub mod lanes;
pub mod ort_backend;
pub mod select;
pub mod tagger;
pub mod text;
pub mod text_tagger;
pub mod tract_backend;

pub use entity::{Aggregation, Entity, Offsets, TagOptions};
pub use select::BackendChoice;
pub use text_tagger::{TaggedText, TextTagger};

pub use nerkit_export::pipeline::{FP16_FILE, FP32_FILE, FUSED_FILE, FUSED_INT8_FILE, INT8_FILE};

/// f32 [batch, sequence, num_labels].
pub type Logits = Array3<f32>;

#[derive(Debug, thiserror::Error)]
pub enum InferError {
    #[error(transparent)]
    Runtime(#[from] RuntimeError),
    #[error("no model file {path}; run `nerkit export --model <dir> --out {}`", path.parent().map(|p| p.display().to_string()).unwrap_or_default())]
    ModelNotFound { path: PathBuf },
    #[error("{backend}: cannot load {path}: {message}")]
    Load { backend: &'static str, path: PathBuf, message: String },
    #[error("{backend}: model {path} lacks input {input} (it has {found:?})")]
    MissingInput { backend: &'static str, path: PathBuf, input: &'static str, found: Vec<String> },
    #[error("{backend}: inference failed: {message}")]
    Run { backend: &'static str, message: String },
    #[error("tokenizer {path}: {message}")]
    Tokenizer { path: PathBuf, message: String },
    #[error("bad batch: {0}")]
    Batch(String),
}

pub use crate::prepare::batch::PaddedBatch;

impl From<crate::prepare::batch::BadBatch> for InferError {
    fn from(e: crate::prepare::batch::BadBatch) -> Self {
        InferError::Batch(e.0)
    }
}

/// One inference engine holding one loaded model.
pub trait Backend: Send {
    /// Engine and variant, e.g. `ort-cpu`, `tract`.
    fn name(&self) -> &str;
    /// Label names by class index (from the model's `id2label` metadata, else `LABEL_<i>`).
    fn labels(&self) -> &[String];
    fn num_labels(&self) -> usize {
        self.labels().len()
    }
    /// Largest batch the engine accepts in one call (`None` = no limit).
    fn max_batch_size(&self) -> Option<usize> {
        None
    }
    fn run(&mut self, batch: &PaddedBatch) -> Result<Logits, InferError>;
}

/// Which engine and graph [`load_backend`] loads.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum BackendKind {
    /// ONNX Runtime, `model.onnx`.
    Ort,
    /// ONNX Runtime, `model.int8.onnx`.
    OrtInt8,
    /// ONNX Runtime, `model.fused.onnx` (its fused `com.microsoft` ops; `nerkit export --fused`).
    OrtFused,
    /// ONNX Runtime, `model.fused.int8.onnx`.
    OrtFusedInt8,
    /// ONNX Runtime, `model.fp16.onnx` (`nerkit export --fp16`; for CUDA).
    OrtFp16,
    /// tract (pure Rust), `model.onnx`.
    Tract,
}

impl BackendKind {
    /// Runs on ONNX Runtime (as opposed to tract).
    pub fn is_ort(self) -> bool {
        self != BackendKind::Tract
    }

    /// The graph files this kind prefers, best first; the last is always `model.onnx`.
    pub fn files(self) -> &'static [&'static str] {
        match self {
            BackendKind::Ort | BackendKind::Tract => &[FP32_FILE],
            BackendKind::OrtInt8 => &[INT8_FILE, FP32_FILE],
            BackendKind::OrtFused => &[FUSED_FILE, FP32_FILE],
            BackendKind::OrtFusedInt8 => &[FUSED_INT8_FILE, INT8_FILE, FP32_FILE],
            BackendKind::OrtFp16 => &[FP16_FILE, FP32_FILE],
        }
    }

    /// Whether the graph of this kind is the fused-op one (ONNX Runtime only).
    pub fn is_fused(self) -> bool {
        matches!(self, BackendKind::OrtFused | BackendKind::OrtFusedInt8)
    }

    /// Whether the graph of this kind is the int8 one.
    pub fn is_int8(self) -> bool {
        matches!(self, BackendKind::OrtInt8 | BackendKind::OrtFusedInt8)
    }
}

#[derive(Clone, Debug, Default)]
pub struct BackendOptions {
    pub device: Device,
    /// Intra-op threads (ONNX Runtime; tract: its process-wide pool, sized on first load); `None` = every core.
    pub threads: Option<usize>,
}

/// Loads `kind` for the exported model directory `dir`. Fallbacks (each logged at warn level): a missing graph
/// file falls back along [`BackendKind::files`] (e.g. `ort-fused-int8` → `model.int8.onnx` → `model.onnx`);
/// ONNX Runtime kinds without a usable ONNX Runtime library use tract on `model.onnx`. An explicit CUDA request
/// that fails is an error, never a fallback.
pub fn load_backend(kind: BackendKind, dir: &Path, opts: &BackendOptions) -> Result<Box<dyn Backend>, InferError> {
    let fp32 = dir.join(FP32_FILE);
    let files = kind.files();
    let Some(path) = files.iter().map(|f| dir.join(f)).find(|p| p.is_file()) else {
        return Err(InferError::ModelNotFound { path: fp32 });
    };
    if path != dir.join(files[0]) {
        tracing::warn!(dir = %dir.display(), "no {}; falling back to {} (see `nerkit export --help`)", files[0],
            path.file_name().map(|f| f.to_string_lossy()).unwrap_or_default());
    }
    if !kind.is_ort() {
        return Ok(Box::new(tract_backend::TractBackend::load(&path, opts.threads)?));
    }
    match ort_backend::OrtBackend::load(&path, opts) {
        Err(InferError::Runtime(e)) if !matches!(e, RuntimeError::Cuda { .. }) && opts.device != Device::Cuda => {
            tracing::warn!("{e}");
            // tract runs the standard fp32 graph only (the int8 graph's per-row QuantizeLinear and the fused
            // graph's com.microsoft ops are ONNX Runtime's).
            tracing::warn!(model = %fp32.display(), "falling back to tract");
            Ok(Box::new(tract_backend::TractBackend::load(&fp32, opts.threads)?))
        }
        other => Ok(Box::new(other?)),
    }
}

/// Label names from an ONNX model's `id2label` metadata JSON, or `LABEL_<i>` for `n` classes.
pub(crate) fn labels_or_default(id2label_json: Option<&str>, n: usize) -> Vec<String> {
    let parsed: Option<std::collections::BTreeMap<usize, String>> = id2label_json.and_then(|j| {
        let raw: std::collections::BTreeMap<String, String> = serde_json::from_str(j).ok()?;
        raw.into_iter().map(|(k, v)| Some((k.parse().ok()?, v))).collect()
    });
    (0..n).map(|i| parsed.as_ref().and_then(|m| m.get(&i).cloned()).unwrap_or_else(|| format!("LABEL_{i}"))).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn padding_right_pads_with_zero_mask() {
        let b = PaddedBatch::from_sequences(&[vec![101, 7, 102], vec![101, 102]], 0);
        assert_eq!(b.input_ids, ndarray::array![[101, 7, 102], [101, 102, 0]]);
        assert_eq!(b.attention_mask, ndarray::array![[1, 1, 1], [1, 1, 0]]);
        assert_eq!(b.token_type_ids.dim(), (2, 3));
        b.validate().unwrap();
        assert!(PaddedBatch::from_sequences(&[], 0).validate().is_err());
    }

    #[test]
    fn labels_come_from_metadata_with_defaults_for_gaps() {
        assert_eq!(labels_or_default(Some(r#"{"0":"O","1":"B-AC"}"#), 3), vec!["O", "B-AC", "LABEL_2"]);
        assert_eq!(labels_or_default(None, 2), vec!["LABEL_0", "LABEL_1"]);
    }
}
