//! Runs the training and evaluation graphs on ONNX Runtime (CPU or CUDA execution provider).
//!
//! A training step binds the batch and the current state set as inputs and the other state set as the
//! outputs (see [`super::state`]), so parameters and moments are updated in place of the previous ones
//! without allocating or copying, and only the loss (and gradient norm) come back to the host.
use std::borrow::Cow;

use ndarray::arr0;
use nerkit_export::train_graph::names;
use ort::memory::{AllocationDevice, AllocatorType, MemoryInfo, MemoryType};
use ort::session::{Session, SessionInputValue};
use ort::value::{DynTensor, Tensor};

use super::state::TrainState;
use super::{ort_err, TrainError};
use crate::prepare::batch::LabelledBatch;
use crate::runtime::{self, Device};

/// What one optimizer step reports.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct StepOutput {
    pub loss: f32,
    /// Global gradient norm before clipping (when clipping is on).
    pub grad_norm: Option<f32>,
}

/// Builds an ONNX Runtime session for a serialised graph, with nerkit's CPU kernels ([`super::kernels`])
/// registered for graphs that use them.
pub fn session(bytes: &[u8], device: Device, threads: usize) -> Result<Session, TrainError> {
    let env = runtime::environment()?;
    let mut builder = Session::builder(&env).map_err(ort_err("creating a session"))?;
    let kernels = super::kernels::domain().map_err(ort_err("registering nerkit's CPU kernels"))?;
    builder = builder.with_operators(kernels).map_err(|e| ort_err("registering nerkit's CPU kernels")(e.into()))?;
    if threads > 0 {
        builder = builder.with_intra_threads(threads).map_err(|e| ort_err("setting threads")(e.into()))?;
    }
    let eps = runtime::execution_providers(device)?;
    if !eps.is_empty() {
        builder = builder.with_execution_providers(eps).map_err(|e| ort_err("registering CUDA")(e.into()))?;
    }
    // ONNX Runtime adds a custom-op domain to one process-wide schema map while it loads the graph, and two
    // sessions loading at once can both try to add `ai.nerkit` ("domain is already exist"): load one at a time.
    static LOADING: std::sync::Mutex<()> = std::sync::Mutex::new(());
    let _one_at_a_time = LOADING.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
    builder.commit_from_memory(bytes).map_err(ort_err("loading the graph"))
}

/// Whether sessions for `device` get the CUDA execution provider.
pub fn uses_cuda(device: Device) -> Result<bool, TrainError> {
    Ok(!runtime::execution_providers(device)?.is_empty())
}

/// Named session inputs.
pub type Inputs<'a> = Vec<(Cow<'a, str>, SessionInputValue<'a>)>;

/// The batch and class weights as owned tensors (a copy of a small batch). Owned, because ort 2.0.0-rc.15's
/// `IoBinding::bind_input` clones a borrowed view through its own device-copy session and deadlocks.
fn batch_tensors(batch: &LabelledBatch, cw: &[f32]) -> Result<Vec<(&'static str, DynTensor)>, TrainError> {
    let e = ort_err("creating batch tensors");
    Ok(vec![
        ("input_ids", Tensor::from_array(batch.inputs.input_ids.clone()).map_err(&e)?.upcast()),
        ("attention_mask", Tensor::from_array(batch.inputs.attention_mask.clone()).map_err(&e)?.upcast()),
        ("token_type_ids", Tensor::from_array(batch.inputs.token_type_ids.clone()).map_err(&e)?.upcast()),
        (names::LABELS, Tensor::from_array(batch.labels.clone()).map_err(&e)?.upcast()),
        (names::CLASS_WEIGHTS, Tensor::from_array(ndarray::Array1::from(cw.to_vec())).map_err(&e)?.upcast()),
    ])
}

fn batch_inputs<'a>(batch: &LabelledBatch, cw: &[f32]) -> Result<Inputs<'a>, TrainError> {
    Ok(batch_tensors(batch, cw)?.into_iter().map(|(name, t)| (name.into(), t.into())).collect())
}

fn scalar_f32(out: &ort::session::SessionOutputs, name: &str) -> Result<f32, TrainError> {
    let v =
        out.get(name).ok_or_else(|| TrainError::Engine { what: "reading outputs", message: format!("no `{name}`") })?;
    Ok(v.try_extract_tensor::<f32>().map_err(ort_err("reading a scalar output"))?.1[0])
}

