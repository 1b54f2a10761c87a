//! `DropoutMask(x, seed) → mask` (attributes `rate`, `site`): a dropout site's scaled mask, shaped like `x`,
//! from `nerkit_export::train_graph::dropout::MaskStream` — the values of the standard graph's ~40 mask nodes
//! (`dropout::scaled_mask`) in one pass: the 2M-entry table, then `table[row hash + column hash]` per element.
use nerkit_export::train_graph::dropout::MaskStream;
use ort::operator::{
    BoxedKernel, ComputeContext, KernelContext, Operator, OperatorInput, OperatorOutput, ShapeInferenceContext,
};
use ort::value::TensorElementType;

use super::{for_chunks, like_first_input, missing, Shared, CHUNK};

pub struct DropoutMask;

impl Operator for DropoutMask {
    type Kernel<'attr> = BoxedKernel<'attr>;

    fn name(&self) -> &str {
        nerkit_export::train_graph::cpu_ops::DROPOUT_MASK
    }

    fn inputs(&self) -> impl IntoIterator<Item = OperatorInput> {
        [OperatorInput::required(TensorElementType::Float32), OperatorInput::required(TensorElementType::Int64)]
    }

    fn outputs(&self) -> impl IntoIterator<Item = OperatorOutput> {
        [OperatorOutput::required(TensorElementType::Float32)]
    }

    fn create_kernel<'attr>(&self, info: &KernelContext<'attr>) -> ort::Result<Self::Kernel<'attr>> {
        let rate: f32 = info.get("rate").ok_or_else(|| missing("attribute `rate`"))?;
        let site: i64 = info.get("site").ok_or_else(|| missing("attribute `site`"))?;
        if !(0.0..1.0).contains(&rate) {
            return Err(ort::Error::new(format!("DropoutMask: rate {rate} outside [0, 1)")));
        }
        let site = u32::try_from(site).map_err(|_| ort::Error::new(format!("DropoutMask: site {site} not a u32")))?;
        Ok(Box::new(move |ctx: &ComputeContext| compute(ctx, rate, site)))
    }

    /// Shaped like `x`, so that ONNX Runtime's optimizer knows the shapes downstream as it does after the
    /// standard nodes (and fuses the same nodes: the results stay bitwise those of the standard graph).
    fn infer_shape(&self, ctx: &mut ShapeInferenceContext) -> ort::Result<()> {
        like_first_input(ctx, 1)
    }
}

fn compute(ctx: &ComputeContext, rate: f32, site: u32) -> ort::Result<()> {
    let x = ctx.input(0)?.ok_or_else(|| missing("x"))?;
    let seed = ctx.input(1)?.ok_or_else(|| missing("seed"))?;
    let shape = x.shape().to_vec();
    let seed = *seed.try_extract_tensor::<i64>()?.1.first().ok_or_else(|| missing("seed value"))?;
    let (Some(&width), true) = (shape.last(), !shape.is_empty()) else {
        return Err(ort::Error::new("DropoutMask: x must have rank ≥ 1"));
    };
    let (width, numel) = (width as usize, shape.iter().product::<i64>() as usize);
    let mut out = ctx.output(0, shape)?.ok_or_else(|| missing("output"))?;
    let out = out.try_extract_tensor_mut::<f32>()?.1;
    if numel == 0 {
        return Ok(());
    }
    let stream = MaskStream::new(seed, site, rate);
    let (table, rows) = (stream.table(), numel / width);
    let cols: Vec<usize> = (0..width as i64).map(|j| stream.col(j)).collect();
    let dst = Shared(out.as_mut_ptr());
    for_chunks(ctx, rows, (CHUNK / width).max(1), |range| {
        // SAFETY: chunks of rows are disjoint ranges of the output.
        let out = unsafe { dst.slice(range.start * width..range.end * width) };
        for (row, i) in out.chunks_exact_mut(width).zip(range) {
            let t = &table[stream.row(i as i64)..];
            for (o, &c) in row.iter_mut().zip(&cols) {
                *o = t[c];
            }
        }
    })
}
