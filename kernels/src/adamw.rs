//! `AdamW` and `AdamWRows`: one parameter's AdamW update in one pass, the values of
//! `nerkit_export::train_graph::adamw::update` / `update_rows` operation for operation:
//! ```text
//! m' = m·β₁ + g·sm          v' = v·β₂ + (g·g)·sv          p' = p·d − (m' / (√v' + ε')) · step
//! ```
//! (sm, sv: the moment scales with the clipping coefficient folded in; d: the decay factor, 1 without decay.)
//! `AdamWRows` takes the gradient as distinct rows and their values; untouched rows get `m·β₁`, `v·β₂`, as the
//! standard graph's scatter leaves them.
use nerkit_export::train_graph::cpu_ops;
use ort::operator::{
    BoxedKernel, ComputeContext, KernelContext, Operator, OperatorInput, OperatorOutput, ShapeInferenceContext,
};
use ort::value::{TensorElementType, ValueRefMut};

use super::op::{f32_inputs, f32_outputs, F32Op};
use super::{for_chunks, like_first_input, missing, scalar, simd, Shared, CHUNK};

/// The seven scalar inputs after the tensors.
#[derive(Clone, Copy)]
struct Scalars {
    beta1: f32,
    beta2: f32,
    scale_m: f32,
    scale_v: f32,
    eps: f32,
    step: f32,
    decay: f32,
}

impl Scalars {
    fn read(ctx: &ComputeContext, first: usize) -> ort::Result<Self> {
        let s = |i: usize, what: &str| scalar(ctx, first + i, what);
        Ok(Scalars {
            beta1: s(0, "beta1")?,
            beta2: s(1, "beta2")?,
            scale_m: s(2, "gradient scale of m")?,
            scale_v: s(3, "gradient scale of v")?,
            eps: s(4, "epsilon")?,
            step: s(5, "step size")?,
            decay: s(6, "decay factor")?,
        })
    }

    #[inline(always)]
    fn param(&self, p: f32, m: f32, v: f32) -> f32 {
        p * self.decay - (m / (v.sqrt() + self.eps)) * self.step
    }

    /// One element's update from its gradient: (p', m', v').
    #[inline(always)]
    fn update(&self, p: f32, g: f32, m: f32, v: f32) -> (f32, f32, f32) {
        let m_new = m * self.beta1 + g * self.scale_m;
        let v_new = v * self.beta2 + (g * g) * self.scale_v;
        (self.param(p, m_new, v_new), m_new, v_new)
    }
}

/// `AdamW(p, grad, m, v, 7 scalars) → (p', m', v')`.
pub const ADAMW: F32Op =
    F32Op { name: cpu_ops::ADAMW, inputs: 4 + 7, outputs: 3, compute: dense, infer: |ctx| like_first_input(ctx, 3) };

/// Reads input `i` as f32 and checks its shape against `shape`.
fn same_shape<'a>(
    ctx: &'a ComputeContext,
    i: usize,
    what: &str,
    shape: &[i64],
) -> ort::Result<ort::value::ValueRef<'a>> {
    let v = ctx.input(i)?.ok_or_else(|| missing(what))?;
    if v.shape().as_ref() != shape {
        return Err(ort::Error::new(format!("AdamW: `{what}` is {:?}, the parameter {shape:?}", v.shape())));
    }
    Ok(v)
}

/// Allocates the three outputs (p', m', v') shaped like the parameter: the values (to keep alive while they
/// are written) and where to write them.
fn outputs<'a>(ctx: &'a ComputeContext, shape: &[i64]) -> ort::Result<(Vec<ValueRefMut<'a>>, [Shared<f32>; 3])> {
    let mut values = ["output p", "output m", "output v"]
        .into_iter()
        .enumerate()
        .map(|(i, what)| ctx.output(i, shape.to_vec())?.ok_or_else(|| missing(what)))
        .collect::<ort::Result<Vec<_>>>()?;
    let mut at = |i: usize| -> ort::Result<Shared<f32>> {
        Ok(Shared(values[i].try_extract_tensor_mut::<f32>()?.1.as_mut_ptr()))
    };
    let dst = [at(0)?, at(1)?, at(2)?];
    Ok((values, dst))
}

fn dense(ctx: &ComputeContext) -> ort::Result<()> {
    let p = ctx.input(0)?.ok_or_else(|| missing("parameter"))?;
    let shape = p.shape().to_vec();
    let (g, m, v) =
        (same_shape(ctx, 1, "gradient", &shape)?, same_shape(ctx, 2, "m", &shape)?, same_shape(ctx, 3, "v", &shape)?);
    let s = Scalars::read(ctx, 4)?;
    let (p, g, m, v) = (
        p.try_extract_tensor::<f32>()?.1,
        g.try_extract_tensor::<f32>()?.1,
        m.try_extract_tensor::<f32>()?.1,
        v.try_extract_tensor::<f32>()?.1,
    );
    let (_values, dst) = outputs(ctx, &shape)?;
    for_chunks(ctx, p.len(), CHUNK, |r| {
        // SAFETY: chunks are disjoint ranges of the three outputs, each as long as `p`.
        let [po, mo, vo] = dst.map(|d| unsafe { d.slice(r.clone()) });
        let (p, g, m, v) = (&p[r.clone()], &g[r.clone()], &m[r.clone()], &v[r]);
        simd(|| {
            for i in 0..po.len() {
                (po[i], mo[i], vo[i]) = s.update(p[i], g[i], m[i], v[i]);
            }
        })
    })
}

