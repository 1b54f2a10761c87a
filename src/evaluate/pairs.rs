//! Abbreviation ↔ long-form pairing, and which gold surface forms the tagger misses most.
//!
//! Pairing heuristic (on *gold* entities of one sentence; each AC gets at most one LF, an LF may serve
//! several ACs, ACs with no LF in their sentence stay unpaired):
//! 1. **parenthesised**: `LF ( AC` — the AC's previous word is `(` and an LF ends just before it; or the
//!    reverse definition `AC ( LF`;
//! 2. **re-mention**: an AC whose text (case-insensitive) is defined in brackets elsewhere in the sentence
//!    takes that definition's LF;
//! 3. **nearest**: otherwise the LF closest to the AC in words (gap between the spans), leaving out LFs that
//!    are already the bracketed definition of another AC; on a tie the LF *before* the AC wins, since
//!    definitions usually precede their abbreviation.
use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

pub use crate::abbrev::PairRule;

use super::PredictionRecord;
use crate::metrics::Span;

pub const AC: &str = "AC";
pub const LF: &str = "LF";

/// One gold AC↔LF pair and whether the tagger found each side exactly.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct PairOutcome {
    pub sentence: usize,
    pub ac: Span,
    pub lf: Span,
    pub rule: PairRule,
    pub ac_found: bool,
    pub lf_found: bool,
}

/// Pairs gold ACs with gold LFs in one sentence.
pub fn pair_entities(tokens: &[String], gold: &[Span]) -> Vec<(Span, Span, PairRule)> {
    let lfs: Vec<&Span> = gold.iter().filter(|s| s.kind == LF).collect();
    let word = |i: usize| tokens.get(i).map(|s| s.as_str());
    let paren = |ac: &Span| {
        lfs.iter().copied().find(|lf| {
            (ac.start >= 1 && word(ac.start - 1) == Some("(") && lf.end + 1 == ac.start)
                || (word(ac.end) == Some("(") && lf.start == ac.end + 1)
        })
    };
    let text = |s: &Span| tokens[s.start..s.end].join(" ").to_lowercase();
    let defined: Vec<(String, &Span)> =
        gold.iter().filter(|s| s.kind == AC).filter_map(|ac| paren(ac).map(|lf| (text(ac), lf))).collect();
    let mut out = Vec::new();
    for ac in gold.iter().filter(|s| s.kind == AC) {
        if let Some(lf) = paren(ac) {
            out.push((ac.clone(), lf.clone(), PairRule::Parenthesised));
            continue;
        }
        if let Some((_, lf)) = defined.iter().find(|(t, _)| *t == text(ac)) {
            out.push((ac.clone(), (*lf).clone(), PairRule::Remention));
            continue;
        }
        let gap = |lf: &Span| if lf.end <= ac.start { ac.start - lf.end } else { lf.start.saturating_sub(ac.end) };
        // an LF defined for another AC in brackets is not reused; on equal gaps the LF before the AC wins
        let free = lfs.iter().copied().filter(|lf| !defined.iter().any(|(_, d)| d == lf));
        if let Some(lf) = free.min_by_key(|lf| (gap(lf), lf.start > ac.start)) {
            out.push((ac.clone(), lf.clone(), PairRule::Nearest));
        }
    }
    out
}

/// Pair outcomes for the whole corpus (`entities[i]` = gold and predicted entities of record `i`).
pub fn pair_outcomes(records: &[PredictionRecord], entities: &[(Vec<Span>, Vec<Span>)]) -> Vec<PairOutcome> {
    let mut out = Vec::new();
    for (i, (r, (gold, pred))) in records.iter().zip(entities).enumerate() {
        for (ac, lf, rule) in pair_entities(&r.tokens, gold) {
            out.push(PairOutcome {
                sentence: i,
                ac_found: pred.contains(&ac),
                lf_found: pred.contains(&lf),
                ac,
                lf,
                rule,
            });
        }
    }
    out
}

/// Counts of the four pair outcomes.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PairCounts {
    pub pairs: usize,
    pub both_found: usize,
    pub ac_only: usize,
    pub lf_only: usize,
    pub neither: usize,
    pub parenthesised: usize,
}

pub fn pair_counts(outcomes: &[PairOutcome]) -> PairCounts {
    let mut c = PairCounts { pairs: outcomes.len(), ..Default::default() };
    for o in outcomes {
        match (o.ac_found, o.lf_found) {
            (true, true) => c.both_found += 1,
            (true, false) => c.ac_only += 1,
            (false, true) => c.lf_only += 1,
            (false, false) => c.neither += 1,
        }
        c.parenthesised += usize::from(o.rule == PairRule::Parenthesised);
    }
    c
}

