//! `ErfGelu(x) → y` and `ErfGeluGrad(dy, x) → dx`: the exact (erf) GELU of BERT's intermediate layer and its
//! derivative, one pass each instead of 5 and ~10 standard nodes:
//! ```text
//! y  = (x · ½) · (erf(x · (1/√2)) + 1)
//! dx = dy · ((erf(x · (1/√2)) + 1) · ½ + x · e^(−x²/2) / √(2π))
//! ```
//! erf and exp are [`super::fast_math`]'s, so the values are those of the standard graph to rounding, not
//! bitwise (ONNX Runtime computes erf with MLAS's own approximation).
use nerkit_export::train_graph::cpu_ops;
use ort::operator::ComputeContext;

use super::fast_math::{erf, exp};
use super::op::F32Op;
use super::{for_chunks, like_first_input, missing, simd, Shared, CHUNK};

const FRAC_1_SQRT_2: f32 = std::f32::consts::FRAC_1_SQRT_2;
/// 1/√(2π).
const INV_SQRT_2PI: f32 = 0.398_942_3;

#[inline(always)]
fn gelu(x: f32) -> f32 {
    (x * 0.5) * (erf(x * FRAC_1_SQRT_2) + 1.0)
}

#[inline(always)]
fn gelu_grad(dy: f32, x: f32) -> f32 {
    dy * ((erf(x * FRAC_1_SQRT_2) + 1.0) * 0.5 + x * exp(-0.5 * x * x) * INV_SQRT_2PI)
}

/// `ErfGelu(x) → y`.
pub const ERF_GELU: F32Op =
    F32Op { name: cpu_ops::ERF_GELU, inputs: 1, outputs: 1, compute: forward, infer: |ctx| like_first_input(ctx, 1) };

/// `ErfGeluGrad(dy, x) → dx`.
pub const ERF_GELU_GRAD: F32Op = F32Op {
    name: cpu_ops::ERF_GELU_GRAD,
    inputs: 2,
    outputs: 1,
    compute: backward,
    infer: |ctx| like_first_input(ctx, 1),
};

fn forward(ctx: &ComputeContext) -> ort::Result<()> {
    let x = ctx.input(0)?.ok_or_else(|| missing("x"))?;
    let shape = x.shape().to_vec();
    let x = x.try_extract_tensor::<f32>()?.1;
    let mut y = ctx.output(0, shape)?.ok_or_else(|| missing("output"))?;
    let dst = Shared(y.try_extract_tensor_mut::<f32>()?.1.as_mut_ptr());
    for_chunks(ctx, x.len(), CHUNK, |r| {
        // SAFETY: disjoint ranges of the output, as long as x.
        let y = unsafe { dst.slice(r.clone()) };
        simd(|| {
            for (y, &x) in y.iter_mut().zip(&x[r]) {
                *y = gelu(x);
            }
        })
    })
}

fn backward(ctx: &ComputeContext) -> ort::Result<()> {
    let dy = ctx.input(0)?.ok_or_else(|| missing("dy"))?;
    let x = ctx.input(1)?.ok_or_else(|| missing("x"))?;
    let shape = dy.shape().to_vec();
    if x.shape().as_ref() != shape.as_slice() {
        return Err(ort::Error::new(format!("ErfGeluGrad: dy is {shape:?}, x {:?}", x.shape())));
    }
    let (dy, x) = (dy.try_extract_tensor::<f32>()?.1, x.try_extract_tensor::<f32>()?.1);
    let mut dx = ctx.output(0, shape)?.ok_or_else(|| missing("output"))?;
    let dst = Shared(dx.try_extract_tensor_mut::<f32>()?.1.as_mut_ptr());
    for_chunks(ctx, x.len(), CHUNK, |r| {
        // SAFETY: disjoint ranges of the output, as long as x.
        let dx = unsafe { dst.slice(r.clone()) };
        simd(|| {
            for ((dx, &dy), &x) in dx.iter_mut().zip(&dy[r.clone()]).zip(&x[r]) {
                *dx = gelu_grad(dy, x);
            }
        })
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn exact_gelu(x: f64) -> f64 {
        0.5 * x * (1.0 + libm::erf(x / std::f64::consts::SQRT_2))
    }

    /// Forward against f64 GELU, backward against a central difference of f64 GELU (errors relative, or
    /// absolute below 1).
    #[test]
    fn gelu_and_its_gradient_match_f64() {
        let (mut fwd, mut bwd) = (0.0f64, 0.0f64);
        for i in -12_000..=12_000 {
            let x = i as f32 * 1e-3;
            let xd = x as f64;
            fwd = fwd.max((gelu(x) as f64 - exact_gelu(xd)).abs() / exact_gelu(xd).abs().max(1.0));
            let h = 1e-6;
            let slope = (exact_gelu(xd + h) - exact_gelu(xd - h)) / (2.0 * h);
            bwd = bwd.max((gelu_grad(1.0, x) as f64 - slope).abs() / slope.abs().max(1.0));
        }
        // Absolute where |y| < 1: x/2 times erf's error (≤ 5e-7), largest near x = −5.5.
        assert!(fwd < 2e-6, "forward error {fwd:e}");
        assert!(bwd < 1e-6, "gradient error {bwd:e}");
        assert_eq!(gelu_grad(2.0, 0.0), 1.0);
    }
}
