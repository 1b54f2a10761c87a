//! Hybrid decoding: the model's per-word label scores and the short form's letters decide a definition's long
//! form together.
//!
//! For every parenthesis where Schwartz–Hearst would look for a definition ([`schwartz_hearst::candidates`]),
//! each long-form start the short form's letters align with ([`letters::aligned_starts`]) is a candidate:
//! short form `B-<short>`, long form `B-<long> I-<long>…` up to the parenthesis. Each candidate is scored by
//! the best BIO-valid labelling of the whole sentence that contains it (constrained Viterbi over the model's
//! log-probabilities), and the best one is adopted when it costs the model at most `max_cost` nats against
//! its own best labelling — `max_cost_new` where the model saw no definition there at all (neither the short
//! form nor any long-form word tagged). Where no start aligns ("copper (cu)"), the model alone decides.
//! Entries of abbreviation lists ([`schwartz_hearst::list_candidates`]: `SF , long form ;`) are candidates
//! too, their long form being the whole entry.
use std::ops::Range;

use serde::{Deserialize, Serialize};

use super::{letters, schwartz_hearst};
use crate::infer::decode::viterbi_scored;
use crate::labels::LabelSet;

/// The hybrid decoder's thresholds, in nats of the model's sentence log-probability.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct HybridOptions {
    /// Largest cost of moving or setting a long form's boundary where the model saw a definition.
    pub max_cost: f32,
    /// Largest cost of adding a definition where the model tagged neither side.
    pub max_cost_new: f32,
}

impl Default for HybridOptions {
    fn default() -> Self {
        HybridOptions { max_cost: 32.0, max_cost_new: 64.0 }
    }
}

/// A definition the decoder adopted: word ranges in the sentence, and whether the model's own labelling had it
/// exactly (`agreed`) or the letters moved or added it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Adopted {
    pub short: Range<usize>,
    pub long: Range<usize>,
    pub agreed: bool,
}

/// The label ids the decoder pins.
struct Ids {
    b_short: usize,
    i_short: Option<usize>,
    b_long: usize,
    i_long: Option<usize>,
}

impl Ids {
    fn new(labels: &LabelSet, short: &str, long: &str) -> Option<Self> {
        Some(Ids {
            b_short: labels.id(&format!("B-{short}"))?,
            i_short: labels.id(&format!("I-{short}")),
            b_long: labels.id(&format!("B-{long}"))?,
            i_long: labels.id(&format!("I-{long}")),
        })
    }

    /// Pins for a definition (`None` when the label set cannot express it, e.g. a multi-word span of a type
    /// without `I-`).
    fn pins(&self, short: &Range<usize>, long: &Range<usize>) -> Option<Vec<(usize, usize)>> {
        let mut out = Vec::new();
        for (range, b, i) in [(short, self.b_short, self.i_short), (long, self.b_long, self.i_long)] {
            for w in range.clone() {
                out.push((w, if w == range.start { b } else { i? }));
            }
        }
        Some(out)
    }
}

/// Best labelling of the sentence with `pins` (word → label) fixed, and its log-probability.
fn pinned(log_probs: &[Vec<f32>], pins: &[Option<usize>], labels: &LabelSet) -> (Vec<usize>, f32) {
    let masked: Vec<Vec<f32>> = log_probs
        .iter()
        .zip(pins)
        .map(|(row, pin)| match pin {
            None => row.clone(),
            Some(p) => row.iter().enumerate().map(|(j, &v)| if j == *p { v } else { f32::NEG_INFINITY }).collect(),
        })
        .collect();
    viterbi_scored(&masked, labels)
}

/// Where the hybrid decoder looks for definitions in a sentence: Schwartz–Hearst's parentheses, then the
/// entries of abbreviation lists. A sentence without any needs no hybrid decoding.
pub fn candidates(words: &[&str]) -> Vec<schwartz_hearst::Candidate> {
    let mut out = schwartz_hearst::candidates(words);
    out.extend(schwartz_hearst::list_candidates(words));
    out
}

