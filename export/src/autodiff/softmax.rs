//! Softmax and LogSoftmax (opset ≥ 13 semantics: one `axis`, default -1). Shapes: like the input.
use super::shapes::{self, ShapeRule};
use super::{GradCtx, Result, Rule};

pub(super) fn rule(op_type: &str) -> Option<Rule> {
    Some(match op_type {
        "Softmax" => softmax,
        "LogSoftmax" => log_softmax,
        _ => return None,
    })
}

pub(super) fn shape_rule(op_type: &str) -> Option<ShapeRule> {
    Some(match op_type {
        "Softmax" | "LogSoftmax" => shapes::like_input,
        _ => return None,
    })
}

type Grads = Result<Vec<Option<String>>>;

// y = softmax(x): dx = y · (dy - Σ_axis dy·y)
fn softmax(ctx: &mut GradCtx, dy: &[Option<String>], _: &[bool]) -> Grads {
    let axis = ctx.attr_i("axis").unwrap_or(-1);
    let d = dy[0].clone().expect("output gradient");
    let y = ctx.output(0).to_string();
    let dyy = ctx.tmp("Mul", "dy_y", &[&d, &y], vec![]);
    let what = ctx.helper_name("dot");
    let dot = ctx.reduce_sum(&dyy, &[axis], true, &what);
    let centred = ctx.tmp("Sub", "centred", &[&d, &dot], vec![]);
    let name = ctx.grad_name(0);
    Ok(vec![Some(ctx.op("Mul", &name, &[&y, &centred], vec![]))])
}

// y = log_softmax(x): dx = dy - exp(y) · Σ_axis dy
fn log_softmax(ctx: &mut GradCtx, dy: &[Option<String>], _: &[bool]) -> Grads {
    let axis = ctx.attr_i("axis").unwrap_or(-1);
    let d = dy[0].clone().expect("output gradient");
    let y = ctx.output(0).to_string();
    let what = ctx.helper_name("dy_sum");
    let total = ctx.reduce_sum(&d, &[axis], true, &what);
    let p = ctx.tmp("Exp", "softmax", &[&y], vec![]);
    let t = ctx.tmp("Mul", "p_total", &[&p, &total], vec![]);
    let name = ctx.grad_name(0);
    Ok(vec![Some(ctx.op("Sub", &name, &[&d, &t], vec![]))])
}
