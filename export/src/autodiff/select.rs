//! Selection and masking: Where (the condition is boolean and carries no gradient) and ONNX Dropout in
//! inference mode (identity). Dropout in nerkit's training graph is a plain `Mul` by an in-graph mask, whose
//! gradient is the Mul rule's.
//!
//! Shapes: Where broadcasts its inputs, typed like input 1; Dropout's mask output is a bool like x; nerkit's
//! elementwise kernels (and their gradient kernels) are shaped like input 0.
use super::shapes::{self, ShapeCtx, ShapeRule, ValueFacts};
use super::{GradCtx, Result, Rule};
use crate::builder::pb::tensor_proto::DataType;

pub(super) fn rule(op_type: &str) -> Option<Rule> {
    Some(match op_type {
        "Where" => where_,
        "Dropout" => dropout,
        "SeededDropout" => seeded_dropout,
        "ErfGelu" => erf_gelu,
        "MaskedSoftmax" => masked_softmax,
        _ => return None,
    })
}

pub(super) fn shape_rule(op_type: &str) -> Option<ShapeRule> {
    Some(match op_type {
        "Where" => where_shape,
        "Dropout" => dropout_shape,
        "SeededDropout" | "ErfGelu" | "ErfGeluGrad" | "MaskedSoftmax" | "SoftmaxGrad" => shapes::like_input,
        _ => return None,
    })
}

type Grads = Result<Vec<Option<String>>>;

// y = c ? a : b: da = c ? dy : 0, db = c ? 0 : dy (each summed over its broadcast axes)
fn where_(ctx: &mut GradCtx, dy: &[Option<String>], needs: &[bool]) -> Grads {
    let d = dy[0].clone().expect("output gradient");
    let c = ctx.input(0).to_string();
    let y = ctx.output(0).to_string();
    let mut out = vec![None; 3];
    for i in 1..3 {
        if !needs[i] {
            continue;
        }
        let zero = ctx.scalar(0.0, &y);
        let what = ctx.elementwise_what(i)?;
        let g = if i == 1 {
            ctx.tmp("Where", &what, &[&c, &d, &zero], vec![])
        } else {
            ctx.tmp("Where", &what, &[&c, &zero, &d], vec![])
        };
        out[i] = Some(ctx.unbroadcast_elementwise(g, i)?);
    }
    Ok(out)
}

// Dropout without training_mode is the identity: dx = dy.
fn dropout(ctx: &mut GradCtx, dy: &[Option<String>], needs: &[bool]) -> Grads {
    if !ctx.input(2).is_empty() {
        return Err(ctx.unsupported("Dropout with a training_mode input (use nerkit's in-graph mask)"));
    }
    let mut out = vec![None; needs.len()];
    out[0] = dy[0].clone();
    Ok(out)
}

// nerkit's `SeededDropout(x, seed)` = x · mask(seed): dx = dy · mask(seed), the same node on dy.
fn seeded_dropout(ctx: &mut GradCtx, dy: &[Option<String>], needs: &[bool]) -> Grads {
    let mut out = vec![None; needs.len()];
    if needs[0] {
        let d = dy[0].clone().expect("output gradient");
        let seed = ctx.input(1).to_string();
        let name = ctx.grad_name(0);
        let node = ctx.node;
        let dx = ctx.g.node_in_domain(&node.domain, &node.op_type, &name, &[&d, &seed], 1, node.attribute.clone());
        out[0] = dx.into_iter().next();
    }
    Ok(out)
}

// nerkit's `ErfGelu(x)`: dx = ErfGeluGrad(dy, x), its kernel.
fn erf_gelu(ctx: &mut GradCtx, dy: &[Option<String>], needs: &[bool]) -> Grads {
    if !needs[0] {
        return Ok(vec![None]);
    }
    let d = dy[0].clone().expect("output gradient");
    let x = ctx.input(0).to_string();
    let name = ctx.grad_name(0);
    let domain = ctx.node.domain.clone();
    let dx = ctx.g.node_in_domain(&domain, crate::train_graph::cpu_ops::ERF_GELU_GRAD, &name, &[&d, &x], 1, vec![]);
    Ok(vec![dx.into_iter().next()])
}

// nerkit's `MaskedSoftmax(scores, mask)` = softmax(scores + mask): d_scores = SoftmaxGrad(dy, y), its kernel.
// The mask is an input-derived constant (the attention mask); a gradient for it is not supported.
fn masked_softmax(ctx: &mut GradCtx, dy: &[Option<String>], needs: &[bool]) -> Grads {
    if needs.get(1) == Some(&true) {
        return Err(ctx.unsupported("MaskedSoftmax: gradient with respect to the mask"));
    }
    let mut out = vec![None; needs.len()];
    if needs[0] {
        let d = dy[0].clone().expect("output gradient");
        let y = ctx.output(0).to_string();
        let name = ctx.grad_name(0);
        let domain = ctx.node.domain.clone();
        let dx = ctx.g.node_in_domain(&domain, crate::train_graph::cpu_ops::SOFTMAX_GRAD, &name, &[&d, &y], 1, vec![]);
        out[0] = dx.into_iter().next();
    }
    Ok(out)
}

// Shape rules.

fn where_shape(c: &ShapeCtx) -> Vec<ValueFacts> {
    vec![c.broadcast_inputs(c.input(1).elem)]
}

/// y like x; the optional mask output a bool like x.
fn dropout_shape(c: &ShapeCtx) -> Vec<ValueFacts> {
    let mut outs = shapes::like_input(c);
    if c.node.output.len() > 1 {
        outs.push(ValueFacts { elem: DataType::Bool as i32, dims: c.input(0).dims, ints: None });
    }
    outs
}
