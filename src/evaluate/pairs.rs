//! Which sides of the gold abbreviation ↔ long-form pairs the tagger found, and which gold surface forms it
//! misses most. Gold ACs are paired with gold LFs by [`crate::abbrev::model_pairing::pair_entities`].
use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

pub use crate::abbrev::model_pairing::pair_entities;
pub use crate::abbrev::{PairRule, AC, LF};

use super::PredictionRecord;
use crate::metrics::Span;

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
