//! Token (word) level scores: the confusion matrix over a [`LabelSet`], per-label P/R/F1 and accuracy.
//!
//! Per-label figures are those of scikit-learn's `classification_report` on the flattened tag lists
//! (a label's precision is `matrix[l][l] / column sum`, recall `matrix[l][l] / row sum`, 0/0 = 0).
use serde::{Deserialize, Serialize};

use super::entity_scores::{f1_of, Average};
use crate::labels::LabelSet;

/// Rows are gold labels, columns predicted labels, both in label-set order.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConfusionMatrix {
    pub labels: Vec<String>,
    pub counts: Vec<Vec<usize>>,
}

impl ConfusionMatrix {
    pub fn new(labels: &LabelSet) -> Self {
        let n = labels.len();
        ConfusionMatrix { labels: labels.labels().to_vec(), counts: vec![vec![0; n]; n] }
    }

    pub fn add(&mut self, gold: usize, pred: usize) {
        self.counts[gold][pred] += 1;
    }

    pub fn total(&self) -> usize {
        self.counts.iter().flatten().sum()
    }

    pub fn row_sum(&self, i: usize) -> usize {
        self.counts[i].iter().sum()
    }

    pub fn col_sum(&self, j: usize) -> usize {
        self.counts.iter().map(|r| r[j]).sum()
    }

    /// Each row divided by its sum (a row with no gold tokens stays all zero).
    pub fn row_normalised(&self) -> Vec<Vec<f64>> {
        (0..self.labels.len())
            .map(|i| {
                let s = self.row_sum(i);
                self.counts[i].iter().map(|&c| if s == 0 { 0.0 } else { c as f64 / s as f64 }).collect()
            })
            .collect()
    }

    pub fn merge(&mut self, other: &ConfusionMatrix) {
        for (r, o) in self.counts.iter_mut().zip(&other.counts) {
            for (a, b) in r.iter_mut().zip(o) {
                *a += b;
            }
        }
    }
}

/// Scores for one label.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct LabelScore {
    pub label: String,
    pub precision: f64,
    pub recall: f64,
    pub f1: f64,
    pub support: usize,
    pub predicted: usize,
}

/// The token-level report.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TokenReport {
    pub accuracy: f64,
    pub tokens: usize,
    pub per_label: Vec<LabelScore>,
    /// Macro average over the labels of the set, `O` included (as scikit-learn does).
    #[serde(rename = "macro")]
    pub macro_: Average,
    /// Macro average over the entity labels only (`O` excluded): a fairer summary for rare tags.
    pub macro_entity_labels: Average,
    pub confusion: ConfusionMatrix,
}

impl TokenReport {
    pub fn from_confusion(confusion: ConfusionMatrix) -> Self {
        let n = confusion.labels.len();
        let total = confusion.total();
        let correct: usize = (0..n).map(|i| confusion.counts[i][i]).sum();
        let per_label: Vec<LabelScore> = (0..n)
            .map(|i| {
                let tp = confusion.counts[i][i];
                let (support, predicted) = (confusion.row_sum(i), confusion.col_sum(i));
                let precision = if predicted == 0 { 0.0 } else { tp as f64 / predicted as f64 };
                let recall = if support == 0 { 0.0 } else { tp as f64 / support as f64 };
                LabelScore {
                    label: confusion.labels[i].clone(),
                    precision,
                    recall,
                    f1: f1_of(precision, recall),
                    support,
                    predicted,
                }
            })
            .collect();
        let avg = |sel: &[&LabelScore]| {
            let k = sel.len() as f64;
            let m = |f: fn(&LabelScore) -> f64| {
                if sel.is_empty() {
                    f64::NAN
                } else {
                    sel.iter().map(|s| f(s)).sum::<f64>() / k
                }
            };
            Average {
                precision: m(|s| s.precision),
                recall: m(|s| s.recall),
                f1: m(|s| s.f1),
                support: sel.iter().map(|s| s.support).sum(),
            }
        };
        let all: Vec<&LabelScore> = per_label.iter().collect();
        let ents: Vec<&LabelScore> = per_label.iter().filter(|s| s.label != "O").collect();
        TokenReport {
            accuracy: if total == 0 { 0.0 } else { correct as f64 / total as f64 },
            tokens: total,
            macro_: avg(&all),
            macro_entity_labels: avg(&ents),
            per_label,
            confusion,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn per_label_scores_from_matrix() {
        let labels = LabelSet::plod();
        let mut m = ConfusionMatrix::new(&labels);
        // gold O O B-AC B-LF I-LF ; pred O B-AC B-AC B-LF O
        for (g, p) in [(0, 0), (0, 1), (1, 1), (2, 2), (3, 0)] {
            m.add(g, p);
        }
        let r = TokenReport::from_confusion(m);
        assert_eq!(r.tokens, 5);
        assert!((r.accuracy - 0.6).abs() < 1e-12);
        let ac = &r.per_label[1];
        assert_eq!((ac.support, ac.predicted), (1, 2));
        assert!((ac.precision - 0.5).abs() < 1e-12 && ac.recall == 1.0);
        let ilf = &r.per_label[3];
        assert_eq!((ilf.precision, ilf.recall, ilf.f1), (0.0, 0.0, 0.0));
        let norm = r.confusion.row_normalised();
        assert_eq!(norm[0], vec![0.5, 0.5, 0.0, 0.0]);
        assert_eq!(norm[3], vec![1.0, 0.0, 0.0, 0.0]);
    }
}
