//! ONNX Runtime engine (CPU or CUDA execution provider, fp32 or int8 graph). Optional inputs
//! (`token_type_ids`) are detected from the session's inputs once, at load time.
use std::borrow::Cow;
use std::path::{Path, PathBuf};

use ndarray::Ix3;
use ort::session::{Session, SessionInputValue};
use ort::value::TensorRef;

use super::{labels_or_default, Backend, BackendOptions, EngineSpec, Graph, InferError, Logits, PaddedBatch};
use crate::runtime;

const NAME: &str = "ort";

pub struct OrtBackend {
    session: Session,
    spec: EngineSpec,
    labels: Vec<String>,
    has_token_type_ids: bool,
}

fn load_err(path: &Path) -> impl FnOnce(ort::Error) -> InferError + '_ {
    move |e| InferError::Load { backend: NAME, path: path.to_path_buf(), message: e.to_string() }
}

impl OrtBackend {
    /// Loads an ONNX file.
    pub fn load(path: &Path, opts: &BackendOptions) -> Result<OrtBackend, InferError> {
        let bytes = std::fs::read(path).map_err(|e| InferError::Load {
            backend: NAME,
            path: path.into(),
            message: e.to_string(),
        })?;
        Self::from_bytes(&bytes, path, opts)
    }

    /// Loads a serialized model; `origin` only names it in errors.
    pub fn from_bytes(bytes: &[u8], origin: &Path, opts: &BackendOptions) -> Result<OrtBackend, InferError> {
        let env = runtime::environment()?;
        let eps = runtime::execution_providers(opts.device)?;
        let mut builder = Session::builder(&env).map_err(load_err(origin))?;
        if let Some(t) = opts.threads {
            builder = builder.with_intra_threads(t).map_err(|e| load_err(origin)(e.into()))?;
        }
        if !eps.is_empty() {
            builder = builder.with_execution_providers(eps).map_err(|e| load_err(origin)(e.into()))?;
        }
        let session = builder.commit_from_memory(bytes).map_err(load_err(origin))?;
        let inputs: Vec<String> = session.inputs().iter().map(|i| i.name().to_string()).collect();
        for required in ["input_ids", "attention_mask"] {
            if !inputs.iter().any(|i| i == required) {
                return Err(InferError::MissingInput {
                    backend: NAME,
                    path: origin.into(),
                    input: required,
                    found: inputs,
                });
            }
        }
        let n_labels = output_labels(&session).ok_or_else(|| InferError::Load {
            backend: NAME,
            path: PathBuf::from(origin),
            message: "output `logits` must be f32 [batch, sequence, num_labels] with a fixed num_labels".into(),
        })?;
        let id2label = session.metadata().ok().and_then(|m| m.custom("id2label"));
        let labels = labels_or_default(id2label.as_deref(), n_labels);
        let spec = EngineSpec::ort(Graph::of_file(origin), opts.device);
        let has_token_type_ids = inputs.iter().any(|i| i == "token_type_ids");
        Ok(OrtBackend { session, spec, labels, has_token_type_ids })
    }
}

/// num_labels from the static last dim of the first output.
fn output_labels(session: &Session) -> Option<usize> {
    let out = session.outputs().first()?;
    let shape = out.dtype().tensor_shape()?;
    shape.last().copied().filter(|&d| d > 0).map(|d| d as usize)
}

impl OrtBackend {
    /// The session inputs of `batch` (token type ids only when the graph takes them).
    fn inputs<'b>(
        &self,
        batch: &'b PaddedBatch,
    ) -> Result<Vec<(Cow<'static, str>, SessionInputValue<'b>)>, InferError> {
        batch.validate()?;
        let run_err = |e: ort::Error| InferError::Run { backend: NAME, message: e.to_string() };
        let mut inputs: Vec<(Cow<str>, SessionInputValue)> = vec![
            ("input_ids".into(), TensorRef::from_array_view(batch.input_ids.view()).map_err(run_err)?.into()),
            ("attention_mask".into(), TensorRef::from_array_view(batch.attention_mask.view()).map_err(run_err)?.into()),
        ];
        if self.has_token_type_ids {
            inputs.push((
                "token_type_ids".into(),
                TensorRef::from_array_view(batch.token_type_ids.view()).map_err(run_err)?.into(),
            ));
        }
        Ok(inputs)
    }

    /// Runs `batch` and returns every f32 output by name, in the graph's output order (calibration reads the
    /// activations a graph was given as extra outputs).
    pub fn run_outputs(&mut self, batch: &PaddedBatch) -> Result<Vec<(String, ndarray::ArrayD<f32>)>, InferError> {
        let run_err = |e: ort::Error| InferError::Run { backend: NAME, message: e.to_string() };
        let inputs = self.inputs(batch)?;
        let outputs = self.session.run(inputs).map_err(run_err)?;
        outputs
            .iter()
            .map(|(name, value)| Ok((name.to_string(), value.try_extract_array::<f32>().map_err(run_err)?.to_owned())))
            .collect()
    }
}

impl Backend for OrtBackend {
    fn spec(&self) -> EngineSpec {
        self.spec
    }

    fn labels(&self) -> &[String] {
        &self.labels
    }

    fn run(&mut self, batch: &PaddedBatch) -> Result<Logits, InferError> {
        let run_err = |e: ort::Error| InferError::Run { backend: NAME, message: e.to_string() };
        let inputs = self.inputs(batch)?;
        let outputs = self.session.run(inputs).map_err(run_err)?;
        let logits = outputs[0].try_extract_array::<f32>().map_err(run_err)?;
        logits
            .to_owned()
            .into_dimensionality::<Ix3>()
            .map_err(|e| InferError::Run { backend: NAME, message: format!("logits are not 3-D: {e}") })
    }
}
