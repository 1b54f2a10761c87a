//! Reductions: ReduceSum (axes as input, opset 13+) and ReduceMean (axes as attribute before opset 18, as
//! input from 18 on).
//!
//! `y = Σ x` over some axes gives `dx = expand(dy)` back to `shape(x)`; a mean also divides by the number
//! of reduced elements (`size(y) / size(x)` computed at run time, so symbolic dims are fine).
//!
//! Shapes (all Reduce* ops): the reduced axes become 1, or go with `keepdims = 0`.
use super::shapes::{self, ShapeCtx, ShapeRule, SymDim, ValueFacts};
use super::{GradCtx, Result, Rule};
use crate::builder::attr;

pub(super) fn rule(op_type: &str) -> Option<Rule> {
    Some(match op_type {
        "ReduceSum" => reduce_sum,
        "ReduceMean" => reduce_mean,
        _ => return None,
    })
}

pub(super) fn shape_rule(op_type: &str) -> Option<ShapeRule> {
    Some(match op_type {
        "ReduceSum" | "ReduceMean" | "ReduceMax" | "ReduceMin" | "ReduceProd" | "ReduceSumSquare" | "ReduceL2"
        | "ReduceLogSumExp" => reduce_shape,
        _ => return None,
    })
}

type Grads = Result<Vec<Option<String>>>;

/// `dy` broadcast back to `shape(x)`: re-inserts reduced axes when `keepdims = 0`.
fn expand_back(ctx: &mut GradCtx, dy: &str, what: &str) -> Result<String> {
    let x = ctx.input(0).to_string();
    let axes = shapes::attr_ints(ctx.node, "axes").or_else(|| {
        let a = ctx.input(1);
        if a.is_empty() {
            None
        } else {
            ctx.facts.known_ints(a)
        }
    });
    if axes.is_none() && !ctx.input(1).is_empty() {
        return Err(ctx.unsupported(format!("non-constant reduction axes `{}`", ctx.input(1))));
    }
    let keep = ctx.attr_i("keepdims").unwrap_or(1) == 1;
    let noop = ctx.attr_i("noop_with_empty_axes").unwrap_or(0) == 1;
    let axes = axes.unwrap_or_default();
    if axes.is_empty() && noop {
        return Ok(dy.to_string());
    }
    let shape = ctx.tmp("Shape", &format!("{x}.shape"), &[&x], vec![]);
    let src = if keep || axes.is_empty() {
        dy.to_string()
    } else {
        let rank = ctx.rank(&x)? as i64;
        let norm: Vec<i64> = axes.iter().map(|a| if *a < 0 { a + rank } else { *a }).collect();
        let ax = ctx.ints("axes", &norm);
        ctx.tmp("Unsqueeze", "dy_keepdims", &[dy, &ax], vec![])
    };
    Ok(ctx.op("Expand", what, &[&src, &shape], vec![]))
}

// y = Σ_axes x: dx = expand(dy, shape(x))
fn reduce_sum(ctx: &mut GradCtx, dy: &[Option<String>], needs: &[bool]) -> Grads {
    let name = ctx.grad_name(0);
    let d = dy[0].clone().expect("output gradient");
    let mut out = vec![None; needs.len()];
    out[0] = Some(expand_back(ctx, &d, &name)?);
    Ok(out)
}

// y = mean_axes x: dx = expand(dy, shape(x)) · size(y)/size(x)
fn reduce_mean(ctx: &mut GradCtx, dy: &[Option<String>], needs: &[bool]) -> Grads {
    let d = dy[0].clone().expect("output gradient");
    let (x, y) = (ctx.input(0).to_string(), ctx.output(0).to_string());
    let elem = ctx.elem(&x) as i64;
    let what = ctx.helper_name("expanded");
    let expanded = expand_back(ctx, &d, &what)?;
    let nx = ctx.tmp("Size", "size_x", &[&x], vec![]);
    let ny = ctx.tmp("Size", "size_y", &[&y], vec![]);
    let nxf = ctx.tmp("Cast", "size_x_f", &[&nx], vec![attr::int("to", elem)]);
    let nyf = ctx.tmp("Cast", "size_y_f", &[&ny], vec![attr::int("to", elem)]);
    let ratio = ctx.tmp("Div", "inv_count", &[&nyf, &nxf], vec![]);
    let name = ctx.grad_name(0);
    let mut out = vec![None; needs.len()];
    out[0] = Some(ctx.op("Mul", &name, &[&expanded, &ratio], vec![]));
    Ok(out)
}

// Shape rules.

fn reduce_shape(c: &ShapeCtx) -> Vec<ValueFacts> {
    let dims = c.input(0).dims.as_ref().and_then(|d| reduced_dims(c, d));
    vec![c.same(dims)]
}

/// Dims of a reduction of `d`: none when the axes input is not constant; empty axes reduce everything,
/// or nothing with `noop_with_empty_axes`.
fn reduced_dims(c: &ShapeCtx, d: &[SymDim]) -> Option<Vec<SymDim>> {
    let n = c.node;
    let axes = c.axes();
    let keep = shapes::attr_i(n, "keepdims").unwrap_or(1) == 1;
    let noop = shapes::attr_i(n, "noop_with_empty_axes").unwrap_or(0) == 1;
    let axes: Vec<usize> = match &axes {
        Some(a) if !a.is_empty() => a.iter().map(|a| shapes::norm_axis(*a, d.len())).collect(),
        _ if n.input.len() > 1 && !n.input[1].is_empty() && axes.is_none() => return None,
        _ if noop => return Some(d.to_vec()),
        _ => (0..d.len()).collect(),
    };
    Some(
        d.iter()
            .enumerate()
            .filter_map(|(i, v)| match (axes.contains(&i), keep) {
                (true, true) => Some(SymDim::Known(1)),
                (true, false) => None,
                (false, _) => Some(v.clone()),
            })
            .collect(),
    )
}
