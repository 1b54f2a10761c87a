//! Training and evaluation graphs built from a forward (inference) graph.
//!
//! No obtainable ONNX Runtime build has the training APIs, so nerkit trains with a plain ONNX graph that
//! holds the forward pass, the loss ([`loss`]), the reverse-mode gradients ([`crate::autodiff`]) and the
//! AdamW update ([`adamw`]), run by an ordinary session on any engine.
//!
//! Interface of the training graph (names in [`names`]):
//! - inputs: the forward graph's own inputs (`input_ids`, `attention_mask`, ...), `labels` [batch, seq] int64
//!   (-100 = ignore), `class_weights` [num_labels] f32, `lr` f32 scalar, `step` f32 scalar (1-based, for
//!   bias correction), `seed` int64 scalar ≥ 0 (dropout; pass a new value every step), and for every
//!   trainable parameter `<p>`, `<p>.adam_m`, `<p>.adam_v` (same shape as `<p>`).
//! - outputs: `loss` f32 scalar, optionally `logits`, `grad_norm` (pre-clip global norm, when clipping), and
//!   `<p>.new`, `<p>.adam_m.new`, `<p>.adam_v.new` for each parameter. Outputs are separate values from the
//!   inputs, so a trainer can keep two buffer sets on the device and swap them every step (IoBinding).
//! - with a moving average of the weights ([`TrainGraphConfig::ema`]): input `ema_decay` f32 scalar (this
//!   step's decay d) and `<p>.ema` per parameter; output `<p>.ema.new = d·<p>.ema + (1 − d)·<p>.new`.
//!
//! The evaluation graph is the forward graph (built without dropout) plus the same loss: inputs are the
//! forward inputs, the trainable parameters under the same names, `labels`, `class_weights`; outputs `loss`
//! and `logits`.
pub mod adamw;
pub mod cpu_ops;
pub mod dropout;
pub mod loss;

use crate::autodiff::{self, shapes::Facts, shapes::SymDim, AutodiffError};
use crate::bert::{build_token_classifier, ForwardHooks, Inference};
use crate::builder::{pb, Dim, ElemType, GraphBuilder};
use crate::config::BertConfig;
use crate::weights::{Weights, WeightsError};
pub use adamw::AdamWConfig;
pub use loss::LossConfig;

/// Value names of the training/eval graph interface.
pub mod names {
    pub const LABELS: &str = "labels";
    pub const CLASS_WEIGHTS: &str = "class_weights";
    pub const LR: &str = "lr";
    pub const STEP: &str = "step";
    pub const SEED: &str = super::dropout::SEED_INPUT;
    pub const LOSS: &str = "loss";
    pub const GRAD_NORM: &str = "grad_norm";
    pub const EMA_DECAY: &str = "ema_decay";
    pub fn grad(p: &str) -> String {
        format!("{p}.grad")
    }
    pub fn new_param(p: &str) -> String {
        format!("{p}.new")
    }
    pub fn adam_m(p: &str) -> String {
        format!("{p}.adam_m")
    }
    pub fn adam_v(p: &str) -> String {
        format!("{p}.adam_v")
    }
    pub fn new_adam_m(p: &str) -> String {
        format!("{p}.adam_m.new")
    }
    pub fn new_adam_v(p: &str) -> String {
        format!("{p}.adam_v.new")
    }
    pub fn ema(p: &str) -> String {
        format!("{p}.ema")
    }
    pub fn new_ema(p: &str) -> String {
        format!("{p}.ema.new")
    }
}

/// Which float initializers of the forward graph are trained.
#[derive(Clone, Debug, PartialEq)]
pub enum ParamSelection {
    /// Initializers whose names end in `.weight` or `.bias` (HF safetensors keys).
    WeightsAndBiases,
    /// Exactly these initializers.
    Named(Vec<String>),
}

