//! tract engine (pure Rust, no native library): the ONNX graph is loaded with symbolic `batch` / `sequence`
//! dims, optimised once (`into_optimized`) and run for any batch shape. Its matrix products run on tract's one
//! process-wide thread pool (tract-linalg's `multithread-mm`), sized on first load to `threads` (default: every
//! core, as ONNX Runtime does); tract runs single-threaded otherwise, which made it 2-3x slower than ORT on 2 cores.
use std::path::Path;
use std::sync::Arc;

use nerkit_export::builder::{parse_model, pb};
use tract_onnx::prelude::*;

use super::{labels_or_default, Backend, InferError, Logits, PaddedBatch};

const NAME: &str = "tract";

pub struct TractBackend {
    plan: Arc<TypedRunnableModel>,
    labels: Vec<String>,
    has_token_type_ids: bool,
}

impl TractBackend {
    /// Loads an ONNX file; `threads` sizes tract's matrix-product pool (first load only; `None` = every core).
    pub fn load(path: &Path, threads: Option<usize>) -> Result<TractBackend, InferError> {
        let err = |message: String| InferError::Load { backend: NAME, path: path.into(), message };
        let bytes = std::fs::read(path).map_err(|e| err(e.to_string()))?;
        let proto = parse_model(&bytes).map_err(|e| err(format!("not an ONNX model: {e}")))?;
        Self::from_proto(&proto, path, threads)
    }

    /// Loads a parsed model; `origin` only names it in errors.
    pub fn from_proto(
        proto: &pb::ModelProto,
        origin: &Path,
        threads: Option<usize>,
    ) -> Result<TractBackend, InferError> {
        use_threads(threads);
        let err = |message: String| InferError::Load { backend: NAME, path: origin.into(), message };
        let graph = proto.graph.as_ref().ok_or_else(|| err("the model has no graph".into()))?;
        let inputs: Vec<String> = graph.input.iter().map(|i| i.name.clone()).collect();
        // tract feeds inputs by position: insist on the order nerkit exports.
        let expected = ["input_ids", "attention_mask", "token_type_ids"];
        for (i, name) in expected.iter().take(2).enumerate() {
            if inputs.get(i).map(String::as_str) != Some(*name) {
                return Err(InferError::MissingInput {
                    backend: NAME,
                    path: origin.into(),
                    input: name,
                    found: inputs,
                });
            }
        }
        let has_token_type_ids = inputs.get(2).map(String::as_str) == Some("token_type_ids");
        let n_labels = graph
            .output
            .first()
            .and_then(|o| {
                let pb::type_proto::Value::TensorType(t) = o.r#type.as_ref()?.value.as_ref()?;
                t.shape.as_ref()?.dim.last().cloned()
            })
            .and_then(|d| match d.value? {
                pb::tensor_shape_proto::dimension::Value::DimValue(v) if v > 0 => Some(v as usize),
                _ => None,
            })
            .ok_or_else(|| err("output `logits` must have a fixed last dim (num_labels)".into()))?;
        let id2label = proto.metadata_props.iter().find(|p| p.key == "id2label").map(|p| p.value.as_str());
        let labels = labels_or_default(id2label, n_labels);
        let plan = tract_onnx::onnx()
            .model_for_proto_model(proto)
            .and_then(|m| m.into_optimized())
            .and_then(|m| m.into_runnable())
            .map_err(|e| err(format!("{e:#}")))?;
        Ok(TractBackend { plan, labels, has_token_type_ids })
    }
}

/// Sizes tract's process-wide matrix-product pool, once.
fn use_threads(threads: Option<usize>) {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        let n = threads.unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()));
        if n > 1 {
            tract_linalg::multithread::set_default_executor(tract_linalg::multithread::Executor::multithread(n));
        }
    });
}

impl Backend for TractBackend {
    fn spec(&self) -> super::EngineSpec {
        super::EngineSpec::TRACT
    }

    fn labels(&self) -> &[String] {
        &self.labels
    }

    fn run(&mut self, batch: &PaddedBatch) -> Result<Logits, InferError> {
        batch.validate()?;
        let run_err = |e: TractError| InferError::Run { backend: NAME, message: format!("{e:#}") };
        let t = |a: &ndarray::Array2<i64>| -> Result<TValue, InferError> {
            let (r, c) = a.dim();
            let v = tract_ndarray::Array2::from_shape_vec((r, c), a.iter().copied().collect()).expect("same size");
            Ok(v.into_tensor().into())
        };
        let mut inputs = tvec![t(&batch.input_ids)?, t(&batch.attention_mask)?];
        if self.has_token_type_ids {
            inputs.push(t(&batch.token_type_ids)?);
        }
        let out = self.plan.run(inputs).map_err(run_err)?;
        let view = out[0].to_plain_array_view::<f32>().map_err(run_err)?;
        let shape = view.shape().to_vec();
        if shape.len() != 3 {
            return Err(InferError::Run {
                backend: NAME,
                message: format!("logits have shape {shape:?}, expected 3-D"),
            });
        }
        Logits::from_shape_vec((shape[0], shape[1], shape[2]), view.iter().copied().collect())
            .map_err(|e| InferError::Run { backend: NAME, message: e.to_string() })
    }
}
