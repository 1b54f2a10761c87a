//! AdamW update nodes (PyTorch `torch.optim.AdamW` semantics) and global-norm gradient clipping
//! (`torch.nn.utils.clip_grad_norm_`).
//!
//! For each parameter p with gradient g, at step t (1-based, the `step` input):
//! ```text
//! p ← p·(1 − lr·wd)                                  (decoupled decay; wd = 0 for biases and LayerNorm)
//! m ← β₁·m + (1 − β₁)·g
//! v ← β₂·v + (1 − β₂)·g²
//! p ← p − (lr / (1 − β₁ᵗ)) · m / (√v / √(1 − β₂ᵗ) + ε)
//! ```
//! Clipping: `total = √Σ‖g‖²`, `g ← g · min(1, max_norm / (total + 1e-6))`.
//!
//! Memory traffic is what an optimizer step costs on a CPU, so every per-element op counts: the clipping
//! coefficient c is folded into the moment scalars (`(1 − β₁)·c`, `(1 − β₂)·c²`) instead of scaling each
//! gradient, and the bias corrections into two scalars, `p ← p − (lr·√(1 − β₂ᵗ) / (1 − β₁ᵗ)) · m / (√v + ε·√(1 − β₂ᵗ))`
//! (the same value, rearranged). That leaves 11 elementwise ops per decayed parameter (10 without decay).
use crate::builder::GraphBuilder;

/// Optimizer hyper-parameters, baked into the graph as constants.
#[derive(Clone, Debug, PartialEq)]
pub struct AdamWConfig {
    pub beta1: f32,
    pub beta2: f32,
    pub eps: f32,
    pub weight_decay: f32,
    /// Global gradient-norm clipping threshold (HF default 1.0); `None` disables clipping.
    pub max_grad_norm: Option<f32>,
}

impl Default for AdamWConfig {
    /// HF `TrainingArguments` defaults: β = (0.9, 0.999), ε = 1e-8, clip 1.0; weight decay 0.01.
    fn default() -> Self {
        AdamWConfig { beta1: 0.9, beta2: 0.999, eps: 1e-8, weight_decay: 0.01, max_grad_norm: Some(1.0) }
    }
}

/// HF convention: no weight decay on biases and LayerNorm parameters.
pub fn decays(param: &str) -> bool {
    !(param.ends_with(".bias") || param.contains("LayerNorm") || param.contains("layer_norm"))
}

/// Scalars shared by all parameter updates at one step.
#[derive(Clone)]
pub struct StepScalars {
    pub(crate) beta1: String,
    pub(crate) beta2: String,
    /// `(1 − β₁)·c` and `(1 − β₂)·c²`, c the clipping coefficient (1 without clipping).
    pub(crate) grad_scale_m: String,
    pub(crate) grad_scale_v: String,
    /// `ε·√(1 − β₂ᵗ)`.
    pub(crate) eps: String,
    /// `lr·√(1 − β₂ᵗ) / (1 − β₁ᵗ)`.
    pub(crate) step_size: String,
    pub(crate) decay_factor: String,
}

/// Emits the per-step scalars from the `lr` and `step` (f32) inputs and the clipping coefficient (a scalar
/// value, from [`clip_by_global_norm`]).
pub fn step_scalars(g: &mut GraphBuilder, lr: &str, step: &str, clip: Option<&str>, cfg: &AdamWConfig) -> StepScalars {
    let one = g.const_f32("adamw.one", &[], &[1.0]);
    let b1 = g.const_f32("adamw.beta1", &[], &[cfg.beta1]);
    let b2 = g.const_f32("adamw.beta2", &[], &[cfg.beta2]);
    let b1t = g.op("Pow", "adamw.beta1_pow", &[&b1, step], vec![]);
    let b2t = g.op("Pow", "adamw.beta2_pow", &[&b2, step], vec![]);
    let bc1 = g.op("Sub", "adamw.bias_correction1", &[&one, &b1t], vec![]);
    let bc2 = g.op("Sub", "adamw.bias_correction2", &[&one, &b2t], vec![]);
    let sqrt_bc2 = g.op("Sqrt", "adamw.sqrt_bc2", &[&bc2], vec![]);
    let lr_sqrt_bc2 = g.op("Mul", "adamw.lr_sqrt_bc2", &[lr, &sqrt_bc2], vec![]);
    let step_size = g.op("Div", "adamw.step_size", &[&lr_sqrt_bc2, &bc1], vec![]);
    let eps = g.const_f32("adamw.eps", &[], &[cfg.eps]);
    let eps = g.op("Mul", "adamw.eps_scaled", &[&eps, &sqrt_bc2], vec![]);
    let decay_factor = decay_factor(g, "adamw", lr, cfg);
    let mut grad_scale_m = g.const_f32("adamw.one_minus_beta1", &[], &[1.0 - cfg.beta1]);
    let mut grad_scale_v = g.const_f32("adamw.one_minus_beta2", &[], &[1.0 - cfg.beta2]);
    if let Some(c) = clip {
        let c2 = g.op("Mul", "adamw.clip_squared", &[c, c], vec![]);
        grad_scale_m = g.op("Mul", "adamw.grad_scale_m", &[&grad_scale_m, c], vec![]);
        grad_scale_v = g.op("Mul", "adamw.grad_scale_v", &[&grad_scale_v, &c2], vec![]);
    }
    StepScalars { beta1: b1, beta2: b2, grad_scale_m, grad_scale_v, eps, step_size, decay_factor }
}

