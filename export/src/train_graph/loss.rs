//! Token-classification loss: class-weighted cross-entropy (optionally focal) over positions whose label is
//! not -100.
//!
//! Matches PyTorch `CrossEntropyLoss(weight=w, ignore_index=-100)` with mean reduction:
//! `loss = Σᵢ w[yᵢ]·(−log pᵢ[yᵢ]) / Σᵢ w[yᵢ]` over kept positions. The focal variant multiplies each term by
//! `(1 − pᵢ[yᵢ])^γ` and keeps the same normaliser. Labels enter as a one-hot mask built with `Equal` against
//! the class range, so ignored positions (-100, or any label outside `0..num_labels`) give an all-zero row
//! and drop out of both sums without any gather. When no position is kept the denominator is clamped to
//! 1e-12 so the loss is 0 (PyTorch would return NaN).
use crate::builder::{attr, ElemType, GraphBuilder};

/// Loss settings.
#[derive(Clone, Debug, PartialEq)]
pub struct LossConfig {
    pub num_labels: usize,
    /// Focal loss exponent γ; `None` or 0 = plain cross-entropy. Must be 0 or ≥ 1 (the gradient of
    /// `(1 − p)^γ` at p = 1 is infinite for 0 < γ < 1).
    pub focal_gamma: Option<f32>,
}

/// Emits the loss over `logits` ([batch, seq, num_labels]), `labels` ([batch, seq] int64) and
/// `class_weights` ([num_labels] f32). Returns the scalar loss value, named `loss`.
pub fn weighted_cross_entropy(
    g: &mut GraphBuilder,
    logits: &str,
    labels: &str,
    class_weights: &str,
    cfg: &LossConfig,
) -> String {
    let l = cfg.num_labels as i64;
    // Everything stays [batch, seq, ...]: no reshape, so symbolic dims flow through shape inference.
    let logp = g.op("LogSoftmax", "loss.log_probs", &[logits], vec![attr::int("axis", -1)]);
    let classes: Vec<i64> = (0..l).collect();
    let classes = g.const_i64("loss.classes", &[l], &classes);
    let last_axis = g.const_i64("loss.last_axis", &[1], &[-1]);
    let lab_col = g.op("Unsqueeze", "loss.labels_col", &[labels, &last_axis], vec![]);
    let hit = g.op("Equal", "loss.label_hit", &[&lab_col, &classes], vec![]);
    let onehot = g.op("Cast", "loss.onehot", &[&hit], vec![attr::int("to", ElemType::F32.onnx() as i64)]);

    let keep0 = vec![attr::int("keepdims", 0)];
    let wrow = g.op("Mul", "loss.weight_rows", &[&onehot, class_weights], vec![]);
    let w = g.op("ReduceSum", "loss.position_weight", &[&wrow, &last_axis], keep0.clone());
    let picked = g.op("Mul", "loss.picked", &[&onehot, &logp], vec![]);
    let logp_y = g.op("ReduceSum", "loss.log_prob_label", &[&picked, &last_axis], keep0.clone());
    let gamma = cfg.focal_gamma.unwrap_or(0.0);
    let term = if gamma == 0.0 {
        logp_y
    } else {
        assert!(gamma >= 1.0, "focal gamma {gamma}: use 0 or ≥ 1");
        let p = g.op("Exp", "loss.prob_label", &[&logp_y], vec![]);
        let one = g.const_f32("loss.one", &[], &[1.0]);
        let q = g.op("Sub", "loss.one_minus_p", &[&one, &p], vec![]);
        let gm = g.const_f32("loss.gamma", &[], &[gamma]);
        let f = g.op("Pow", "loss.focal_factor", &[&q, &gm], vec![]);
        g.op("Mul", "loss.focal_log_prob", &[&f, &logp_y], vec![])
    };
    let weighted = g.op("Mul", "loss.weighted", &[&w, &term], vec![]);
    let num = g.op("ReduceSum", "loss.numerator", &[&weighted], keep0.clone());
    let den = g.op("ReduceSum", "loss.denominator", &[&w], keep0);
    let tiny = g.const_f32("loss.tiny", &[], &[1e-12]);
    let den_safe = g.op("Max", "loss.denominator_safe", &[&den, &tiny], vec![]);
    let ratio = g.op("Div", "loss.mean_log_prob", &[&num, &den_safe], vec![]);
    g.op("Neg", "loss", &[&ratio], vec![])
}