/// The per-step scalars of the training graph.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Step {
    /// 1-based optimizer step (AdamW bias correction).
    pub number: u64,
    pub lr: f32,
    /// Dropout seed; a new value every step.
    pub seed: i64,
    /// This step's moving-average decay (used when the state keeps an average).
    pub ema_decay: f32,
}

fn step_scalars(state: &TrainState, step: &Step) -> Result<Vec<(&'static str, DynTensor)>, TrainError> {
    let e = ort_err("creating step scalars");
    let mut out = vec![
        (names::LR, Tensor::from_array(arr0(step.lr)).map_err(&e)?.upcast()),
        (names::STEP, Tensor::from_array(arr0(step.number as f32)).map_err(&e)?.upcast()),
        (names::SEED, Tensor::from_array(arr0(step.seed)).map_err(&e)?.upcast()),
    ];
    if state.has_ema() {
        out.push((names::EMA_DECAY, Tensor::from_array(arr0(step.ema_decay)).map_err(&e)?.upcast()));
    }
    Ok(out)
}

/// Every input of the training graph for one step: the batch, the step scalars and the current state set,
/// for a plain `Session::run`.
pub fn step_inputs<'a>(
    state: &'a TrainState,
    batch: &'a LabelledBatch,
    class_weights: &'a [f32],
    step: &Step,
) -> Result<Inputs<'a>, TrainError> {
    let mut inputs = batch_inputs(batch, class_weights)?;
    for (name, value) in step_scalars(state, step)? {
        inputs.push((name.into(), value.into()));
    }
    for (name, value) in state.inputs() {
        inputs.push((name.into(), value.into()));
    }
    Ok(inputs)
}

/// One optimizer step: reads the current state set, writes the updated parameters, moments and average into
/// the other set, and makes it current. A non-finite loss leaves the current set as it was and is reported as
/// an error.
pub fn train_step(
    session: &mut Session,
    state: &mut TrainState,
    batch: &LabelledBatch,
    class_weights: &[f32],
    step: &Step,
    clips: bool,
) -> Result<StepOutput, TrainError> {
    let e = ort_err("binding a training step");
    let mut binding = session.create_binding().map_err(&e)?;
    let owned = batch_tensors(batch, class_weights)?;
    for (name, value) in owned.iter().chain(&step_scalars(state, step)?) {
        binding.bind_input(*name, value).map_err(&e)?;
    }
    let host = MemoryInfo::new(AllocationDevice::CPU, 0, AllocatorType::Device, MemoryType::CPUOutput).map_err(&e)?;
    binding.bind_output_to_device(names::LOSS, &host).map_err(&e)?;
    if clips {
        binding.bind_output_to_device(names::GRAD_NORM, &host).map_err(&e)?;
    }
    let (current, next) = state.step_values();
    for (name, value) in current {
        binding.bind_input(name, value).map_err(&e)?;
    }
    for (name, value) in next {
        binding.bind_output(name, value).map_err(&e)?;
    }
    let (loss, grad_norm) = {
        let out = session.run_binding(&binding).map_err(ort_err("running a training step"))?;
        let loss = scalar_f32(&out, names::LOSS)?;
        (loss, if clips { Some(scalar_f32(&out, names::GRAD_NORM)?) } else { None })
    };
    drop(binding);
    if !loss.is_finite() || grad_norm.is_some_and(|g| !g.is_finite()) {
        return Err(TrainError::NonFinite { step: step.number, loss, grad_norm });
    }
    state.swap();
    Ok(StepOutput { loss, grad_norm })
}

/// Forward + loss without dropout on the model weights ([`TrainState::model_params`]): returns the loss and
/// the logits [batch, seq, labels].
pub fn eval_step(
    session: &mut Session,
    state: &TrainState,
    batch: &LabelledBatch,
    class_weights: &[f32],
) -> Result<(f32, ndarray::Array3<f32>), TrainError> {
    let mut inputs = batch_inputs(batch, class_weights)?;
    let params = state.model_params();
    for (i, name) in state.names.iter().enumerate() {
        inputs.push((name.as_str().into(), (&params[i]).into()));
    }
    let out = session.run(inputs).map_err(ort_err("running evaluation"))?;
    let loss = scalar_f32(&out, names::LOSS)?;
    let logits = out
        .get("logits")
        .ok_or_else(|| TrainError::Engine { what: "reading outputs", message: "no `logits`".into() })?
        .try_extract_array::<f32>()
        .map_err(ort_err("reading logits"))?
        .to_owned()
        .into_dimensionality::<ndarray::Ix3>()
        .map_err(|e| TrainError::Engine { what: "reading logits", message: e.to_string() })?;
    Ok((loss, logits))
}
