//! `nerkit bench --accuracy DATA`: each engine's entity micro F1 on labelled sentences beside its speed, and
//! its paired F1 difference to the baseline engine on the same sentences (so an int8 drop is told from noise).
//! Models with abbreviation pairs also get a definition-pair F1, their tags decoded as `predict` decodes them by
//! default (hybrid); the entity scores stay Viterbi's, each engine's own output.
use std::collections::BTreeMap;
use std::path::Path;

use serde::Serialize;

use super::Engine;
use crate::abbrev::{HybridOptions, PairMode};
use crate::infer::glossary::model_pair_types;
use crate::infer::tagger::PairDecoding;
use crate::labels::LabelSet;
use crate::prepare::encode::{EncodeOptions, Encoder};
use crate::quantize::accuracy::{paired_delta, score_with_pairs, Labelled, PairedDelta, Scored};

/// One engine's accuracy.
#[derive(Clone, Debug, Serialize)]
pub struct AccuracyRow {
    pub backend: String,
    pub sentences: usize,
    /// Entity micro F1 (seqeval default mode, Viterbi decoding: what `nerkit evaluate` reports).
    pub f1: f64,
    /// F1 per entity type.
    pub per_type: BTreeMap<String, f64>,
    /// Definition-pair F1 (models with pair types; hybrid decoding, as `predict` answers; entity F1 is Viterbi's).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pairs_f1: Option<f64>,
    /// `f1 - baseline f1` in points with its 95 % paired bootstrap interval; `None` for the baseline itself
    /// or when the baseline could not run.
    pub vs_baseline: Option<PairedDelta>,
}

/// Scores every engine on `data` (optionally its first `limit` sentences), in the engines' order.
pub fn measure(
    engines: &mut [Engine],
    model_dir: &Path,
    data: &Path,
    limit: Option<usize>,
    baseline: &str,
) -> anyhow::Result<Vec<AccuracyRow>> {
    let Some(first) = engines.first() else { return Ok(Vec::new()) };
    let labels = LabelSet::new(first.backend.labels().to_vec())?;
    let labelled = Labelled::load(data, &labels, limit)?;
    let tokenizer = crate::model::ModelDir::open(model_dir)?.tokenizer()?;
    let encoder = Encoder::new(tokenizer, EncodeOptions::default())?;
    let pairs = model_pair_types(Some(model_dir), &labels).map_err(anyhow::Error::msg)?.map(|types| PairDecoding {
        types,
        mode: PairMode::Hybrid,
        hybrid: HybridOptions::default(),
    });
    let mut scored: Vec<(String, Scored)> = Vec::new();
    for engine in engines.iter_mut() {
        let s = score_with_pairs(engine.backend.as_mut(), &encoder, &labelled, &labels, pairs.as_ref())
            .map_err(|e| anyhow::anyhow!("{} on {}: {e}", engine.name, data.display()))?;
        scored.push((engine.name.clone(), s));
    }
    let base = scored.iter().find(|(n, _)| n == baseline).map(|(_, s)| s.clone());
    Ok(scored
        .into_iter()
        .map(|(name, s)| AccuracyRow {
            vs_baseline: base.as_ref().filter(|_| name != baseline).map(|b| paired_delta(&labelled, b, &s)),
            backend: name,
            sentences: labelled.len(),
            f1: s.f1,
            per_type: s.per_type,
            pairs_f1: s.pairs_f1,
        })
        .collect())
}
