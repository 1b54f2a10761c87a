//! nerkit's own CPU kernels for the training graph: the node side (op names, inputs, outputs, attributes, and
//! the functions that emit the nodes; the forward hooks of [`crate::train_graph::TrainHooks`] and the
//! autodiff rules put them in). The kernels live in the `nerkit-kernels` crate (`kernels/`) and are registered on the ONNX
//! Runtime session that runs the graph.
//!
//! The canonical training graph is standard ONNX and runs on every engine. On the CPU a few of its patterns
//! are many passes over memory where one would do; with [`crate::train_graph::TrainGraphConfig::cpu_kernels`]
//! they become one node of the `ai.nerkit` domain each. The dropout and AdamW kernels compute the same float
//! operations in the same order as the standard nodes they replace, so with them alone
//! ([`CpuKernels::Exact`]) both graphs give bitwise identical results; the others match to rounding (tested in
//! `nerkit`'s `tests/cpu_kernels.rs`):
//! - [`SEEDED_DROPOUT`] `(x, seed) → x · mask`, attributes `rate` (float) and `site` (int): a dropout site
//!   (the ~40 nodes of [`super::dropout::scaled_mask`]: key, table, row and column hashes, full-size `Add` +
//!   `Gather`, then the `Mul`) as one node, the mask computed on the fly from
//!   [`super::dropout::MaskKeys`]. Its backward is the same node on the output gradient
//!   (`crate::autodiff`), so the mask is never stored. Emitted by [`super::dropout::kernel_dropout`].
//! - [`ERF_GELU`] `(x) → x/2 · (1 + erf(x/√2))` and its backward [`ERF_GELU_GRAD`] `(dy, x) → dy · (Φ(x) +
//!   x·φ(x))`: the 5 forward and ~10 backward nodes of the exact GELU. Not bitwise: the kernel's erf and exp
//!   are its own (within 5e-7 absolute and 3e-7 relative of f64, tested), where ONNX Runtime uses MLAS's.
//! - [`MASKED_SOFTMAX`] `(scores, mask) → softmax(scores + mask)` over the last axis (mask broadcast over
//!   leading axes, its last axis the scores') and its backward [`SOFTMAX_GRAD`] `(dy, y) → y · (dy − Σ dy·y)`:
//!   the attention's `Add` + `Softmax` and the 4 nodes of the softmax backward. To rounding (own exp, own
//!   summation order).
//! - [`LAYER_NORM`] `(x, scale, bias) → (y, mean, rstd)` over the last axis (attribute `epsilon`; mean and
//!   1/σ per row, shaped like x with a last axis of 1, kept for the backward) and its backward
//!   [`LAYER_NORM_GRAD`] `(dy, x, scale, mean, rstd) → (dx, dscale, dbias)`: the ~20 nodes of the standard
//!   LayerNorm backward (statistics recomputed, 10 full-size passes) as one pass. To rounding.
//! - [`ADAMW`] `(p, grad, m, v, β₁, β₂, (1−β₁)c, (1−β₂)c², ε', step size, decay factor) → (p', m', v')`: the
//!   11 elementwise nodes of [`super::adamw::update`] as one pass (decay factor 1 for parameters without
//!   weight decay: `p·1` is `p`).
//! - [`ADAMW_ROWS`] `(p, rows i64 [U], values [U, width], m, v, scalars as ADAMW) → (p', m', v')`: the update
//!   from a row-sparse gradient ([`super::adamw::update_rows`]).
use crate::builder::GraphBuilder;

/// Which of nerkit's CPU kernels a training graph uses (the training config's `cpu_kernels`: `off`, `exact`,
/// `all`). The graph builder's default is `off`, the standard ops every engine runs; `nerkit train` defaults to `all`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum CpuKernels {
    /// Standard ONNX ops only: the graph runs on every engine.
    #[default]
    Off,
    /// The kernels that give the standard graph's values bit for bit: dropout and AdamW.
    Exact,
    /// All of them: also the GELU, the attention softmax and LayerNorm, whose values match the standard
    /// graph's to rounding.
    All,
}

impl CpuKernels {
    pub fn dropout(self) -> bool {
        self != CpuKernels::Off
    }

    pub fn adamw(self) -> bool {
        self != CpuKernels::Off
    }

    pub fn gelu(self) -> bool {
        self == CpuKernels::All
    }

    pub fn softmax(self) -> bool {
        self == CpuKernels::All
    }

    pub fn layer_norm(self) -> bool {
        self == CpuKernels::All
    }
}

