//! `--compare`: this run against another one (a metrics.json, or a predictions JSONL of the same corpus).
//!
//! The delta table covers every entity type plus the micro and macro averages (delta = this − other).
//! With a predictions file the sentences are matched by position (their tokens must agree), and the
//! sentences whose predicted tags differ are listed, marked *fixed* (the other run had entity errors there,
//! this one has none), *broken* (the reverse) or *changed*.
use std::path::Path;

use serde::{Deserialize, Serialize};

use super::{evaluate, read_predictions, EvalError, EvalOptions, EvalReport, MetricsJson, PredictionRecord};
use crate::labels::LabelSet;
use crate::metrics::EntityReport;

/// The other run.
#[derive(Clone, Debug)]
pub enum Baseline {
    Metrics(Box<MetricsJson>),
    Predictions(Vec<PredictionRecord>),
}

impl Baseline {
    /// `.jsonl` (or a file whose first line has `pred_tags`) is a predictions file; anything else is
    /// read as a metrics.json.
    pub fn load(path: &Path, labels: &LabelSet) -> Result<Baseline, EvalError> {
        let text = std::fs::read_to_string(path).map_err(|source| EvalError::Read { path: path.into(), source })?;
        let first = text.lines().find(|l| !l.trim().is_empty()).unwrap_or("");
        if path.extension().is_some_and(|e| e == "jsonl") || first.contains("\"pred_tags\"") {
            return Ok(Baseline::Predictions(read_predictions(path, labels)?));
        }
        serde_json::from_str(&text)
            .map(|m| Baseline::Metrics(Box::new(m)))
            .map_err(|e| EvalError::Compare { path: path.into(), message: format!("not a nerkit metrics.json: {e}") })
    }
}

/// P/R/F1 of one row in both runs.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct DeltaRow {
    pub name: String,
    pub this: [f64; 3],
    pub other: [f64; 3],
    pub this_support: usize,
    pub other_support: usize,
}

impl DeltaRow {
    pub fn delta(&self) -> [f64; 3] {
        [self.this[0] - self.other[0], self.this[1] - self.other[1], self.this[2] - self.other[2]]
    }
}

/// How a differing sentence changed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Change {
    Fixed,
    Broken,
    Changed,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct DiffSentence {
    pub sentence: usize,
    pub change: Change,
    pub this_errors: usize,
    pub other_errors: usize,
    /// The other run's predicted tags.
    pub other_pred: Vec<String>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Comparison {
    pub other: String,
    pub rows: Vec<DeltaRow>,
    /// Only with a predictions baseline: every sentence whose predicted tags differ.
    pub differing: Option<Vec<DiffSentence>>,
}

impl Comparison {
    pub fn count(&self, change: Change) -> usize {
        self.differing.as_ref().map_or(0, |d| d.iter().filter(|s| s.change == change).count())
    }
}

fn rows(this: &EntityReport, other: &EntityReport) -> Vec<DeltaRow> {
    let mut names: Vec<&String> = this.per_type.keys().chain(other.per_type.keys()).collect();
    names.sort();
    names.dedup();
    let mut out: Vec<DeltaRow> = names
        .into_iter()
        .map(|n| {
            let t = this.per_type.get(n);
            let o = other.per_type.get(n);
            let f = |p: Option<&crate::metrics::Prf>| p.map_or([0.0; 3], |p| [p.precision, p.recall, p.f1]);
            DeltaRow {
                name: n.clone(),
                this: f(t),
                other: f(o),
                this_support: t.map_or(0, |p| p.support),
                other_support: o.map_or(0, |p| p.support),
            }
        })
        .collect();
    for (name, a, b) in [("micro avg", &this.micro, &other.micro), ("macro avg", &this.macro_, &other.macro_)] {
        out.push(DeltaRow {
            name: name.into(),
            this: [a.precision, a.recall, a.f1],
            other: [b.precision, b.recall, b.f1],
            this_support: a.support,
            other_support: b.support,
        });
    }
    out
}

/// Compares `this` with `baseline` (labelled `other_name` in the report), using this run's mode.
pub fn compare(this: &EvalReport, baseline: &Baseline, other_name: &str) -> Result<Comparison, EvalError> {
    let err = |message: String| EvalError::Compare { path: other_name.into(), message };
    match baseline {
        Baseline::Metrics(m) => {
            let other = match this.options.mode {
                crate::metrics::Mode::Default => &m.entity_default,
                crate::metrics::Mode::Strict => &m.entity_strict,
            };
            Ok(Comparison { other: other_name.into(), rows: rows(this.entity(), other), differing: None })
        }
        Baseline::Predictions(recs) => {
            if recs.len() != this.records.len() {
                return Err(err(format!("{} sentences there, {} here", recs.len(), this.records.len())));
            }
            if let Some(i) = recs.iter().zip(&this.records).position(|(a, b)| a.tokens != b.tokens || a.gold != b.gold)
            {
                return Err(err(format!("sentence {} (line {}) has other tokens or gold tags", i + 1, i + 1)));
            }
            let opts = EvalOptions { samples: 0, ..this.options.clone() };
            let other = evaluate(recs.clone(), &this.labels, &opts)?;
            let mut per_sentence = vec![(0usize, 0usize); recs.len()];
            for e in &this.errors.all {
                per_sentence[e.sentence].0 += 1;
            }
            for e in &other.errors.all {
                per_sentence[e.sentence].1 += 1;
            }
            let differing = recs
                .iter()
                .zip(&this.records)
                .enumerate()
                .filter(|(_, (o, t))| o.pred != t.pred)
                .map(|(i, (o, _))| {
                    let (te, oe) = per_sentence[i];
                    let change = match (te, oe) {
                        (0, n) if n > 0 => Change::Fixed,
                        (n, 0) if n > 0 => Change::Broken,
                        _ => Change::Changed,
                    };
                    DiffSentence { sentence: i, change, this_errors: te, other_errors: oe, other_pred: o.pred.clone() }
                })
                .collect();
            Ok(Comparison {
                other: other_name.into(),
                rows: rows(this.entity(), other.entity()),
                differing: Some(differing),
            })
        }
    }
}
