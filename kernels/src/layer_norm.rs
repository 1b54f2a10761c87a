//! `LayerNorm(x, scale, bias) → (y, mean, rstd)` (attribute `epsilon`) over the last axis, keeping each row's
//! mean and 1/σ for the backward, and `LayerNormGrad(dy, x, scale, mean, rstd) → (dx, dscale, dbias)`:
//! ```text
//! x̂ = (x − μ)·rstd     y = x̂·scale + bias
//! g = dy·scale         dx = rstd · (g − mean(g) − x̂·mean(g·x̂))     dscale = Σ_rows dy·x̂     dbias = Σ_rows dy
//! ```
//! One pass over each row where the standard backward recomputes the statistics and makes ~10 full-size
//! passes. dscale and dbias are summed per chunk of rows, then the chunks in order, so the result does not
//! depend on the thread count. Values match ONNX Runtime's `LayerNormalization` and the standard backward to
//! rounding.
use nerkit_export::train_graph::cpu_ops;
use ort::operator::{
    BoxedKernel, ComputeContext, KernelContext, Operator, OperatorInput, OperatorOutput, ShapeInferenceContext,
};
use ort::value::{Shape, ValueType};

use super::fast_math::{dot, lanes};
use super::op::{f32_inputs, f32_outputs, F32Op};
use super::{for_chunks, like_first_input, missing, named_unknown_dims, simd, Shared, CHUNK};

/// The row count and width of `shape`, and the per-row statistics' shape (last axis 1).
fn rows(shape: &[i64], what: &str) -> ort::Result<(usize, usize, Vec<i64>)> {
    let Some(&width) = shape.last() else {
        return Err(ort::Error::new(format!("{what}: x must have rank ≥ 1")));
    };
    let mut stats = shape.to_vec();
    *stats.last_mut().expect("rank ≥ 1") = 1;
    let width = width as usize;
    let n = shape.iter().product::<i64>() as usize;
    Ok((n.checked_div(width).unwrap_or(0), width, stats))
}

/// A [width] parameter input.
fn vector<'a>(v: &'a ort::value::ValueRef<'a>, width: usize, what: &str) -> ort::Result<&'a [f32]> {
    let data = v.try_extract_tensor::<f32>()?.1;
    if data.len() != width {
        return Err(ort::Error::new(format!("LayerNorm: `{what}` has {} values, rows have {width}", data.len())));
    }
    Ok(data)
}

pub struct LayerNorm;

impl Operator for LayerNorm {
    type Kernel<'attr> = BoxedKernel<'attr>;

    fn name(&self) -> &str {
        cpu_ops::LAYER_NORM
    }

    fn inputs(&self) -> impl IntoIterator<Item = OperatorInput> {
        f32_inputs(3)
    }

    fn outputs(&self) -> impl IntoIterator<Item = OperatorOutput> {
        f32_outputs(3)
    }

    fn create_kernel<'attr>(&self, info: &KernelContext<'attr>) -> ort::Result<Self::Kernel<'attr>> {
        let eps: f32 = info.get("epsilon").ok_or_else(|| missing("attribute `epsilon`"))?;
        Ok(Box::new(move |ctx: &ComputeContext| {
            let x = ctx.input(0)?.ok_or_else(|| missing("x"))?;
            let (scale, bias) =
                (ctx.input(1)?.ok_or_else(|| missing("scale"))?, ctx.input(2)?.ok_or_else(|| missing("bias"))?);
            let shape = x.shape().to_vec();
            let (rows, width, stats) = rows(&shape, "LayerNorm")?;
            let (scale, bias) = (vector(&scale, width, "scale")?, vector(&bias, width, "bias")?);
            let x = x.try_extract_tensor::<f32>()?.1;
            let mut y = ctx.output(0, shape)?.ok_or_else(|| missing("output y"))?;
            let mut mean = ctx.output(1, stats.clone())?.ok_or_else(|| missing("output mean"))?;
            let mut rstd = ctx.output(2, stats)?.ok_or_else(|| missing("output rstd"))?;
            let dst = (
                Shared(y.try_extract_tensor_mut::<f32>()?.1.as_mut_ptr()),
                Shared(mean.try_extract_tensor_mut::<f32>()?.1.as_mut_ptr()),
                Shared(rstd.try_extract_tensor_mut::<f32>()?.1.as_mut_ptr()),
            );
            let inv_n = 1.0 / width as f32;
            for_chunks(ctx, rows, (CHUNK / width.max(1)).max(1), |r| {
                let span = r.start * width..r.end * width;
                // SAFETY: chunks of rows are disjoint ranges of the outputs.
                let (y, mean, rstd) = unsafe { (dst.0.slice(span.clone()), dst.1.slice(r.clone()), dst.2.slice(r)) };
                simd(|| {
                    let rows = y.chunks_exact_mut(width).zip(x[span].chunks_exact(width));
                    for ((y, x), (mean, rstd)) in rows.zip(mean.iter_mut().zip(rstd.iter_mut())) {
                        let mu = lanes(x, 0.0, |a, b| a + b) * inv_n;
                        for (y, &x) in y.iter_mut().zip(x) {
                            *y = x - mu;
                        }
                        let var = dot(y, y) * inv_n;
                        let r = 1.0 / (var + eps).sqrt();
                        for ((y, &s), &b) in y.iter_mut().zip(scale).zip(bias) {
                            *y = *y * r * s + b;
                        }
                        (*mean, *rstd) = (mu, r);
                    }
                })
            })
        }))
    }

    fn infer_shape(&self, ctx: &mut ShapeInferenceContext) -> ort::Result<()> {
        let Some(ValueType::Tensor { ty, shape, dimension_symbols }) = ctx.inputs().into_iter().next() else {
            return Ok(());
        };
        let x = named_unknown_dims(ValueType::Tensor { ty, shape: shape.clone(), dimension_symbols });
        ctx.set_output(0, &x)?;
        let ValueType::Tensor { shape, dimension_symbols, .. } = &x else { return Ok(()) };
        let mut dims: Vec<i64> = shape.to_vec();
        let mut symbols: Vec<String> = dimension_symbols.to_vec();
        if let (Some(d), Some(s)) = (dims.last_mut(), symbols.last_mut()) {
            (*d, *s) = (1, String::new());
        }
        let stats = ValueType::Tensor {
            ty,
            shape: Shape::new(dims),
            dimension_symbols: ort::value::SymbolicDimensions::new(symbols),
        };
        ctx.set_output(1, &stats)?;
        ctx.set_output(2, &stats)
    }
}

