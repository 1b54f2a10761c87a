//! Abbreviation ↔ long-form pairs on *predicted* entities, and a document's glossary.
//!
//! Pairs are definitions read off the predicted entities sentence by sentence, on the document's PLOD words:
//! by layout ([`crate::abbrev::definitions`]: `LF ( AC`, `AC ( LF`, abbreviation-list entries — the rules
//! that derive gold definitions in `nerkit evaluate`) in `hybrid` and `rules` mode, or with the older pairing
//! of `model` mode ([`crate::abbrev::model_pairing`]: also re-mentions and the nearest long form).
//! Each pair says what it rests on ([`Evidence`]). The glossary maps each abbreviation to its long form: the
//! first bracketed definition in the document wins (else the first pair found for it), other long forms given
//! to the same abbreviation are kept beside it, and every mention of the abbreviation (case-insensitive) is
//! linked to it, also in sentences without a long form.
use std::collections::BTreeMap;
use std::ops::Range;
use std::path::Path;

use serde::Deserialize;

use super::entity::{entity_type, Entity};
use super::text::{words_overlapping, Word};
use crate::abbrev::hybrid::Adopted;
use crate::abbrev::model_pairing::pair_entities;
use crate::abbrev::{definitions, letters, Evidence, PairMode, PairRule, AC, LF};
use crate::labels::LabelSet;
use crate::metrics::Span;

pub use nerkit_api::{Glossary, GlossaryEntry, OtherDefinition, Pair, PairTypes};

/// The pair types of a model with `labels`: `dir/nerkit.toml`'s `pairs` table (`pairs = { short = "...", long =
/// "..." }`) when present, else `AC`/`LF` (PLOD); `Ok(None)` when the label set lacks either type (no pairs, no
/// glossary). A `pairs` table naming a type the labels lack is an error.
pub fn model_pair_types(dir: Option<&Path>, labels: &LabelSet) -> Result<Option<PairTypes>, String> {
    let declared = match dir.map(|d| d.join("nerkit.toml")) {
        Some(path) if path.is_file() => {
            let text = std::fs::read_to_string(&path).map_err(|e| format!("{}: {e}", path.display()))?;
            let value: toml::Table = toml::from_str(&text).map_err(|e| format!("{}: {e}", path.display()))?;
            match value.get("pairs") {
                None => None,
                Some(v) => Some(PairTypes::deserialize(v.clone()).map_err(|e| {
                    format!("{}: `pairs` must be {{ short = \"AC\", long = \"LF\" }}: {e}", path.display())
                })?),
            }
        }
        _ => None,
    };
    match declared {
        Some(p) => {
            for t in [&p.short, &p.long] {
                if !labels.has_type(t) {
                    return Err(format!(
                        "nerkit.toml `pairs` names type `{t}`, which the model's labels ({}) lack",
                        labels.labels().join(", ")
                    ));
                }
            }
            Ok(Some(p))
        }
        None => {
            let p = PairTypes::plod();
            Ok((labels.has_type(&p.short) && labels.has_type(&p.long)).then_some(p))
        }
    }
}

/// How one document's pairs are formed: the pair mode, and per sentence the definitions the hybrid decoder
/// adopted ([`Adopted`]; empty when it did not run, e.g. under a Hugging Face strategy).
pub struct PairingInput<'a> {
    pub types: &'a PairTypes,
    pub mode: PairMode,
    pub adopted: &'a [Vec<Adopted>],
}

/// Pairs and glossary of one document. `entities` have byte offsets into `text`; `words` and `sentences` are
/// the document's PLOD words and sentences (ranges of word indices). In `hybrid` and `rules` mode a defined
/// abbreviation's later mentions that the tagger left untagged become entities of the short type (as
/// scispaCy links them), so `entities` may grow; they stay sorted by offset.
pub fn pairs_and_glossary(
    text: &str,
    words: &[Word],
    sentences: &[Range<usize>],
    entities: &mut Vec<Entity>,
    input: &PairingInput,
) -> (Vec<Pair>, Glossary) {
    let mut pairs = find_pairs(text, words, sentences, entities, input);
    if input.mode != PairMode::Model {
        link_mentions(text, words, entities, &mut pairs, &input.types.short);
    }
    pairs.sort_by_key(|p| (entities[p.ac].start, p.ac));
    let glossary = glossary(entities, &pairs, &input.types.short);
    (pairs, glossary)
}

