//! Entity error analysis: every gold or predicted entity that is not an exact match gets one category.
//!
//! Per sentence, with the entities of the chosen [`Mode`]:
//! * **boundary**: a gold entity overlapped by a prediction of the *same* type with other boundaries;
//! * **type confusion**: a gold entity overlapped (same or overlapping span) only by predictions of
//!   *another* type (AC↔LF);
//! * **missed**: a gold entity that no prediction touches;
//! * **spurious**: a prediction that touches no gold entity.
//!
//! Gold entities are classified first (boundary wins over type when both kinds of overlap exist); a
//! prediction that overlaps any gold entity is never spurious. Each case gets a severity for ranking the
//! "worst" examples: words wrong (symmetric difference of the gold and predicted word sets, or the entity's
//! length for a miss / spurious span), then the model's mean confidence on the predicted words when scores
//! are given (a confident mistake is worse), then file order.
use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::PredictionRecord;
use crate::metrics::{extract, MetricsError, Mode, Span};

/// The four error categories.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Category {
    Boundary,
    TypeConfusion,
    Missed,
    Spurious,
}

impl Category {
    pub const ALL: [Category; 4] = [Category::Boundary, Category::TypeConfusion, Category::Missed, Category::Spurious];

    pub fn title(self) -> &'static str {
        match self {
            Category::Boundary => "Boundary errors",
            Category::TypeConfusion => "Type confusion",
            Category::Missed => "Missed entities",
            Category::Spurious => "Spurious entities",
        }
    }

    pub fn explanation(self) -> &'static str {
        match self {
            Category::Boundary => {
                "The right type was predicted over an overlapping but different span: a word too many or too few \
                 (typically the first or last word of a long form, or a bracket)."
            }
            Category::TypeConfusion => {
                "The span was found (exactly or overlapping) but given the other type: an abbreviation tagged as \
                 a long form or the reverse."
            }
            Category::Missed => "A gold entity with no predicted entity on any of its words (a pure recall loss).",
            Category::Spurious => {
                "A predicted entity on words that carry no gold entity at all (a pure precision loss)."
            }
        }
    }
}

/// One error: the sentence, the gold and/or predicted entity involved, and its ranking keys.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ErrorCase {
    pub category: Category,
    pub sentence: usize,
    pub gold: Option<Span>,
    pub pred: Option<Span>,
    /// Words wrong (see the module documentation).
    pub words_wrong: usize,
    /// Mean predicted confidence over the predicted span, when scores were given.
    pub confidence: Option<f64>,
}

impl ErrorCase {
    /// The entity type the case is filed under (gold type, or predicted type for a spurious entity).
    pub fn kind(&self) -> &str {
        self.gold.as_ref().or(self.pred.as_ref()).map(|s| s.kind.as_str()).unwrap_or("")
    }

    fn rank_key(&self) -> (usize, i64) {
        (self.words_wrong, (self.confidence.unwrap_or(0.0) * 1e6) as i64)
    }
}

fn mean_score(scores: Option<&Vec<f64>>, span: &Span) -> Option<f64> {
    scores.map(|s| s[span.start..span.end].iter().sum::<f64>() / span.len().max(1) as f64)
}

fn sym_diff(a: &Span, b: &Span) -> usize {
    let inter = a.end.min(b.end).saturating_sub(a.start.max(b.start));
    a.len() + b.len() - 2 * inter
}

fn overlap(a: &Span, b: &Span) -> usize {
    a.end.min(b.end).saturating_sub(a.start.max(b.start))
}

/// Categorises the non-exact entities of one sentence.
pub fn categorize(sentence: usize, gold: &[Span], pred: &[Span], scores: Option<&Vec<f64>>) -> Vec<ErrorCase> {
    let mut out = Vec::new();
    for g in gold.iter().filter(|g| !pred.contains(g)) {
        let best = |same: bool| {
            pred.iter().filter(|p| p.overlaps(g) && (p.kind == g.kind) == same).max_by_key(|p| overlap(p, g))
        };
        let (category, p) = match (best(true), best(false)) {
            (Some(p), _) => (Category::Boundary, Some(p)),
            (None, Some(p)) => (Category::TypeConfusion, Some(p)),
            (None, None) => (Category::Missed, None),
        };
        let words_wrong = match (category, p) {
            (Category::Boundary, Some(p)) => sym_diff(g, p),
            // a type confusion gets every gold word wrong, plus any boundary difference
            (Category::TypeConfusion, Some(p)) => g.len() + sym_diff(g, p),
            _ => g.len(),
        };
        out.push(ErrorCase {
            category,
            sentence,
            gold: Some(g.clone()),
            pred: p.cloned(),
            words_wrong,
            confidence: p.and_then(|p| mean_score(scores, p)),
        });
    }
    for p in pred.iter().filter(|p| !gold.iter().any(|g| g.overlaps(p))) {
        out.push(ErrorCase {
            category: Category::Spurious,
            sentence,
            gold: None,
            pred: Some(p.clone()),
            words_wrong: p.len(),
            confidence: mean_score(scores, p),
        });
    }
    out
}

