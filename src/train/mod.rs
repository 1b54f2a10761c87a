//! Fine-tuning on ONNX Runtime with nerkit's own training graph (see `nerkit_export::train_graph`):
//! [`trainer::train`] runs the loop; [`engine`] runs the graphs on the [`state`]; [`schedule`], [`early_stop`],
//! [`checkpoint`] and [`run_dir`] are its other parts.
pub mod checkpoint;
mod curves;
pub mod early_stop;
pub mod engine;
pub mod graphs;
#[cfg(feature = "ort-training")]
pub mod ort_training;
pub mod run_dir;
pub mod schedule;
pub mod state;
pub mod trainer;
pub mod validation;

use std::path::PathBuf;

/// nerkit's CPU kernels (the `nerkit-kernels` crate), registered on every training session.
pub use nerkit_kernels as kernels;
pub use trainer::{train, StopReason, TrainOptions, TrainSummary, TrainingData};

/// Maps an ONNX Runtime error to [`TrainError::Engine`], saying what was being done.
pub(crate) fn ort_err(what: &'static str) -> impl Fn(ort::Error) -> TrainError {
    move |e| TrainError::Engine { what, message: e.to_string() }
}

/// Everything that can stop a training run, each naming what failed.
#[derive(Debug, thiserror::Error)]
pub enum TrainError {
    #[error(transparent)]
    Config(#[from] crate::config::ConfigError),
    #[error(transparent)]
    Model(#[from] crate::model::ModelError),
    #[error(transparent)]
    ModelConfig(#[from] nerkit_export::config::ConfigError),
    #[error(transparent)]
    Weights(#[from] nerkit_export::weights::WeightsError),
    #[error(transparent)]
    Graph(#[from] nerkit_export::train_graph::TrainGraphError),
    #[error(transparent)]
    Data(#[from] crate::data::DataError),
    #[error(transparent)]
    Split(#[from] crate::data::split::SplitError),
    #[error(transparent)]
    Prepare(#[from] crate::prepare::PrepareError),
    #[error(transparent)]
    Merge(#[from] crate::prepare::windows::MergeError),
    #[error(transparent)]
    Metrics(#[from] crate::metrics::MetricsError),
    #[error(transparent)]
    Runtime(#[from] crate::runtime::RuntimeError),
    #[error(transparent)]
    CheckpointFile(#[from] checkpoint::CheckpointError),
    #[error("checkpoint does not fit this run: {message}")]
    Checkpoint { message: String },
    #[error("ONNX Runtime failed while {what}: {message}")]
    Engine { what: &'static str, message: String },
    #[error(
        "training diverged at step {step}: loss {loss}, gradient norm {grad_norm:?}; the last good checkpoint \
         is kept — lower the learning rate (--lr) or check the data"
    )]
    NonFinite { step: u64, loss: f32, grad_norm: Option<f32> },
    #[error("{path}: {source}")]
    Io { path: PathBuf, source: std::io::Error },
    #[error(
        "the ONNX Runtime library {library} has no training API (it was not built with --enable_training_apis); \
         train without --ort-training-artifacts to use nerkit's own training graph, which needs none"
    )]
    NoTrainingApi { library: String },
    #[error("{dir}: not an ONNX Runtime training-artifacts directory: `{missing}` is missing")]
    Artifacts { dir: PathBuf, missing: &'static str },
}