fn find_pairs(
    text: &str,
    words: &[Word],
    sentences: &[Range<usize>],
    entities: &[Entity],
    input: &PairingInput,
) -> Vec<Pair> {
    let types = input.types;
    // each short/long entity as a word span inside its sentence, typed AC/LF for the pairing rules
    let mut per_sentence: Vec<Vec<(Span, usize)>> = vec![Vec::new(); sentences.len()];
    for (k, e) in entities.iter().enumerate() {
        let ty = entity_type(&e.label);
        let kind = if ty == types.short {
            AC
        } else if ty == types.long {
            LF
        } else {
            continue;
        };
        let Range { start: first, end: last } = words_overlapping(words, e.start, e.end);
        if first >= last {
            continue;
        }
        let Some(s) = sentences.iter().position(|r| r.contains(&first)) else { continue };
        let r = &sentences[s];
        let span = Span::new(kind, first - r.start, last.min(r.end) - r.start);
        // sub-word entities (Hugging Face strategies) can fall in one word: pair the word's first entity once
        if !per_sentence[s].iter().any(|(x, _)| *x == span) {
            per_sentence[s].push((span, k));
        }
    }
    let mut pairs = Vec::new();
    for (s, spans) in per_sentence.iter().enumerate() {
        if spans.is_empty() {
            continue;
        }
        let r = &sentences[s];
        let tokens: Vec<String> = words[r.clone()].iter().map(|w| w.text(text).to_string()).collect();
        let gold: Vec<Span> = spans.iter().map(|(sp, _)| sp.clone()).collect();
        let index = |sp: &Span| spans.iter().find(|(x, _)| x == sp).map(|(_, k)| *k);
        let found: Vec<(Span, Span, PairRule)> = match input.mode {
            PairMode::Model => pair_entities(&tokens, &gold),
            PairMode::Rules | PairMode::Hybrid => {
                definitions(&tokens, &gold, AC, LF).into_iter().map(|d| (d.short, d.long, d.rule)).collect()
            }
        };
        let adopted = input.adopted.get(s).map_or(&[][..], Vec::as_slice);
        for (ac, lf, rule) in found {
            let (Some(a), Some(l)) = (index(&ac), index(&lf)) else { continue };
            let moved =
                adopted.iter().any(|d| !d.agreed && d.short == (ac.start..ac.end) && d.long == (lf.start..lf.end));
            let long: Vec<&str> = tokens[lf.start..lf.end].iter().map(String::as_str).collect();
            let evidence = if input.mode == PairMode::Rules || moved {
                Evidence::Letters
            } else if letters::aligns(&tokens[ac.start..ac.end].join(" "), &long) {
                Evidence::Both
            } else {
                Evidence::Model
            };
            pairs.push(Pair { ac: a, lf: l, rule, evidence, score: entities[a].score * entities[l].score });
        }
    }
    pairs
}

/// Lowercase English words that are never linked as later mentions of an abbreviation: in lowercased text
/// "ALL" (acute lymphoblastic leukaemia) or "OR" (odds ratio) would otherwise tag every "all" and "or".
const COMMON_WORDS: &[&str] = &[
    "a", "ad", "all", "am", "an", "and", "any", "are", "as", "at", "be", "but", "by", "can", "did", "do", "does",
    "each", "for", "from", "had", "has", "have", "he", "her", "his", "how", "if", "in", "is", "it", "its", "may", "me",
    "most", "no", "nor", "not", "now", "of", "on", "one", "or", "our", "out", "per", "see", "she", "so", "some",
    "such", "than", "that", "the", "then", "they", "this", "to", "two", "up", "us", "use", "was", "we", "were", "who",
    "why", "will", "with", "yet", "you",
];