/// A gold surface form (lowercased words) and how often it was not found exactly.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct MissedForm {
    pub kind: String,
    pub text: String,
    pub missed: usize,
    pub occurrences: usize,
}

/// The `top` most often missed gold forms per type (missed = not predicted exactly), most missed first.
pub fn most_missed(
    records: &[PredictionRecord],
    entities: &[(Vec<Span>, Vec<Span>)],
    top: usize,
) -> BTreeMap<String, Vec<MissedForm>> {
    let mut tally: BTreeMap<(String, String), (usize, usize)> = BTreeMap::new();
    for (r, (gold, pred)) in records.iter().zip(entities) {
        for g in gold {
            let text = r.tokens[g.start..g.end].join(" ").to_lowercase();
            let e = tally.entry((g.kind.clone(), text)).or_default();
            e.1 += 1;
            e.0 += usize::from(!pred.contains(g));
        }
    }
    let mut out: BTreeMap<String, Vec<MissedForm>> = BTreeMap::new();
    for ((kind, text), (missed, occurrences)) in tally {
        if missed > 0 {
            out.entry(kind.clone()).or_default().push(MissedForm { kind, text, missed, occurrences });
        }
    }
    for v in out.values_mut() {
        v.sort_by(|a, b| b.missed.cmp(&a.missed).then(b.occurrences.cmp(&a.occurrences)).then(a.text.cmp(&b.text)));
        v.truncate(top);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::metrics::default_entities;

    fn toks(s: &str) -> Vec<String> {
        s.split(' ').map(String::from).collect()
    }

    #[test]
    fn parenthesised_pair_beats_a_nearer_lf() {
        // "echo planar imaging ( epi ) and diffusion imaging epi"
        let t = toks("echo planar imaging ( epi ) and diffusion imaging");
        let g = default_entities(&["B-LF", "I-LF", "I-LF", "O", "B-AC", "O", "O", "B-LF", "I-LF"]);
        let p = pair_entities(&t, &g);
        assert_eq!(p.len(), 1);
        assert_eq!((p[0].1.start, p[0].1.end, p[0].2), (0, 3, PairRule::Parenthesised));
    }

    #[test]
    fn reverse_definition_and_nearest_fallback() {
        let t = toks("epi ( echo planar imaging ) was used ; mri is magnetic resonance imaging");
        let tags = ["B-AC", "O", "B-LF", "I-LF", "I-LF", "O", "O", "O", "O", "B-AC", "O", "B-LF", "I-LF", "I-LF"];
        let p = pair_entities(&t, &default_entities(&tags));
        assert_eq!(p.len(), 2);
        assert_eq!((p[0].1.start, p[0].2), (2, PairRule::Parenthesised));
        assert_eq!((p[1].1.start, p[1].2), (11, PairRule::Nearest));
    }

    #[test]
    fn a_bracketed_definition_is_not_reused_by_another_ac() {
        let t = toks("acp protocol ; quality of death ( qod ) ; lung function");
        let tags = ["B-AC", "O", "O", "B-LF", "I-LF", "I-LF", "O", "B-AC", "O", "O", "B-LF", "I-LF"];
        let p = pair_entities(&t, &default_entities(&tags));
        assert_eq!(p.len(), 2);
        assert_eq!((p[0].0.start, p[0].1.start, p[0].2), (0, 10, PairRule::Nearest));
        assert_eq!((p[1].0.start, p[1].1.start, p[1].2), (7, 3, PairRule::Parenthesised));
    }

    #[test]
    fn outcomes_and_missed_forms() {
        let mut r = PredictionRecord::from_strs(
            &["magnetic", "resonance", "(", "mr", ")", "mr"],
            &["B-LF", "I-LF", "O", "B-AC", "O", "B-AC"],
            &["O", "B-LF", "O", "B-AC", "O", "O"],
        );
        r.tokens[3] = "MR".into();
        let ents = vec![(default_entities(&r.gold), default_entities(&r.pred))];
        let o = pair_outcomes(std::slice::from_ref(&r), &ents);
        let c = pair_counts(&o);
        assert_eq!((c.pairs, c.ac_only, c.neither, c.parenthesised), (2, 1, 1, 1));
        assert_eq!(o[1].rule, PairRule::Remention);
        let m = most_missed(&[r], &ents, 5);
        assert_eq!(m["AC"], vec![MissedForm { kind: "AC".into(), text: "mr".into(), missed: 1, occurrences: 2 }]);
        assert_eq!(m["LF"][0].text, "magnetic resonance");
    }
}
