//! Definition pairs scored against gold: how well a system says which long form an abbreviation stands for.
//!
//! Gold definitions are read off the gold spans by layout ([`crate::abbrev::definitions`]: `LF ( AC )`,
//! `AC ( LF )`, and abbreviation-list entries `AC , LF ;` / `AC : LF .` / `AC = LF ;`). A predicted pair is
//! right when both its spans equal a gold definition's (same sentence, same words). Predicted pairs are read
//! off the predicted spans the same way, except in `model` mode, whose pairing also links re-mentions and the
//! nearest long form ([`crate::abbrev::model_pairing`]). Each record is also a document for the glossary score:
//! the set of (short form, long form) texts, lowercased, defined in it.
use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};

use super::PredictionRecord;
use crate::abbrev::model_pairing::pair_entities;
use crate::abbrev::{definitions, PairMode, PairRule, AC, LF};
use crate::metrics::Span;

/// Counts and precision / recall / F1.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Prf {
    pub gold: usize,
    pub predicted: usize,
    /// Predicted items that are right.
    pub correct: usize,
    /// Gold items found (equals `correct` overall; per rule, gold of that rule found by any prediction).
    pub found: usize,
    pub precision: f64,
    pub recall: f64,
    pub f1: f64,
}

impl Prf {
    fn new(gold: usize, predicted: usize, correct: usize, found: usize) -> Self {
        let ratio = |a: usize, b: usize| if b == 0 { 0.0 } else { a as f64 / b as f64 };
        let (precision, recall) = (ratio(correct, predicted), ratio(found, gold));
        let f1 = if precision + recall == 0.0 { 0.0 } else { 2.0 * precision * recall / (precision + recall) };
        Prf { gold, predicted, correct, found, precision, recall, f1 }
    }
}

/// A gold definition the system missed, or a pair it made that is not a gold definition.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct PairError {
    pub sentence: usize,
    pub short: Span,
    pub long: Span,
    pub rule: PairRule,
    /// `false`: a missed gold definition; `true`: a wrong predicted pair.
    pub spurious: bool,
}

/// The definition scores of one evaluation.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct DefinitionScores {
    /// How the predicted pairs were formed.
    pub mode: PairMode,
    pub pairs: Prf,
    /// Per rule: recall over the gold definitions of that layout, precision over the predicted pairs of that
    /// rule.
    pub by_rule: BTreeMap<String, Prf>,
    /// (short form, long form) texts per document, summed over documents.
    pub glossary: Prf,
    pub errors: Vec<PairError>,
}

type Key = (usize, usize, usize, usize);

fn key(s: &Span, l: &Span) -> Key {
    (s.start, s.end, l.start, l.end)
}

/// The predicted pairs of one sentence under `mode`.
pub fn predicted_pairs(tokens: &[String], pred: &[Span], mode: PairMode) -> Vec<(Span, Span, PairRule)> {
    match mode {
        PairMode::Model => pair_entities(tokens, pred),
        PairMode::Rules | PairMode::Hybrid => {
            definitions(tokens, pred, AC, LF).into_iter().map(|d| (d.short, d.long, d.rule)).collect()
        }
    }
}

/// Scores the predicted pairs of `records` (`entities[i]`: gold and predicted spans of record `i`).
pub fn score(records: &[PredictionRecord], entities: &[(Vec<Span>, Vec<Span>)], mode: PairMode) -> DefinitionScores {
    let (mut gold_n, mut pred_n, mut correct) = (0, 0, 0);
    let mut rule_counts: BTreeMap<PairRule, [usize; 4]> = BTreeMap::new(); // gold, predicted, correct, found
    let (mut g_gold, mut g_pred, mut g_correct) = (0, 0, 0);
    let mut errors = Vec::new();
    for (i, (r, (gold, pred))) in records.iter().zip(entities).enumerate() {
        let gold_defs = definitions(&r.tokens, gold, AC, LF);
        let predicted = predicted_pairs(&r.tokens, pred, mode);
        let gold_keys: BTreeSet<Key> = gold_defs.iter().map(|d| key(&d.short, &d.long)).collect();
        let pred_keys: BTreeSet<Key> = predicted.iter().map(|(s, l, _)| key(s, l)).collect();
        gold_n += gold_keys.len();
        pred_n += pred_keys.len();
        correct += pred_keys.intersection(&gold_keys).count();
        for d in &gold_defs {
            let c = rule_counts.entry(d.rule).or_default();
            c[0] += 1;
            let found = pred_keys.contains(&key(&d.short, &d.long));
            c[3] += usize::from(found);
            if !found {
                errors.push(PairError {
                    sentence: i,
                    short: d.short.clone(),
                    long: d.long.clone(),
                    rule: d.rule,
                    spurious: false,
                });
            }
        }
        let mut seen = BTreeSet::new();
        for (s, l, rule) in &predicted {
            if !seen.insert(key(s, l)) {
                continue;
            }
            let c = rule_counts.entry(*rule).or_default();
            c[1] += 1;
            let right = gold_keys.contains(&key(s, l));
            c[2] += usize::from(right);
            if !right {
                errors.push(PairError { sentence: i, short: s.clone(), long: l.clone(), rule: *rule, spurious: true });
            }
        }
        // the document's glossary: lowercased texts
        let text = |s: &Span| r.tokens[s.start..s.end].join(" ").to_lowercase();
        let gloss_gold: BTreeSet<(String, String)> =
            gold_defs.iter().map(|d| (text(&d.short), text(&d.long))).collect();
        let gloss_pred: BTreeSet<(String, String)> = predicted.iter().map(|(s, l, _)| (text(s), text(l))).collect();
        g_gold += gloss_gold.len();
        g_pred += gloss_pred.len();
        g_correct += gloss_pred.intersection(&gloss_gold).count();
    }
    DefinitionScores {
        mode,
        pairs: Prf::new(gold_n, pred_n, correct, correct),
        by_rule: rule_counts
            .into_iter()
            .map(|(r, [g, p, c, f])| (r.name().to_string(), Prf::new(g, p, c, f)))
            .collect(),
        glossary: Prf::new(g_gold, g_pred, g_correct, g_correct),
        errors,
    }
}