/// Adds, as entities of the `short` type, the untagged later mentions (same word, exact text) of every
/// abbreviation a pair defines — except common lowercase words ([`COMMON_WORDS`]) —, re-sorts the entities by
/// offset and re-indexes the pairs.
fn link_mentions(text: &str, words: &[Word], entities: &mut Vec<Entity>, pairs: &mut [Pair], short: &str) {
    let mut added = Vec::new();
    for p in pairs.iter() {
        let (sf, from) = (&entities[p.ac].text, entities[p.ac].end);
        if COMMON_WORDS.contains(&sf.as_str()) {
            continue;
        }
        for w in words.iter().filter(|w| w.start >= from && w.text(text) == sf.as_str()) {
            let covered = entities.iter().chain(&added).any(|e: &Entity| e.start < w.end && w.start < e.end);
            if !covered {
                let score = entities[p.ac].score;
                added.push(Entity {
                    label: short.to_string(),
                    text: sf.clone(),
                    start: w.start,
                    end: w.end,
                    score,
                    word: None,
                });
            }
        }
    }
    if added.is_empty() {
        return;
    }
    entities.extend(added);
    let mut order: Vec<usize> = (0..entities.len()).collect();
    order.sort_by_key(|&i| (entities[i].start, i));
    let mut new_index = vec![0; entities.len()];
    for (new, &i) in order.iter().enumerate() {
        new_index[i] = new;
    }
    let sorted: Vec<Entity> = order.iter().map(|&i| entities[i].clone()).collect();
    *entities = sorted;
    for p in pairs.iter_mut() {
        p.ac = new_index[p.ac];
        p.lf = new_index[p.lf];
    }
}

