//! Which int8 graph `nerkit export --int8` writes, and how it is chosen:
//!
//! - with labelled `--data` (and no explicit activation flag) the accuracy guard ([`super::guard`]) times and
//!   scores every variant and writes the fastest within the F1 bound — or none;
//! - `--static`: static activations calibrated on `--calibration` (or `--data`) sentences, unchecked;
//! - otherwise the export pipeline writes the per-row (or `--per-tensor-activations`) dynamic graph itself,
//!   unchecked.
//!
//! [`Int8Plan::of`] decides; [`write`] carries out the calibrated plans on the exported fp32 graph and returns
//! what `export.json` records.
use std::path::{Path, PathBuf};

use anyhow::Context;
use nerkit_export::builder::{parse_model, save_model};
use nerkit_export::calibrate::CalibrationMethod;
use nerkit_export::quantize::{quantize_int8, ActivationScale, QuantizeOptions, QuantizeReport};

use super::accuracy::Labelled;
use super::guard::{self, GuardOptions, GuardReport};
use crate::labels::LabelSet;

/// How `model.int8.onnx` comes about.
#[derive(Clone, Debug, PartialEq)]
pub enum Int8Plan {
    /// Written by the export pipeline with these activations, its accuracy unchecked.
    Unchecked(ActivationScale),
    /// Static activations calibrated on sentences, unchecked (`--static`).
    Static,
    /// The guard's choice on labelled data.
    Guarded,
}

impl Int8Plan {
    /// The plan for the export flags: an explicit activation flag wins; else labelled data means the guard.
    pub fn of(per_tensor_activations: bool, static_activations: bool, data: Option<&Path>) -> Int8Plan {
        match (per_tensor_activations, static_activations, data) {
            (true, _, _) => Int8Plan::Unchecked(ActivationScale::PerTensor),
            (_, true, _) => Int8Plan::Static,
            (_, _, Some(_)) => Int8Plan::Guarded,
            _ => Int8Plan::Unchecked(ActivationScale::PerRow),
        }
    }

    /// The activations the base quantize options carry (the guard's variants override them).
    pub fn activations(&self) -> ActivationScale {
        match self {
            Int8Plan::Unchecked(a) => *a,
            Int8Plan::Static => ActivationScale::Static,
            Int8Plan::Guarded => ActivationScale::PerRow,
        }
    }

    /// Whether [`write`] makes the graph (it needs the fp32 graph exported first), rather than the pipeline.
    pub fn deferred(&self) -> bool {
        !matches!(self, Int8Plan::Unchecked(_))
    }
}

/// The sentences and bounds a calibrated plan runs on.
pub struct Int8Request<'a> {
    /// The export directory: `model.onnx`, `config.json`, the tokenizer; `model.int8.onnx` is written there.
    pub out_dir: &'a Path,
    /// Sentences static ranges are calibrated on (labels unused), at most `calibration_sentences` of them.
    pub calibration: &'a Path,
    pub calibration_sentences: usize,
    pub method: CalibrationMethod,
    /// Labelled data the guard scores on (`Guarded` only).
    pub data: Option<&'a Path>,
    pub guard: GuardOptions,
}

/// What [`write`] did.
pub struct Int8Outcome {
    /// The graph written and its quantization report (none when the guard refused every variant).
    pub written: Option<(PathBuf, QuantizeReport)>,
    /// `export.json`'s `int8` entry.
    pub note: serde_json::Value,
    /// The guard's report (`Guarded` only).
    pub guard: Option<GuardReport>,
}

/// Carries out a deferred `plan` (`Static` or `Guarded`) on `req.out_dir`'s fp32 graph with the base `opts`.
pub fn write(
    plan: &Int8Plan,
    req: &Int8Request,
    opts: &QuantizeOptions,
    labels: &LabelSet,
) -> anyhow::Result<Int8Outcome> {
    let fp32_path = req.out_dir.join(nerkit_export::pipeline::FP32_FILE);
    let fp32 = parse_model(&std::fs::read(&fp32_path)?).with_context(|| format!("reading {}", fp32_path.display()))?;
    let model = crate::model::ModelDir::open(req.out_dir)?;
    let encoder = crate::prepare::encode::Encoder::new(model.tokenizer()?, Default::default())?;
    let calibration = Labelled::load(req.calibration, labels, Some(req.calibration_sentences))
        .with_context(|| format!("reading calibration sentences {}", req.calibration.display()))?;
    let out = req.out_dir.join(nerkit_export::pipeline::INT8_FILE);
    if *plan != Int8Plan::Guarded {
        let batches = super::calibrate::batches(&encoder, &calibration.words, 16)?;
        let stats = super::calibrate::collect(&fp32, opts, &batches, None)?;
        let mut opts = opts.clone();
        opts.ranges = super::calibrate::ranges(&stats, req.method);
        let (q, report) = quantize_int8(&fp32, &opts)?;
        save_model(&q, &out).with_context(|| format!("writing {}", out.display()))?;
        let note = serde_json::json!({
            "variant": "static",
            "checked": false,
            "calibration": req.calibration.display().to_string(),
            "calibration_sentences": calibration.len(),
            "calibration_method": req.method.name(),
            "reason": "--static asked for; no guard ran",
        });
        return Ok(Int8Outcome { written: Some((out, report)), note, guard: None });
    }
    let data = Labelled::load(req.data.context("the guard needs labelled data")?, labels, None)?;
    let layers = nerkit_export::config::BertConfig::from_file(&req.out_dir.join("config.json"))?.num_hidden_layers;
    let (report, chosen) = guard::run(&fp32, layers, opts, &encoder, labels, &data, &calibration.words, &req.guard)?;
    let written = match chosen {
        Some((q, r)) => {
            save_model(&q, &out).with_context(|| format!("writing {}", out.display()))?;
            Some((out, r))
        }
        None => {
            let _ = std::fs::remove_file(&out);
            None
        }
    };
    let note = serde_json::json!({ "variant": report.chosen, "checked": true, "guard": report });
    Ok(Int8Outcome { written, note, guard: Some(report) })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn explicit_flags_win_and_data_means_the_guard() {
        let data = Some(Path::new("val.jsonl"));
        assert_eq!(Int8Plan::of(false, false, None), Int8Plan::Unchecked(ActivationScale::PerRow));
        assert_eq!(Int8Plan::of(false, false, data), Int8Plan::Guarded);
        assert_eq!(Int8Plan::of(true, false, data), Int8Plan::Unchecked(ActivationScale::PerTensor));
        assert_eq!(Int8Plan::of(false, true, data), Int8Plan::Static);
        assert!(Int8Plan::Static.deferred() && Int8Plan::Guarded.deferred());
        assert!(!Int8Plan::of(false, false, None).deferred());
    }
}
