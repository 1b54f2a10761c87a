//! Inference engines behind one small [`Backend`] trait (TEI-style): ONNX Runtime ([`ort_backend`], CPU or
//! CUDA, fp32 or int8 graph) and tract ([`tract_backend`], pure Rust, no native library), named by one
//! [`EngineSpec`] ([`engine`]). [`load_backend`] loads one for an exported model directory and logs every
//! fallback; [`select`] turns a user's [`EngineChoice`] (`auto` included) into loaded engines.
//!
//! Engines take a [`PaddedBatch`] (int64 [batch, sequence] ids / mask / token types) and return [`Logits`]
//! (f32 [batch, sequence, num_labels]).
use std::path::{Path, PathBuf};

use ndarray::Array3;

use crate::runtime::{Device, RuntimeError};

pub mod compare;
pub mod decode;
pub mod engine;
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

pub use engine::{EngineChoice, EngineSpec, Graph, Runtime};
pub use entity::{Aggregation, Entity, Offsets, TagOptions};
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
    /// What runs: runtime, graph and device (prints as `ort-int8`, `tract`, ...).
    fn spec(&self) -> EngineSpec;
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

/// How an ONNX Runtime session is opened.
#[derive(Clone, Debug, Default)]
pub struct BackendOptions {
    pub device: Device,
    /// Intra-op threads (ONNX Runtime; tract: its process-wide pool, sized on first load); `None` = every core.
    pub threads: Option<usize>,
}

/// Loads `spec` for the exported model directory `dir` with `threads` intra-op threads. Fallbacks (each logged
/// at warn level; the loaded engine's [`Backend::spec`] says what runs): a missing graph file falls back along
/// [`EngineSpec::files`] (e.g. `ort-fused-int8` → `model.int8.onnx` → `model.onnx`); ONNX Runtime engines
/// without a usable ONNX Runtime library use tract on `model.onnx`. An explicit CUDA request that fails is an
/// error, never a fallback.
pub fn load_backend(spec: EngineSpec, dir: &Path, threads: Option<usize>) -> Result<Box<dyn Backend>, InferError> {
    let fp32 = dir.join(FP32_FILE);
    let files = spec.files();
    let Some(path) = files.iter().map(|f| dir.join(f)).find(|p| p.is_file()) else {
        return Err(InferError::ModelNotFound { path: fp32 });
    };
    if path != dir.join(files[0]) {
        tracing::warn!(dir = %dir.display(), "no {}; falling back to {} (see `nerkit export --help`)", files[0],
            path.file_name().map(|f| f.to_string_lossy()).unwrap_or_default());
    }
    if !spec.is_ort() {
        return Ok(Box::new(tract_backend::TractBackend::load(&path, threads)?));
    }
    let opts = BackendOptions { device: spec.device, threads };
    match ort_backend::OrtBackend::load(&path, &opts) {
        Err(InferError::Runtime(e)) if !matches!(e, RuntimeError::Cuda { .. }) && opts.device != Device::Cuda => {
            tracing::warn!("{e}");
            // tract runs the standard fp32 graph only (the int8 graph's per-row QuantizeLinear and the fused
            // graph's com.microsoft ops are ONNX Runtime's).
            tracing::warn!(model = %fp32.display(), "falling back to tract");
            Ok(Box::new(tract_backend::TractBackend::load(&fp32, threads)?))
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
