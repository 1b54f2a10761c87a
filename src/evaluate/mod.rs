//! `nerkit evaluate`: score word-level predictions, explain the errors, write metrics.json + reports.
//!
//! Entry points: [`evaluate`] (records → [`EvalReport`], pure) and [`write_outputs`] (report → files:
//! `metrics.json`, `report.md`, `report.html` (self-contained) and charts as PNG + SVG in `charts/`).
//! Predictions made elsewhere come in through [`records::read_predictions`]; a model-based path feeds the
//! same [`PredictionRecord`]s (first sub-word of each word, windows merged).
pub mod bootstrap;
pub mod charts;
pub mod compare;
pub mod definitions;
mod error;
pub mod errors;
pub mod pairs;
pub mod raw_text;
pub mod records;
mod render;
pub mod report_html;
pub mod report_md;
pub mod samples;
pub mod stats;
mod summary;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

pub use compare::{compare, Baseline, Comparison};
pub use error::EvalError;
pub use errors::{Category, ErrorCase, ErrorSummary};
pub use records::{predictions_label_set, read_predictions, PredictionRecord};
pub use summary::MetricsJson;

use crate::labels::LabelSet;
use crate::metrics::{Metrics, MetricsAccumulator, Mode, Span};

/// Knobs of an evaluation run.
#[derive(Clone, Debug, PartialEq)]
pub struct EvalOptions {
    /// Entity chunking for the headline numbers and the error analysis (both modes are always in metrics.json).
    pub mode: Mode,
    /// Sample sentences shown in the report (half worst, half seeded-random).
    pub samples: usize,
    pub seed: u64,
    /// Examples shown per error category.
    pub worst_examples: usize,
    /// Most-missed surface forms listed per entity type.
    pub top_missed: usize,
    /// Words of context either side of an error example.
    pub context_words: usize,
    pub calibration_bins: usize,
    /// Report title, and where the predictions came from (shown in the report).
    pub title: String,
    pub source: String,
    /// How predicted abbreviation pairs are read off the predicted spans (see [`definitions`]).
    pub pairs: crate::abbrev::PairMode,
}

impl Default for EvalOptions {
    fn default() -> Self {
        EvalOptions {
            mode: Mode::Default,
            samples: 12,
            seed: 13,
            worst_examples: 5,
            top_missed: 10,
            context_words: 8,
            calibration_bins: 10,
            title: "nerkit evaluation".into(),
            source: String::new(),
            pairs: crate::abbrev::PairMode::default(),
        }
    }
}

/// Everything computed by [`evaluate`]; rendered by [`write_outputs`].
#[derive(Clone, Debug)]
pub struct EvalReport {
    pub options: EvalOptions,
    pub labels: LabelSet,
    pub records: Vec<PredictionRecord>,
    /// Gold and predicted entities of each record under `options.mode`.
    pub entities: Vec<(Vec<Span>, Vec<Span>)>,
    pub metrics: Metrics,
    pub errors: ErrorSummary,
    pub pairs: Vec<pairs::PairOutcome>,
    pub pair_counts: pairs::PairCounts,
    /// Predicted definition pairs scored against the gold definitions (label sets with `AC` and `LF`).
    pub definitions: Option<definitions::DefinitionScores>,
    pub missed: BTreeMap<String, Vec<pairs::MissedForm>>,
    pub length: Vec<stats::LengthBucket>,
    pub calibration: Option<stats::Calibration>,
    /// 95 % bootstrap interval of the entity micro F1 (headline mode; 1,000 resamples of the sentences).
    pub micro_f1_interval: Option<bootstrap::F1Interval>,
    pub samples: Vec<samples::Sample>,
    /// The same sentences under each pair mode (rules / model / hybrid), when a model was run on a pair label
    /// set; set by the caller.
    pub pair_modes: Vec<definitions::ModeRow>,
    /// Set by [`compare`] when a second run is given.
    pub comparison: Option<Comparison>,
}

