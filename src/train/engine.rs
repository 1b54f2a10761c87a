//! Runs the training and evaluation graphs on ONNX Runtime (CPU or CUDA execution provider).
//!
//! Parameters and AdamW moments live in ONNX Runtime values that are fed back as the next step's inputs:
//! each step's `<p>.new` outputs become the `<p>` inputs of the following step, so on CPU nothing is copied
//! between steps except the batch going in and the loss coming out.
use std::borrow::Cow;

use ndarray::{arr0, ArrayView1};
use nerkit_export::train_graph::{names, TrainParam};
use ort::session::{Session, SessionInputValue};
use ort::value::{DynValue, Tensor, TensorRef};

use super::checkpoint::NamedTensor;
use super::TrainError;
use crate::prepare::batch::LabelledBatch;
use crate::runtime::{self, Device};

/// What one optimizer step reports.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct StepOutput {
    pub loss: f32,
    /// Global gradient norm before clipping (when clipping is on).
    pub grad_norm: Option<f32>,
}

/// Parameter and optimizer state as engine values, in the training graph's parameter order.
pub struct TrainState {
    pub names: Vec<String>,
    pub shapes: Vec<Vec<usize>>,
    params: Vec<DynValue>,
    adam_m: Vec<DynValue>,
    adam_v: Vec<DynValue>,
    /// Exponential moving average of the parameters (host memory), when enabled.
    ema: Option<Vec<DynValue>>,
}

/// Checkpoint name of a parameter's moving average.
pub fn ema_name(param: &str) -> String {
    format!("{param}.ema")
}

/// Effective EMA decay at optimizer step `step` (1-based): `min(decay, (1 + step) / (10 + step))`, so the
/// average follows the parameters closely at the start instead of clinging to the pretrained values.
pub fn ema_decay_at(decay: f64, step: u64) -> f64 {
    decay.min((1.0 + step as f64) / (10.0 + step as f64))
}

fn ort_err(what: &'static str) -> impl Fn(ort::Error) -> TrainError {
    move |e| TrainError::Engine { what, message: e.to_string() }
}

fn value(shape: &[usize], data: Vec<f32>) -> Result<DynValue, TrainError> {
    let shape: Vec<i64> = shape.iter().map(|&d| d as i64).collect();
    Ok(Tensor::from_array((shape, data)).map_err(ort_err("creating a parameter tensor"))?.into_dyn())
}

fn host(v: &DynValue) -> Result<Vec<f32>, TrainError> {
    Ok(v.try_extract_tensor::<f32>().map_err(ort_err("reading a parameter tensor"))?.1.to_vec())
}

