//! The accuracy guard of `nerkit export --int8 --data`: it builds the int8 variants from the fastest to the
//! safest, scores each against fp32 on the same labelled sentences (paired bootstrap), and picks the first whose
//! F1 drop is within the bound. Every variant's numbers are kept for `export.json`.
use nerkit_export::builder::{model_bytes, pb};
use nerkit_export::calibrate::CalibrationMethod;
use nerkit_export::quantize::{quantize_int8, ActivationScale, QuantizeOptions, QuantizeReport};
use serde::Serialize;

use super::accuracy::{paired_delta, score, Labelled, PairedDelta};
use super::calibrate::{batches, collect, ranges};
use super::sensitivity::{self, groups, logit_rmse, probe_logits, session, GroupCost};
use crate::labels::LabelSet;
use crate::prepare::encode::Encoder;
use crate::timing::{time_engines, Engine, TokenSpace};

/// Settings of the guard.
#[derive(Clone, Debug)]
pub struct GuardOptions {
    /// Largest accepted paired micro F1 drop, in points.
    pub max_f1_drop: f64,
    /// Largest accepted paired F1 drop of any one entity type (AC, LF), in points: long-form boundaries are
    /// where int8 noise lands first, and a micro bound alone lets an LF loss hide behind the more numerous ACs.
    pub max_type_drop: f64,
    pub method: CalibrationMethod,
    /// Groups kept fp32 by the mixed-precision variants (the most sensitive ones).
    pub keep_sensitive: usize,
    /// Groups the hybrid variant quantizes per row (the most sensitive ones), the rest static.
    pub hybrid_groups: usize,
    /// Probe sentences (from the calibration set) for logit errors.
    pub probe_sentences: usize,
    /// Speed is timed on synthetic batches of this (batch, sequence) shape, in interleaved rounds.
    pub speed_shape: (usize, usize),
    pub speed_rounds: usize,
    pub threads: Option<usize>,
}

impl Default for GuardOptions {
    fn default() -> Self {
        GuardOptions {
            max_f1_drop: 0.5,
            max_type_drop: 1.0,
            // clipping (percentile, entropy) cut BERT's outlier channels: 2.4-2.6x the logit error of min-max on
            // MiniLM (tests/int8_guard.rs)
            method: CalibrationMethod::MinMax,
            keep_sensitive: 2,
            hybrid_groups: 6,
            probe_sentences: 64,
            speed_shape: (8, 128),
            speed_rounds: 12,
            threads: None,
        }
    }
}

/// One int8 variant as judged.
#[derive(Clone, Debug, Serialize)]
pub struct VariantReport {
    pub name: String,
    /// `static` (calibrated), `per-row` (per-token at run time) or `hybrid` (static, the `per_row` groups per row).
    pub activations: String,
    /// Weight groups quantized per row in the hybrid.
    pub per_row: Vec<String>,
    /// Weight patterns left fp32 (the user's plus the sensitive groups).
    pub kept_fp32: Vec<String>,
    pub f1: f64,
    pub per_type: std::collections::BTreeMap<String, f64>,
    /// Paired difference to fp32, points.
    pub delta: PairedDelta,
    pub logit_rmse: f64,
    /// One tagging pass over the labelled set (tokenisation, inference, Viterbi); noisy on a shared machine.
    pub sentences_per_s: f64,
    /// Median latency of one batch of `speed_shape`, ms, timed interleaved with fp32 and the other variants.
    pub p50_ms: f64,
    /// fp32's p50 over this variant's (> 1: faster than fp32).
    pub speedup: f64,
    pub bytes: usize,
    pub within_bound: bool,
    /// Why it is over the bound (`None` when within).
    pub over_bound: Option<String>,
}

/// Everything the guard measured; `nerkit export` writes it to `export.json`.
#[derive(Clone, Debug, Serialize)]
pub struct GuardReport {
    pub data: String,
    pub sentences: usize,
    pub calibration_sentences: usize,
    pub calibration_method: String,
    pub max_f1_drop: f64,
    pub max_type_drop: f64,
    pub fp32_f1: f64,
    pub fp32_per_type: std::collections::BTreeMap<String, f64>,
    pub fp32_sentences_per_s: f64,
    /// (batch, sequence) of the speed timing and fp32's p50 there, ms.
    pub speed_shape: (usize, usize),
    pub fp32_p50_ms: f64,
    /// Costs of quantizing one group alone (static activations), most costly first.
    pub sensitivity: Vec<GroupCost>,
    /// In the order tried: fastest first.
    pub variants: Vec<VariantReport>,
    /// The variant written as `model.int8.onnx`; `None` when none is within the bound.
    pub chosen: Option<String>,
    pub reason: String,
}

