//! `MaskedSoftmax(scores, mask) → y = softmax(scores + mask)` over the last axis, and `SoftmaxGrad(dy, y) →
//! y · (dy − Σ dy·y)`: the attention's mask `Add` + `Softmax` and the softmax backward (a `Mul`, a
//! `ReduceSum`, a `Sub` and a `Mul` over the whole attention map) as one pass over each row. The mask
//! broadcasts over the leading axes (BERT's is [batch, 1, 1, keys]); its last axis is the scores'. Values
//! match the standard ops to rounding: the exponential is [`super::fast_math::exp`], sums run in row order.
use nerkit_export::train_graph::cpu_ops;
use ort::operator::ComputeContext;

use super::fast_math::{dot, exp, lanes};
use super::op::F32Op;
use super::{for_chunks, like_first_input, missing, simd, Shared, CHUNK};

/// For every row of `shape` (all axes but the last), the offset of its row in a tensor of `mask` shape
/// broadcast to it (right-aligned; each mask axis 1 or equal); the last axes must be equal.
fn mask_row_offsets(shape: &[i64], mask: &[i64]) -> Result<Vec<usize>, String> {
    let bad = || format!("MaskedSoftmax: mask {mask:?} does not broadcast to scores {shape:?}");
    if shape.is_empty() || mask.is_empty() || mask.len() > shape.len() || mask.last() != shape.last() {
        return Err(bad());
    }
    let lead = &shape[..shape.len() - 1];
    // The mask's leading axes, left-padded with 1s to the scores' rank.
    let mut mask_lead = vec![1i64; shape.len() - mask.len()];
    mask_lead.extend_from_slice(&mask[..mask.len() - 1]);
    let width = *shape.last().expect("rank ≥ 1") as usize;
    // Strides of the mask's rows; 0 on broadcast axes.
    let mut strides = vec![0usize; lead.len()];
    let mut stride = width;
    for a in (0..lead.len()).rev() {
        match mask_lead[a] {
            1 => strides[a] = 0,
            d if d == lead[a] => strides[a] = stride,
            _ => return Err(bad()),
        }
        stride *= mask_lead[a] as usize;
    }
    let rows: usize = lead.iter().product::<i64>() as usize;
    let mut offsets = Vec::with_capacity(rows);
    let mut index = vec![0i64; lead.len()];
    for _ in 0..rows {
        offsets.push(index.iter().zip(&strides).map(|(&i, &s)| i as usize * s).sum());
        for a in (0..lead.len()).rev() {
            index[a] += 1;
            if index[a] < lead[a] {
                break;
            }
            index[a] = 0;
        }
    }
    Ok(offsets)
}

/// `MaskedSoftmax(scores, mask) → y`.
pub const MASKED_SOFTMAX: F32Op = F32Op {
    name: cpu_ops::MASKED_SOFTMAX,
    inputs: 2,
    outputs: 1,
    compute: forward,
    infer: |ctx| like_first_input(ctx, 1),
};

/// `SoftmaxGrad(dy, y) → dx`.
pub const SOFTMAX_GRAD: F32Op = F32Op {
    name: cpu_ops::SOFTMAX_GRAD,
    inputs: 2,
    outputs: 1,
    compute: backward,
    infer: |ctx| like_first_input(ctx, 1),
};