/// Training-graph settings.
#[derive(Clone, Debug, PartialEq)]
pub struct TrainGraphConfig {
    /// The forward value holding the logits, [batch, seq, num_labels].
    pub logits: String,
    pub loss: LossConfig,
    pub adamw: AdamWConfig,
    pub params: ParamSelection,
    /// Keep `*word_embeddings.weight` fixed (an initializer, no gradient, no moments).
    pub freeze_word_embeddings: bool,
    /// Update `*word_embeddings.weight` from a row-sparse gradient (the batch's distinct ids only;
    /// [`adamw::update_rows`]) instead of a dense one: the same values, without the table-sized gradient.
    /// Uses ONNX's `Unique`; measured and tested on ONNX Runtime's CPU provider only, so nerkit keeps the dense
    /// gradient on CUDA (where the table-sized passes are cheap and an op without a CUDA kernel would mean
    /// copies to the host every step).
    pub sparse_word_embedding_grad: bool,
    /// Also output `logits` from the training graph.
    pub output_logits: bool,
    /// Also output each parameter's raw (unclipped) gradient as `<p>.grad` (tests, debugging).
    pub output_gradients: bool,
    /// Learning-rate multipliers by parameter name (absent = 1), e.g. from [`layer_lr_multipliers`].
    pub lr_multipliers: std::collections::BTreeMap<String, f32>,
    /// Also update an exponential moving average of every parameter (inputs `ema_decay`, `<p>.ema`;
    /// outputs `<p>.ema.new`).
    pub ema: bool,
    /// Which of nerkit's fused CPU kernels ([`cpu_ops`]) replace standard ops: the same values (bitwise or
    /// to rounding, see [`cpu_ops::CpuKernels`]), fewer passes over memory. The graph then needs a session
    /// with those kernels registered (crate `nerkit-kernels`), so this is for ONNX Runtime's CPU provider.
    pub cpu_kernels: cpu_ops::CpuKernels,
}

impl TrainGraphConfig {
    pub fn new(logits: &str, num_labels: usize) -> Self {
        TrainGraphConfig {
            logits: logits.to_string(),
            loss: LossConfig { num_labels, focal_gamma: None },
            adamw: AdamWConfig::default(),
            params: ParamSelection::WeightsAndBiases,
            freeze_word_embeddings: false,
            sparse_word_embedding_grad: false,
            output_logits: false,
            output_gradients: false,
            lr_multipliers: Default::default(),
            ema: false,
            cpu_kernels: cpu_ops::CpuKernels::Off,
        }
    }
}

/// Layer-wise learning-rate decay for a BERT encoder of `num_layers` layers: the head (and anything outside
/// the encoder and embeddings) trains at 1×, `encoder.layer.i` at `decay^(num_layers − i)`, the embeddings at
/// `decay^(num_layers + 1)`. Returns the multipliers of `names` that differ from 1.
pub fn layer_lr_multipliers(
    names: &[String],
    num_layers: usize,
    decay: f32,
) -> std::collections::BTreeMap<String, f32> {
    let depth = |name: &str| -> Option<usize> {
        if name.contains("embeddings.") {
            return Some(num_layers + 1);
        }
        let rest = name.split("encoder.layer.").nth(1)?;
        let i: usize = rest.split('.').next()?.parse().ok()?;
        Some(num_layers - i.min(num_layers))
    };
    names
        .iter()
        .filter_map(|n| depth(n).map(|d| (n.clone(), decay.powi(d as i32))))
        .filter(|(_, m)| *m != 1.0)
        .collect()
}

/// One trainable parameter of a built graph.
#[derive(Clone, Debug)]
pub struct TrainParam {
    pub name: String,
    pub dims: Vec<i64>,
    /// Whether AdamW applies weight decay to it.
    pub weight_decay: bool,
    /// Its value in the forward graph (the starting point of training).
    pub initial: pb::TensorProto,
}

/// A built training (or eval) graph and its trainable parameters, in input order.
#[derive(Clone, Debug)]
pub struct TrainGraph {
    pub model: pb::ModelProto,
    pub params: Vec<TrainParam>,
    /// Selected parameters that do not influence the loss; left as initializers.
    pub unused: Vec<String>,
}

