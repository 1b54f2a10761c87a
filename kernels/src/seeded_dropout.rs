//! `SeededDropout(x, seed) → x · mask` (attributes `rate`, `site`): a dropout site with its mask computed on
//! the fly from `nerkit_export::train_graph::dropout::MaskKeys` — the values of the standard graph's mask
//! nodes (`dropout::scaled_mask`) and its `Mul`, in one pass: the 2M-entry table, then
//! `x · table[row hash + column hash]` per element. The backward pass is this kernel on the output gradient.
use std::sync::{Arc, Mutex};

use nerkit_export::train_graph::dropout::MaskKeys;
use ort::operator::{
    BoxedKernel, ComputeContext, KernelContext, Operator, OperatorInput, OperatorOutput, ShapeInferenceContext,
};
use ort::value::TensorElementType;

use super::{for_chunks, like_first_input, missing, simd, Shared, CHUNK};

pub struct SeededDropout;

impl Operator for SeededDropout {
    type Kernel<'attr> = BoxedKernel<'attr>;

    fn name(&self) -> &str {
        nerkit_export::train_graph::cpu_ops::SEEDED_DROPOUT
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
            return Err(ort::Error::new(format!("SeededDropout: rate {rate} outside [0, 1)")));
        }
        let site = u32::try_from(site).map_err(|_| ort::Error::new(format!("SeededDropout: site {site} not a u32")))?;
        Ok(Box::new(move |ctx: &ComputeContext| compute(ctx, rate, site)))
    }

    /// Shaped like `x`, so that ONNX Runtime's optimizer knows the shapes downstream as it does after the
    /// standard nodes (and fuses the same nodes: the results stay bitwise those of the standard graph).
    fn infer_shape(&self, ctx: &mut ShapeInferenceContext) -> ort::Result<()> {
        like_first_input(ctx, 1)
    }
}

/// The mask tables computed last, by (seed, site, rate bits): a site's backward node (the same kernel on the
/// output gradient) finds the table its forward node made in the same step. The 64 newest are kept
/// (512 KiB each; a BERT-base step has 2 per layer + 2 sites).
static TABLES: Mutex<Vec<(TableKey, Arc<[f32]>)>> = Mutex::new(Vec::new());
/// (seed, site, rate bits).
type TableKey = (i64, u32, u32);
const TABLES_KEPT: usize = 64;

/// The table of (seed, site, rate): from [`TABLES`], or computed on ONNX Runtime's threads and kept.
fn table(ctx: &ComputeContext, keys: &MaskKeys, key: TableKey) -> ort::Result<Arc<[f32]>> {
    let cached = |tables: &Vec<(TableKey, Arc<[f32]>)>| tables.iter().find(|(k, _)| *k == key).map(|(_, t)| t.clone());
    if let Some(t) = cached(&TABLES.lock().unwrap_or_else(|e| e.into_inner())) {
        return Ok(t);
    }
    let mut table = vec![0.0f32; 2 * nerkit_export::train_graph::dropout::TABLE_HALF as usize];
    let entries = Shared(table.as_mut_ptr());
    for_chunks(ctx, table.len(), CHUNK / 4, |range| {
        // SAFETY: disjoint ranges of the table.
        let part = unsafe { entries.slice(range.clone()) };
        for (v, t) in part.iter_mut().zip(range) {
            *v = keys.table_entry(t as i64);
        }
    })?;
    let table: Arc<[f32]> = table.into();
    let mut tables = TABLES.lock().unwrap_or_else(|e| e.into_inner());
    if tables.len() >= TABLES_KEPT {
        tables.remove(0);
    }
    tables.push((key, table.clone()));
    Ok(table)
}

fn compute(ctx: &ComputeContext, rate: f32, site: u32) -> ort::Result<()> {
    let x = ctx.input(0)?.ok_or_else(|| missing("x"))?;
    let seed = ctx.input(1)?.ok_or_else(|| missing("seed"))?;
    let shape = x.shape().to_vec();
    let seed = *seed.try_extract_tensor::<i64>()?.1.first().ok_or_else(|| missing("seed value"))?;
    let x = x.try_extract_tensor::<f32>()?.1;
    let Some(&width) = shape.last() else {
        return Err(ort::Error::new("SeededDropout: x must have rank ≥ 1"));
    };
    let width = width as usize;
    let mut out = ctx.output(0, shape)?.ok_or_else(|| missing("output"))?;
    let out = out.try_extract_tensor_mut::<f32>()?.1;
    if x.is_empty() {
        return Ok(());
    }
    let keys = MaskKeys::new(seed, site, rate);
    let table = table(ctx, &keys, (seed, site, rate.to_bits()))?;
    let table: &[f32] = &table;
    let cols: Vec<usize> = (0..width as i64).map(|j| keys.col(j)).collect();
    let dst = Shared(out.as_mut_ptr());
    for_chunks(ctx, x.len() / width, (CHUNK / width).max(1), |rows| {
        let span = rows.start * width..rows.end * width;
        // SAFETY: chunks of rows are disjoint ranges of the output.
        let out = unsafe { dst.slice(span.clone()) };
        simd(|| {
            for ((out, x), i) in out.chunks_exact_mut(width).zip(x[span].chunks_exact(width)).zip(rows) {
                let t = &table[keys.row(i as i64)..];
                for ((o, &x), &c) in out.iter_mut().zip(x).zip(&cols) {
                    *o = x * t[c];
                }
            }
        })
    })
}
