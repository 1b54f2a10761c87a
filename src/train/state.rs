//! Parameter and optimizer state of a run: two buffer sets in engine memory (host for the CPU provider, GPU
//! memory for CUDA), ping-ponged by the training step.
//!
//! A step reads parameters, AdamW moments (and the moving average of the weights, when on) from the active
//! set and writes the updated ones straight into the other set (ONNX Runtime `IoBinding` with pre-allocated
//! outputs); the sets then swap. Nothing is allocated or copied between steps, and on CUDA the state never
//! leaves the device: only the batch goes in and the loss comes out. Host copies happen for checkpoints and
//! the best model.
use std::borrow::Cow;

use nerkit_export::train_graph::{names, TrainParam};
use ort::memory::{AllocationDevice, Allocator, AllocatorType, MemoryInfo, MemoryType};
use ort::session::Session;
use ort::value::{DynTensor, Tensor};

use super::checkpoint::NamedTensor;
use super::{ort_err, TrainError};

/// Where the state lives: the memory of the device the training session runs on.
pub struct Placement {
    allocator: Allocator,
}

impl Placement {
    /// Host memory.
    pub fn cpu() -> Self {
        Placement { allocator: Allocator::default() }
    }

    /// The device memory of `session` when it runs on CUDA (`cuda` = CUDA was requested and registered), host
    /// memory otherwise. A CUDA allocator that cannot be created (the provider fell back to CPU) means host memory.
    pub fn for_session(session: &Session, cuda: bool) -> Self {
        if !cuda {
            return Self::cpu();
        }
        let info = MemoryInfo::new(AllocationDevice::CUDA, 0, AllocatorType::Device, MemoryType::Default);
        match info.and_then(|info| Allocator::new(session, info)) {
            Ok(allocator) => Placement { allocator },
            Err(e) => {
                tracing::info!("training state stays in host memory (no CUDA allocator: {e})");
                Self::cpu()
            }
        }
    }

    pub fn is_host(&self) -> bool {
        self.allocator.memory_info().is_cpu_accessible()
    }

    /// A tensor of `shape` in this memory holding `data`.
    fn tensor(&self, shape: &[usize], data: &[f32]) -> Result<DynTensor, TrainError> {
        let mut t = Tensor::<f32>::new(&self.allocator, shape.to_vec()).map_err(ort_err("allocating state"))?;
        if self.is_host() {
            t.extract_tensor_mut().1.copy_from_slice(data);
        } else {
            let src = Tensor::from_array((shape.to_vec(), data.to_vec())).map_err(ort_err("creating a tensor"))?;
            src.copy_into(&mut t).map_err(ort_err("copying state to the device"))?;
        }
        Ok(t.upcast())
    }
}

/// The values of a tensor in host memory: borrowed when it lives there, copied from the device otherwise.
fn host_slice(v: &DynTensor) -> Result<Cow<'_, [f32]>, TrainError> {
    let read = ort_err("reading a state tensor");
    if v.memory_info().is_cpu_accessible() {
        return Ok(Cow::Borrowed(v.try_extract_tensor::<f32>().map_err(&read)?.1));
    }
    let copy = v.to(AllocationDevice::CPU, 0).map_err(ort_err("copying state to the host"))?;
    Ok(Cow::Owned(copy.try_extract_tensor::<f32>().map_err(&read)?.1.to_vec()))
}

/// Parameters, AdamW moments and (when on) the parameters' moving average of one buffer set, in the training
/// graph's parameter order.
pub(super) struct StateSet {
    pub params: Vec<DynTensor>,
    pub adam_m: Vec<DynTensor>,
    pub adam_v: Vec<DynTensor>,
    pub ema: Option<Vec<DynTensor>>,
}

impl StateSet {
    /// Every value of the set, kind by kind: parameters, `adam_m`, `adam_v`, then the average when on (the
    /// order of [`TrainState::value_names`]).
    fn values(&self) -> impl Iterator<Item = &DynTensor> {
        self.params.iter().chain(&self.adam_m).chain(&self.adam_v).chain(self.ema.iter().flatten())
    }

    fn values_mut(&mut self) -> impl Iterator<Item = &mut DynTensor> {
        let ema = self.ema.iter_mut().flatten();
        self.params.iter_mut().chain(&mut self.adam_m).chain(&mut self.adam_v).chain(ema)
    }
}

/// Values paired with their graph value names.
pub(super) type Named<T> = Vec<(String, T)>;

