//! nerkit: fine-tune, export and serve biomedical named-entity (abbreviation detection) models through ONNX.
//!
//! Life cycle: [`data`] (load + validate) → [`analyze`] (statistics, charts) → [`prepare`] (tokenize, align,
//! windows) → train → [`metrics`] / evaluate → export (`nerkit-export` crate) → [`infer`] (ort / tract) → serve.
pub mod abbrev;
pub mod analyze;
pub mod bench;
pub mod charts;
pub mod cli;
pub mod config;
pub mod data;
pub mod evaluate;
pub mod hub;
pub mod infer;
pub mod labels;
pub mod metrics;
pub mod model;
pub mod paths;
pub mod predict;
pub mod prepare;
pub mod quantize;
pub mod runtime;
pub mod serve;
pub mod timing;
pub mod train;