/// `LayerNormGrad(dy, x, scale, mean, rstd) → (dx, dscale, dbias)`.
pub const LAYER_NORM_GRAD: F32Op =
    F32Op { name: cpu_ops::LAYER_NORM_GRAD, inputs: 5, outputs: 3, compute: backward, infer: infer_grad };

/// dx like dy; dscale and dbias like scale.
fn infer_grad(ctx: &mut ShapeInferenceContext) -> ort::Result<()> {
    like_first_input(ctx, 1)?;
    if let Some(scale) = ctx.inputs().into_iter().nth(2) {
        ctx.set_output(1, &scale)?;
        ctx.set_output(2, &scale)?;
    }
    Ok(())
}

fn backward(ctx: &ComputeContext) -> ort::Result<()> {
    let input = |i: usize, what: &str| ctx.input(i)?.ok_or_else(|| missing(what));
    let (dy, x, scale, mean, rstd) =
        (input(0, "dy")?, input(1, "x")?, input(2, "scale")?, input(3, "mean")?, input(4, "rstd")?);
    let shape = dy.shape().to_vec();
    if x.shape().as_ref() != shape.as_slice() {
        return Err(ort::Error::new(format!("LayerNormGrad: dy is {shape:?}, x {:?}", x.shape())));
    }
    let (rows, width, _) = rows(&shape, "LayerNormGrad")?;
    let scale = vector(&scale, width, "scale")?;
    let (dy, x) = (dy.try_extract_tensor::<f32>()?.1, x.try_extract_tensor::<f32>()?.1);
    let (mean, rstd) = (mean.try_extract_tensor::<f32>()?.1, rstd.try_extract_tensor::<f32>()?.1);
    if mean.len() != rows || rstd.len() != rows {
        return Err(ort::Error::new(format!("LayerNormGrad: statistics for {} rows, x has {rows}", mean.len())));
    }
    let mut dx = ctx.output(0, shape)?.ok_or_else(|| missing("output dx"))?;
    let dst = Shared(dx.try_extract_tensor_mut::<f32>()?.1.as_mut_ptr());
    // Per chunk of rows: partial dscale and dbias, summed in chunk order afterwards.
    let per_chunk = (CHUNK / width.max(1)).max(1);
    let chunks = rows.div_ceil(per_chunk);
    let mut partial = vec![0.0f32; chunks * 2 * width];
    let parts = Shared(partial.as_mut_ptr());
    let inv_n = 1.0 / width as f32;
    for_chunks(ctx, rows, per_chunk, |r| {
        let k = r.start / per_chunk;
        let span = r.start * width..r.end * width;
        // SAFETY: chunks of rows are disjoint ranges of dx; chunk k owns its partial sums.
        let (dx, part) = unsafe { (dst.slice(span.clone()), parts.slice(k * 2 * width..(k + 1) * 2 * width)) };
        let (dscale, dbias) = part.split_at_mut(width);
        simd(|| {
            let rows = dx.chunks_exact_mut(width).zip(dy[span.clone()].chunks_exact(width));
            for (((dx, dy), x), (&mu, &rs)) in
                rows.zip(x[span].chunks_exact(width)).zip(mean[r.clone()].iter().zip(&rstd[r.clone()]))
            {
                // dx holds x̂ first, then the gradient.
                for (h, &x) in dx.iter_mut().zip(x) {
                    *h = (x - mu) * rs;
                }
                let mut g_sum = [0.0f32; 8];
                let mut gh_sum = [0.0f32; 8];
                for (i, ((&h, &d), &s)) in dx.iter().zip(dy).zip(scale).enumerate() {
                    let g = d * s;
                    g_sum[i % 8] += g;
                    gh_sum[i % 8] += g * h;
                }
                let (g_mean, gh_mean) = (g_sum.iter().sum::<f32>() * inv_n, gh_sum.iter().sum::<f32>() * inv_n);
                for ((((h, &d), &s), ds), db) in
                    dx.iter_mut().zip(dy).zip(scale).zip(dscale.iter_mut()).zip(dbias.iter_mut())
                {
                    *ds += d * *h;
                    *db += d;
                    *h = rs * (d * s - g_mean - *h * gh_mean);
                }
            }
        })
    })?;
    let mut dscale = ctx.output(1, vec![width as i64])?.ok_or_else(|| missing("output dscale"))?;
    let dscale = dscale.try_extract_tensor_mut::<f32>()?.1;
    let mut dbias = ctx.output(2, vec![width as i64])?.ok_or_else(|| missing("output dbias"))?;
    let dbias = dbias.try_extract_tensor_mut::<f32>()?.1;
    dscale.fill(0.0);
    dbias.fill(0.0);
    for part in partial.chunks_exact(2 * width.max(1)) {
        let (s, b) = part.split_at(width);
        dscale.iter_mut().zip(s).for_each(|(o, v)| *o += v);
        dbias.iter_mut().zip(b).for_each(|(o, v)| *o += v);
    }
    Ok(())
}