fn forward(ctx: &ComputeContext) -> ort::Result<()> {
    let scores = ctx.input(0)?.ok_or_else(|| missing("scores"))?;
    let mask = ctx.input(1)?.ok_or_else(|| missing("mask"))?;
    let shape = scores.shape().to_vec();
    let offsets = mask_row_offsets(&shape, mask.shape()).map_err(ort::Error::new)?;
    let (scores, mask) = (scores.try_extract_tensor::<f32>()?.1, mask.try_extract_tensor::<f32>()?.1);
    let width = *shape.last().expect("rank ≥ 1") as usize;
    let mut y = ctx.output(0, shape)?.ok_or_else(|| missing("output"))?;
    let dst = Shared(y.try_extract_tensor_mut::<f32>()?.1.as_mut_ptr());
    if width == 0 {
        return Ok(());
    }
    for_chunks(ctx, offsets.len(), (CHUNK / width).max(1), |rows| {
        let span = rows.start * width..rows.end * width;
        // SAFETY: chunks of rows are disjoint ranges of the output.
        let y = unsafe { dst.slice(span.clone()) };
        simd(|| {
            for ((y, s), &m) in y.chunks_exact_mut(width).zip(scores[span].chunks_exact(width)).zip(&offsets[rows]) {
                let m = &mask[m..m + width];
                for ((y, &s), &m) in y.iter_mut().zip(s).zip(m) {
                    *y = s + m;
                }
                let max = lanes(y, f32::NEG_INFINITY, |a, b| a.max(b));
                for y in y.iter_mut() {
                    *y = exp(*y - max);
                }
                let sum = lanes(y, 0.0, |a, b| a + b);
                let inv = 1.0 / sum;
                for y in y.iter_mut() {
                    *y *= inv;
                }
            }
        })
    })
}

fn backward(ctx: &ComputeContext) -> ort::Result<()> {
    let dy = ctx.input(0)?.ok_or_else(|| missing("dy"))?;
    let y = ctx.input(1)?.ok_or_else(|| missing("y"))?;
    let shape = dy.shape().to_vec();
    if y.shape().as_ref() != shape.as_slice() || shape.is_empty() {
        return Err(ort::Error::new(format!("SoftmaxGrad: dy is {shape:?}, y {:?}", y.shape())));
    }
    let (dy, y) = (dy.try_extract_tensor::<f32>()?.1, y.try_extract_tensor::<f32>()?.1);
    let width = *shape.last().expect("rank ≥ 1") as usize;
    let mut dx = ctx.output(0, shape)?.ok_or_else(|| missing("output"))?;
    let dst = Shared(dx.try_extract_tensor_mut::<f32>()?.1.as_mut_ptr());
    if width == 0 {
        return Ok(());
    }
    for_chunks(ctx, y.len() / width, (CHUNK / width).max(1), |rows| {
        let span = rows.start * width..rows.end * width;
        // SAFETY: chunks of rows are disjoint ranges of the output.
        let dx = unsafe { dst.slice(span.clone()) };
        simd(|| {
            let rows = dx.chunks_exact_mut(width).zip(dy[span.clone()].chunks_exact(width));
            for ((dx, dy), y) in rows.zip(y[span].chunks_exact(width)) {
                let dot = dot(dy, y);
                for ((dx, &dy), &y) in dx.iter_mut().zip(dy).zip(y) {
                    *dx = y * (dy - dot);
                }
            }
        })
    })
}

#[cfg(test)]
mod tests {
    use super::mask_row_offsets;

    #[test]
    fn mask_rows_broadcast_over_leading_axes() {
        // BERT: scores [2, 3, 2, 4], mask [2, 1, 1, 4]: rows of batch b read mask row b.
        let offsets = mask_row_offsets(&[2, 3, 2, 4], &[2, 1, 1, 4]).unwrap();
        assert_eq!(offsets.len(), 12);
        assert!(offsets[..6].iter().all(|&o| o == 0) && offsets[6..].iter().all(|&o| o == 4));
        // Same shape: every row its own.
        assert_eq!(mask_row_offsets(&[2, 3], &[2, 3]).unwrap(), vec![0, 3]);
        // Lower rank: right-aligned.
        assert_eq!(mask_row_offsets(&[2, 2, 3], &[2, 3]).unwrap(), vec![0, 3, 0, 3]);
        assert!(mask_row_offsets(&[2, 3, 4], &[3, 5]).is_err());
        assert!(mask_row_offsets(&[2, 3, 4], &[2, 1, 4]).is_ok());
        assert!(mask_row_offsets(&[2, 3, 4], &[4, 1, 4]).is_err());
    }
}
