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
    beta1: String,
    beta2: String,
    one_minus_beta1: String,
    one_minus_beta2: String,
    eps: String,
    step_size: String,
    inv_sqrt_bc2: String,
    decay_factor: String,
}

/// Emits the per-step scalars from the `lr` and `step` (f32) inputs.
pub fn step_scalars(g: &mut GraphBuilder, lr: &str, step: &str, cfg: &AdamWConfig) -> StepScalars {
    let one = g.const_f32("adamw.one", &[], &[1.0]);
    let b1 = g.const_f32("adamw.beta1", &[], &[cfg.beta1]);
    let b2 = g.const_f32("adamw.beta2", &[], &[cfg.beta2]);
    let b1t = g.op("Pow", "adamw.beta1_pow", &[&b1, step], vec![]);
    let b2t = g.op("Pow", "adamw.beta2_pow", &[&b2, step], vec![]);
    let bc1 = g.op("Sub", "adamw.bias_correction1", &[&one, &b1t], vec![]);
    let bc2 = g.op("Sub", "adamw.bias_correction2", &[&one, &b2t], vec![]);
    let step_size = g.op("Div", "adamw.step_size", &[lr, &bc1], vec![]);
    let sq = g.op("Sqrt", "adamw.sqrt_bc2", &[&bc2], vec![]);
    let inv_sqrt_bc2 = g.op("Reciprocal", "adamw.inv_sqrt_bc2", &[&sq], vec![]);
    let wd = g.const_f32("adamw.weight_decay", &[], &[cfg.weight_decay]);
    let lr_wd = g.op("Mul", "adamw.lr_wd", &[lr, &wd], vec![]);
    let decay_factor = g.op("Sub", "adamw.decay_factor", &[&one, &lr_wd], vec![]);
    let one_minus_beta1 = g.const_f32("adamw.one_minus_beta1", &[], &[1.0 - cfg.beta1]);
    let one_minus_beta2 = g.const_f32("adamw.one_minus_beta2", &[], &[1.0 - cfg.beta2]);
    let eps = g.const_f32("adamw.eps", &[], &[cfg.eps]);
    StepScalars { beta1: b1, beta2: b2, one_minus_beta1, one_minus_beta2, eps, step_size, inv_sqrt_bc2, decay_factor }
}

/// The step scalars for parameters trained at `multiplier` × the learning rate (layer-wise learning-rate
/// decay): step size `lr·k / (1 − β₁ᵗ)` and decay factor `1 − lr·k·wd`.
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
    let wd = g.const_f32(&format!("{tag}.weight_decay"), &[], &[cfg.weight_decay]);
    let lr_wd = g.op("Mul", &format!("{tag}.lr_wd"), &[&lr_k, &wd], vec![]);
    let one = g.const_f32(&format!("{tag}.one"), &[], &[1.0]);
    let decay_factor = g.op("Sub", &format!("{tag}.decay_factor"), &[&one, &lr_wd], vec![]);
    StepScalars { step_size, decay_factor, ..base.clone() }
}

/// Scales all gradients by `min(1, max_norm / (‖g‖ + 1e-6))`. Returns (clipped gradients, pre-clip norm).
pub fn clip_by_global_norm(g: &mut GraphBuilder, grads: &[(String, String)], max_norm: f32) -> (Vec<String>, String) {
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
    let clipped =
        grads.iter().map(|(p, gr)| g.op("Mul", &format!("{p}.grad_clipped"), &[gr, &clamped], vec![])).collect();
    (clipped, norm)
}

/// Emits one parameter's update; returns (new param, new m, new v), named `<p>.new`, `<p>.adam_m.new`,
/// `<p>.adam_v.new`.
pub fn update(
    g: &mut GraphBuilder,
    s: &StepScalars,
    p: &str,
    grad: &str,
    m: &str,
    v: &str,
    decay: bool,
) -> (String, String, String) {
    let (b1, b2, c1, c2, eps) = (&s.beta1, &s.beta2, &s.one_minus_beta1, &s.one_minus_beta2, &s.eps);
    let m1 = g.op("Mul", &format!("{p}.adam_m.decayed"), &[m, b1], vec![]);
    let m2 = g.op("Mul", &format!("{p}.adam_m.grad_part"), &[grad, c1], vec![]);
    let m_new = g.op("Add", &format!("{p}.adam_m.new"), &[&m1, &m2], vec![]);
    let v1 = g.op("Mul", &format!("{p}.adam_v.decayed"), &[v, b2], vec![]);
    let gsq = g.op("Mul", &format!("{p}.adam_v.grad_sq"), &[grad, grad], vec![]);
    let v2 = g.op("Mul", &format!("{p}.adam_v.grad_part"), &[&gsq, c2], vec![]);
    let v_new = g.op("Add", &format!("{p}.adam_v.new"), &[&v1, &v2], vec![]);
    let sd = g.op("Sqrt", &format!("{p}.adamw.sqrt_v"), &[&v_new], vec![]);
    let sdc = g.op("Mul", &format!("{p}.adamw.sqrt_v_hat"), &[&sd, &s.inv_sqrt_bc2], vec![]);
    let denom = g.op("Add", &format!("{p}.adamw.denom"), &[&sdc, eps], vec![]);
    let ratio = g.op("Div", &format!("{p}.adamw.ratio"), &[&m_new, &denom], vec![]);
    let delta = g.op("Mul", &format!("{p}.adamw.delta"), &[&ratio, &s.step_size], vec![]);
    let base =
        if decay { g.op("Mul", &format!("{p}.adamw.decayed"), &[p, &s.decay_factor], vec![]) } else { p.to_string() };
    let p_new = g.op("Sub", &format!("{p}.new"), &[&base, &delta], vec![]);
    (p_new, m_new, v_new)
}
