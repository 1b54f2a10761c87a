//! `metrics.json`: the machine-readable summary of an evaluation (also read back by `--compare`).
use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::bootstrap::F1Interval;
use super::errors::Category;
use super::pairs::PairCounts;
use super::stats::{Calibration, LengthBucket};
use super::EvalReport;
use crate::metrics::entity_scores::f64_or_nan;
use crate::metrics::{EntityReport, Mode, Prf, TokenReport};

/// [`super::definitions::DefinitionScores`] without the error list.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct DefinitionSummary {
    pub mode: crate::abbrev::PairMode,
    pub pairs: super::definitions::Prf,
    pub by_rule: BTreeMap<String, super::definitions::Prf>,
    pub glossary: super::definitions::Prf,
}

/// The content of metrics.json. Headline figures use `mode`; both modes are kept in full.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct MetricsJson {
    pub nerkit_version: String,
    pub source: String,
    /// Entity chunking of the headline figures: `default` (seqeval default) or `strict` (IOB2).
    pub mode: Mode,
    pub sentences: usize,
    pub tokens: usize,
    #[serde(deserialize_with = "f64_or_nan")]
    pub micro_precision: f64,
    #[serde(deserialize_with = "f64_or_nan")]
    pub micro_recall: f64,
    #[serde(deserialize_with = "f64_or_nan")]
    pub micro_f1: f64,
    #[serde(deserialize_with = "f64_or_nan")]
    pub macro_f1: f64,
    #[serde(deserialize_with = "f64_or_nan")]
    pub weighted_f1: f64,
    /// Per entity type, headline mode.
    pub per_type: BTreeMap<String, Prf>,
    pub entity_default: EntityReport,
    pub entity_strict: EntityReport,
    pub token: TokenReport,
    pub errors: BTreeMap<Category, usize>,
    pub errors_by_type: BTreeMap<Category, BTreeMap<String, usize>>,
    /// Abbreviation ↔ long-form pair outcomes; absent when the label set has no `AC` and `LF` types.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pairs: Option<PairCounts>,
    /// Definition pairs against gold definitions (P/R/F1 overall, per rule, glossary); absent like `pairs`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub definitions: Option<DefinitionSummary>,
    pub length_buckets: Vec<LengthBucket>,
    #[serde(default)]
    pub calibration: Option<Calibration>,
    /// How far the micro F1 could move on another draw of sentences like these (bootstrap, 95 %).
    #[serde(default)]
    pub micro_f1_interval: Option<F1Interval>,
}

impl MetricsJson {
    pub fn from_report(r: &EvalReport) -> Self {
        let e = r.entity();
        MetricsJson {
            nerkit_version: env!("CARGO_PKG_VERSION").to_string(),
            source: r.options.source.clone(),
            mode: r.options.mode,
            sentences: r.records.len(),
            tokens: r.metrics.token.tokens,
            micro_precision: e.micro.precision,
            micro_recall: e.micro.recall,
            micro_f1: e.micro.f1,
            macro_f1: e.macro_.f1,
            weighted_f1: e.weighted.f1,
            per_type: e.per_type.clone(),
            entity_default: r.metrics.entity.clone(),
            entity_strict: r.metrics.entity_strict.clone(),
            token: r.metrics.token.clone(),
            errors: r.errors.counts.clone(),
            errors_by_type: r.errors.counts_by_type.clone(),
            pairs: r.has_pairs().then(|| r.pair_counts.clone()),
            definitions: r.definitions.as_ref().map(|d| DefinitionSummary {
                mode: d.mode,
                pairs: d.pairs.clone(),
                by_rule: d.by_rule.clone(),
                glossary: d.glossary.clone(),
            }),
            length_buckets: r.length.clone(),
            calibration: r.calibration.clone(),
            micro_f1_interval: r.micro_f1_interval.clone(),
        }
    }

    /// The entity report of the headline mode.
    pub fn entity(&self) -> &EntityReport {
        match self.mode {
            Mode::Default => &self.entity_default,
            Mode::Strict => &self.entity_strict,
        }
    }
}