/// Whether `delta` is within the bounds of `opts`; the reason when not.
pub fn check_bound(delta: &PairedDelta, opts: &GuardOptions) -> Result<(), String> {
    if delta.micro < -opts.max_f1_drop {
        return Err(format!("micro F1 {:+.2} < -{}", delta.micro, opts.max_f1_drop));
    }
    match delta.per_type.iter().find(|(_, d)| d.0 < -opts.max_type_drop) {
        Some((kind, d)) => Err(format!("{kind} F1 {:+.2} < -{}", d.0, opts.max_type_drop)),
        None => Ok(()),
    }
}

/// The variants, fastest first (as measured on MiniLM, 8 × 128, 2 cores): static activations (one fused kernel
/// per MatMul, no run-time range search); the hybrid, static but the `hybrid` most sensitive groups per token;
/// static with the `sensitive` groups in fp32; then per-token activations, alone and with those groups in fp32.
fn variants(base: &QuantizeOptions, sensitive: &[String], hybrid: &[String]) -> Vec<(String, QuantizeOptions)> {
    let with = |activations: ActivationScale, fp32: &[String], per_row: &[String]| {
        let mut o = base.clone();
        o.activations = activations;
        o.keep_fp32.extend(fp32.iter().cloned());
        o.per_row = per_row.to_vec();
        o
    };
    let options = [
        with(ActivationScale::Static, &[], &[]),
        with(ActivationScale::Static, &[], hybrid),
        with(ActivationScale::Static, sensitive, &[]),
        with(ActivationScale::PerRow, &[], &[]),
        with(ActivationScale::PerRow, sensitive, &[]),
    ];
    VARIANTS.iter().map(|n| n.to_string()).zip(options).collect()
}

/// The variants [`run`] tries, in order.
pub const VARIANTS: [&str; 5] = ["static", "hybrid", "static-mixed", "per-row", "per-row-mixed"];

/// What a variant's activations are, for the report.
fn activations_name(o: &QuantizeOptions) -> &'static str {
    match o.activations {
        ActivationScale::Static if !o.per_row.is_empty() => "hybrid",
        ActivationScale::Static => "static",
        ActivationScale::PerRow => "per-row",
        ActivationScale::PerTensor => "per-tensor",
    }
}

