//! `nerkit-export`: turns a Hugging Face style BERT-family model directory into ONNX graphs that nerkit owns:
//! the frozen inference graph, the training graph (reverse-mode gradients + AdamW) and int8 variants.
//!
//! Built on the ONNX protobuf types of `tract-onnx` ([`builder::pb`]); see [`builder::GraphBuilder`].
pub mod autodiff;
pub mod builder;
pub mod train_graph;
