//! Error rate by sentence length, and calibration (confidence vs accuracy) when scores are given.
use serde::{Deserialize, Serialize};

use super::PredictionRecord;
use crate::metrics::Span;

/// Sentence-length buckets in words (inclusive bounds; the last is open-ended).
pub const LENGTH_BUCKETS: [(usize, usize); 6] = [(0, 10), (11, 20), (21, 30), (31, 45), (46, 60), (61, usize::MAX)];

/// Errors among the sentences of one length bucket.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct LengthBucket {
    pub label: String,
    pub sentences: usize,
    pub tokens: usize,
    /// Words whose predicted tag differs from the gold tag.
    pub token_errors: usize,
    /// Sentences with at least one entity that is not an exact match (either side).
    pub sentences_with_error: usize,
    /// Entity-level micro F1 inside the bucket (default mode entities given by the caller).
    pub entity_f1: f64,
}

impl LengthBucket {
    pub fn token_error_rate(&self) -> f64 {
        if self.tokens == 0 {
            0.0
        } else {
            self.token_errors as f64 / self.tokens as f64
        }
    }

    pub fn sentence_error_rate(&self) -> f64 {
        if self.sentences == 0 {
            0.0
        } else {
            self.sentences_with_error as f64 / self.sentences as f64
        }
    }
}

fn bucket_label(lo: usize, hi: usize) -> String {
    if hi == usize::MAX {
        format!("{lo}+")
    } else if lo == 0 {
        format!("≤{hi}")
    } else {
        format!("{lo}–{hi}")
    }
}

/// Buckets that hold at least one sentence.
pub fn length_buckets(records: &[PredictionRecord], entities: &[(Vec<Span>, Vec<Span>)]) -> Vec<LengthBucket> {
    let mut out = Vec::new();
    for (lo, hi) in LENGTH_BUCKETS {
        let (mut b, mut tp, mut np, mut ng) = (
            LengthBucket {
                label: bucket_label(lo, hi),
                sentences: 0,
                tokens: 0,
                token_errors: 0,
                sentences_with_error: 0,
                entity_f1: 0.0,
            },
            0,
            0,
            0,
        );
        for (r, (g, p)) in records.iter().zip(entities).filter(|(r, _)| (lo..=hi).contains(&r.len())) {
            b.sentences += 1;
            b.tokens += r.len();
            b.token_errors += r.gold.iter().zip(&r.pred).filter(|(a, b)| a != b).count();
            let correct = p.iter().filter(|x| g.contains(x)).count();
            b.sentences_with_error += usize::from(correct != g.len() || correct != p.len());
            tp += correct;
            np += p.len();
            ng += g.len();
        }
        if b.sentences > 0 {
            let prec = if np == 0 { 0.0 } else { tp as f64 / np as f64 };
            let rec = if ng == 0 { 0.0 } else { tp as f64 / ng as f64 };
            b.entity_f1 = crate::metrics::entity_scores::f1_of(prec, rec);
            out.push(b);
        }
    }
    out
}

/// One confidence bin of the reliability diagram.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct CalibrationBin {
    pub lo: f64,
    pub hi: f64,
    pub count: usize,
    pub mean_confidence: f64,
    /// Share of words in the bin whose predicted tag equals the gold tag.
    pub accuracy: f64,
}

/// Word-level calibration over the records that carry `pred_scores`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Calibration {
    pub bins: Vec<CalibrationBin>,
    pub words: usize,
    /// Expected calibration error: Σ (count/words) · |accuracy − mean confidence|.
    pub ece: f64,
}

/// `None` when no record has scores.
pub fn calibration(records: &[PredictionRecord], n_bins: usize) -> Option<Calibration> {
    let mut sums = vec![(0usize, 0.0f64, 0usize); n_bins];
    let mut words = 0;
    for r in records {
        let Some(scores) = &r.scores else { continue };
        for ((g, p), &s) in r.gold.iter().zip(&r.pred).zip(scores) {
            let k = ((s * n_bins as f64) as usize).min(n_bins - 1);
            sums[k].0 += 1;
            sums[k].1 += s;
            sums[k].2 += usize::from(g == p);
            words += 1;
        }
    }
    if words == 0 {
        return None;
    }
    let mut ece = 0.0;
    let bins = sums
        .iter()
        .enumerate()
        .map(|(k, &(count, conf, correct))| {
            let (mean_confidence, accuracy) =
                if count == 0 { (0.0, 0.0) } else { (conf / count as f64, correct as f64 / count as f64) };
            ece += count as f64 / words as f64 * (accuracy - mean_confidence).abs();
            CalibrationBin {
                lo: k as f64 / n_bins as f64,
                hi: (k + 1) as f64 / n_bins as f64,
                count,
                mean_confidence,
                accuracy,
            }
        })
        .collect();
    Some(Calibration { bins, words, ece })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::metrics::default_entities;

    fn rec(gold: &[&str], pred: &[&str]) -> PredictionRecord {
        let t: Vec<&str> = gold.iter().map(|_| "w").collect();
        PredictionRecord::from_strs(&t, gold, pred)
    }

    #[test]
    fn buckets_count_errors() {
        let mut long_g = vec!["O"; 12];
        long_g[0] = "B-AC";
        let rs = vec![
            rec(&["B-AC", "O"], &["B-AC", "O"]),
            rec(&["O", "O", "O"], &["B-AC", "O", "O"]),
            rec(&long_g, &long_g),
        ];
        let ents: Vec<_> = rs.iter().map(|r| (default_entities(&r.gold), default_entities(&r.pred))).collect();
        let b = length_buckets(&rs, &ents);
        assert_eq!(b.len(), 2);
        assert_eq!((b[0].label.as_str(), b[0].sentences, b[0].tokens, b[0].token_errors), ("≤10", 2, 5, 1));
        assert_eq!(b[0].sentences_with_error, 1);
        assert!((b[0].entity_f1 - 2.0 / 3.0).abs() < 1e-12);
        assert_eq!((b[1].label.as_str(), b[1].sentence_error_rate()), ("11–20", 0.0));
    }

    #[test]
    fn calibration_bins_and_ece() {
        let mut r = rec(&["O", "O", "B-AC", "O"], &["O", "B-AC", "B-AC", "O"]);
        r.scores = Some(vec![0.95, 0.55, 0.85, 1.0]);
        let c = calibration(&[r], 10).unwrap();
        assert_eq!(c.words, 4);
        assert_eq!(c.bins[9].count, 2);
        assert_eq!(c.bins[5].accuracy, 0.0);
        // |1-0.975|*2/4 + |0-0.55|/4 + |1-0.85|/4
        assert!((c.ece - (0.025 * 0.5 + 0.55 / 4.0 + 0.15 / 4.0)).abs() < 1e-12);
        assert!(calibration(&[rec(&["O"], &["O"])], 10).is_none());
    }
}
