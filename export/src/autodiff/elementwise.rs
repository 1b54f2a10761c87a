//! Elementwise ops: Add, Sub, Mul, Div, Sum, Neg, Sqrt, Pow, Erf, Tanh, Exp, Log, Relu, Sigmoid, Reciprocal,
//! Abs, Identity, Cast, and the piecewise-constant Floor/Ceil/Round/Sign (zero gradient).
//!
//! Binary rules reduce their gradient back to each operand's shape ([`GradCtx::unbroadcast_elementwise`]).
//!
//! Shapes: binary ops and comparisons broadcast their inputs; unary ops keep input 0's dims. Add, Sub, Mul
//! and Div also compute tracked integer values (shape arithmetic), Identity and the casts pass them on.
use super::shapes::{self, ShapeCtx, ShapeRule, SymDim, ValueFacts};
use super::{GradCtx, Result, Rule};
use crate::builder::{attr, pb};
use pb::tensor_proto::DataType;

pub(super) fn rule(op_type: &str) -> Option<Rule> {
    Some(match op_type {
        "Add" => add,
        "Sub" => sub,
        "Mul" => mul,
        "Div" => div,
        "Sum" => sum,
        "Neg" => neg,
        "Sqrt" => sqrt,
        "Pow" => pow,
        "Erf" => erf,
        "Tanh" => tanh,
        "Exp" => exp,
        "Log" => log,
        "Relu" => relu,
        "Sigmoid" => sigmoid,
        "Reciprocal" => reciprocal,
        "Abs" => abs,
        "Identity" => identity,
        "Cast" => cast,
        "Floor" | "Ceil" | "Round" | "Sign" => piecewise_constant,
        _ => return None,
    })
}

pub(super) fn shape_rule(op_type: &str) -> Option<ShapeRule> {
    Some(match op_type {
        "Add" => add_shape,
        "Sub" => sub_shape,
        "Mul" => mul_shape,
        "Div" => div_shape,
        "Pow" | "Mod" | "Max" | "Min" | "Sum" | "BitwiseXor" | "BitwiseAnd" | "BitShift" | "PRelu" => broadcast_shape,
        "Equal" | "Greater" | "Less" | "GreaterOrEqual" | "LessOrEqual" | "And" | "Or" | "Xor" => compare_shape,
        "Neg" | "Sqrt" | "Erf" | "Tanh" | "Exp" | "Log" | "Relu" | "Sigmoid" | "Reciprocal" | "Abs" | "Not"
        | "Floor" | "Ceil" | "Sign" | "Clip" | "Cos" | "Sin" | "Round" | "IsNaN" | "IsInf" | "Gelu" | "LeakyRelu"
        | "Elu" | "Softplus" => shapes::like_input,
        "Identity" => identity_shape,
        "Cast" => cast_shape,
        "CastLike" => cast_like_shape,
        _ => return None,
    })
}

type Grads = Result<Vec<Option<String>>>;

fn dy0(dy: &[Option<String>]) -> String {
    dy[0].clone().expect("the driver only calls a rule when an output has a gradient")
}

/// Runs `f` for each input that needs a gradient.
fn each(ctx: &mut GradCtx, needs: &[bool], mut f: impl FnMut(&mut GradCtx, usize) -> Result<String>) -> Grads {
    (0..needs.len()).map(|i| if needs[i] { f(ctx, i).map(Some) } else { Ok(None) }).collect()
}

/// For a unary op: `d x = dy * factor`, with the product named `<node>.grad.<x>`.
fn unary_times(ctx: &mut GradCtx, dy: &[Option<String>], factor: String) -> Grads {
    let name = ctx.grad_name(0);
    Ok(vec![Some(ctx.op("Mul", &name, &[&dy0(dy), &factor], vec![]))])
}