impl TrainState {
    /// Initial state: parameters from the graph's initial values, zero moments.
    pub fn new(params: &[TrainParam]) -> Result<Self, TrainError> {
        let mut state =
            TrainState { names: vec![], shapes: vec![], params: vec![], adam_m: vec![], adam_v: vec![], ema: None };
        for p in params {
            let shape: Vec<usize> = p.dims.iter().map(|&d| d as usize).collect();
            let data: Vec<f32> =
                p.initial.raw_data.chunks_exact(4).map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]])).collect();
            let n = data.len();
            state.params.push(value(&shape, data)?);
            state.adam_m.push(value(&shape, vec![0.0; n])?);
            state.adam_v.push(value(&shape, vec![0.0; n])?);
            state.names.push(p.name.clone());
            state.shapes.push(shape);
        }
        Ok(state)
    }

    /// Starts an exponential moving average of the parameters at their current values.
    pub fn enable_ema(&mut self) -> Result<(), TrainError> {
        let ema: Result<Vec<DynValue>, TrainError> =
            (0..self.names.len()).map(|i| value(&self.shapes[i], host(&self.params[i])?)).collect();
        self.ema = Some(ema?);
        Ok(())
    }

    /// `ema ← d·ema + (1 − d)·params` with `d = ema_decay_at(decay, step)`; no-op when the EMA is off.
    pub fn update_ema(&mut self, decay: f64, step: u64) -> Result<(), TrainError> {
        let Some(ema) = self.ema.as_mut() else { return Ok(()) };
        let d = ema_decay_at(decay, step) as f32;
        for (avg, param) in ema.iter_mut().zip(&self.params) {
            let (_, p) = param.try_extract_tensor::<f32>().map_err(ort_err("reading a parameter tensor"))?;
            let (_, a) = avg.try_extract_tensor_mut::<f32>().map_err(ort_err("updating the moving average"))?;
            for (a, &p) in a.iter_mut().zip(p) {
                *a = d * *a + (1.0 - d) * p;
            }
        }
        Ok(())
    }

    /// The weights to validate and ship: the moving average when enabled, else the parameters.
    pub fn model_params(&self) -> &[DynValue] {
        self.ema.as_deref().unwrap_or(&self.params)
    }

    /// The model weights ([`Self::model_params`]) copied to the host, under the parameter names.
    pub fn model_tensors(&self) -> Result<Vec<NamedTensor>, TrainError> {
        let params = self.model_params();
        (0..self.names.len())
            .map(|i| {
                Ok(NamedTensor { name: self.names[i].clone(), shape: self.shapes[i].clone(), data: host(&params[i])? })
            })
            .collect()
    }

    /// Everything needed to resume, copied to the host: parameters, moments as `<p>.adam_m` / `<p>.adam_v`,
    /// and the moving average as `<p>.ema` when enabled.
    pub fn checkpoint_tensors(&self) -> Result<Vec<NamedTensor>, TrainError> {
        let mut out = Vec::new();
        for (i, name) in self.names.iter().enumerate() {
            let shape = self.shapes[i].clone();
            out.push(NamedTensor { name: name.clone(), shape: shape.clone(), data: host(&self.params[i])? });
            out.push(NamedTensor { name: names::adam_m(name), shape: shape.clone(), data: host(&self.adam_m[i])? });
            out.push(NamedTensor { name: names::adam_v(name), shape: shape.clone(), data: host(&self.adam_v[i])? });
            if let Some(ema) = &self.ema {
                out.push(NamedTensor { name: ema_name(name), shape, data: host(&ema[i])? });
            }
        }
        Ok(out)
    }

    /// Restores parameters, moments (and the moving average when enabled) from checkpoint tensors; every one
    /// must be present with its shape.
    pub fn load_tensors(&mut self, tensors: &[NamedTensor]) -> Result<(), TrainError> {
        let find = |name: &str, shape: &[usize]| -> Result<Vec<f32>, TrainError> {
            let t = tensors
                .iter()
                .find(|t| t.name == name)
                .ok_or_else(|| TrainError::Checkpoint { message: format!("tensor `{name}` is missing") })?;
            if t.shape != shape {
                return Err(TrainError::Checkpoint {
                    message: format!("tensor `{name}` has shape {:?}, the model needs {shape:?}", t.shape),
                });
            }
            Ok(t.data.clone())
        };
        for i in 0..self.names.len() {
            let (name, shape) = (self.names[i].clone(), self.shapes[i].clone());
            self.params[i] = value(&shape, find(&name, &shape)?)?;
            self.adam_m[i] = value(&shape, find(&names::adam_m(&name), &shape)?)?;
            self.adam_v[i] = value(&shape, find(&names::adam_v(&name), &shape)?)?;
            if let Some(ema) = self.ema.as_mut() {
                ema[i] = value(&shape, find(&ema_name(&name), &shape)?)?;
            }
        }
        Ok(())
    }
}

/// Builds an ONNX Runtime session for a serialised graph.
pub fn session(bytes: &[u8], device: Device, threads: usize) -> Result<Session, TrainError> {
    let env = runtime::environment()?;
    let mut builder = Session::builder(&env).map_err(ort_err("creating a session"))?;
    if threads > 0 {
        builder = builder.with_intra_threads(threads).map_err(|e| ort_err("setting threads")(e.into()))?;
    }
    let eps = runtime::execution_providers(device)?;
    if !eps.is_empty() {
        builder = builder.with_execution_providers(eps).map_err(|e| ort_err("registering CUDA")(e.into()))?;
    }
    builder.commit_from_memory(bytes).map_err(ort_err("loading the graph"))
}

/// Named session inputs.
pub type Inputs<'a> = Vec<(Cow<'a, str>, SessionInputValue<'a>)>;

fn batch_inputs<'a>(batch: &'a LabelledBatch, cw: &'a [f32]) -> Result<Inputs<'a>, TrainError> {
    let e = ort_err("binding batch inputs");
    Ok(vec![
        ("input_ids".into(), TensorRef::from_array_view(batch.inputs.input_ids.view()).map_err(&e)?.into()),
        ("attention_mask".into(), TensorRef::from_array_view(batch.inputs.attention_mask.view()).map_err(&e)?.into()),
        ("token_type_ids".into(), TensorRef::from_array_view(batch.inputs.token_type_ids.view()).map_err(&e)?.into()),
        (names::LABELS.into(), TensorRef::from_array_view(batch.labels.view()).map_err(&e)?.into()),
        (names::CLASS_WEIGHTS.into(), TensorRef::from_array_view(ArrayView1::from(cw)).map_err(&e)?.into()),
    ])
}

fn scalar_f32(out: &ort::session::SessionOutputs, name: &str) -> Result<f32, TrainError> {
    let v =
        out.get(name).ok_or_else(|| TrainError::Engine { what: "reading outputs", message: format!("no `{name}`") })?;
    Ok(v.try_extract_tensor::<f32>().map_err(ort_err("reading a scalar output"))?.1[0])
}