pub struct AdamWRows;

impl Operator for AdamWRows {
    type Kernel<'attr> = BoxedKernel<'attr>;

    fn name(&self) -> &str {
        cpu_ops::ADAMW_ROWS
    }

    fn inputs(&self) -> impl IntoIterator<Item = OperatorInput> {
        let table_and_rows =
            [OperatorInput::required(TensorElementType::Float32), OperatorInput::required(TensorElementType::Int64)];
        table_and_rows.into_iter().chain(f32_inputs(3 + 7))
    }

    fn outputs(&self) -> impl IntoIterator<Item = OperatorOutput> {
        f32_outputs(3)
    }

    fn create_kernel<'attr>(&self, _: &KernelContext<'attr>) -> ort::Result<Self::Kernel<'attr>> {
        Ok(Box::new(rows))
    }

    fn infer_shape(&self, ctx: &mut ShapeInferenceContext) -> ort::Result<()> {
        like_first_input(ctx, 3)
    }
}

fn rows(ctx: &ComputeContext) -> ort::Result<()> {
    let p = ctx.input(0)?.ok_or_else(|| missing("parameter"))?;
    let shape = p.shape().to_vec();
    if shape.len() != 2 {
        return Err(ort::Error::new(format!("AdamWRows: the parameter must be a table (rank 2), got {shape:?}")));
    }
    let (height, width) = (shape[0] as usize, shape[1] as usize);
    let ids = ctx.input(1)?.ok_or_else(|| missing("rows"))?;
    let values = ctx.input(2)?.ok_or_else(|| missing("row values"))?;
    let (m, v) = (same_shape(ctx, 3, "m", &shape)?, same_shape(ctx, 4, "v", &shape)?);
    let s = Scalars::read(ctx, 5)?;
    let ids = ids.try_extract_tensor::<i64>()?.1;
    let (value_shape, values) = values.try_extract_tensor::<f32>()?;
    if value_shape.as_ref() != [ids.len() as i64, width as i64] {
        return Err(ort::Error::new(format!(
            "AdamWRows: row values are {value_shape:?}, expected [{}, {width}]",
            ids.len()
        )));
    }
    // Which gradient row (if any) each table row has; rows must be distinct and inside the table.
    let mut slot = vec![u32::MAX; height];
    for (k, &id) in ids.iter().enumerate() {
        let Some(entry) = usize::try_from(id).ok().and_then(|i| slot.get_mut(i)) else {
            return Err(ort::Error::new(format!("AdamWRows: row {id} outside the table of {height} rows")));
        };
        if *entry != u32::MAX {
            return Err(ort::Error::new(format!("AdamWRows: row {id} given twice")));
        }
        *entry = k as u32;
    }
    let (p, m, v) =
        (p.try_extract_tensor::<f32>()?.1, m.try_extract_tensor::<f32>()?.1, v.try_extract_tensor::<f32>()?.1);
    let (_values, dst) = outputs(ctx, &shape)?;
    let rows_per_chunk = (CHUNK / width.max(1)).max(1);
    for_chunks(ctx, height, rows_per_chunk, |rows| {
        let r = rows.start * width..rows.end * width;
        // SAFETY: chunks of rows are disjoint ranges of the three outputs, each as long as `p`.
        let [po, mo, vo] = dst.map(|d| unsafe { d.slice(r.clone()) });
        let (p, m, v) = (&p[r.clone()], &m[r.clone()], &v[r]);
        for (local, row) in rows.enumerate() {
            let span = local * width..(local + 1) * width;
            let (po, mo, vo) = (&mut po[span.clone()], &mut mo[span.clone()], &mut vo[span.clone()]);
            let (p, m, v) = (&p[span.clone()], &m[span.clone()], &v[span]);
            match slot[row] {
                u32::MAX => {
                    for i in 0..width {
                        let (m_new, v_new) = (m[i] * s.beta1, v[i] * s.beta2);
                        mo[i] = m_new;
                        vo[i] = v_new;
                        po[i] = s.param(p[i], m_new, v_new);
                    }
                }
                k => {
                    let g = &values[k as usize * width..(k as usize + 1) * width];
                    for i in 0..width {
                        (po[i], mo[i], vo[i]) = s.update(p[i], g[i], m[i], v[i]);
                    }
                }
            }
        }
    })
}