/// Decoupled weight decay as a factor on the parameter: `1 − lr · weight_decay`.
fn decay_factor(g: &mut GraphBuilder, tag: &str, lr: &str, cfg: &AdamWConfig) -> String {
    let one = g.const_f32(&format!("{tag}.one_for_decay"), &[], &[1.0]);
    let wd = g.const_f32(&format!("{tag}.weight_decay"), &[], &[cfg.weight_decay]);
    let lr_wd = g.op("Mul", &format!("{tag}.lr_wd"), &[lr, &wd], vec![]);
    g.op("Sub", &format!("{tag}.decay_factor"), &[&one, &lr_wd], vec![])
}

/// The step scalars for parameters trained at `multiplier` × the learning rate (layer-wise learning-rate
/// decay): step size and weight decay scale with the learning rate.
pub fn scaled_step_scalars(
    g: &mut GraphBuilder,
    base: &StepScalars,
    lr: &str,
    multiplier: f32,
    cfg: &AdamWConfig,
) -> StepScalars {
    let tag = format!("adamw.lr_x{multiplier}");
    let k = g.const_f32(&format!("{tag}.multiplier"), &[], &[multiplier]);
    let step_size = g.op("Mul", &format!("{tag}.step_size"), &[&base.step_size, &k], vec![]);
    let lr_k = g.op("Mul", &format!("{tag}.lr"), &[lr, &k], vec![]);
    let decay_factor = decay_factor(g, &tag, &lr_k, cfg);
    StepScalars { step_size, decay_factor, ..base.clone() }
}

/// The global gradient norm `‖g‖` (output `grad_norm`) and the clipping coefficient
/// `min(1, max_norm / (‖g‖ + 1e-6))`, both scalars. Returns (coefficient, norm).
pub fn clip_by_global_norm(g: &mut GraphBuilder, grads: &[(String, String)], max_norm: f32) -> (String, String) {
    let keep0 = vec![crate::builder::attr::int("keepdims", 0)];
    let squares: Vec<String> = grads
        .iter()
        .map(|(p, gr)| {
            let sq = g.op("Mul", &format!("{p}.grad_sq"), &[gr, gr], vec![]);
            g.op("ReduceSum", &format!("{p}.grad_sq_sum"), &[&sq], keep0.clone())
        })
        .collect();
    let refs: Vec<&str> = squares.iter().map(|s| s.as_str()).collect();
    let total_sq = g.op("Sum", "clip.total_sq", &refs, vec![]);
    let norm = g.op("Sqrt", "grad_norm", &[&total_sq], vec![]);
    let eps = g.const_f32("clip.eps", &[], &[1e-6]);
    let mx = g.const_f32("clip.max_norm", &[], &[max_norm]);
    let one = g.const_f32("clip.one", &[], &[1.0]);
    let denom = g.op("Add", "clip.denominator", &[&norm, &eps], vec![]);
    let coef = g.op("Div", "clip.coefficient", &[&mx, &denom], vec![]);
    let clamped = g.op("Min", "clip.coefficient_clamped", &[&coef, &one], vec![]);
    (clamped, norm)
}

