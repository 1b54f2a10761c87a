//! MatMul (batched, broadcasting, rank ≥ 2) and Gemm.
//!
//! `y = a·b` gives `da = dy·bᵀ` and `db = aᵀ·dy`, each summed over the batch axes it was broadcast on. The
//! common linear layer (`[.., k] · [k, n]` weight) computes `db` as one GEMM over flattened rows instead of
//! a batched product plus a reduction.
//!
//! Shapes: `[.., m, k] · [.., k, n]` gives the broadcast batch dims then `[m, n]`; Gemm is 2-D only.
use super::shapes::{self, ShapeCtx, ShapeRule, SymDim, ValueFacts};
use super::{GradCtx, Result, Rule};
use crate::builder::attr;

pub(super) fn rule(op_type: &str) -> Option<Rule> {
    Some(match op_type {
        "MatMul" => matmul,
        "Gemm" => gemm,
        _ => return None,
    })
}

pub(super) fn shape_rule(op_type: &str) -> Option<ShapeRule> {
    Some(match op_type {
        "MatMul" => matmul_shape,
        "Gemm" => gemm_shape,
        _ => return None,
    })
}

type Grads = Result<Vec<Option<String>>>;

fn swap_last_two(rank: usize) -> Vec<i64> {
    let mut p: Vec<i64> = (0..rank as i64).collect();
    p.swap(rank - 1, rank - 2);
    p
}

// y = a·b: da = dy·bᵀ, db = aᵀ·dy (then un-broadcast over batch axes)
fn matmul(ctx: &mut GradCtx, dy: &[Option<String>], needs: &[bool]) -> Grads {
    let d = dy[0].clone().expect("output gradient");
    let (a, b) = (ctx.input(0).to_string(), ctx.input(1).to_string());
    let (ad, bd) = (ctx.dims(&a)?, ctx.dims(&b)?);
    if ad.len() < 2 || bd.len() < 2 {
        return Err(ctx.unsupported("1-D MatMul operands"));
    }
    let od = ctx.dims(ctx.output(0))?;
    let batch = &od[..od.len() - 2];
    let mut out = vec![None, None];
    if needs[0] {
        let bt = ctx.tmp("Transpose", "b_t", &[&b], vec![attr::ints("perm", &swap_last_two(bd.len()))]);
        if bd.len() == 2 {
            let name = ctx.grad_name(0);
            out[0] = Some(ctx.op("MatMul", &name, &[&d, &bt], vec![]));
        } else {
            let full = ctx.tmp("MatMul", "a.full", &[&d, &bt], vec![]);
            let mut gd = batch.to_vec();
            gd.extend_from_slice(&ad[ad.len() - 2..]);
            let name = ctx.grad_name(0);
            out[0] = Some(ctx.unbroadcast(full, &gd, 0, &[0, 1], &name)?);
        }
    }
    if needs[1] {
        let name = ctx.grad_name(1);
        if bd.len() == 2 {
            // Linear layer: db = flatten(a)ᵀ · flatten(dy), one GEMM.
            let (a2, d2) = if ad.len() == 2 {
                (a.clone(), d.clone())
            } else {
                let ax = attr::int("axis", ad.len() as i64 - 1);
                let a2 = ctx.tmp("Flatten", "a_rows", &[&a], vec![ax.clone()]);
                let d2 = ctx.tmp("Flatten", "dy_rows", &[&d], vec![ax]);
                (a2, d2)
            };
            out[1] = Some(ctx.op("Gemm", &name, &[&a2, &d2], vec![attr::int("transA", 1)]));
        } else {
            let at = ctx.tmp("Transpose", "a_t", &[&a], vec![attr::ints("perm", &swap_last_two(ad.len()))]);
            let full = ctx.tmp("MatMul", "b.full", &[&at, &d], vec![]);
            let mut gd = batch.to_vec();
            gd.extend_from_slice(&bd[bd.len() - 2..]);
            out[1] = Some(ctx.unbroadcast(full, &gd, 1, &[0, 1], &name)?);
        }
    }
    Ok(out)
}