// y = a + b: da = dy, db = dy (each summed over its broadcast axes)
fn add(ctx: &mut GradCtx, dy: &[Option<String>], needs: &[bool]) -> Grads {
    let d = dy0(dy);
    each(ctx, needs, |ctx, i| ctx.unbroadcast_elementwise(d.clone(), i))
}

// y = a + b + ...: d input_i = dy
fn sum(ctx: &mut GradCtx, dy: &[Option<String>], needs: &[bool]) -> Grads {
    add(ctx, dy, needs)
}

// y = a - b: da = dy, db = -dy
fn sub(ctx: &mut GradCtx, dy: &[Option<String>], needs: &[bool]) -> Grads {
    let d = dy0(dy);
    each(ctx, needs, |ctx, i| {
        let g = if i == 0 {
            d.clone()
        } else {
            let what = ctx.elementwise_what(i)?;
            ctx.tmp("Neg", &what, &[&d], vec![])
        };
        ctx.unbroadcast_elementwise(g, i)
    })
}

// y = a * b: da = dy * b, db = dy * a
fn mul(ctx: &mut GradCtx, dy: &[Option<String>], needs: &[bool]) -> Grads {
    let d = dy0(dy);
    each(ctx, needs, |ctx, i| {
        let other = ctx.input(1 - i).to_string();
        let what = ctx.elementwise_what(i)?;
        let g = ctx.tmp("Mul", &what, &[&d, &other], vec![]);
        ctx.unbroadcast_elementwise(g, i)
    })
}

// y = a / b: da = dy / b, db = -dy * a / b² = -dy * y / b
fn div(ctx: &mut GradCtx, dy: &[Option<String>], needs: &[bool]) -> Grads {
    let d = dy0(dy);
    let (b, y) = (ctx.input(1).to_string(), ctx.output(0).to_string());
    each(ctx, needs, |ctx, i| {
        let g = if i == 0 {
            {
                let what = ctx.elementwise_what(i)?;
                ctx.tmp("Div", &what, &[&d, &b], vec![])
            }
        } else {
            let y_over_b = ctx.tmp("Div", "y_over_b", &[&y, &b], vec![]);
            let t = ctx.tmp("Mul", "b.times", &[&d, &y_over_b], vec![]);
            let what = ctx.elementwise_what(i)?;
            ctx.tmp("Neg", &what, &[&t], vec![])
        };
        ctx.unbroadcast_elementwise(g, i)
    })
}

// y = -x: dx = -dy
fn neg(ctx: &mut GradCtx, dy: &[Option<String>], _: &[bool]) -> Grads {
    let name = ctx.grad_name(0);
    Ok(vec![Some(ctx.op("Neg", &name, &[&dy0(dy)], vec![]))])
}

// y = √x: dx = dy / (2y)
fn sqrt(ctx: &mut GradCtx, dy: &[Option<String>], _: &[bool]) -> Grads {
    let y = ctx.output(0).to_string();
    let half = ctx.scalar(0.5, &y);
    let f = ctx.tmp("Div", "half_over_y", &[&half, &y], vec![]);
    unary_times(ctx, dy, f)
}

// y = x^e: dx = dy · e · x^(e-1); de = dy · y · ln x
fn pow(ctx: &mut GradCtx, dy: &[Option<String>], needs: &[bool]) -> Grads {
    let d = dy0(dy);
    let (x, e, y) = (ctx.input(0).to_string(), ctx.input(1).to_string(), ctx.output(0).to_string());
    each(ctx, needs, |ctx, i| {
        let g = if i == 0 {
            let ef = if ctx.elem(&e) == ctx.elem(&x) {
                e.clone()
            } else {
                let to = ctx.elem(&x) as i64;
                ctx.tmp("Cast", "exponent", &[&e], vec![attr::int("to", to)])
            };
            let one = ctx.scalar(1.0, &x);
            let em1 = ctx.tmp("Sub", "exponent_minus_1", &[&ef, &one], vec![]);
            let p = ctx.tmp("Pow", "x_pow", &[&x, &em1], vec![]);
            let t = ctx.tmp("Mul", "x.times_e", &[&p, &ef], vec![]);
            let what = ctx.elementwise_what(i)?;
            ctx.tmp("Mul", &what, &[&d, &t], vec![])
        } else {
            let ln = ctx.tmp("Log", "ln_x", &[&x], vec![]);
            let t = ctx.tmp("Mul", "y_ln_x", &[&y, &ln], vec![]);
            let what = ctx.elementwise_what(i)?;
            ctx.tmp("Mul", &what, &[&d, &t], vec![])
        };
        ctx.unbroadcast_elementwise(g, i)
    })
}