/// Emits one parameter's update from its raw gradient (clipping lives in the step scalars); returns (new
/// param, new m, new v), named `<p>.new`, `<p>.adam_m.new`, `<p>.adam_v.new`.
pub fn update(
    g: &mut GraphBuilder,
    s: &StepScalars,
    p: &str,
    grad: &str,
    m: &str,
    v: &str,
    decay: bool,
) -> (String, String, String) {
    let m1 = g.op("Mul", &format!("{p}.adam_m.decayed"), &[m, &s.beta1], vec![]);
    let m2 = g.op("Mul", &format!("{p}.adam_m.grad_part"), &[grad, &s.grad_scale_m], vec![]);
    let m_new = g.op("Add", &format!("{p}.adam_m.new"), &[&m1, &m2], vec![]);
    let v1 = g.op("Mul", &format!("{p}.adam_v.decayed"), &[v, &s.beta2], vec![]);
    let gsq = g.op("Mul", &format!("{p}.adam_v.grad_sq"), &[grad, grad], vec![]);
    let v2 = g.op("Mul", &format!("{p}.adam_v.grad_part"), &[&gsq, &s.grad_scale_v], vec![]);
    let v_new = g.op("Add", &format!("{p}.adam_v.new"), &[&v1, &v2], vec![]);
    let p_new = apply(g, s, p, &m_new, &v_new, decay);
    (p_new, m_new, v_new)
}

/// [`update`] for a row-sparse gradient (an embedding table's, [`crate::autodiff::RowGrad`]): the moments
/// decay everywhere, but the gradient terms are computed for the touched rows only and written into them
/// (`ScatterND`; the rows are distinct). Untouched rows get `β·m + 0` as in the dense update, so the result is
/// the dense update's, without building the table-sized gradient and running the gradient terms over it.
pub fn update_rows(
    g: &mut GraphBuilder,
    s: &StepScalars,
    p: &str,
    grad: &crate::autodiff::RowGrad,
    m: &str,
    v: &str,
    decay: bool,
) -> (String, String, String) {
    let axis0 = vec![crate::builder::attr::int("axis", 0)];
    let column = g.const_i64(&format!("{p}.rows.column"), &[2], &[-1, 1]);
    let index = g.op("Reshape", &format!("{p}.rows.index"), &[&grad.rows, &column], vec![]);
    let values = &grad.values;
    let m1 = g.op("Mul", &format!("{p}.adam_m.decayed"), &[m, &s.beta1], vec![]);
    let m1_rows = g.op("Gather", &format!("{p}.adam_m.decayed_rows"), &[&m1, &grad.rows], axis0.clone());
    let m2 = g.op("Mul", &format!("{p}.adam_m.grad_part"), &[values, &s.grad_scale_m], vec![]);
    let m_rows = g.op("Add", &format!("{p}.adam_m.new_rows"), &[&m1_rows, &m2], vec![]);
    let m_new = g.op("ScatterND", &format!("{p}.adam_m.new"), &[&m1, &index, &m_rows], vec![]);
    let v1 = g.op("Mul", &format!("{p}.adam_v.decayed"), &[v, &s.beta2], vec![]);
    let v1_rows = g.op("Gather", &format!("{p}.adam_v.decayed_rows"), &[&v1, &grad.rows], axis0);
    let gsq = g.op("Mul", &format!("{p}.adam_v.grad_sq"), &[values, values], vec![]);
    let v2 = g.op("Mul", &format!("{p}.adam_v.grad_part"), &[&gsq, &s.grad_scale_v], vec![]);
    let v_rows = g.op("Add", &format!("{p}.adam_v.new_rows"), &[&v1_rows, &v2], vec![]);
    let v_new = g.op("ScatterND", &format!("{p}.adam_v.new"), &[&v1, &index, &v_rows], vec![]);
    let p_new = apply(g, s, p, &m_new, &v_new, decay);
    (p_new, m_new, v_new)
}

/// The parameter step from the new moments: `p·(1 − lr·wd) − step_size · m / (√v + ε')`.
fn apply(g: &mut GraphBuilder, s: &StepScalars, p: &str, m_new: &str, v_new: &str, decay: bool) -> String {
    let sd = g.op("Sqrt", &format!("{p}.adamw.sqrt_v"), &[v_new], vec![]);
    let denom = g.op("Add", &format!("{p}.adamw.denom"), &[&sd, &s.eps], vec![]);
    let ratio = g.op("Div", &format!("{p}.adamw.ratio"), &[m_new, &denom], vec![]);
    let delta = g.op("Mul", &format!("{p}.adamw.delta"), &[&ratio, &s.step_size], vec![]);
    let base =
        if decay { g.op("Mul", &format!("{p}.adamw.decayed"), &[p, &s.decay_factor], vec![]) } else { p.to_string() };
    g.op("Sub", &format!("{p}.new"), &[&base, &delta], vec![])
}