/// The op domain of nerkit's kernels.
pub const DOMAIN: &str = "ai.nerkit";
pub const SEEDED_DROPOUT: &str = "SeededDropout";
pub const ERF_GELU: &str = "ErfGelu";
pub const ERF_GELU_GRAD: &str = "ErfGeluGrad";
pub const MASKED_SOFTMAX: &str = "MaskedSoftmax";
pub const SOFTMAX_GRAD: &str = "SoftmaxGrad";
pub const LAYER_NORM: &str = "LayerNorm";
pub const LAYER_NORM_GRAD: &str = "LayerNormGrad";
pub const ADAMW: &str = "AdamW";
pub const ADAMW_ROWS: &str = "AdamWRows";

/// The scalar inputs of [`ADAMW`] / [`ADAMW_ROWS`] after the tensors; `no_decay` is the constant 1.
fn adamw_scalars<'a>(s: &'a super::adamw::StepScalars, decay: bool, no_decay: &'a str) -> [&'a str; 7] {
    let decay_factor = if decay { s.decay_factor.as_str() } else { no_decay };
    [&s.beta1, &s.beta2, &s.grad_scale_m, &s.grad_scale_v, &s.eps, &s.step_size, decay_factor]
}

/// The decay factor of parameters without weight decay (1), one initializer for all of them.
fn no_decay(g: &mut GraphBuilder) -> String {
    const NAME: &str = "adamw.no_decay";
    if !g.initializers.iter().any(|t| t.name == NAME) {
        g.init_f32(NAME, &[], &[1.0]);
    }
    NAME.to_string()
}

fn adamw_outputs(p: &str) -> [String; 3] {
    use crate::train_graph::names;
    [names::new_param(p), names::new_adam_m(p), names::new_adam_v(p)]
}

/// One [`ADAMW`] node for parameter `p` ([`super::adamw::update`]'s values); returns (p', m', v').
pub fn adamw(
    g: &mut GraphBuilder,
    s: &super::adamw::StepScalars,
    p: &str,
    grad: &str,
    m: &str,
    v: &str,
    decay: bool,
) -> (String, String, String) {
    let one = no_decay(g);
    let mut inputs = vec![p, grad, m, v];
    inputs.extend(adamw_scalars(s, decay, &one));
    let [p_new, m_new, v_new] = adamw_outputs(p);
    g.node_with_outputs(DOMAIN, ADAMW, &format!("{p}.adamw"), &inputs, &[&p_new, &m_new, &v_new], vec![]);
    (p_new, m_new, v_new)
}

/// One [`ADAMW_ROWS`] node for a table `p` with a row-sparse gradient ([`super::adamw::update_rows`]'s
/// values); returns (p', m', v').
pub fn adamw_rows(
    g: &mut GraphBuilder,
    s: &super::adamw::StepScalars,
    p: &str,
    grad: &crate::autodiff::RowGrad,
    m: &str,
    v: &str,
    decay: bool,
) -> (String, String, String) {
    let one = no_decay(g);
    let mut inputs = vec![p, grad.rows.as_str(), grad.values.as_str(), m, v];
    inputs.extend(adamw_scalars(s, decay, &one));
    let [p_new, m_new, v_new] = adamw_outputs(p);
    g.node_with_outputs(DOMAIN, ADAMW_ROWS, &format!("{p}.adamw"), &inputs, &[&p_new, &m_new, &v_new], vec![]);
    (p_new, m_new, v_new)
}

/// One [`ERF_GELU`] node named `name`; returns its value.
pub fn erf_gelu(g: &mut GraphBuilder, x: &str, name: &str) -> String {
    g.node_in_domain(DOMAIN, ERF_GELU, name, &[x], 1, vec![]).pop().expect("one output")
}

/// One [`MASKED_SOFTMAX`] node named `name`; returns its value.
pub fn masked_softmax(g: &mut GraphBuilder, scores: &str, mask: &str, name: &str) -> String {
    g.node_in_domain(DOMAIN, MASKED_SOFTMAX, name, &[scores, mask], 1, vec![]).pop().expect("one output")
}

/// One [`LAYER_NORM`] node named `name` (outputs `name`, `name.mean`, `name.rstd`); returns y.
pub fn layer_norm(g: &mut GraphBuilder, x: &str, scale: &str, bias: &str, epsilon: f32, name: &str) -> String {
    let (mean, rstd) = (format!("{name}.mean"), format!("{name}.rstd"));
    let attrs = vec![crate::builder::attr::float("epsilon", epsilon)];
    g.node_with_outputs(DOMAIN, LAYER_NORM, name, &[x, scale, bias], &[name, &mean, &rstd], attrs);
    name.to_string()
}
