//! Shape ops: Reshape, Flatten, Unsqueeze, Squeeze, Transpose, Expand, Concat, Slice.
//!
//! These only move or copy elements, so their gradients move them back: reshape to `Shape(x)`, inverse
//! permutation, sum over expanded axes, split, or pad with zeros. Shape/axes inputs are integers and never
//! carry gradients.
//!
//! Shapes: the same ops move dims (and tracked integer values, for in-graph shape arithmetic); this file also
//! holds the shape rules of the integer ops that build shapes and have no gradient: Shape, Size, Constant,
//! ConstantOfShape, Range.
use super::shapes::{self, ShapeCtx, ShapeRule, SymDim, ValueFacts};
use super::{GradCtx, Result, Rule};
use crate::builder::{attr, pb};
use pb::tensor_proto::DataType;

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

pub(super) fn shape_rule(op_type: &str) -> Option<ShapeRule> {
    Some(match op_type {
        "Transpose" => transpose_shape,
        "Reshape" => reshape_shape,
        "Flatten" => flatten_shape,
        "Unsqueeze" => unsqueeze_shape,
        "Squeeze" => squeeze_shape,
        "Concat" => concat_shape,
        "Slice" => slice_shape,
        "Expand" => expand_shape,
        "Shape" => shape_of,
        "Size" => size_of,
        "Constant" => constant_shape,
        "ConstantOfShape" => constant_of_shape,
        "Range" => range_shape,
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

// Shape rules.

/// Input dims permuted by `perm` (default: reversed).
fn transpose_shape(c: &ShapeCtx) -> Vec<ValueFacts> {
    let dims = c.input(0).dims.map(|d| {
        let perm = shapes::attr_ints(c.node, "perm").unwrap_or_else(|| (0..d.len() as i64).rev().collect());
        perm.iter().map(|p| d[*p as usize].clone()).collect()
    });
    vec![c.same(dims)]
}

fn reshape_shape(c: &ShapeCtx) -> Vec<ValueFacts> {
    let dims = reshape_dims(c.facts, c.input(0).dims.as_deref(), c.node.input.get(1).map(|s| s.as_str()));
    vec![c.same(dims)]
}

/// Dims after reshaping `input` to the tracked values of `shape`: 0 copies the input dim, -1 takes what is
/// left (symbolic products divide exactly).
fn reshape_dims(facts: &shapes::Facts, input: Option<&[SymDim]>, shape: Option<&str>) -> Option<Vec<SymDim>> {
    let target = facts.ints(shape?)?.clone();
    let mut out: Vec<SymDim> = target
        .iter()
        .enumerate()
        .map(|(i, d)| match d {
            SymDim::Known(0) => input.and_then(|x| x.get(i).cloned()).unwrap_or(SymDim::Unknown),
            other => other.clone(),
        })
        .collect();
    if let Some(pos) = out.iter().position(|d| *d == SymDim::Known(-1)) {
        let total = input.map(shapes::product).unwrap_or(SymDim::Unknown);
        let rest = shapes::product(
            &out.iter().enumerate().filter(|(i, _)| *i != pos).map(|(_, d)| d.clone()).collect::<Vec<_>>(),
        );
        out[pos] = shapes::quotient(&total, &rest);
    }
    Some(out)
}

/// `[product of dims before axis, product of the rest]`.
fn flatten_shape(c: &ShapeCtx) -> Vec<ValueFacts> {
    let dims = c.input(0).dims.map(|d| {
        let axis = shapes::norm_axis(shapes::attr_i(c.node, "axis").unwrap_or(1), d.len());
        vec![shapes::product(&d[..axis]), shapes::product(&d[axis..])]
    });
    vec![c.same(dims)]
}

/// A 1 inserted at each of `axes` (attribute or input); tracked ints pass through.
fn unsqueeze_shape(c: &ShapeCtx) -> Vec<ValueFacts> {
    let x = c.input(0);
    match (x.dims, c.axes()) {
        (Some(d), Some(axes)) => {
            let r = d.len() + axes.len();
            let axes: Vec<usize> = axes.iter().map(|a| shapes::norm_axis(*a, r)).collect();
            let mut it = d.into_iter();
            let dims: Vec<SymDim> = (0..r)
                .map(|i| if axes.contains(&i) { SymDim::Known(1) } else { it.next().unwrap_or(SymDim::Unknown) })
                .collect();
            vec![ValueFacts { elem: x.elem, dims: Some(dims), ints: x.ints }]
        }
        _ => vec![c.same(None)],
    }
}

/// The dims at `axes` removed (without axes: every known 1); tracked ints pass through.
fn squeeze_shape(c: &ShapeCtx) -> Vec<ValueFacts> {
    let x = c.input(0);
    let axes = c.axes();
    let dims = x.dims.as_ref().map(|d| {
        let axes: Vec<usize> = match &axes {
            Some(a) => a.iter().map(|a| shapes::norm_axis(*a, d.len())).collect(),
            None => (0..d.len()).filter(|i| d[*i] == SymDim::Known(1)).collect(),
        };
        d.iter().enumerate().filter(|(i, _)| !axes.contains(i)).map(|(_, v)| v.clone()).collect()
    });
    vec![ValueFacts { elem: x.elem, dims, ints: x.ints }]
}

/// Dims summed on `axis`; tracked ints joined.
fn concat_shape(c: &ShapeCtx) -> Vec<ValueFacts> {
    let all: Vec<ValueFacts> = (0..c.node.input.len()).map(|i| c.input(i)).collect();
    let dims = if all.iter().all(|v| v.dims.is_some()) {
        let first = all[0].dims.clone().unwrap();
        let axis = shapes::norm_axis(shapes::attr_i(c.node, "axis").unwrap_or(0), first.len());
        let mut d = first;
        d[axis] = shapes::sum_dims(all.iter().map(|v| v.dims.as_ref().unwrap()[axis].clone()));
        Some(d)
    } else {
        None
    };
    let ints = if all.iter().all(|v| v.ints.is_some()) {
        Some(all.iter().flat_map(|v| v.ints.clone().unwrap()).collect())
    } else {
        None
    };
    vec![ValueFacts { elem: c.input(0).elem, dims, ints }]
}

/// Sliced dims where the input dim and constant starts/ends are known (steps only when absent); tracked ints
/// sliced on one axis.
fn slice_shape(c: &ShapeCtx) -> Vec<ValueFacts> {
    let (n, x) = (c.node, c.input(0));
    let get = |i: usize| n.input.get(i).filter(|s| !s.is_empty()).and_then(|s| c.facts.known_ints(s));
    let (starts, ends) = (get(1), get(2));
    let dims = x.dims.as_ref().map(|d| {
        let mut out = d.clone();
        let axes = get(3).unwrap_or_else(|| (0..starts.as_ref().map(|s| s.len()).unwrap_or(0) as i64).collect());
        for (k, a) in axes.iter().enumerate() {
            let a = shapes::norm_axis(*a, d.len());
            out[a] = match (&d[a], &starts, &ends, get(4)) {
                (SymDim::Known(len), Some(s), Some(e), None) => {
                    let clamp = |v: i64| (if v < 0 { v + len } else { v }).clamp(0, *len);
                    SymDim::Known((clamp(e[k]) - clamp(s[k])).max(0))
                }
                _ => SymDim::Unknown,
            };
        }
        out
    });
    let ints = match (&x.ints, &starts, &ends, get(4)) {
        (Some(v), Some(s), Some(e), None) if s.len() == 1 => {
            let len = v.len() as i64;
            let clamp = |p: i64| (if p < 0 { p + len } else { p }).clamp(0, len) as usize;
            let (a, b) = (clamp(s[0]), clamp(e[0]));
            Some(v[a..b.max(a)].to_vec())
        }
        _ => None,
    };
    vec![ValueFacts { elem: x.elem, dims, ints }]
}

/// Input dims broadcast with the tracked target shape.
fn expand_shape(c: &ShapeCtx) -> Vec<ValueFacts> {
    let dims = match (&c.input(0).dims, c.facts.ints(&c.node.input[1])) {
        (Some(d), Some(s)) => Some(shapes::broadcast(&[d, s])),
        _ => None,
    };
    vec![c.same(dims)]
}

/// int64 `[len]`, its values the input dims from `start` to `end`.
fn shape_of(c: &ShapeCtx) -> Vec<ValueFacts> {
    let ints = c.input(0).dims.as_ref().map(|d| {
        let r = d.len() as i64;
        let clampi = |v: i64| (if v < 0 { v + r } else { v }).clamp(0, r) as usize;
        let start = clampi(shapes::attr_i(c.node, "start").unwrap_or(0));
        let end = clampi(shapes::attr_i(c.node, "end").unwrap_or(r));
        d[start..end.max(start)].to_vec()
    });
    let len = ints.as_ref().map(|v| v.len() as i64);
    let dims = Some(vec![len.map(SymDim::Known).unwrap_or(SymDim::Unknown)]);
    vec![ValueFacts { elem: DataType::Int64 as i32, dims, ints }]
}

/// int64 scalar, its value the product of the input dims.
fn size_of(c: &ShapeCtx) -> Vec<ValueFacts> {
    let ints = c.input(0).dims.as_ref().map(|d| vec![shapes::product(d)]);
    vec![ValueFacts { elem: DataType::Int64 as i32, dims: Some(vec![]), ints }]
}

/// The facts of the `value` tensor attribute.
fn constant_shape(c: &ShapeCtx) -> Vec<ValueFacts> {
    let value = c.node.attribute.iter().find(|a| a.name == "value").and_then(|a| a.t.as_ref());
    vec![value.map(shapes::tensor_facts).unwrap_or_default()]
}

/// Dims from the tracked input values, element type of `value` (default float).
fn constant_of_shape(c: &ShapeCtx) -> Vec<ValueFacts> {
    let value = c.node.attribute.iter().find(|a| a.name == "value").and_then(|a| a.t.as_ref());
    let elem = value.map(|t| t.data_type).unwrap_or(DataType::Float as i32);
    vec![ValueFacts { elem, dims: c.input(0).ints, ints: None }]
}

/// 1-D; `Range(0, n, 1)` has length n (the usual position-ids pattern), other lengths are unknown.
fn range_shape(c: &ShapeCtx) -> Vec<ValueFacts> {
    let (n, f) = (c.node, c.facts);
    let len = match (f.known_ints(&n.input[0]), f.ints(&n.input[1]), f.known_ints(&n.input[2])) {
        (Some(s), Some(l), Some(d)) if s == [0] && d == [1] && l.len() == 1 => l[0].clone(),
        _ => SymDim::Unknown,
    };
    vec![ValueFacts { elem: c.input(0).elem, dims: Some(vec![len]), ints: None }]
}