fn pct(x: f64) -> String {
    format!("{:.2}", 100.0 * x)
}

impl DefinitionScores {
    /// Header and rows of the per-rule table, as the reports print them.
    pub fn rule_table(&self) -> (Vec<&'static str>, Vec<Vec<String>>) {
        let header = vec!["rule", "gold", "found (recall)", "predicted", "right (precision)"];
        let rows = self
            .by_rule
            .iter()
            .map(|(rule, x)| {
                vec![
                    rule.clone(),
                    x.gold.to_string(),
                    format!("{} ({})", x.found, pct(x.recall)),
                    x.predicted.to_string(),
                    format!("{} ({})", x.correct, pct(x.precision)),
                ]
            })
            .collect();
        (header, rows)
    }
}

/// Header and rows of the rules / model / hybrid table, as the reports print them.
pub fn modes_table(modes: &[ModeRow]) -> (Vec<&'static str>, Vec<Vec<String>>) {
    let header = vec!["pairs", "micro F1", "AC F1", "LF F1", "pair P", "pair R", "pair F1"];
    let rows = modes
        .iter()
        .map(|m| {
            vec![
                m.mode.name().to_string(),
                pct(m.micro_f1),
                pct(m.short_f1),
                pct(m.long_f1),
                pct(m.pairs.precision),
                pct(m.pairs.recall),
                pct(m.pairs.f1),
            ]
        })
        .collect();
    (header, rows)
}

/// One pair mode's headline figures on the same sentences (the report's rules / model / hybrid table).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ModeRow {
    pub mode: PairMode,
    pub micro_f1: f64,
    /// F1 of the abbreviation (`AC`) and long-form (`LF`) types.
    pub short_f1: f64,
    pub long_f1: f64,
    pub pairs: Prf,
    pub glossary: Prf,
}

/// Scores `records` (predicted under `mode`) for the modes table.
pub fn mode_row(
    records: &[PredictionRecord],
    labels: &crate::labels::LabelSet,
    mode: PairMode,
    chunking: crate::metrics::Mode,
) -> Result<ModeRow, super::EvalError> {
    let mut acc = crate::metrics::MetricsAccumulator::new(labels);
    for r in records {
        acc.add(&r.gold, &r.pred)?;
    }
    let metrics = acc.finalize();
    let entity = metrics.entity(chunking);
    let entities =
        records.iter().map(|r| super::errors::record_entities(r, chunking)).collect::<Result<Vec<_>, _>>()?;
    let d = score(records, &entities, mode);
    let f1 = |t: &str| entity.per_type.get(t).map_or(0.0, |p| p.f1);
    Ok(ModeRow {
        mode,
        micro_f1: entity.micro.f1,
        short_f1: f1(AC),
        long_f1: f1(LF),
        pairs: d.pairs,
        glossary: d.glossary,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::metrics::default_entities;

    fn record(tokens: &str, gold: &str, pred: &str) -> (PredictionRecord, (Vec<Span>, Vec<Span>)) {
        let split = |s: &str| s.split(' ').map(String::from).collect::<Vec<_>>();
        let r = PredictionRecord::new(split(tokens), split(gold), split(pred));
        let e = (default_entities(&r.gold), default_entities(&r.pred));
        (r, e)
    }

    #[test]
    fn a_pair_is_right_only_with_both_boundaries() {
        let (r1, e1) = record(
            "minimally invasive surgery ( mis ) ; mis , minimal incision surgery .",
            "B-LF I-LF I-LF O B-AC O O B-AC O B-LF I-LF I-LF O",
            "O B-LF I-LF O B-AC O O B-AC O B-LF I-LF I-LF O",
        );
        let s = score(&[r1], &[e1], PairMode::Hybrid);
        // gold: one parenthesised, one listed; predicted: the listed one right, the parenthesised one too short
        assert_eq!((s.pairs.gold, s.pairs.predicted, s.pairs.correct), (2, 2, 1));
        assert_eq!(s.by_rule["parenthesised"].found, 0);
        assert_eq!(s.by_rule["listed"].found, 1);
        assert_eq!(s.errors.len(), 2, "the missed gold definition and the wrong pair");
        assert!((s.glossary.f1 - 0.5).abs() < 1e-9);
    }

    #[test]
    fn model_mode_counts_its_nearest_pairs_against_precision() {
        let (r, e) = record(
            "epi ( echo planar imaging ) ; mri uses magnetic fields",
            "B-AC O B-LF I-LF I-LF O O B-AC O B-LF I-LF",
            "B-AC O B-LF I-LF I-LF O O B-AC O B-LF I-LF",
        );
        let model = score(std::slice::from_ref(&r), std::slice::from_ref(&e), PairMode::Model);
        assert_eq!((model.pairs.predicted, model.pairs.correct), (2, 1));
        assert_eq!(model.by_rule["nearest"].precision, 0.0);
        let hybrid = score(&[r], &[e], PairMode::Hybrid);
        assert_eq!((hybrid.pairs.precision, hybrid.pairs.recall), (1.0, 1.0));
    }
}
