//! int8 that keeps the model's accuracy. The graph rewrites live in `nerkit_export::quantize` (weights, dynamic
//! per-token or static calibrated activations) and `nerkit_export::calibrate` (what to observe, how to pick a
//! range); this module runs them on ONNX Runtime against data:
//!
//! - [`calibrate`]: activation statistics of the fp32 graph on calibration sentences → static ranges;
//! - [`accuracy`]: a graph's entity F1 on labelled sentences, kept per sentence for paired comparisons;
//! - [`sensitivity`]: the cost of quantizing each weight group alone;
//! - [`guard`]: the variants from fastest to safest, the first within `--max-f1-drop` wins;
//! - [`plan`]: which int8 graph `nerkit export --int8` writes (guard, static or unchecked dynamic) and writing it.
pub mod accuracy;
pub mod calibrate;
pub mod guard;
pub mod plan;
pub mod sensitivity;