/// Parameter and optimizer state as engine values, in the training graph's parameter order.
pub struct TrainState {
    pub names: Vec<String>,
    pub shapes: Vec<Vec<usize>>,
    placement: Placement,
    sets: [StateSet; 2],
    /// Which set holds the current state; the other one receives the next step's outputs.
    active: usize,
}

/// Effective moving-average decay at optimizer step `step` (1-based): `min(decay, (1 + step) / (10 + step))`,
/// so the average follows the parameters closely at the start instead of clinging to the pretrained values.
pub fn ema_decay_at(decay: f64, step: u64) -> f64 {
    decay.min((1.0 + step as f64) / (10.0 + step as f64))
}

impl TrainState {
    /// Initial state in host memory: parameters from the graph's initial values, zero moments.
    pub fn new(params: &[TrainParam]) -> Result<Self, TrainError> {
        Self::new_in(params, Placement::cpu())
    }

    /// Initial state in `placement`'s memory.
    pub fn new_in(params: &[TrainParam], placement: Placement) -> Result<Self, TrainError> {
        let empty = || StateSet { params: vec![], adam_m: vec![], adam_v: vec![], ema: None };
        let mut state = TrainState { names: vec![], shapes: vec![], placement, sets: [empty(), empty()], active: 0 };
        for p in params {
            let shape: Vec<usize> = p.dims.iter().map(|&d| d as usize).collect();
            let data = nerkit_export::weights::f32s_from_bytes(&p.initial.raw_data);
            let zeros = vec![0.0; data.len()];
            for (k, set) in state.sets.iter_mut().enumerate() {
                set.params.push(state.placement.tensor(&shape, if k == 0 { &data } else { &zeros })?);
                set.adam_m.push(state.placement.tensor(&shape, &zeros)?);
                set.adam_v.push(state.placement.tensor(&shape, &zeros)?);
            }
            state.names.push(p.name.clone());
            state.shapes.push(shape);
        }
        Ok(state)
    }

    /// The set holding the current state, and the set the next step writes.
    pub(super) fn current_and_next(&mut self) -> (&StateSet, &mut StateSet) {
        let [a, b] = &mut self.sets;
        if self.active == 0 {
            (a, b)
        } else {
            (b, a)
        }
    }

    pub(super) fn current(&self) -> &StateSet {
        &self.sets[self.active]
    }

    /// Makes the set the last step wrote the current one.
    pub(super) fn swap(&mut self) {
        self.active ^= 1;
    }

    /// Starts a moving average of the parameters at their current values (the training graph must be built
    /// with `ema`: it then updates the average every step).
    pub fn enable_ema(&mut self) -> Result<(), TrainError> {
        let mut copies = [Vec::new(), Vec::new()];
        for (i, shape) in self.shapes.iter().enumerate() {
            let values = host_slice(&self.current().params[i])?.into_owned();
            for copy in &mut copies {
                copy.push(self.placement.tensor(shape, &values)?);
            }
        }
        let [a, b] = copies;
        (self.sets[0].ema, self.sets[1].ema) = (Some(a), Some(b));
        Ok(())
    }

    pub fn has_ema(&self) -> bool {
        self.current().ema.is_some()
    }

    /// The weights to validate and ship: the moving average when enabled, else the parameters.
    pub fn model_params(&self) -> &[DynTensor] {
        let set = self.current();
        set.ema.as_deref().unwrap_or(&set.params)
    }

    /// The model weights ([`Self::model_params`]) copied to the host, under the parameter names.
    pub fn model_tensors(&self) -> Result<Vec<NamedTensor>, TrainError> {
        let params = self.model_params();
        let tensor = |i: usize| -> Result<NamedTensor, TrainError> {
            Ok(NamedTensor {
                name: self.names[i].clone(),
                shape: self.shapes[i].clone(),
                data: host_slice(&params[i])?.into_owned(),
            })
        };
        (0..self.names.len()).map(tensor).collect()
    }

    /// The training graph's input name and the shape of every state value, in [`StateSet::values`] order:
    /// `<p>`, `<p>.adam_m`, `<p>.adam_v` and `<p>.ema` (also the checkpoint names). With `updated`, the names of
    /// the outputs that update them (`<p>.new`, ...).
    fn value_names(&self, updated: bool) -> Vec<(String, &[usize])> {
        type Name = fn(&str) -> String;
        let mut kinds: Vec<(Name, Name)> = vec![
            (|p| p.to_string(), names::new_param),
            (names::adam_m, names::new_adam_m),
            (names::adam_v, names::new_adam_v),
        ];
        if self.has_ema() {
            kinds.push((names::ema, names::new_ema));
        }
        kinds
            .into_iter()
            .flat_map(|(input, output)| {
                let name = if updated { output } else { input };
                self.names.iter().zip(&self.shapes).map(move |(p, shape)| (name(p), shape.as_slice()))
            })
            .collect()
    }