// y = α·a'·b' + β·c with a' = a or aᵀ (transA), b' = b or bᵀ (transB):
//   da = α·dy·b'ᵀ        (transA = 0)      da = α·b'·dyᵀ   (transA = 1)
//   db = α·a'ᵀ·dy        (transB = 0)      db = α·dyᵀ·a'   (transB = 1)
//   dc = β·dy summed to c's shape
fn gemm(ctx: &mut GradCtx, dy: &[Option<String>], needs: &[bool]) -> Grads {
    let d = dy[0].clone().expect("output gradient");
    let (a, b) = (ctx.input(0).to_string(), ctx.input(1).to_string());
    let alpha = ctx.attr_f("alpha").unwrap_or(1.0);
    let beta = ctx.attr_f("beta").unwrap_or(1.0);
    let ta = ctx.attr_i("transA").unwrap_or(0);
    let tb = ctx.attr_i("transB").unwrap_or(0);
    let gemm_attrs =
        |t_a: i64, t_b: i64| vec![attr::float("alpha", alpha), attr::int("transA", t_a), attr::int("transB", t_b)];
    let mut out = vec![None; needs.len()];
    if needs[0] {
        let name = ctx.grad_name(0);
        out[0] = Some(if ta == 0 {
            ctx.op("Gemm", &name, &[&d, &b], gemm_attrs(0, 1 - tb))
        } else {
            ctx.op("Gemm", &name, &[&b, &d], gemm_attrs(tb, 1))
        });
    }
    if needs[1] {
        let name = ctx.grad_name(1);
        out[1] = Some(if tb == 0 {
            ctx.op("Gemm", &name, &[&a, &d], gemm_attrs(1 - ta, 0))
        } else {
            ctx.op("Gemm", &name, &[&d, &a], gemm_attrs(1, ta))
        });
    }
    if needs.len() > 2 && needs[2] {
        let scaled = if beta == 1.0 {
            d.clone()
        } else {
            let y = ctx.output(0).to_string();
            let bc = ctx.scalar(beta as f64, &y);
            ctx.tmp("Mul", "c.scaled", &[&d, &bc], vec![])
        };
        let od = ctx.dims(ctx.output(0))?;
        let name = ctx.grad_name(2);
        out[2] = Some(ctx.unbroadcast(scaled, &od, 2, &[2], &name)?);
    }
    Ok(out)
}

// Shape rules.

fn matmul_shape(c: &ShapeCtx) -> Vec<ValueFacts> {
    vec![c.same(matmul_dims(c.input(0).dims.as_deref(), c.input(1).dims.as_deref()))]
}

/// Batch dims broadcast, then `[m, n]`; none for 1-D operands.
fn matmul_dims(a: Option<&[SymDim]>, b: Option<&[SymDim]>) -> Option<Vec<SymDim>> {
    let (a, b) = (a?, b?);
    if a.len() < 2 || b.len() < 2 {
        return None;
    }
    let mut out = shapes::broadcast(&[&a[..a.len() - 2], &b[..b.len() - 2]]);
    out.push(a[a.len() - 2].clone());
    out.push(b[b.len() - 1].clone());
    Some(out)
}

/// `[m, n]` from the 2-D operands and `transA`/`transB`.
fn gemm_shape(c: &ShapeCtx) -> Vec<ValueFacts> {
    let dims = match (c.input(0).dims, c.input(1).dims) {
        (Some(a), Some(b)) if a.len() == 2 && b.len() == 2 => {
            let m = if shapes::attr_i(c.node, "transA") == Some(1) { a[1].clone() } else { a[0].clone() };
            let n = if shapes::attr_i(c.node, "transB") == Some(1) { b[0].clone() } else { b[1].clone() };
            Some(vec![m, n])
        }
        _ => None,
    };
    vec![c.same(dims)]
}
