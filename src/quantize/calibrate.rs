//! Static int8 calibration on ONNX Runtime: the fp32 graph, given the activations to observe as extra outputs
//! (`nerkit_export::calibrate::observing_model`), runs over calibration sentences twice — min/max, then a
//! histogram of |x| — counting real tokens only (padding rows are left out), and each method turns the
//! statistics into ranges.
use std::collections::BTreeMap;
use std::path::Path;

use ndarray::{ArrayD, Axis};
use nerkit_export::builder::{model_bytes, pb};
use nerkit_export::calibrate::{observing_model, ActivationStats, CalibrationMethod};
use nerkit_export::quantize::QuantizeOptions;

use crate::infer::ort_backend::OrtBackend;
use crate::infer::{BackendOptions, PaddedBatch};
use crate::prepare::batch::batches_by_length;
use crate::prepare::encode::Encoder;

/// What calibration saw, per activation value name.
pub type Statistics = BTreeMap<String, ActivationStats>;

/// Sub-word windows of `sentences` as padded batches of up to `batch_size`, similar lengths together.
pub fn batches(encoder: &Encoder, sentences: &[Vec<String>], batch_size: usize) -> anyhow::Result<Vec<PaddedBatch>> {
    let mut seqs = Vec::new();
    for (i, words) in sentences.iter().enumerate() {
        seqs.extend(encoder.encode_unlabelled(i, words)?.into_iter().map(|e| e.input_ids));
    }
    let lengths: Vec<usize> = seqs.iter().map(Vec::len).collect();
    let pad = i64::from(encoder.pad_id());
    Ok(batches_by_length(&lengths, batch_size, 0)
        .into_iter()
        .map(|idx| PaddedBatch::from_sequences(&idx.iter().map(|&i| seqs[i].clone()).collect::<Vec<_>>(), pad))
        .collect())
}

/// The values of an observed [batch, sequence, ...] activation at real (mask 1) positions.
fn real_values(value: &ArrayD<f32>, mask: &ndarray::Array2<i64>) -> Vec<f32> {
    if value.ndim() < 2 || value.shape()[..2] != *mask.shape() {
        return value.iter().copied().collect();
    }
    let mut out = Vec::with_capacity(value.len());
    for (rows, m) in value.axis_iter(Axis(0)).zip(mask.outer_iter()) {
        for (row, &k) in rows.axis_iter(Axis(0)).zip(m) {
            if k == 1 {
                out.extend(row.iter().copied());
            }
        }
    }
    out
}

/// Runs the fp32 `model` over `batches` and collects the statistics of every activation that `opts` quantizes.
pub fn collect(
    model: &pb::ModelProto,
    opts: &QuantizeOptions,
    batches: &[PaddedBatch],
    threads: Option<usize>,
) -> anyhow::Result<Statistics> {
    anyhow::ensure!(!batches.is_empty(), "calibration needs at least one sentence");
    let (observing, names) = observing_model(model, opts)?;
    let backend_opts = BackendOptions { threads, ..Default::default() };
    let mut session = OrtBackend::from_bytes(&model_bytes(&observing), Path::new("calibration graph"), &backend_opts)?;
    let mut stats: Statistics = names.iter().map(|n| (n.clone(), ActivationStats::default())).collect();
    for pass in 0..2 {
        for batch in batches {
            for (name, value) in session.run_outputs(batch)? {
                let Some(s) = stats.get_mut(&name) else { continue };
                let values = real_values(&value, &batch.attention_mask);
                if pass == 0 {
                    s.observe_range(values);
                } else {
                    s.observe_histogram(values);
                }
            }
        }
    }
    Ok(stats)
}

/// The range `method` picks for every activation.
pub fn ranges(stats: &Statistics, method: CalibrationMethod) -> BTreeMap<String, (f32, f32)> {
    stats.iter().map(|(k, s)| (k.clone(), s.range(method))).collect()
}