/// Every input of the training graph for one step: the batch, the step scalars, parameters and moments.
pub fn step_inputs<'a>(
    state: &'a TrainState,
    batch: &'a LabelledBatch,
    class_weights: &'a [f32],
    lr: f32,
    step: u64,
    seed: i64,
) -> Result<Inputs<'a>, TrainError> {
    let e = ort_err("binding step inputs");
    let mut inputs = batch_inputs(batch, class_weights)?;
    inputs.push((names::LR.into(), Tensor::from_array(arr0(lr)).map_err(&e)?.into()));
    inputs.push((names::STEP.into(), Tensor::from_array(arr0(step as f32)).map_err(&e)?.into()));
    inputs.push((names::SEED.into(), Tensor::from_array(arr0(seed)).map_err(&e)?.into()));
    for (i, name) in state.names.iter().enumerate() {
        inputs.push((name.as_str().into(), (&state.params[i]).into()));
        inputs.push((names::adam_m(name).into(), (&state.adam_m[i]).into()));
        inputs.push((names::adam_v(name).into(), (&state.adam_v[i]).into()));
    }
    Ok(inputs)
}

/// One optimizer step. Non-finite loss leaves the state unchanged and is reported as an error.
#[allow(clippy::too_many_arguments)]
pub fn train_step(
    session: &mut Session,
    state: &mut TrainState,
    batch: &LabelledBatch,
    class_weights: &[f32],
    lr: f32,
    step: u64,
    seed: i64,
    clips: bool,
) -> Result<StepOutput, TrainError> {
    let inputs = step_inputs(state, batch, class_weights, lr, step, seed)?;
    let mut out = session.run(inputs).map_err(ort_err("running a training step"))?;
    let loss = scalar_f32(&out, names::LOSS)?;
    let grad_norm = if clips { Some(scalar_f32(&out, names::GRAD_NORM)?) } else { None };
    if !loss.is_finite() || grad_norm.is_some_and(|g| !g.is_finite()) {
        return Err(TrainError::NonFinite { step, loss, grad_norm });
    }
    let mut take = |name: String| {
        out.remove(&name).ok_or_else(|| TrainError::Engine { what: "reading outputs", message: format!("no `{name}`") })
    };
    let mut fresh = Vec::with_capacity(state.names.len());
    for name in &state.names {
        fresh.push((take(names::new_param(name))?, take(names::new_adam_m(name))?, take(names::new_adam_v(name))?));
    }
    drop(out);
    for (i, (p, m, v)) in fresh.into_iter().enumerate() {
        state.params[i] = p;
        state.adam_m[i] = m;
        state.adam_v[i] = v;
    }
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

#[cfg(test)]
mod tests {
    use nerkit_export::builder::tensor;

    use super::*;

    fn param(name: &str, values: &[f32]) -> TrainParam {
        TrainParam {
            name: name.into(),
            dims: vec![values.len() as i64],
            weight_decay: true,
            initial: tensor::f32(name, &[values.len() as i64], values),
        }
    }

    fn data(tensors: &[NamedTensor], name: &str) -> Vec<f32> {
        tensors.iter().find(|t| t.name == name).unwrap_or_else(|| panic!("no {name}")).data.clone()
    }

    #[test]
    fn decay_warms_up_then_holds() {
        assert_eq!(ema_decay_at(0.999, 0), 0.1);
        assert_eq!(ema_decay_at(0.999, 10), 0.55);
        assert_eq!(ema_decay_at(0.9, 1_000), 0.9);
    }

    #[test]
    fn moving_average_is_what_validation_ships_and_checkpoints_keep() {
        runtime::environment().expect("ONNX Runtime library (make setup)");
        let mut state = TrainState::new(&[param("w", &[1.0, 2.0])]).unwrap();
        state.update_ema(0.5, 100).unwrap(); // off: nothing to update
        assert!(state.checkpoint_tensors().unwrap().iter().all(|t| !t.name.ends_with(".ema")));

        state.enable_ema().unwrap();
        state.params[0] = value(&[2], vec![3.0, 6.0]).unwrap();
        state.update_ema(0.5, 100).unwrap(); // d = 0.5
        assert_eq!(data(&state.model_tensors().unwrap(), "w"), vec![2.0, 4.0]);
        state.update_ema(0.99, 1).unwrap(); // d = 2/11
        let expected: Vec<f32> = [(2.0f32, 3.0f32), (4.0, 6.0)]
            .iter()
            .map(|&(a, p)| (2.0f32 / 11.0) * a + (1.0 - 2.0f32 / 11.0) * p)
            .collect();
        assert_eq!(data(&state.model_tensors().unwrap(), "w"), expected);

        // The checkpoint carries parameters and average apart; a restored state ships the same average.
        let ckpt = state.checkpoint_tensors().unwrap();
        assert_eq!((data(&ckpt, "w"), data(&ckpt, "w.ema")), (vec![3.0, 6.0], expected.clone()));
        let mut restored = TrainState::new(&[param("w", &[0.0, 0.0])]).unwrap();
        restored.enable_ema().unwrap();
        restored.load_tensors(&ckpt).unwrap();
        assert_eq!(data(&restored.model_tensors().unwrap(), "w"), expected);
        assert_eq!(data(&restored.checkpoint_tensors().unwrap(), "w"), vec![3.0, 6.0]);
    }
}