#[derive(Debug, thiserror::Error)]
pub enum TrainGraphError {
    #[error(transparent)]
    Autodiff(#[from] AutodiffError),
    #[error("forward graph has no value `{name}` ({what})")]
    MissingValue { name: String, what: &'static str },
    #[error("parameter `{name}` is not a float initializer of the forward graph")]
    MissingParam { name: String },
    #[error("logits `{name}` must be [batch, seq, {num_labels}], inferred {dims}")]
    BadLogits { name: String, num_labels: usize, dims: String },
    #[error("no trainable parameters selected")]
    NoParams,
    #[error(transparent)]
    Weights(#[from] WeightsError),
}

fn to_dim(d: &SymDim, fallback: &str) -> Dim {
    match d {
        SymDim::Known(n) => Dim::Fixed(*n),
        SymDim::Sym(s) => Dim::Sym(s.clone()),
        SymDim::Unknown => Dim::sym(fallback),
    }
}

fn fixed(dims: &[i64]) -> Vec<Dim> {
    dims.iter().map(|d| Dim::Fixed(*d)).collect()
}

/// Batch and sequence dims of the logits, checked against `num_labels`.
fn logits_dims(g: &GraphBuilder, cfg: &TrainGraphConfig) -> Result<(Dim, Dim), TrainGraphError> {
    let facts = Facts::infer_parts(&g.initializers, &g.inputs, &g.nodes);
    let v = facts
        .get(&cfg.logits)
        .ok_or_else(|| TrainGraphError::MissingValue { name: cfg.logits.clone(), what: "logits" })?;
    match &v.dims {
        Some(d) if d.len() == 3 && matches!(d[2], SymDim::Known(n) if n as usize == cfg.loss.num_labels) => {
            Ok((to_dim(&d[0], "batch"), to_dim(&d[1], "sequence")))
        }
        Some(d) if d.len() == 3 && d[2] == SymDim::Unknown => Ok((to_dim(&d[0], "batch"), to_dim(&d[1], "sequence"))),
        d => Err(TrainGraphError::BadLogits {
            name: cfg.logits.clone(),
            num_labels: cfg.loss.num_labels,
            dims: format!("{d:?}"),
        }),
    }
}

/// Moves the selected float initializers to graph inputs; returns them (in initializer order).
fn params_to_inputs(g: &mut GraphBuilder, cfg: &TrainGraphConfig) -> Result<Vec<TrainParam>, TrainGraphError> {
    let float = ElemType::F32.onnx();
    if let ParamSelection::Named(names) = &cfg.params {
        for n in names {
            if !g.initializers.iter().any(|t| &t.name == n && t.data_type == float) {
                return Err(TrainGraphError::MissingParam { name: n.clone() });
            }
        }
    }
    let selected = |t: &pb::TensorProto| {
        let chosen = match &cfg.params {
            ParamSelection::WeightsAndBiases => t.name.ends_with(".weight") || t.name.ends_with(".bias"),
            ParamSelection::Named(names) => names.contains(&t.name),
        };
        chosen && t.data_type == float && !(cfg.freeze_word_embeddings && t.name.ends_with("word_embeddings.weight"))
    };
    let (taken, kept): (Vec<_>, Vec<_>) = std::mem::take(&mut g.initializers).into_iter().partition(selected);
    g.initializers = kept;
    if taken.is_empty() {
        return Err(TrainGraphError::NoParams);
    }
    let params = taken
        .into_iter()
        .map(|t| {
            g.inputs.push(value_info(&t.name, &fixed(&t.dims)));
            TrainParam {
                name: t.name.clone(),
                dims: t.dims.clone(),
                weight_decay: cfg.adamw.weight_decay != 0.0 && adamw::decays(&t.name),
                initial: t,
            }
        })
        .collect();
    Ok(params)
}

fn value_info(name: &str, dims: &[Dim]) -> pb::ValueInfoProto {
    let mut tmp = GraphBuilder::new("vi");
    tmp.output(name, ElemType::F32, dims);
    tmp.outputs.pop().expect("one output")
}

/// Puts parameters that got no gradient back as initializers.
fn restore_unused(
    g: &mut GraphBuilder,
    params: Vec<TrainParam>,
    grads: &autodiff::Gradients,
) -> (Vec<TrainParam>, Vec<String>) {
    let (used, unused): (Vec<_>, Vec<_>) =
        params.into_iter().partition(|p| grads.dense.contains_key(&p.name) || grads.rows.contains_key(&p.name));
    let names: Vec<String> = unused.iter().map(|p| p.name.clone()).collect();
    g.inputs.retain(|i| !names.contains(&i.name));
    for p in unused {
        g.initializers.push(p.initial);
    }
    (used, names)
}

/// Adds `labels`, `class_weights` and the loss to a forward graph; returns the loss value.
fn add_loss(g: &mut GraphBuilder, cfg: &TrainGraphConfig, batch: Dim, seq: Dim) -> String {
    let labels = g.input(names::LABELS, ElemType::I64, &[batch, seq]);
    let cw = g.input(names::CLASS_WEIGHTS, ElemType::F32, &[Dim::Fixed(cfg.loss.num_labels as i64)]);
    loss::weighted_cross_entropy(g, &cfg.logits, &labels, &cw, &cfg.loss)
}

/// Builds the training graph from a forward graph whose dropout sites (if any) use [`dropout::dropout`].
pub fn build_train_graph(mut g: GraphBuilder, cfg: &TrainGraphConfig) -> Result<TrainGraph, TrainGraphError> {
    let (batch, seq) = logits_dims(&g, cfg)?;
    g.outputs.clear();
    let params = params_to_inputs(&mut g, cfg)?;
    let loss = add_loss(&mut g, cfg, batch.clone(), seq.clone());
    let lr = g.input(names::LR, ElemType::F32, &[]);
    let step = g.input(names::STEP, ElemType::F32, &[]);
    dropout::seed_input(&mut g);

    let wrt: Vec<String> = params.iter().map(|p| p.name.clone()).collect();
    // Raw gradients are outputs only in their dense form.
    let row_sparse: std::collections::HashSet<String> = if cfg.sparse_word_embedding_grad && !cfg.output_gradients {
        wrt.iter().filter(|n| n.ends_with("word_embeddings.weight")).cloned().collect()
    } else {
        Default::default()
    };
    let grads = autodiff::backward_with_rows(&mut g, &loss, &wrt, &row_sparse)?;
    let (params, unused) = restore_unused(&mut g, params, &grads);
    if params.is_empty() {
        return Err(TrainGraphError::NoParams);
    }
    g.output(&loss, ElemType::F32, &[]);
    if cfg.output_logits {
        g.output(&cfg.logits, ElemType::F32, &[batch, seq, Dim::Fixed(cfg.loss.num_labels as i64)]);
    }

    // (parameter, gradient values): the dense gradient, or a row-sparse gradient's rows (same sum of squares).
    let pairs: Vec<(String, String)> = params
        .iter()
        .map(|p| {
            let values = match grads.rows.get(&p.name) {
                Some(rows) => rows.values.clone(),
                None => grads.dense[&p.name].clone(),
            };
            (p.name.clone(), values)
        })
        .collect();
    if cfg.output_gradients {
        for (p, (_, gr)) in params.iter().zip(&pairs) {
            g.output(gr, ElemType::F32, &fixed(&p.dims));
        }
    }
    let clip = cfg.adamw.max_grad_norm.map(|max_norm| {
        let (coefficient, norm) = adamw::clip_by_global_norm(&mut g, &pairs, max_norm);
        g.output(&norm, ElemType::F32, &[]);
        coefficient
    });
    let grad_values: Vec<String> = pairs.iter().map(|(_, gr)| gr.clone()).collect();
    let scalars = adamw::step_scalars(&mut g, &lr, &step, clip.as_deref(), &cfg.adamw);
    // One set of scaled scalars per distinct learning-rate multiplier (keyed by the f32 bits).
    let mut scaled: std::collections::HashMap<u32, adamw::StepScalars> = std::collections::HashMap::new();
    let ema_decay = cfg.ema.then(|| g.input(names::EMA_DECAY, ElemType::F32, &[]));
    for (p, grad) in params.iter().zip(&grad_values) {
        let dims = fixed(&p.dims);
        let m = g.input(&names::adam_m(&p.name), ElemType::F32, &dims);
        let v = g.input(&names::adam_v(&p.name), ElemType::F32, &dims);
        let s = match cfg.lr_multipliers.get(&p.name) {
            Some(&k) if k != 1.0 => scaled
                .entry(k.to_bits())
                .or_insert_with(|| adamw::scaled_step_scalars(&mut g, &scalars, &lr, k, &cfg.adamw))
                .clone(),
            _ => scalars.clone(),
        };
        let (p_new, m_new, v_new) = match (grads.rows.get(&p.name), cfg.cpu_kernels.adamw()) {
            (Some(rows), false) => adamw::update_rows(&mut g, &s, &p.name, rows, &m, &v, p.weight_decay),
            (Some(rows), true) => cpu_ops::adamw_rows(&mut g, &s, &p.name, rows, &m, &v, p.weight_decay),
            (None, false) => adamw::update(&mut g, &s, &p.name, grad, &m, &v, p.weight_decay),
            (None, true) => cpu_ops::adamw(&mut g, &s, &p.name, grad, &m, &v, p.weight_decay),
        };
        if let Some(d) = &ema_decay {
            // d·ema + (1 − d)·p_new = p_new + d·(ema − p_new)
            let ema = g.input(&names::ema(&p.name), ElemType::F32, &dims);
            let gap = g.op("Sub", &format!("{}.ema_gap", p.name), &[&ema, &p_new], vec![]);
            let decayed = g.op("Mul", &format!("{}.ema_decayed_gap", p.name), &[&gap, d], vec![]);
            let new = g.op("Add", &names::new_ema(&p.name), &[&p_new, &decayed], vec![]);
            g.output(&new, ElemType::F32, &dims);
        }
        for out in [p_new, m_new, v_new] {
            g.output(&out, ElemType::F32, &dims);
        }
    }
    Ok(TrainGraph { model: g.into_model(17, &[]), params, unused })
}

/// Builds the evaluation graph: forward (without dropout) + loss, with `params` as inputs under their names.
pub fn build_eval_graph(
    mut g: GraphBuilder,
    cfg: &TrainGraphConfig,
    params: &[String],
) -> Result<TrainGraph, TrainGraphError> {
    let (batch, seq) = logits_dims(&g, cfg)?;
    g.outputs.clear();
    let cfg = TrainGraphConfig {
        params: ParamSelection::Named(params.to_vec()),
        freeze_word_embeddings: false,
        ..cfg.clone()
    };
    let params = params_to_inputs(&mut g, &cfg)?;
    let loss = add_loss(&mut g, &cfg, batch.clone(), seq.clone());
    g.output(&loss, ElemType::F32, &[]);
    g.output(&cfg.logits, ElemType::F32, &[batch, seq, Dim::Fixed(cfg.loss.num_labels as i64)]);
    Ok(TrainGraph { model: g.into_model(17, &[]), params, unused: vec![] })
}

/// Forward hooks of the training graph: parameters stay initializers (then moved to inputs by
/// [`build_train_graph`]); each HF dropout site becomes an in-graph mask whose stream is keyed by the site
/// name ([`dropout::site_id`]) and the `seed` input; `kernels` says which of dropout, the GELU, LayerNorm
/// and the attention softmax are nerkit's CPU kernels ([`cpu_ops`]) instead of standard ops.
#[derive(Debug, Default, Clone, Copy)]
pub struct TrainHooks {
    pub kernels: cpu_ops::CpuKernels,
}

impl ForwardHooks for TrainHooks {
    fn dropout(&mut self, g: &mut GraphBuilder, value: &str, rate: f32, site: &str) -> String {
        let ops = if self.kernels.dropout() { dropout::MaskOps::Kernel } else { dropout::MaskOps::Standard };
        dropout::dropout_with(g, value, rate, dropout::site_id(site), site, ops)
    }

    fn gelu(&mut self, g: &mut GraphBuilder, x: &str, name: &str) -> Option<String> {
        self.kernels.gelu().then(|| cpu_ops::erf_gelu(g, x, name))
    }

    fn layer_norm(
        &mut self,
        g: &mut GraphBuilder,
        x: &str,
        scale: &str,
        bias: &str,
        epsilon: f32,
        name: &str,
    ) -> Option<String> {
        self.kernels.layer_norm().then(|| cpu_ops::layer_norm(g, x, scale, bias, epsilon, name))
    }

    fn masked_softmax(&mut self, g: &mut GraphBuilder, scores: &str, mask: &str, name: &str) -> Option<String> {
        self.kernels.softmax().then(|| cpu_ops::masked_softmax(g, scores, mask, name))
    }
}

/// Forward graph of a BERT token classifier built with `hooks` (no graph outputs).
fn bert_forward(
    cfg: &BertConfig,
    weights: &Weights,
    hooks: &mut dyn ForwardHooks,
) -> Result<(GraphBuilder, usize), TrainGraphError> {
    let mut g = GraphBuilder::new("bert_token_classifier_train");
    let out = build_token_classifier(&mut g, cfg, weights, hooks)?;
    Ok((g, out.num_labels))
}

/// The training graph of a BERT token classifier (`cfg`'s dropout rates, `weights` as starting values).
/// `opts.logits` and `opts.loss.num_labels` are taken from the builder.
pub fn bert_train_graph(
    cfg: &BertConfig,
    weights: &Weights,
    opts: &TrainGraphConfig,
) -> Result<TrainGraph, TrainGraphError> {
    let (g, num_labels) = bert_forward(cfg, weights, &mut TrainHooks { kernels: opts.cpu_kernels })?;
    let opts = TrainGraphConfig {
        logits: crate::bert::LOGITS.into(),
        loss: LossConfig { num_labels, ..opts.loss.clone() },
        ..opts.clone()
    };
    build_train_graph(g, &opts)
}

/// The evaluation graph matching [`bert_train_graph`]: no dropout, `params` (the training graph's
/// parameter names) as inputs.
pub fn bert_eval_graph(
    cfg: &BertConfig,
    weights: &Weights,
    opts: &TrainGraphConfig,
    params: &[String],
) -> Result<TrainGraph, TrainGraphError> {
    let (g, num_labels) = bert_forward(cfg, weights, &mut Inference)?;
    let opts = TrainGraphConfig {
        logits: crate::bert::LOGITS.into(),
        loss: LossConfig { num_labels, ..opts.loss.clone() },
        ..opts.clone()
    };
    build_eval_graph(g, &opts, params)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn layer_decay_multipliers_follow_depth() {
        let names: Vec<String> = [
            "bert.embeddings.word_embeddings.weight",
            "bert.encoder.layer.0.attention.self.query.weight",
            "bert.encoder.layer.1.output.dense.bias",
            "bert.encoder.layer.11.output.dense.bias",
            "classifier.weight",
        ]
        .map(String::from)
        .to_vec();
        let m = layer_lr_multipliers(&names, 2, 0.5);
        assert_eq!(m["bert.embeddings.word_embeddings.weight"], 0.125);
        assert_eq!(m["bert.encoder.layer.0.attention.self.query.weight"], 0.25);
        assert_eq!(m["bert.encoder.layer.1.output.dense.bias"], 0.5);
        // Out-of-range layer indices clamp to the top layer (multiplier 1, so not listed); the head is 1.
        assert!(!m.contains_key("bert.encoder.layer.11.output.dense.bias"));
        assert!(!m.contains_key("classifier.weight"));
        assert!(layer_lr_multipliers(&names, 2, 1.0).is_empty());
    }
}
