//! `nerkit-export`: turns a Hugging Face style BERT-family model directory into ONNX graphs that nerkit owns:
//! the frozen inference graph, the training graph (reverse-mode gradients + AdamW) and int8 variants.
//!
//! Built on the ONNX protobuf types of `tract-onnx` ([`builder::pb`]); see [`builder::GraphBuilder`].
//! Map: [`config`] (config.json) + [`weights`] (safetensors) → [`bert`] (forward graph, reusable by the
//! training graph) → [`inference`] (model with outputs + metadata) → [`quantize`] (int8; [`calibrate`] for static ranges) →
//! [`half`] (fp16 for GPUs) → [`pipeline`] (a model directory in, `model.onnx` / `model.int8.onnx` /
//! `model.fp16.onnx` out).
pub mod autodiff;
pub mod bert;
pub mod builder;
pub mod calibrate;
pub mod config;
pub mod fingerprint;
pub mod fused;
pub mod half;
pub mod inference;
pub mod pipeline;
pub mod quantize;
pub mod train_graph;
pub mod weights;

/// Errors of the export crate.
#[derive(Debug, thiserror::Error)]
pub enum ExportError {
    #[error(transparent)]
    Config(#[from] config::ConfigError),
    #[error(transparent)]
    Weights(#[from] weights::WeightsError),
    #[error(transparent)]
    Quantize(#[from] quantize::QuantizeError),
    #[error("opset {requested} is too old: the graph needs at least {minimum} (LayerNormalization)")]
    Opset { requested: i64, minimum: i64 },
    #[error("{path}: {source}")]
    Io { path: std::path::PathBuf, source: std::io::Error },
    #[error("labels: {0}")]
    Labels(String),
}