    /// The current set's values under their graph input names.
    pub(super) fn inputs(&self) -> Named<&DynTensor> {
        self.value_names(false).into_iter().map(|(name, _)| name).zip(self.current().values()).collect()
    }

    /// For a step: the current set's values under their input names, and the other set's values under the
    /// names of the outputs that will overwrite them.
    pub(super) fn step_values(&mut self) -> (Named<&DynTensor>, Named<&mut DynTensor>) {
        let inputs: Vec<String> = self.value_names(false).into_iter().map(|(name, _)| name).collect();
        let outputs: Vec<String> = self.value_names(true).into_iter().map(|(name, _)| name).collect();
        let (current, next) = self.current_and_next();
        (inputs.into_iter().zip(current.values()).collect(), outputs.into_iter().zip(next.values_mut()).collect())
    }

    /// Everything needed to resume, copied to the host: parameters, moments as `<p>.adam_m` / `<p>.adam_v`,
    /// and the moving average as `<p>.ema` when enabled.
    pub fn checkpoint_tensors(&self) -> Result<Vec<NamedTensor>, TrainError> {
        let named = self.value_names(false).into_iter().zip(self.current().values());
        named
            .map(|((name, shape), v)| {
                Ok(NamedTensor { name, shape: shape.to_vec(), data: host_slice(v)?.into_owned() })
            })
            .collect()
    }

    /// Restores parameters, moments (and the moving average when enabled) from checkpoint tensors; every one
    /// must be present with its shape.
    pub fn load_tensors(&mut self, tensors: &[NamedTensor]) -> Result<(), TrainError> {
        let find = |name: &str, shape: &[usize]| -> Result<&[f32], TrainError> {
            let t = tensors
                .iter()
                .find(|t| t.name == name)
                .ok_or_else(|| TrainError::Checkpoint { message: format!("tensor `{name}` is missing") })?;
            if t.shape != shape {
                return Err(TrainError::Checkpoint {
                    message: format!("tensor `{name}` has shape {:?}, the model needs {shape:?}", t.shape),
                });
            }
            Ok(&t.data)
        };
        let restored: Vec<DynTensor> = self
            .value_names(false)
            .iter()
            .map(|(name, shape)| self.placement.tensor(shape, find(name, shape)?))
            .collect::<Result<_, _>>()?;
        let active = self.active;
        for (slot, value) in self.sets[active].values_mut().zip(restored) {
            *slot = value;
        }
        Ok(())
    }
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
        crate::runtime::environment().expect("ONNX Runtime library (make setup)");
        let mut state = TrainState::new(&[param("w", &[1.0, 2.0])]).unwrap();
        assert!(!state.has_ema());
        assert!(state.checkpoint_tensors().unwrap().iter().all(|t| !t.name.ends_with(".ema")));
        state.enable_ema().unwrap();
        assert_eq!(data(&state.model_tensors().unwrap(), "w"), vec![1.0, 2.0]);

        // As a step would leave it: new parameters and average in the other set, then the swap.
        let next = state.current_and_next().1;
        next.params[0] = Placement::cpu().tensor(&[2], &[3.0, 6.0]).unwrap();
        next.ema.as_mut().unwrap()[0] = Placement::cpu().tensor(&[2], &[2.0, 4.0]).unwrap();
        state.swap();
        assert_eq!(data(&state.model_tensors().unwrap(), "w"), vec![2.0, 4.0]);

        // The checkpoint carries parameters and average apart; a restored state ships the same average.
        let ckpt = state.checkpoint_tensors().unwrap();
        assert_eq!((data(&ckpt, "w"), data(&ckpt, "w.ema")), (vec![3.0, 6.0], vec![2.0, 4.0]));
        let mut restored = TrainState::new(&[param("w", &[0.0, 0.0])]).unwrap();
        restored.enable_ema().unwrap();
        restored.load_tensors(&ckpt).unwrap();
        assert_eq!(data(&restored.model_tensors().unwrap(), "w"), vec![2.0, 4.0]);
        assert_eq!(data(&restored.checkpoint_tensors().unwrap(), "w"), vec![3.0, 6.0]);
    }
}
