//! Entity-level precision / recall / F1 per type, with micro, macro and weighted averages.
//!
//! Matches seqeval's `classification_report(..., output_dict=True)` with `zero_division='warn'`:
//! * an entity is correct only when type, start and end all match;
//! * the types reported are the union of gold and predicted types (sorted), so a type that is only ever
//!   predicted counts in the macro average with P = R = F1 = 0;
//! * 0/0 is 0; the macro average over zero types is NaN (numpy's mean of an empty array), which
//!   serialises as JSON `null`;
//! * the weighted average weights by gold support; with zero gold entities it is 0.
use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::Span;

/// Raw counts for one entity type.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct TypeCounts {
    /// Predicted entities that exactly match a gold entity.
    pub tp: usize,
    /// Predicted entities.
    pub pred: usize,
    /// Gold entities (the support).
    pub gold: usize,
}

impl TypeCounts {
    pub fn fp(&self) -> usize {
        self.pred - self.tp
    }

    pub fn fn_(&self) -> usize {
        self.gold - self.tp
    }

    fn add(&mut self, o: &TypeCounts) {
        self.tp += o.tp;
        self.pred += o.pred;
        self.gold += o.gold;
    }
}

/// Precision, recall, F1 and support, plus the counts behind them.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct Prf {
    pub precision: f64,
    pub recall: f64,
    pub f1: f64,
    pub support: usize,
    pub tp: usize,
    pub fp: usize,
    #[serde(rename = "fn")]
    pub fn_: usize,
}

fn ratio(num: usize, den: usize) -> f64 {
    if den == 0 {
        0.0
    } else {
        num as f64 / den as f64
    }
}

/// F1 as sklearn/seqeval compute it: `2pr / (p + r)`, with a zero denominator replaced by 1.
pub fn f1_of(p: f64, r: f64) -> f64 {
    let den = p + r;
    2.0 * p * r / if den == 0.0 { 1.0 } else { den }
}

impl Prf {
    pub fn from_counts(c: &TypeCounts) -> Self {
        let precision = ratio(c.tp, c.pred);
        let recall = ratio(c.tp, c.gold);
        Prf { precision, recall, f1: f1_of(precision, recall), support: c.gold, tp: c.tp, fp: c.fp(), fn_: c.fn_() }
    }
}

/// Averaged figures; `precision`/`recall`/`f1` may be NaN for a macro average over no types (JSON `null`).
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct Average {
    #[serde(deserialize_with = "f64_or_nan")]
    pub precision: f64,
    #[serde(deserialize_with = "f64_or_nan")]
    pub recall: f64,
    #[serde(deserialize_with = "f64_or_nan")]
    pub f1: f64,
    pub support: usize,
}

/// Reads a number, or `null` as NaN (serde_json writes NaN as `null`).
pub fn f64_or_nan<'de, D: serde::Deserializer<'de>>(d: D) -> Result<f64, D::Error> {
    Ok(Option::<f64>::deserialize(d)?.unwrap_or(f64::NAN))
}

/// The entity-level classification report.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct EntityReport {
    /// Per type, sorted by type name (union of gold and predicted types).
    pub per_type: BTreeMap<String, Prf>,
    pub micro: Average,
    #[serde(rename = "macro")]
    pub macro_: Average,
    pub weighted: Average,
}

impl EntityReport {
    pub fn from_counts(counts: &BTreeMap<String, TypeCounts>) -> Self {
        let per_type: BTreeMap<String, Prf> = counts.iter().map(|(k, c)| (k.clone(), Prf::from_counts(c))).collect();
        let mut total = TypeCounts::default();
        counts.values().for_each(|c| total.add(c));
        let micro_p = Prf::from_counts(&total);
        let micro =
            Average { precision: micro_p.precision, recall: micro_p.recall, f1: micro_p.f1, support: total.gold };
        let n = per_type.len() as f64;
        let mean = |f: fn(&Prf) -> f64| {
            if per_type.is_empty() {
                f64::NAN
            } else {
                per_type.values().map(f).sum::<f64>() / n
            }
        };
        let macro_ = Average {
            precision: mean(|p| p.precision),
            recall: mean(|p| p.recall),
            f1: mean(|p| p.f1),
            support: total.gold,
        };
        let weighted = if total.gold == 0 {
            Average { precision: 0.0, recall: 0.0, f1: 0.0, support: 0 }
        } else {
            let w = |f: fn(&Prf) -> f64| {
                per_type.values().map(|p| f(p) * p.support as f64).sum::<f64>() / total.gold as f64
            };
            Average { precision: w(|p| p.precision), recall: w(|p| p.recall), f1: w(|p| p.f1), support: total.gold }
        };
        EntityReport { per_type, micro, macro_, weighted }
    }
}

/// Adds the matches between one sentence's gold and predicted entities to `counts`.
pub fn count_sentence(gold: &[Span], pred: &[Span], counts: &mut BTreeMap<String, TypeCounts>) {
    for g in gold {
        counts.entry(g.kind.clone()).or_default().gold += 1;
    }
    for p in pred {
        let c = counts.entry(p.kind.clone()).or_default();
        c.pred += 1;
        if gold.contains(p) {
            c.tp += 1;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seqeval_readme_example() {
        // y_true = [[O O O B-MISC I-MISC I-MISC O], [B-PER I-PER O]]
        // y_pred = [[O O B-MISC I-MISC I-MISC I-MISC O], [B-PER I-PER O]]  => MISC 0/1, PER 1/1, micro 0.5
        let mut counts = BTreeMap::new();
        count_sentence(&[Span::new("MISC", 3, 6)], &[Span::new("MISC", 2, 6)], &mut counts);
        count_sentence(&[Span::new("PER", 0, 2)], &[Span::new("PER", 0, 2)], &mut counts);
        let r = EntityReport::from_counts(&counts);
        assert_eq!(r.micro.f1, 0.5);
        assert_eq!(r.per_type["MISC"].f1, 0.0);
        assert_eq!(r.per_type["PER"].f1, 1.0);
        assert_eq!(r.macro_.f1, 0.5);
        assert_eq!(r.weighted.f1, 0.5);
        assert_eq!(r.per_type["MISC"].fp, 1);
        assert_eq!(r.per_type["MISC"].fn_, 1);
    }

    #[test]
    fn predicted_only_type_lowers_macro() {
        let mut counts = BTreeMap::new();
        count_sentence(&[Span::new("AC", 0, 1)], &[Span::new("AC", 0, 1), Span::new("LF", 2, 4)], &mut counts);
        let r = EntityReport::from_counts(&counts);
        assert_eq!(r.per_type["LF"].support, 0);
        assert_eq!(r.macro_.f1, 0.5);
        assert_eq!(r.weighted.f1, 1.0);
        assert!((r.micro.precision - 0.5).abs() < 1e-12);
    }

    #[test]
    fn no_entities_at_all() {
        let r = EntityReport::from_counts(&BTreeMap::new());
        assert_eq!(r.micro.f1, 0.0);
        assert!(r.macro_.f1.is_nan());
        assert_eq!(r.weighted.f1, 0.0);
    }
}