/// Labels one sentence's words from the model's per-word log-probabilities (`log_probs[word][label]`) with the
/// hybrid decoder, trying the sentence's [`candidates`]; returns the label ids and the definitions it adopted.
/// `short`/`long` are the pair types; a label set without them gets the model's Viterbi decoding.
pub fn decode(
    words: &[&str],
    candidates: &[schwartz_hearst::Candidate],
    log_probs: &[Vec<f32>],
    labels: &LabelSet,
    short: &str,
    long: &str,
    opts: &HybridOptions,
) -> (Vec<usize>, Vec<Adopted>) {
    let (own, own_score) = viterbi_scored(log_probs, labels);
    // the log-probability of the best labelling with the definitions adopted so far
    let mut current = own_score;
    let mut pins: Vec<Option<usize>> = vec![None; words.len()];
    let mut adopted = Vec::new();
    if let Some(ids) = Ids::new(labels, short, long).filter(|_| words.len() == log_probs.len()) {
        let typed = |w: usize| {
            let l = own[w];
            l == ids.b_short || Some(l) == ids.i_short || l == ids.b_long || Some(l) == ids.i_long
        };
        for c in candidates {
            let sf = words[c.short.clone()].join(" ");
            let region = &words[c.region.clone()];
            let longs: Vec<Range<usize>> = if c.reversed {
                letters::aligns(&sf, region).then(|| c.region.clone()).into_iter().collect()
            } else {
                letters::aligned_starts(&sf, region).into_iter().map(|s| c.region.start + s..c.region.end).collect()
            };
            let mut best: Option<(f32, Range<usize>, Vec<Option<usize>>)> = None;
            for long in longs.into_iter().filter(|l| schwartz_hearst::plausible(words, &c.short, l)) {
                let Some(p) = ids.pins(&c.short, &long) else { continue };
                let mut trial = pins.clone();
                if p.iter().any(|&(w, _)| trial[w].is_some()) {
                    continue; // overlaps a definition adopted earlier
                }
                for (w, l) in p {
                    trial[w] = Some(l);
                }
                let (_, score) = pinned(log_probs, &trial, labels);
                if best.as_ref().is_none_or(|(s, ..)| score > *s) {
                    best = Some((score, long, trial));
                }
            }
            let Some((score, long, trial)) = best else { continue };
            let seen = c.short.clone().chain(c.region.clone()).any(typed);
            let limit = if seen { opts.max_cost } else { opts.max_cost_new };
            if current - score <= limit {
                let agreed = ids.pins(&c.short, &long).is_some_and(|p| p.iter().all(|&(w, l)| own[w] == l))
                    && own.get(long.end).is_none_or(|&l| Some(l) != ids.i_long);
                pins = trial;
                current = score;
                adopted.push(Adopted { short: c.short.clone(), long, agreed });
            }
        }
    }
    if adopted.is_empty() {
        return (own, adopted);
    }
    let (path, _) = pinned(log_probs, &pins, labels);
    (path, adopted)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Log-probabilities from per-word probabilities over (O, B-AC, B-LF, I-LF).
    fn tags(rows: &[[f32; 4]]) -> Vec<Vec<f32>> {
        rows.iter().map(|r| r.iter().map(|p| p.ln()).collect()).collect()
    }

    const O: [f32; 4] = [0.97, 0.01, 0.01, 0.01];
    const AC: [f32; 4] = [0.1, 0.88, 0.01, 0.01];
    const BLF: [f32; 4] = [0.1, 0.01, 0.8, 0.09];
    const ILF: [f32; 4] = [0.1, 0.01, 0.09, 0.8];

    #[test]
    fn letters_move_a_long_form_start_the_model_left_short() {
        // "with minimally invasive vitreoretinal surgery ( mivs )": the model starts the LF at "vitreoretinal"
        // and is unsure about "minimally invasive"
        let words: Vec<&str> = "with minimally invasive vitreoretinal surgery ( mivs )".split(' ').collect();
        let unsure = [0.55, 0.01, 0.3, 0.14];
        let unsure_in = [0.55, 0.01, 0.04, 0.4];
        let t = tags(&[O, unsure, unsure_in, BLF, ILF, O, AC, O]);
        let labels = LabelSet::plod();
        let (path, adopted) = decode(&words, &candidates(&words), &t, &labels, "AC", "LF", &HybridOptions::default());
        assert_eq!(adopted, vec![Adopted { short: 6..7, long: 1..5, agreed: false }]);
        assert_eq!(path, vec![0, 2, 3, 3, 3, 0, 1, 0]);
    }

    #[test]
    fn agreement_is_kept_and_a_confident_model_wins_over_the_letters() {
        let labels = LabelSet::plod();
        let words: Vec<&str> = "the echo planar imaging ( epi ) sequence".split(' ').collect();
        let t = tags(&[O, BLF, ILF, ILF, O, AC, O, O]);
        let (path, adopted) = decode(&words, &candidates(&words), &t, &labels, "AC", "LF", &HybridOptions::default());
        assert_eq!(adopted, vec![Adopted { short: 5..6, long: 1..4, agreed: true }]);
        assert_eq!(path, vec![0, 2, 3, 3, 0, 1, 0, 0]);
        // the model is sure "levels" is not part of a long form; nothing aligns with "cu" → the model decides
        let words: Vec<&str> = "levels of copper ( cu )".split(' ').collect();
        let t = tags(&[O, O, BLF, O, AC, O]);
        let (path, adopted) = decode(&words, &candidates(&words), &t, &labels, "AC", "LF", &HybridOptions::default());
        assert!(adopted.is_empty());
        assert_eq!(path, vec![0, 0, 2, 0, 1, 0]);
    }

    #[test]
    fn a_new_definition_needs_the_model_not_to_object_too_much() {
        let labels = LabelSet::plod();
        let words: Vec<&str> = "the echo planar imaging ( epi ) sequence".split(' ').collect();
        let unsure = [0.6, 0.1, 0.2, 0.1];
        let unsure_in = [0.6, 0.1, 0.1, 0.2];
        let t = tags(&[O, unsure, unsure_in, unsure_in, O, [0.6, 0.3, 0.05, 0.05], O, O]);
        let strict = HybridOptions { max_cost: 8.0, max_cost_new: 1.0 };
        let (path, adopted) = decode(&words, &candidates(&words), &t, &labels, "AC", "LF", &strict);
        assert!(adopted.is_empty());
        assert_eq!(path, vec![0; 8]);
        let (path, adopted) = decode(&words, &candidates(&words), &t, &labels, "AC", "LF", &HybridOptions::default());
        assert_eq!(adopted.len(), 1);
        assert_eq!(path, vec![0, 2, 3, 3, 0, 1, 0, 0]);
    }
}
