//! Streaming accumulation of all metrics, sentence by sentence (used by the trainer and by `evaluate`).
use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::entity_scores::{count_sentence, TypeCounts};
use super::{extract, ConfusionMatrix, EntityReport, MetricsError, Mode, TokenReport};
use crate::labels::LabelSet;

/// Accumulates entity counts (both modes) and the token confusion matrix.
#[derive(Clone, Debug)]
pub struct MetricsAccumulator {
    labels: LabelSet,
    default_counts: BTreeMap<String, TypeCounts>,
    strict_counts: BTreeMap<String, TypeCounts>,
    confusion: ConfusionMatrix,
    sentences: usize,
}

/// Everything the accumulator knows, finalised.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Metrics {
    pub sentences: usize,
    /// seqeval default mode (the headline numbers).
    pub entity: EntityReport,
    /// seqeval strict IOB2 mode.
    pub entity_strict: EntityReport,
    pub token: TokenReport,
}

impl Metrics {
    /// The entity report of one mode.
    pub fn entity(&self, mode: Mode) -> &EntityReport {
        match mode {
            Mode::Default => &self.entity,
            Mode::Strict => &self.entity_strict,
        }
    }
}

impl MetricsAccumulator {
    pub fn new(labels: &LabelSet) -> Self {
        MetricsAccumulator {
            labels: labels.clone(),
            default_counts: BTreeMap::new(),
            strict_counts: BTreeMap::new(),
            confusion: ConfusionMatrix::new(labels),
            sentences: 0,
        }
    }

    pub fn labels(&self) -> &LabelSet {
        &self.labels
    }

    pub fn sentences(&self) -> usize {
        self.sentences
    }

    /// Adds one sentence of word-level string tags; every tag must be in the label set.
    pub fn add<S: AsRef<str>>(&mut self, gold: &[S], pred: &[S]) -> Result<(), MetricsError> {
        let ids = |tags: &[S]| -> Result<Vec<usize>, MetricsError> {
            tags.iter()
                .enumerate()
                .map(|(i, t)| {
                    self.labels.id(t.as_ref()).ok_or_else(|| MetricsError::UnknownLabel {
                        sentence: self.sentences,
                        position: i,
                        label: t.as_ref().to_string(),
                    })
                })
                .collect()
        };
        let (g, p) = (ids(gold)?, ids(pred)?);
        self.add_ids(&g, &p)
    }

    /// Adds one sentence of word-level label ids (positions ignored by the loss must be removed first).
    pub fn add_ids(&mut self, gold: &[usize], pred: &[usize]) -> Result<(), MetricsError> {
        if gold.len() != pred.len() {
            return Err(MetricsError::LengthMismatch { sentence: self.sentences, gold: gold.len(), pred: pred.len() });
        }
        let n = self.labels.len();
        let name = |ids: &[usize]| -> Result<Vec<&str>, MetricsError> {
            ids.iter()
                .enumerate()
                .map(|(i, &id)| {
                    self.labels.name(id).ok_or(MetricsError::LabelIdOutOfRange {
                        sentence: self.sentences,
                        position: i,
                        id,
                        len: n,
                    })
                })
                .collect()
        };
        let (gn, pn) = (name(gold)?, name(pred)?);
        let (gd, pd) = (extract(&gn, Mode::Default)?, extract(&pn, Mode::Default)?);
        let (gs, ps) = (extract(&gn, Mode::Strict)?, extract(&pn, Mode::Strict)?);
        count_sentence(&gd, &pd, &mut self.default_counts);
        count_sentence(&gs, &ps, &mut self.strict_counts);
        for (&g, &p) in gold.iter().zip(pred) {
            self.confusion.add(g, p);
        }
        self.sentences += 1;
        Ok(())
    }

    pub fn finalize(&self) -> Metrics {
        Metrics {
            sentences: self.sentences,
            entity: EntityReport::from_counts(&self.default_counts),
            entity_strict: EntityReport::from_counts(&self.strict_counts),
            token: TokenReport::from_confusion(self.confusion.clone()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accumulates_both_modes_and_tokens() {
        let mut acc = MetricsAccumulator::new(&LabelSet::plod());
        acc.add(&["B-AC", "O", "B-LF", "I-LF"], &["B-AC", "O", "O", "I-LF"]).unwrap();
        acc.add_ids(&[0, 1], &[0, 1]).unwrap();
        let m = acc.finalize();
        assert_eq!(m.sentences, 2);
        // default: the stray I-LF is a (wrong) LF entity; strict: it is no entity at all.
        assert_eq!(m.entity.per_type["LF"].fp, 1);
        assert_eq!(m.entity_strict.per_type["LF"].fp, 0);
        assert_eq!(m.entity.per_type["AC"].tp, 2);
        assert_eq!(m.token.tokens, 6);
        assert_eq!(m.token.confusion.counts[2][0], 1);
    }

    #[test]
    fn errors_name_the_problem() {
        let mut acc = MetricsAccumulator::new(&LabelSet::plod());
        assert_eq!(
            acc.add(&["O", "I-AC"], &["O", "O"]),
            Err(MetricsError::UnknownLabel { sentence: 0, position: 1, label: "I-AC".into() })
        );
        assert!(matches!(acc.add_ids(&[0], &[0, 0]), Err(MetricsError::LengthMismatch { .. })));
        assert!(matches!(acc.add_ids(&[9], &[0]), Err(MetricsError::LabelIdOutOfRange { id: 9, .. })));
    }
}
