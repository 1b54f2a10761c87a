//! A graph's accuracy on labelled sentences, kept per sentence so that two graphs can be compared on the same
//! sentences (the paired bootstrap of [`crate::evaluate::bootstrap::paired_f1_difference`]).
use std::collections::BTreeMap;
use std::path::Path;
use std::time::Instant;

use serde::Serialize;

use crate::evaluate::bootstrap::{paired_f1_difference, DifferenceInterval};
use crate::evaluate::{definitions, PredictionRecord};
use crate::infer::decode::Decoding;
use crate::infer::tagger::{decode_pairs, tag_sentences, PairDecoding};
use crate::infer::Backend;
use crate::labels::LabelSet;
use crate::metrics::{default_entities, entity_report, Mode, Span};
use crate::prepare::encode::Encoder;

/// Labelled sentences to judge graphs on.
#[derive(Clone, Debug)]
pub struct Labelled {
    /// The file it came from.
    pub name: String,
    pub words: Vec<Vec<String>>,
    pub tags: Vec<Vec<String>>,
    /// Gold entities per sentence (seqeval default mode).
    pub gold: Vec<Vec<Span>>,
}

impl Labelled {
    /// Reads any labelled source nerkit reads (JSONL, CoNLL, CSV, parquet), optionally only its first `limit`
    /// sentences.
    pub fn load(path: &Path, labels: &LabelSet, limit: Option<usize>) -> anyhow::Result<Labelled> {
        let source = crate::data::DataSource::from_path(path)?;
        let mut dataset = crate::data::load(&source, labels, &crate::data::LoadOptions::default())?;
        if let Some(n) = limit {
            dataset.sentences.truncate(n);
        }
        anyhow::ensure!(!dataset.sentences.is_empty(), "{}: no sentences", path.display());
        let words = dataset.sentences.iter().map(|s| s.words.clone()).collect();
        let tags = dataset.sentences.iter().map(|s| s.tags.clone()).collect();
        Ok(Labelled::new(&path.display().to_string(), words, tags))
    }

    /// Sentences (words) with their gold tags.
    pub fn new(name: &str, words: Vec<Vec<String>>, tags: Vec<Vec<String>>) -> Labelled {
        let gold = tags.iter().map(|t| default_entities(t)).collect();
        Labelled { name: name.to_string(), words, tags, gold }
    }

    pub fn len(&self) -> usize {
        self.words.len()
    }

    pub fn is_empty(&self) -> bool {
        self.words.is_empty()
    }
}

/// One graph's predictions on a [`Labelled`] set.
#[derive(Clone, Debug)]
pub struct Scored {
    /// Predicted entities per sentence.
    pub spans: Vec<Vec<Span>>,
    /// Entity micro F1 (seqeval default mode, as `nerkit evaluate`).
    pub f1: f64,
    /// F1 per entity type (`AC`, `LF`).
    pub per_type: BTreeMap<String, f64>,
    /// Sentences per second of the tagging (tokenisation, inference, Viterbi), one pass.
    pub sentences_per_s: f64,
    /// Definition-pair F1 against the gold definitions, when scored with a pair decoding
    /// ([`score_with_pairs`]).
    pub pairs_f1: Option<f64>,
}

/// Tags `data` with `backend` (Viterbi decoding, batches of 32) and scores it.
pub fn score(
    backend: &mut dyn Backend,
    encoder: &Encoder,
    data: &Labelled,
    labels: &LabelSet,
) -> anyhow::Result<Scored> {
    score_with_pairs(backend, encoder, data, labels, None)
}

/// [`score`], and with `pairs` (models with pair types) also the definition-pair F1 of the tags decoded as
/// `predict` decodes them (`pairs.mode`, hybrid by default). The entity scores stay those of Viterbi decoding, so
/// that engines are compared on their own outputs.
pub fn score_with_pairs(
    backend: &mut dyn Backend,
    encoder: &Encoder,
    data: &Labelled,
    labels: &LabelSet,
    pairs: Option<&PairDecoding>,
) -> anyhow::Result<Scored> {
    let start = Instant::now();
    let tags = tag_sentences(backend, encoder, &data.words, 32, labels, Decoding::Viterbi)?;
    let seconds = start.elapsed().as_secs_f64();
    let names = |tags: &[Vec<crate::infer::tagger::WordTag>]| -> Vec<Vec<String>> {
        tags.iter().map(|s| s.iter().map(|w| labels.labels()[w.label].clone()).collect()).collect()
    };
    let pred = names(&tags);
    let report = entity_report(&data.tags, &pred, Mode::Default)?;
    let spans: Vec<Vec<Span>> = pred.iter().map(|t| default_entities(t)).collect();
    let pairs_f1 = pairs.map(|p| {
        let mut decoded = tags.clone();
        for (words, t) in data.words.iter().zip(&mut decoded) {
            let w: Vec<&str> = words.iter().map(String::as_str).collect();
            decode_pairs(&w, t, labels, Decoding::Viterbi, p);
        }
        let pred = names(&decoded);
        let records: Vec<PredictionRecord> = data
            .words
            .iter()
            .zip(&data.tags)
            .zip(&pred)
            .map(|((w, g), t)| PredictionRecord::new(w.clone(), g.clone(), t.clone()))
            .collect();
        let entities: Vec<(Vec<Span>, Vec<Span>)> =
            data.gold.iter().cloned().zip(pred.iter().map(|t| default_entities(t))).collect();
        definitions::score(&records, &entities, p.mode).pairs.f1
    });
    Ok(Scored {
        spans,
        f1: report.micro.f1,
        per_type: report.per_type.iter().map(|(k, p)| (k.clone(), p.f1)).collect(),
        sentences_per_s: data.len() as f64 / seconds.max(1e-9),
        pairs_f1,
    })
}

/// How much `other` lost against `reference` on the same sentences, in F1 points (negative = a drop).
#[derive(Clone, Debug, Serialize)]
pub struct PairedDelta {
    /// Micro F1 difference, points, with its 95 % paired bootstrap interval (points).
    pub micro: f64,
    pub micro_low: f64,
    pub micro_high: f64,
    /// Per entity type: the difference and its interval, points.
    pub per_type: BTreeMap<String, (f64, f64, f64)>,
}

/// Resamples of every paired interval nerkit reports.
pub const RESAMPLES: usize = 1000;

fn in_points(d: DifferenceInterval) -> (f64, f64, f64) {
    (100.0 * d.delta, 100.0 * d.low, 100.0 * d.high)
}

/// The paired difference `other - reference` on `data`, overall and per type.
pub fn paired_delta(data: &Labelled, reference: &Scored, other: &Scored) -> PairedDelta {
    let of = |kind: Option<&str>| {
        let keep = |s: &[Vec<Span>]| -> Vec<Vec<Span>> {
            s.iter().map(|v| v.iter().filter(|x| kind.is_none_or(|k| x.kind == k)).cloned().collect()).collect()
        };
        let d =
            paired_f1_difference(&keep(&data.gold), &keep(&reference.spans), &keep(&other.spans), RESAMPLES, 0.95, 17)
                .expect("same non-empty set");
        in_points(d)
    };
    let (micro, micro_low, micro_high) = of(None);
    let kinds: std::collections::BTreeSet<&String> = reference.per_type.keys().chain(other.per_type.keys()).collect();
    let per_type = kinds.into_iter().map(|k| (k.clone(), of(Some(k)))).collect();
    PairedDelta { micro, micro_low, micro_high, per_type }
}