/// Counts per category (and per entity type), and the worst examples of each category.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ErrorSummary {
    pub counts: BTreeMap<Category, usize>,
    /// `category -> entity type -> count`.
    pub counts_by_type: BTreeMap<Category, BTreeMap<String, usize>>,
    /// Up to `worst` cases per category, worst first.
    pub worst: BTreeMap<Category, Vec<ErrorCase>>,
    /// Every case, in file order.
    #[serde(skip)]
    pub all: Vec<ErrorCase>,
}

/// Entities of one record under `mode` (gold, predicted).
pub fn record_entities(r: &PredictionRecord, mode: Mode) -> Result<(Vec<Span>, Vec<Span>), MetricsError> {
    Ok((extract(&r.gold, mode)?, extract(&r.pred, mode)?))
}

/// Runs [`categorize`] over every record.
pub fn analyse(records: &[PredictionRecord], mode: Mode, worst: usize) -> Result<ErrorSummary, MetricsError> {
    let mut all = Vec::new();
    for (i, r) in records.iter().enumerate() {
        let (g, p) = record_entities(r, mode)?;
        all.extend(categorize(i, &g, &p, r.scores.as_ref()));
    }
    let mut counts = BTreeMap::new();
    let mut counts_by_type: BTreeMap<Category, BTreeMap<String, usize>> = BTreeMap::new();
    for c in Category::ALL {
        counts.insert(c, 0);
        counts_by_type.insert(c, BTreeMap::new());
    }
    for e in &all {
        *counts.get_mut(&e.category).expect("all categories inserted") += 1;
        *counts_by_type.get_mut(&e.category).expect("inserted").entry(e.kind().to_string()).or_default() += 1;
    }
    let worst = Category::ALL
        .iter()
        .map(|&c| {
            let mut v: Vec<ErrorCase> = all.iter().filter(|e| e.category == c).cloned().collect();
            // stable sort: ties keep file order
            v.sort_by_key(|e| std::cmp::Reverse(e.rank_key()));
            v.truncate(worst);
            (c, v)
        })
        .collect();
    Ok(ErrorSummary { counts, counts_by_type, worst, all })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::metrics::default_entities;

    type Range = Option<(usize, usize)>;

    fn cats(gold: &[&str], pred: &[&str]) -> Vec<(Category, Range, Range)> {
        categorize(0, &default_entities(gold), &default_entities(pred), None)
            .into_iter()
            .map(|e| (e.category, e.gold.map(|s| (s.start, s.end)), e.pred.map(|s| (s.start, s.end))))
            .collect()
    }

    #[test]
    fn exact_match_is_no_error() {
        assert!(cats(&["B-AC", "O", "B-LF", "I-LF"], &["B-AC", "O", "B-LF", "I-LF"]).is_empty());
    }

    #[test]
    fn boundary_error_partial_overlap_same_type() {
        let c = cats(&["B-LF", "I-LF", "I-LF", "O"], &["O", "B-LF", "I-LF", "I-LF"]);
        assert_eq!(c, vec![(Category::Boundary, Some((0, 3)), Some((1, 4)))]);
    }

    #[test]
    fn type_confusion_same_or_overlapping_span() {
        assert_eq!(cats(&["B-AC", "O"], &["B-LF", "O"]), vec![(Category::TypeConfusion, Some((0, 1)), Some((0, 1)))]);
        assert_eq!(
            cats(&["B-LF", "I-LF", "O"], &["O", "B-AC", "O"]),
            vec![(Category::TypeConfusion, Some((0, 2)), Some((1, 2)))]
        );
    }

    #[test]
    fn missed_and_spurious() {
        assert_eq!(
            cats(&["B-AC", "O", "O", "O"], &["O", "O", "B-AC", "O"]),
            vec![(Category::Missed, Some((0, 1)), None), (Category::Spurious, None, Some((2, 3)))]
        );
    }

    #[test]
    fn a_merged_prediction_is_a_boundary_error_for_each_gold_and_not_spurious() {
        let c = cats(&["B-LF", "I-LF", "B-LF", "O"], &["B-LF", "I-LF", "I-LF", "O"]);
        assert_eq!(c.len(), 2);
        assert!(c.iter().all(|x| x.0 == Category::Boundary));
    }

    #[test]
    fn worst_examples_rank_by_words_wrong_then_confidence() {
        let mk = |gold: &[&str], pred: &[&str], s: Vec<f64>| {
            let t: Vec<&str> = gold.iter().map(|_| "w").collect();
            let mut r = PredictionRecord::from_strs(&t, gold, pred);
            r.scores = Some(s);
            r
        };
        let records = vec![
            mk(&["O", "O"], &["B-AC", "O"], vec![0.6, 0.9]),
            mk(&["O", "O"], &["B-AC", "O"], vec![0.99, 0.9]),
            mk(&["O", "O"], &["B-LF", "I-LF"], vec![0.5, 0.5]),
        ];
        let s = analyse(&records, Mode::Default, 2).unwrap();
        assert_eq!(s.counts[&Category::Spurious], 3);
        let order: Vec<usize> = s.worst[&Category::Spurious].iter().map(|e| e.sentence).collect();
        assert_eq!(order, vec![2, 1]);
        assert_eq!(s.counts_by_type[&Category::Spurious]["AC"], 2);
    }
}