fn glossary(entities: &[Entity], pairs: &[Pair], short: &str) -> Glossary {
    let key = |i: usize| entities[i].text.to_lowercase();
    let mut defining: BTreeMap<String, &Pair> = BTreeMap::new();
    // bracketed definitions first (in document order), then any other pair for abbreviations still undefined
    for p in pairs.iter().filter(|p| p.rule == PairRule::Parenthesised) {
        defining.entry(key(p.ac)).or_insert(p);
    }
    for p in pairs {
        defining.entry(key(p.ac)).or_insert(p);
    }
    defining
        .into_values()
        .map(|p| {
            let k = key(p.ac);
            let long_form = entities[p.lf].text.clone();
            let mentions =
                (0..entities.len()).filter(|&i| entity_type(&entities[i].label) == short && key(i) == k).collect();
            let mut other_definitions: Vec<OtherDefinition> = Vec::new();
            for q in pairs.iter().filter(|q| key(q.ac) == k) {
                let lf = &entities[q.lf].text;
                let known = lf.to_lowercase() == long_form.to_lowercase()
                    || other_definitions.iter().any(|o| o.long_form.to_lowercase() == lf.to_lowercase());
                if !known {
                    other_definitions.push(OtherDefinition { long_form: lf.clone(), ac: q.ac, lf: q.lf });
                }
            }
            let entry = GlossaryEntry { long_form, ac: p.ac, lf: p.lf, mentions, other_definitions };
            (entities[p.ac].text.clone(), entry)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::infer::text::{split_sentences, split_words};

    fn entity(text: &str, label: &str, needle: &str, nth: usize) -> Entity {
        let start = text.match_indices(needle).nth(nth).unwrap().0;
        Entity { label: label.into(), text: needle.into(), start, end: start + needle.len(), score: 0.5, word: None }
    }

    #[test]
    fn pairs_definitions_and_links_remention_across_sentences() {
        let text = "We used magnetic resonance imaging (MRI) here. Later, MRI showed lesions.";
        let ents = vec![
            entity(text, "LF", "magnetic resonance imaging", 0),
            entity(text, "AC", "MRI", 0),
            entity(text, "AC", "MRI", 1),
        ];
        let words = split_words(text);
        let sentences = split_sentences(text, &words);
        assert_eq!(sentences.len(), 2);
        let types = PairTypes::plod();
        let input = PairingInput { types: &types, mode: PairMode::Hybrid, adopted: &[] };
        let (pairs, glossary) = pairs_and_glossary(text, &words, &sentences, &mut ents.clone(), &input);
        let both = Pair { ac: 1, lf: 0, rule: PairRule::Parenthesised, evidence: Evidence::Both, score: 0.25 };
        assert_eq!(pairs, vec![both]);
        let entry = &glossary["MRI"];
        assert_eq!(entry.long_form, "magnetic resonance imaging");
        assert_eq!(entry.mentions, vec![1, 2]);
        assert!(entry.other_definitions.is_empty());
    }

    #[test]
    fn later_untagged_mentions_are_linked_and_a_second_definition_is_kept() {
        let text = "Echo planar imaging (EPI) is fast. EPI is noisy. Elsewhere, EPI (enteric nervous system) differs; EPI again.";
        let mut ents = vec![
            entity(text, "LF", "Echo planar imaging", 0),
            entity(text, "AC", "EPI", 0),
            entity(text, "AC", "EPI", 2),
            entity(text, "LF", "enteric nervous system", 0),
        ];
        let words = split_words(text);
        let sentences = split_sentences(text, &words);
        let types = PairTypes::plod();
        let input = PairingInput { types: &types, mode: PairMode::Hybrid, adopted: &[] };
        let (pairs, glossary) = pairs_and_glossary(text, &words, &sentences, &mut ents, &input);
        // the untagged "EPI" of the second sentence and the last one became AC entities, in offset order
        let acs: Vec<usize> = ents.iter().filter(|e| e.label == "AC").map(|e| e.start).collect();
        assert_eq!(acs, text.match_indices("EPI").map(|(i, _)| i).collect::<Vec<_>>());
        assert!(ents.windows(2).all(|w| w[0].start < w[1].start));
        assert_eq!(pairs.len(), 2);
        assert_eq!(pairs[1].evidence, Evidence::Model, "\"EPI\" does not align with \"enteric nervous system\"");
        let entry = &glossary["EPI"];
        assert_eq!(entry.long_form, "Echo planar imaging");
        assert_eq!(entry.mentions.len(), 4);
        assert_eq!(entry.other_definitions.len(), 1);
        assert_eq!(ents[entry.other_definitions[0].lf].text, "enteric nervous system");
        // a common lowercase word is not linked: "or" defined as odds ratio leaves the conjunction alone
        let text2 = "odds ratio ( or ) was 2 or more.";
        let mut ents3 = vec![entity(text2, "LF", "odds ratio", 0), entity(text2, "AC", "or", 0)];
        let (w2, s2) = (split_words(text2), split_sentences(text2, &split_words(text2)));
        pairs_and_glossary(text2, &w2, &s2, &mut ents3, &input);
        assert_eq!(ents3.len(), 2);
        // model mode keeps the tagger's entities as they are
        let mut ents2 = ents[..0].to_vec();
        ents2.extend([entity(text, "LF", "Echo planar imaging", 0), entity(text, "AC", "EPI", 0)]);
        let model = PairingInput { types: &types, mode: PairMode::Model, adopted: &[] };
        pairs_and_glossary(text, &words, &sentences, &mut ents2, &model);
        assert_eq!(ents2.len(), 2);
    }

    #[test]
    fn pair_types_come_from_the_labels_or_the_model_card() {
        let labels = |xs: &[&str]| LabelSet::new(xs.iter().map(|s| s.to_string()).collect()).unwrap();
        let plod = LabelSet::plod();
        assert_eq!(model_pair_types(None, &plod), Ok(Some(PairTypes::plod())));
        let disease = labels(&["O", "B-Disease", "I-Disease"]);
        assert_eq!(model_pair_types(None, &disease), Ok(None));

        let dir = tempfile::tempdir().unwrap();
        let sf = labels(&["O", "B-SF", "B-LONG", "I-LONG", "B-Gene"]);
        std::fs::write(dir.path().join("nerkit.toml"), "[training]\nepochs = 1\n").unwrap();
        assert_eq!(model_pair_types(Some(dir.path()), &sf), Ok(None), "no AC/LF, no `pairs`: no pairing");
        std::fs::write(dir.path().join("nerkit.toml"), "pairs = { short = \"SF\", long = \"LONG\" }\n").unwrap();
        let types = model_pair_types(Some(dir.path()), &sf).unwrap().unwrap();
        assert_eq!((types.short.as_str(), types.long.as_str()), ("SF", "LONG"));
        let err = model_pair_types(Some(dir.path()), &disease).unwrap_err();
        assert!(err.contains("`SF`") && err.contains("B-Disease"), "{err}");

        // pairing runs on the declared types
        let text = "We used magnetic resonance imaging (MRI) here.";
        let ents = vec![entity(text, "LONG", "magnetic resonance imaging", 0), entity(text, "SF", "MRI", 0)];
        let words = split_words(text);
        let sentences = split_sentences(text, &words);
        let input = PairingInput { types: &types, mode: PairMode::Hybrid, adopted: &[] };
        let (pairs, glossary) = pairs_and_glossary(text, &words, &sentences, &mut ents.clone(), &input);
        assert_eq!(pairs.len(), 1);
        assert_eq!(glossary["MRI"].mentions, vec![1]);
    }
}