/// Runs the guard on the fp32 graph `fp32` (a BERT encoder of `layers` layers). `base` gives the weight
/// granularity and the user's fp32 patterns; `calibration` holds the sentences (words) the static ranges come
/// from. Returns the report and the chosen graph.
#[allow(clippy::too_many_arguments)]
pub fn run(
    fp32: &pb::ModelProto,
    layers: usize,
    base: &QuantizeOptions,
    encoder: &Encoder,
    labels: &LabelSet,
    data: &Labelled,
    calibration: &[Vec<String>],
    opts: &GuardOptions,
) -> anyhow::Result<(GuardReport, Option<(pb::ModelProto, QuantizeReport)>)> {
    let mut fp32_backend = session(fp32, opts.threads)?;
    let fp32_scored = score(&mut fp32_backend, encoder, data, labels)?;
    let calib_batches = batches(encoder, calibration, 16)?;
    let stats = collect(fp32, base, &calib_batches, opts.threads)?;
    let mut base = base.clone();
    base.ranges = ranges(&stats, opts.method);
    let probes = batches(encoder, &calibration[..calibration.len().min(opts.probe_sentences)], 16)?;
    let fp32_probe = probe_logits(&mut fp32_backend, &probes)?;
    let mut engines = vec![Engine { name: "fp32".into(), backend: Box::new(fp32_backend), rss_mb: 0.0 }];

    let mut static_base = base.clone();
    static_base.activations = ActivationScale::Static;
    let sensitivity = sensitivity::measure(
        fp32,
        &static_base,
        &groups(layers),
        &probes,
        &fp32_probe,
        encoder,
        data,
        &fp32_scored,
        labels,
        opts.threads,
    )?;
    let ranked: Vec<String> = sensitivity.iter().map(|g| g.group.clone()).collect();
    let sensitive = &ranked[..opts.keep_sensitive.min(ranked.len())];
    let hybrid = &ranked[..opts.hybrid_groups.min(ranked.len())];

    let mut reports = Vec::new();
    let mut chosen: Option<(String, pb::ModelProto, QuantizeReport)> = None;
    for (name, vopts) in variants(&base, sensitive, hybrid) {
        let (q, qreport) = quantize_int8(fp32, &vopts)?;
        let mut backend = session(&q, opts.threads)?;
        let scored = score(&mut backend, encoder, data, labels)?;
        let logits = probe_logits(&mut backend, &probes)?;
        let delta = paired_delta(data, &fp32_scored, &scored);
        let over_bound = check_bound(&delta, opts).err();
        let within_bound = over_bound.is_none();
        reports.push(VariantReport {
            name: name.clone(),
            activations: activations_name(&vopts).into(),
            per_row: vopts.per_row.clone(),
            kept_fp32: vopts.keep_fp32.clone(),
            f1: scored.f1,
            per_type: scored.per_type.clone(),
            delta,
            logit_rmse: logit_rmse(&fp32_probe, &logits, &probes),
            sentences_per_s: scored.sentences_per_s,
            p50_ms: 0.0,
            speedup: 0.0,
            bytes: model_bytes(&q).len(),
            within_bound,
            over_bound,
        });
        engines.push(Engine { name: name.clone(), backend: Box::new(backend), rss_mb: 0.0 });
        if within_bound && chosen.is_none() {
            chosen = Some((name, q, qreport));
        }
    }
    let space = TokenSpace::of(encoder.tokenizer());
    let (rows, failed) =
        time_engines(&mut engines, &[opts.speed_shape], &space, 1, opts.speed_rounds, None, "fp32", &|_, _| {});
    if let Some(f) = failed.first() {
        anyhow::bail!("timing {}: {}", f.backend, f.reason);
    }
    drop(engines);
    let fp32_p50_ms = rows.iter().find(|r| r.backend == "fp32").map_or(0.0, |r| r.p50_ms);
    for v in &mut reports {
        if let Some(r) = rows.iter().find(|r| r.backend == v.name) {
            (v.p50_ms, v.speedup) = (r.p50_ms, r.ratio.unwrap_or(0.0));
        }
    }
    let reason = match &chosen {
        Some((name, _, _)) => {
            let skipped: Vec<String> = reports
                .iter()
                .take_while(|r| &r.name != name)
                .map(|r| format!("{} ({})", r.name, r.over_bound.as_deref().unwrap_or("?")))
                .collect();
            let r = reports.iter().find(|r| &r.name == name).expect("chosen is reported");
            format!(
                "{name} ({:.2}x fp32 at {}x{}): the fastest variant whose paired F1 change {:+.2} points (95 % interval {:+.2} to {:+.2}) is within -{} and no entity type lost more than {}{}",
                r.speedup,
                opts.speed_shape.0,
                opts.speed_shape.1,
                r.delta.micro,
                r.delta.micro_low,
                r.delta.micro_high,
                opts.max_f1_drop,
                opts.max_type_drop,
                if skipped.is_empty() { String::new() } else { format!("; faster ones lost more: {}", skipped.join(", ")) }
            )
        }
        None => format!(
            "no int8 variant is within -{} micro F1 points (-{} per entity type) of fp32; serve fp32",
            opts.max_f1_drop, opts.max_type_drop
        ),
    };
    let report = GuardReport {
        data: data.name.clone(),
        sentences: data.len(),
        calibration_sentences: calibration.len(),
        calibration_method: opts.method.name(),
        max_f1_drop: opts.max_f1_drop,
        max_type_drop: opts.max_type_drop,
        fp32_f1: fp32_scored.f1,
        fp32_per_type: fp32_scored.per_type.clone(),
        fp32_sentences_per_s: fp32_scored.sentences_per_s,
        speed_shape: opts.speed_shape,
        fp32_p50_ms,
        sensitivity,
        variants: reports,
        chosen: chosen.as_ref().map(|c| c.0.clone()),
        reason,
    };
    Ok((report, chosen.map(|c| (c.1, c.2))))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn delta(micro: f64, ac: f64, lf: f64) -> PairedDelta {
        let per_type = [("AC".to_string(), (ac, ac - 1.0, ac + 1.0)), ("LF".to_string(), (lf, lf - 1.0, lf + 1.0))];
        PairedDelta { micro, micro_low: micro - 1.0, micro_high: micro + 1.0, per_type: per_type.into_iter().collect() }
    }

    #[test]
    fn a_variant_must_keep_micro_f1_and_every_entity_type_within_the_bounds() {
        let opts = GuardOptions { max_f1_drop: 0.5, max_type_drop: 1.0, ..Default::default() };
        assert_eq!(check_bound(&delta(-0.4, -0.2, -0.9), &opts), Ok(()));
        assert_eq!(check_bound(&delta(0.3, 0.5, -1.0), &opts), Ok(()), "the bounds themselves are accepted");
        let micro = check_bound(&delta(-0.6, 0.0, 0.0), &opts).unwrap_err();
        assert!(micro.contains("micro F1 -0.60"), "{micro}");
        // within the micro bound, but the long forms lost 1.1 points (the SDU case of the int8 study)
        let lf = check_bound(&delta(-0.47, -0.1, -1.11), &opts).unwrap_err();
        assert!(lf.starts_with("LF F1 -1.11"), "{lf}");
    }
}