impl EvalReport {
    /// The entity report of the headline mode.
    pub fn entity(&self) -> &crate::metrics::EntityReport {
        self.metrics.entity(self.options.mode)
    }

    /// Whether the label set has abbreviation (`AC`) and long-form (`LF`) types, so that pairs are scored and
    /// reported; other label sets have no pair sections at all.
    pub fn has_pairs(&self) -> bool {
        self.labels.has_type(pairs::AC) && self.labels.has_type(pairs::LF)
    }

    /// The serialisable summary written as metrics.json.
    pub fn summary(&self) -> MetricsJson {
        MetricsJson::from_report(self)
    }
}

/// Scores `records` (tags must belong to `labels`) and runs the error analysis.
pub fn evaluate(
    records: Vec<PredictionRecord>,
    labels: &LabelSet,
    options: &EvalOptions,
) -> Result<EvalReport, EvalError> {
    let mut acc = MetricsAccumulator::new(labels);
    for r in &records {
        acc.add(&r.gold, &r.pred)?;
    }
    let metrics = acc.finalize();
    let entities = records.iter().map(|r| errors::record_entities(r, options.mode)).collect::<Result<Vec<_>, _>>()?;
    let errors = errors::analyse(&records, options.mode, options.worst_examples)?;
    let pair_list = pairs::pair_outcomes(&records, &entities);
    let has_pairs = labels.has_type(pairs::AC) && labels.has_type(pairs::LF);
    let definitions = has_pairs.then(|| definitions::score(&records, &entities, options.pairs));
    let samples = samples::choose_samples(records.len(), &errors.all, options.samples, options.seed);
    Ok(EvalReport {
        pair_counts: pairs::pair_counts(&pair_list),
        missed: pairs::most_missed(&records, &entities, options.top_missed),
        length: stats::length_buckets(&records, &entities),
        calibration: stats::calibration(&records, options.calibration_bins.max(1)),
        micro_f1_interval: bootstrap::micro_f1_interval(&entities, 1000, 0.95, options.seed),
        pairs: pair_list,
        definitions,
        samples,
        errors,
        metrics,
        entities,
        records,
        labels: labels.clone(),
        options: options.clone(),
        pair_modes: Vec::new(),
        comparison: None,
    })
}

/// The files [`write_outputs`] wrote.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Outputs {
    pub metrics_json: PathBuf,
    pub report_md: PathBuf,
    pub report_html: PathBuf,
    pub charts: Vec<PathBuf>,
}

fn write(path: &Path, text: &str) -> Result<(), EvalError> {
    std::fs::write(path, text).map_err(|source| EvalError::Write { path: path.into(), source })
}

/// Writes metrics.json, predictions.jsonl (the scored records, readable by `--predictions` and `--compare`), report.md, report.html and `charts/*.{png,svg}` into `out_dir` (created if needed).
pub fn write_outputs(report: &EvalReport, out_dir: &Path) -> Result<Outputs, EvalError> {
    let chart_dir = out_dir.join("charts");
    std::fs::create_dir_all(&chart_dir).map_err(|source| EvalError::Write { path: chart_dir.clone(), source })?;
    let charts = charts::render_all(report, &chart_dir)?;
    let metrics_json = out_dir.join("metrics.json");
    let json = serde_json::to_string_pretty(&report.summary()).expect("metrics serialise");
    write(&metrics_json, &json)?;
    let predictions = out_dir.join("predictions.jsonl");
    let mut lines = String::new();
    for r in &report.records {
        lines.push_str(&serde_json::to_string(r).expect("records serialise"));
        lines.push('\n');
    }
    write(&predictions, &lines)?;
    let report_md = out_dir.join("report.md");
    write(&report_md, &report_md::render(report, &charts))?;
    let report_html = out_dir.join("report.html");
    write(&report_html, &report_html::render(report, &charts))?;
    Ok(Outputs {
        metrics_json,
        report_md,
        report_html,
        charts: charts.iter().flat_map(|c| [c.png.clone(), c.svg_path.clone()]).collect(),
    })
}