// y = erf(x): dx = dy · 2/√π · exp(-x²)
fn erf(ctx: &mut GradCtx, dy: &[Option<String>], _: &[bool]) -> Grads {
    let x = ctx.input(0).to_string();
    let sq = ctx.tmp("Mul", "x_sq", &[&x, &x], vec![]);
    let neg = ctx.tmp("Neg", "neg_x_sq", &[&sq], vec![]);
    let ex = ctx.tmp("Exp", "exp", &[&neg], vec![]);
    let c = ctx.scalar(std::f64::consts::FRAC_2_SQRT_PI, &x);
    let f = ctx.tmp("Mul", "factor", &[&ex, &c], vec![]);
    unary_times(ctx, dy, f)
}

// y = tanh(x): dx = dy · (1 - y²)
fn tanh(ctx: &mut GradCtx, dy: &[Option<String>], _: &[bool]) -> Grads {
    let y = ctx.output(0).to_string();
    let sq = ctx.tmp("Mul", "y_sq", &[&y, &y], vec![]);
    let one = ctx.scalar(1.0, &y);
    let f = ctx.tmp("Sub", "one_minus_y_sq", &[&one, &sq], vec![]);
    unary_times(ctx, dy, f)
}

// y = eˣ: dx = dy · y
fn exp(ctx: &mut GradCtx, dy: &[Option<String>], _: &[bool]) -> Grads {
    let y = ctx.output(0).to_string();
    unary_times(ctx, dy, y)
}

// y = ln x: dx = dy / x
fn log(ctx: &mut GradCtx, dy: &[Option<String>], _: &[bool]) -> Grads {
    let x = ctx.input(0).to_string();
    let name = ctx.grad_name(0);
    Ok(vec![Some(ctx.op("Div", &name, &[&dy0(dy), &x], vec![]))])
}

// y = max(x, 0): dx = dy where x > 0, else 0
fn relu(ctx: &mut GradCtx, dy: &[Option<String>], _: &[bool]) -> Grads {
    let x = ctx.input(0).to_string();
    let zero = ctx.scalar(0.0, &x);
    let pos = ctx.tmp("Greater", "positive", &[&x, &zero], vec![]);
    let name = ctx.grad_name(0);
    Ok(vec![Some(ctx.op("Where", &name, &[&pos, &dy0(dy), &zero], vec![]))])
}

// y = σ(x): dx = dy · y · (1 - y)
fn sigmoid(ctx: &mut GradCtx, dy: &[Option<String>], _: &[bool]) -> Grads {
    let y = ctx.output(0).to_string();
    let one = ctx.scalar(1.0, &y);
    let om = ctx.tmp("Sub", "one_minus_y", &[&one, &y], vec![]);
    let f = ctx.tmp("Mul", "factor", &[&y, &om], vec![]);
    unary_times(ctx, dy, f)
}

// y = 1/x: dx = -dy · y²
fn reciprocal(ctx: &mut GradCtx, dy: &[Option<String>], _: &[bool]) -> Grads {
    let y = ctx.output(0).to_string();
    let sq = ctx.tmp("Mul", "y_sq", &[&y, &y], vec![]);
    let f = ctx.tmp("Neg", "factor", &[&sq], vec![]);
    unary_times(ctx, dy, f)
}

