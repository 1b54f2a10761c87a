//! nerkit's CPU kernels for its ONNX training graph, registered as ONNX Runtime custom ops of the [`DOMAIN`]
//! domain on the training session ([`domain`]). The graph side (which nodes they replace, their inputs and
//! outputs) is `nerkit_export::train_graph::cpu_ops`. The dropout and AdamW kernels compute the same float
//! operations in the same order as the standard nodes they replace, so with them alone (`cpu_kernels =
//! "exact"`) training gives bitwise the standard graph's results; the softmax, GELU and LayerNorm kernels
//! match the standard ops to rounding (nerkit's `tests/cpu_kernels.rs`). Work is split over ONNX Runtime's
//! own intra-op thread pool ([`ComputeContext::par_for`]) in fixed chunks, so a session's `threads` setting
//! covers these kernels too and results do not depend on it.
mod adamw;
mod fast_math;
mod gelu;
mod layer_norm;
mod op;
mod seeded_dropout;
mod softmax;

use std::sync::atomic::{AtomicUsize, Ordering};

pub use nerkit_export::train_graph::cpu_ops::DOMAIN;
use ort::operator::{ComputeContext, OperatorDomain, ShapeInferenceContext};
use ort::value::{SymbolicDimensions, ValueType};

/// The operator domain with every nerkit kernel, for `SessionBuilder::with_operators`.
pub fn domain() -> ort::Result<OperatorDomain> {
    OperatorDomain::new(DOMAIN)?
        .add(seeded_dropout::SeededDropout)?
        .add(gelu::ERF_GELU)?
        .add(gelu::ERF_GELU_GRAD)?
        .add(softmax::MASKED_SOFTMAX)?
        .add(softmax::SOFTMAX_GRAD)?
        .add(layer_norm::LayerNorm)?
        .add(layer_norm::LAYER_NORM_GRAD)?
        .add(adamw::ADAMW)?
        .add(adamw::AdamWRows)
}

/// Elements per parallel work item: large enough that scheduling is negligible, small enough to spread a
/// 1 M-element tensor over the threads.
const CHUNK: usize = 1 << 15;

/// A raw pointer that may cross to ONNX Runtime's worker threads; every user writes disjoint ranges.
#[derive(Clone, Copy)]
struct Shared<T>(*mut T);
unsafe impl<T> Send for Shared<T> {}
unsafe impl<T> Sync for Shared<T> {}

impl<T> Shared<T> {
    /// # Safety
    /// `range` lies inside the buffer, and no other thread touches it while the slice lives.
    unsafe fn slice<'a>(self, range: std::ops::Range<usize>) -> &'a mut [T] {
        std::slice::from_raw_parts_mut(self.0.add(range.start), range.len())
    }
}

/// Runs `f` over `0..len` in chunks of about `chunk` on ONNX Runtime's thread pool.
fn for_chunks(
    ctx: &ComputeContext,
    len: usize,
    chunk: usize,
    f: impl Fn(std::ops::Range<usize>) + Sync + Send,
) -> ort::Result<()> {
    let chunk = chunk.max(1);
    let items = len.div_ceil(chunk);
    if items <= 1 {
        f(0..len);
        return Ok(());
    }
    ctx.par_for(items, items, move |i| f(i * chunk..((i + 1) * chunk).min(len)))
}

/// `ty` with every dimension that has neither a value nor a name given a name of its own, never reused (so no
/// two unknown dimensions are taken as equal). ONNX Runtime reads an unnamed -1 from a custom op's shape
/// inference as the value -1, which breaks shape arithmetic downstream.
fn named_unknown_dims(ty: ValueType) -> ValueType {
    static NEXT: AtomicUsize = AtomicUsize::new(0);
    match ty {
        ValueType::Tensor { ty, shape, dimension_symbols } => {
            let mut symbols: Vec<String> = dimension_symbols.to_vec();
            symbols.resize(shape.len(), String::new());
            for (d, s) in shape.iter().zip(symbols.iter_mut()) {
                if *d < 0 && s.is_empty() {
                    *s = format!("nerkit_dim_{}", NEXT.fetch_add(1, Ordering::Relaxed));
                }
            }
            ValueType::Tensor { ty, shape, dimension_symbols: SymbolicDimensions::new(symbols) }
        }
        other => other,
    }
}

/// Shape inference for a kernel whose outputs `0..outputs` are shaped like input 0.
fn like_first_input(ctx: &mut ShapeInferenceContext, outputs: usize) -> ort::Result<()> {
    if let Some(x) = ctx.inputs().into_iter().next() {
        let x = named_unknown_dims(x);
        for i in 0..outputs {
            ctx.set_output(i, &x)?;
        }
    }
    Ok(())
}

/// Runs `f` compiled for AVX2 when the CPU has it (the loops inlined into it then vectorise 8 lanes wide
/// instead of SSE2's 4), else as it is. The same operations either way (no contraction into FMAs), so results
/// do not depend on the CPU.
#[inline(always)]
fn simd<R>(f: impl FnOnce() -> R) -> R {
    #[cfg(target_arch = "x86_64")]
    if std::is_x86_feature_detected!("avx2") {
        #[target_feature(enable = "avx2")]
        unsafe fn avx2<R>(f: impl FnOnce() -> R) -> R {
            f()
        }
        // SAFETY: the CPU has AVX2 (checked above).
        return unsafe { avx2(f) };
    }
    f()
}

fn missing(what: &str) -> ort::Error {
    ort::Error::new(format!("nerkit kernel: missing {what}"))
}

/// A scalar f32 input.
fn scalar(ctx: &ComputeContext, i: usize, what: &str) -> ort::Result<f32> {
    let v = ctx.input(i)?.ok_or_else(|| missing(what))?;
    let (_, data) = v.try_extract_tensor::<f32>()?;
    data.first().copied().ok_or_else(|| ort::Error::new(format!("nerkit kernel: `{what}` is empty")))
}
