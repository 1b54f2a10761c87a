//! LayerNormalization (opset 17): `y = x̂·scale + bias` with `x̂ = (x - μ)·rstd` over the axes from `axis` on.
//!
//! The backward recomputes μ and rstd from `x` (the forward node's optional Mean/InvStdDev outputs are not
//! relied on, so every engine sees a plain LayerNormalization), then, with n the normalised size:
//!   d bias  = Σ_batch dy
//!   d scale = Σ_batch dy·x̂
//!   dx      = rstd · (g - mean(g) - x̂·mean(g·x̂)),   g = dy·scale
//!
//! Shapes: y like x (the optional outputs of LayerNormalization are left unknown); nerkit's `LayerNorm`
//! kernel also gives mean and rstd, like x with a last axis of 1.
use super::shapes::{self, ShapeCtx, ShapeRule, SymDim, ValueFacts};
use super::{GradCtx, Result, Rule};
use crate::builder::attr;

pub(super) fn rule(op_type: &str) -> Option<Rule> {
    Some(match op_type {
        "LayerNormalization" => layer_norm,
        "LayerNorm" => kernel_layer_norm,
        _ => return None,
    })
}

pub(super) fn shape_rule(op_type: &str) -> Option<ShapeRule> {
    Some(match op_type {
        "LayerNormalization" => shapes::like_input,
        "LayerNorm" => kernel_layer_norm_shape,
        _ => return None,
    })
}

fn layer_norm(ctx: &mut GradCtx, dy: &[Option<String>], needs: &[bool]) -> Result<Vec<Option<String>>> {
    if dy.iter().skip(1).any(|d| d.is_some()) {
        return Err(ctx.unsupported("gradient through the Mean/InvStdDev outputs"));
    }
    let d = dy[0].clone().expect("output gradient");
    let (x, scale) = (ctx.input(0).to_string(), ctx.input(1).to_string());
    let xd = ctx.dims(&x)?;
    let rank = xd.len() as i64;
    let axis = ctx.attr_i("axis").unwrap_or(-1);
    let axis = if axis < 0 { axis + rank } else { axis };
    let axes: Vec<i64> = (axis..rank).collect();
    let eps = ctx.attr_f("epsilon").unwrap_or(1e-5) as f64;

    // Statistics, recomputed: μ, x - μ, rstd, x̂.
    let sum_name = ctx.helper_name("x_sum");
    let s1 = ctx.reduce_sum(&x, &axes, true, &sum_name);
    let nx = ctx.tmp("Size", "size_x", &[&x], vec![]);
    let ns = ctx.tmp("Size", "size_stat", &[&s1], vec![]);
    let elem = ctx.elem(&x) as i64;
    let nxf = ctx.tmp("Cast", "size_x_f", &[&nx], vec![attr::int("to", elem)]);
    let nsf = ctx.tmp("Cast", "size_stat_f", &[&ns], vec![attr::int("to", elem)]);
    let inv_n = ctx.tmp("Div", "inv_n", &[&nsf, &nxf], vec![]);
    let mean = ctx.tmp("Mul", "mean", &[&s1, &inv_n], vec![]);
    let xc = ctx.tmp("Sub", "centred", &[&x, &mean], vec![]);
    let sq = ctx.tmp("Mul", "centred_sq", &[&xc, &xc], vec![]);
    let var_name = ctx.helper_name("var_sum");
    let vs = ctx.reduce_sum(&sq, &axes, true, &var_name);
    let var = ctx.tmp("Mul", "var", &[&vs, &inv_n], vec![]);
    let e = ctx.scalar(eps, &x);
    let ve = ctx.tmp("Add", "var_eps", &[&var, &e], vec![]);
    let sd = ctx.tmp("Sqrt", "std", &[&ve], vec![]);
    let rstd = ctx.tmp("Reciprocal", "rstd", &[&sd], vec![]);
    let xhat = ctx.tmp("Mul", "xhat", &[&xc, &rstd], vec![]);

    let mut out = vec![None; needs.len()];
    if needs.len() > 2 && needs[2] {
        let name = ctx.grad_name(2);
        out[2] = Some(ctx.unbroadcast(d.clone(), &xd, 2, &[0, 2], &name)?);
    }
    if needs[1] {
        let full = ctx.tmp("Mul", "scale.full", &[&d, &xhat], vec![]);
        let name = ctx.grad_name(1);
        out[1] = Some(ctx.unbroadcast(full, &xd, 1, &[0, 1], &name)?);
    }
    if needs[0] {
        let gx = ctx.tmp("Mul", "g", &[&d, &scale], vec![]);
        let n1 = ctx.helper_name("g_sum");
        let g_sum = ctx.reduce_sum(&gx, &axes, true, &n1);
        let g_mean = ctx.tmp("Mul", "g_mean", &[&g_sum, &inv_n], vec![]);
        let gxh = ctx.tmp("Mul", "g_xhat", &[&gx, &xhat], vec![]);
        let n2 = ctx.helper_name("g_xhat_sum");
        let gxh_sum = ctx.reduce_sum(&gxh, &axes, true, &n2);
        let gxh_mean = ctx.tmp("Mul", "g_xhat_mean", &[&gxh_sum, &inv_n], vec![]);
        let t1 = ctx.tmp("Sub", "g_centred", &[&gx, &g_mean], vec![]);
        let t2 = ctx.tmp("Mul", "xhat_proj", &[&xhat, &gxh_mean], vec![]);
        let t3 = ctx.tmp("Sub", "g_orth", &[&t1, &t2], vec![]);
        let name = ctx.grad_name(0);
        out[0] = Some(ctx.op("Mul", &name, &[&t3, &rstd], vec![]));
    }
    Ok(out)
}

// nerkit's `LayerNorm(x, scale, bias) → (y, mean, rstd)`: one `LayerNormGrad(dy, x, scale, mean, rstd) → (dx,
// dscale, dbias)` node, its kernel, for whichever of the three are needed.
fn kernel_layer_norm(ctx: &mut GradCtx, dy: &[Option<String>], needs: &[bool]) -> Result<Vec<Option<String>>> {
    if dy.iter().skip(1).any(|d| d.is_some()) {
        return Err(ctx.unsupported("gradient through the mean/rstd outputs"));
    }
    let d = dy[0].clone().expect("output gradient");
    let (x, scale) = (ctx.input(0).to_string(), ctx.input(1).to_string());
    let (mean, rstd) = (ctx.output(1).to_string(), ctx.output(2).to_string());
    let name = ctx.grad_name(0);
    let domain = ctx.node.domain.clone();
    let op = crate::train_graph::cpu_ops::LAYER_NORM_GRAD;
    let outs = ctx.g.node_in_domain(&domain, op, &name, &[&d, &x, &scale, &mean, &rstd], 3, vec![]);
    Ok(outs.into_iter().zip(needs).map(|(o, &n)| n.then_some(o)).collect())
}

// nerkit's `LayerNorm` with its three outputs: y like x; mean and 1/σ like x with a last axis of 1. With
// another number of outputs, nothing is known but the element type.
fn kernel_layer_norm_shape(c: &ShapeCtx) -> Vec<ValueFacts> {
    if c.node.output.len() != 3 {
        return vec![c.same(None)];
    }
    let x = c.input(0);
    let stats = x.dims.clone().map(|mut d| {
        if let Some(last) = d.last_mut() {
            *last = SymDim::Known(1);
        }
        d
    });
    let stat = ValueFacts { elem: x.elem, dims: stats, ints: None };
    vec![c.same(x.dims), stat.clone(), stat]
}