// y = |x|: dx = dy · sign(x)
fn abs(ctx: &mut GradCtx, dy: &[Option<String>], _: &[bool]) -> Grads {
    let x = ctx.input(0).to_string();
    let s = ctx.tmp("Sign", "sign", &[&x], vec![]);
    unary_times(ctx, dy, s)
}

// y = x: dx = dy
fn identity(_: &mut GradCtx, dy: &[Option<String>], _: &[bool]) -> Grads {
    Ok(vec![Some(dy0(dy))])
}

// y = cast(x): dx = cast back(dy) for a float x; integer inputs carry no gradient (never active).
fn cast(ctx: &mut GradCtx, dy: &[Option<String>], needs: &[bool]) -> Grads {
    if !needs[0] {
        return Ok(vec![None]);
    }
    let x = ctx.input(0).to_string();
    let to = ctx.elem(&x) as i64;
    let name = ctx.grad_name(0);
    Ok(vec![Some(ctx.op("Cast", &name, &[&dy0(dy)], vec![attr::int("to", to)]))])
}

// Floor, Ceil, Round, Sign are piecewise constant: their derivative is 0 almost everywhere.
fn piecewise_constant(_: &mut GradCtx, _: &[Option<String>], needs: &[bool]) -> Grads {
    Ok(vec![None; needs.len()])
}

// Shape rules.

/// Broadcast result of input 0's type, with `f` applied to tracked integer values (a scalar operand repeats).
fn int_arith(c: &ShapeCtx, f: fn(i64, i64) -> i64) -> Vec<ValueFacts> {
    let out = c.broadcast_inputs(c.input(0).elem);
    let ints = match (c.input(0).ints, c.input(1).ints) {
        (Some(a), Some(b)) if a.len() == b.len() || a.len() == 1 || b.len() == 1 => {
            let len = a.len().max(b.len());
            Some(
                (0..len)
                    .map(|i| match (&a[i.min(a.len() - 1)], &b[i.min(b.len() - 1)]) {
                        (SymDim::Known(p), SymDim::Known(q)) => SymDim::Known(f(*p, *q)),
                        _ => SymDim::Unknown,
                    })
                    .collect(),
            )
        }
        _ => None,
    };
    vec![ValueFacts { ints, ..out }]
}

fn add_shape(c: &ShapeCtx) -> Vec<ValueFacts> {
    int_arith(c, |a, b| a + b)
}

fn sub_shape(c: &ShapeCtx) -> Vec<ValueFacts> {
    int_arith(c, |a, b| a - b)
}

fn mul_shape(c: &ShapeCtx) -> Vec<ValueFacts> {
    int_arith(c, |a, b| a * b)
}

/// Integer division; a zero divisor gives 0.
fn div_shape(c: &ShapeCtx) -> Vec<ValueFacts> {
    int_arith(c, |a, b| if b == 0 { 0 } else { a / b })
}

fn broadcast_shape(c: &ShapeCtx) -> Vec<ValueFacts> {
    vec![c.broadcast_inputs(c.input(0).elem)]
}

/// Comparisons and logic: broadcast, bool.
fn compare_shape(c: &ShapeCtx) -> Vec<ValueFacts> {
    vec![c.broadcast_inputs(DataType::Bool as i32)]
}

/// Input 0 unchanged, tracked ints included.
fn identity_shape(c: &ShapeCtx) -> Vec<ValueFacts> {
    vec![c.input(0)]
}

/// Input 0's dims and ints, element type from `to`.
fn cast_shape(c: &ShapeCtx) -> Vec<ValueFacts> {
    let x = c.input(0);
    vec![ValueFacts { elem: shapes::attr_i(c.node, "to").unwrap_or(0) as i32, ..x }]
}

/// Input 0's dims and ints, element type of input 1.
fn cast_like_shape(c: &ShapeCtx) -> Vec<ValueFacts> {
    vec![ValueFacts { elem: c.input(1).elem, ..c.input(0) }]
}
