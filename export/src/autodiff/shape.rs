//! Shape ops: Reshape, Flatten, Unsqueeze, Squeeze, Transpose, Expand, Concat, Slice.
//!
//! These only move or copy elements, so their gradients move them back: reshape to `Shape(x)`, inverse
//! permutation, sum over expanded axes, split, or pad with zeros. Shape/axes inputs are integers and never
//! carry gradients.
use super::{shapes::SymDim, GradCtx, Result, Rule};
use crate::builder::attr;

pub(super) fn rule(op_type: &str) -> Option<Rule> {
    Some(match op_type {
        "Reshape" | "Flatten" | "Unsqueeze" | "Squeeze" => reshape_back,
        "Transpose" => transpose,
        "Expand" => expand,
        "Concat" => concat,
        "Slice" => slice,
        _ => return None,
    })
}

type Grads = Result<Vec<Option<String>>>;

fn norm_axis(axis: i64, rank: usize) -> i64 {
    if axis < 0 {
        axis + rank as i64
    } else {
        axis
    }
}

// y = reshape(x): dx = reshape(dy, shape(x)) (also Flatten, Unsqueeze, Squeeze)
fn reshape_back(ctx: &mut GradCtx, dy: &[Option<String>], needs: &[bool]) -> Grads {
    let x = ctx.input(0).to_string();
    let shape = ctx.tmp("Shape", &format!("{x}.shape"), &[&x], vec![]);
    let name = ctx.grad_name(0);
    let d = dy[0].clone().expect("output gradient");
    let mut out = vec![None; needs.len()];
    out[0] = Some(ctx.op("Reshape", &name, &[&d, &shape], vec![]));
    Ok(out)
}

// y = transpose(x, p): dx = transpose(dy, p⁻¹)
fn transpose(ctx: &mut GradCtx, dy: &[Option<String>], _: &[bool]) -> Grads {
    let perm = match super::shapes::attr_ints(ctx.node, "perm") {
        Some(p) => p,
        None => (0..ctx.rank(ctx.input(0))? as i64).rev().collect(),
    };
    let mut inv = vec![0i64; perm.len()];
    for (i, p) in perm.iter().enumerate() {
        inv[*p as usize] = i as i64;
    }
    let name = ctx.grad_name(0);
    let d = dy[0].clone().expect("output gradient");
    Ok(vec![Some(ctx.op("Transpose", &name, &[&d], vec![attr::ints("perm", &inv)]))])
}

// y = expand(x, s): dx = dy summed over the expanded axes
fn expand(ctx: &mut GradCtx, dy: &[Option<String>], _: &[bool]) -> Grads {
    let x = ctx.input(0).to_string();
    if ctx.dims(&x)?.contains(&SymDim::Unknown) {
        return Err(ctx.err_shape(&x));
    }
    let od = ctx.dims(ctx.output(0))?;
    let name = ctx.grad_name(0);
    let d = dy[0].clone().expect("output gradient");
    Ok(vec![Some(ctx.unbroadcast(d, &od, 0, &[0], &name)?), None])
}

// y = concat(x₁..xₙ, axis): dxᵢ = the slice of dy that xᵢ occupies (one Split by the runtime sizes)
fn concat(ctx: &mut GradCtx, dy: &[Option<String>], needs: &[bool]) -> Grads {
    let rank = ctx.rank(ctx.input(0))?;
    let axis = norm_axis(ctx.attr_i("axis").unwrap_or(0), rank);
    let inputs: Vec<String> = ctx.node.input.clone();
    let sizes: Vec<String> = inputs
        .iter()
        .map(|x| {
            let what = format!("{x}.size");
            ctx.tmp("Shape", &what, &[x], vec![attr::int("start", axis), attr::int("end", axis + 1)])
        })
        .collect();
    let refs: Vec<&str> = sizes.iter().map(|s| s.as_str()).collect();
    let split = ctx.tmp("Concat", "sizes", &refs, vec![attr::int("axis", 0)]);
    let d = dy[0].clone().expect("output gradient");
    let name = ctx.helper_name("split");
    let parts = ctx.g.node("Split", &name, &[&d, &split], inputs.len(), vec![attr::int("axis", axis)]);
    Ok(parts.into_iter().zip(needs).map(|(p, n)| n.then_some(p)).collect())
}

// y = x[starts:ends] (step 1): dx = dy padded with zeros back to shape(x)
fn slice(ctx: &mut GradCtx, dy: &[Option<String>], needs: &[bool]) -> Grads {
    let x = ctx.input(0).to_string();
    let rank = ctx.rank(&x)?;
    let get = |ctx: &GradCtx, i: usize| {
        let v = ctx.input(i).to_string();
        if v.is_empty() {
            Ok(None)
        } else {
            ctx.facts.known_ints(&v).map(Some).ok_or_else(|| ctx.unsupported(format!("non-constant slice input `{v}`")))
        }
    };
    let starts = get(ctx, 1)?.unwrap_or_default();
    let axes = get(ctx, 3)?.unwrap_or_else(|| (0..starts.len() as i64).collect());
    if let Some(steps) = get(ctx, 4)? {
        if steps.iter().any(|s| *s != 1) {
            return Err(ctx.unsupported("Slice with steps other than 1"));
        }
    }
    let mut start_full = vec![0i64; rank];
    for (a, s) in axes.iter().zip(&starts) {
        start_full[norm_axis(*a, rank) as usize] = *s;
    }
    let d = dy[0].clone().expect("output gradient");
    let sx = ctx.tmp("Shape", "x_shape", &[&x], vec![]);
    let sy = ctx.tmp("Shape", "dy_shape", &[&d], vec![]);
    let st = ctx.ints("starts", &start_full);
    let zero = ctx.ints("zero", &[0]);
    let neg = ctx.tmp("Less", "start_neg", &[&st, &zero], vec![]);
    let wrapped = ctx.tmp("Add", "start_wrapped", &[&st, &sx], vec![]);
    let adj = ctx.tmp("Where", "start_adj", &[&neg, &wrapped, &st], vec![]);
    let lo = ctx.tmp("Max", "start_lo", &[&adj, &zero], vec![]);
    let before = ctx.tmp("Min", "pad_before", &[&lo, &sx], vec![]);
    let rest = ctx.tmp("Sub", "pad_rest", &[&sx, &sy], vec![]);
    let after = ctx.tmp("Sub", "pad_after", &[&rest, &before], vec![]);
    let pads = ctx.tmp("Concat", "pads", &[&before, &after], vec![attr::int("axis", 0)]);
    let name = ctx.grad_name(0);
    let mut out = vec![None; needs.len()];
    out[0] = Some(ctx.op("Pad", &name, &[&d, &pads], vec![]));
    Ok(out)
}
