//! Per-layer sensitivity: quantize one group of weights at a time (the embeddings; each layer's query/key/value,
//! attention output, FFN in, FFN out), everything else fp32, and measure what that group alone costs: the logit
//! error against fp32 on probe sentences and the F1 change on the labelled set. The guard keeps the groups that
//! cost most in fp32 (mixed precision).
use std::path::Path;

use nerkit_export::builder::{model_bytes, pb};
use nerkit_export::quantize::{quantize_int8, QuantizeOptions};
use serde::Serialize;

use super::accuracy::{score, Labelled, Scored};
use crate::infer::ort_backend::OrtBackend;
use crate::infer::{Backend, BackendOptions, Logits, PaddedBatch};
use crate::labels::LabelSet;
use crate::prepare::encode::Encoder;

/// The weight groups of a BERT encoder with `layers` layers, as `keep_fp32` patterns.
pub fn groups(layers: usize) -> Vec<String> {
    let mut out = vec!["embeddings".to_string()];
    for i in 0..layers {
        for part in ["attention.self", "attention.output", "intermediate", "output"] {
            out.push(format!("layer.{i}.{part}"));
        }
    }
    out
}

/// What quantizing one group alone costs.
#[derive(Clone, Debug, Serialize)]
pub struct GroupCost {
    pub group: String,
    /// Root mean square of the logit difference to fp32 over the probe sentences' real tokens.
    pub logit_rmse: f64,
    /// Entity micro F1 change on the labelled set, points (negative = a loss).
    pub f1_delta: f64,
}

/// Logits of every probe batch.
pub fn probe_logits(backend: &mut dyn Backend, probes: &[PaddedBatch]) -> anyhow::Result<Vec<Logits>> {
    probes.iter().map(|b| Ok(backend.run(b)?)).collect()
}

/// RMS of `a - b` over real positions (mask 1) of the probe batches.
pub fn logit_rmse(a: &[Logits], b: &[Logits], probes: &[PaddedBatch]) -> f64 {
    let (mut sum, mut n) = (0f64, 0usize);
    for ((la, lb), batch) in a.iter().zip(b).zip(probes) {
        for ((i, j), &m) in batch.attention_mask.indexed_iter() {
            if m == 0 {
                continue;
            }
            for k in 0..la.shape()[2] {
                sum += ((la[[i, j, k]] - lb[[i, j, k]]) as f64).powi(2);
                n += 1;
            }
        }
    }
    if n == 0 {
        0.0
    } else {
        (sum / n as f64).sqrt()
    }
}

/// Loads a graph held in memory on ONNX Runtime's CPU provider.
pub fn session(model: &pb::ModelProto, threads: Option<usize>) -> anyhow::Result<OrtBackend> {
    let opts = BackendOptions { threads, ..Default::default() };
    Ok(OrtBackend::from_bytes(&model_bytes(model), Path::new("int8 variant"), &opts)?)
}

/// The cost of each group of `groups` quantized alone with `base`'s activation mode (and ranges), sorted from the
/// most to the least costly by logit error.
#[allow(clippy::too_many_arguments)]
pub fn measure(
    fp32: &pb::ModelProto,
    base: &QuantizeOptions,
    groups: &[String],
    probes: &[PaddedBatch],
    fp32_probe: &[Logits],
    encoder: &Encoder,
    data: &Labelled,
    fp32_scored: &Scored,
    labels: &LabelSet,
    threads: Option<usize>,
) -> anyhow::Result<Vec<GroupCost>> {
    let mut out = Vec::new();
    for g in groups {
        let mut opts = base.clone();
        opts.keep_fp32.extend(groups.iter().filter(|o| *o != g).cloned());
        let (q, _) = quantize_int8(fp32, &opts)?;
        let mut backend = session(&q, threads)?;
        let logits = probe_logits(&mut backend, probes)?;
        let scored = score(&mut backend, encoder, data, labels)?;
        out.push(GroupCost {
            group: g.clone(),
            logit_rmse: logit_rmse(fp32_probe, &logits, probes),
            f1_delta: 100.0 * (scored.f1 - fp32_scored.f1),
        });
    }
    out.sort_by(|a, b| b.logit_rmse.total_cmp(&a.logit_rmse));
    Ok(out)
}
