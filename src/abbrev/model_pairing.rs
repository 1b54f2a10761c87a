//! `--pairs model`: the model's entities paired by layout, then by re-mention, then by distance — the pairing
//! nerkit used before hybrid decoding, kept as a mode, and the pairing of the evaluate report's "gold pairs found"
//! table.
//!
//! On the entities of one sentence (each AC gets at most one LF, an LF may serve several ACs, ACs with no LF
//! in their sentence stay unpaired):
//! 1. **parenthesised** ([`parenthesised`], as in the definitions by layout): `LF ( AC` or `AC ( LF`;
//! 2. **re-mention**: an AC whose text (case-insensitive) is defined in brackets elsewhere in the sentence
//!    takes that definition's LF;
//! 3. **nearest**: otherwise the LF closest to the AC in words (gap between the spans), leaving out LFs that
//!    are already the bracketed definition of another AC; on a tie the LF *before* the AC wins, since
//!    definitions usually precede their abbreviation.
use super::definitions::parenthesised;
use super::{PairRule, AC, LF};
use crate::metrics::Span;

/// Pairs the ACs with the LFs of one sentence (gold spans in `evaluate`, predicted ones in `--pairs model`).
pub fn pair_entities(tokens: &[String], gold: &[Span]) -> Vec<(Span, Span, PairRule)> {
    let lfs: Vec<&Span> = gold.iter().filter(|s| s.kind == LF).collect();
    let paren = |ac: &Span| parenthesised(tokens, ac, &lfs);
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
}
