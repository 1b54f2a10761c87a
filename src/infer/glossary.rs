//! Abbreviation ↔ long-form pairs on *predicted* entities, and a document's glossary.
//!
//! Pairing is [`crate::evaluate::pairs::pair_entities`] — the same rules that pair gold spans in
//! `nerkit evaluate` — applied sentence by sentence to the predicted entities, mapped onto the document's
//! PLOD words. The glossary maps each abbreviation to its long form: the first bracketed definition in the
//! document wins (else the first pair found for it), and every mention of the abbreviation (case-insensitive)
//! is linked to it, also in sentences without a long form.
use std::collections::BTreeMap;
use std::ops::Range;
use std::path::Path;

use serde::{Deserialize, Serialize};

use super::entity::{entity_type, Entity};
use super::text::{words_overlapping, Word};
use crate::evaluate::pairs::{pair_entities, PairRule, AC, LF};
use crate::labels::LabelSet;
use crate::metrics::Span;

/// The two entity types that pair: the abbreviation (short form) and its long form. A model pairs when its
/// label set has both: `pairs = { short = "...", long = "..." }` in the model directory's `nerkit.toml` names
/// them, else `AC` and `LF` (PLOD). Other models have no pairs and no glossary at all.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PairTypes {
    pub short: String,
    pub long: String,
}

impl PairTypes {
    /// `AC` ↔ `LF`, the PLOD types.
    pub fn plod() -> Self {
        PairTypes { short: "AC".into(), long: "LF".into() }
    }

    /// The pair types of a model with `labels`: `dir/nerkit.toml`'s `pairs` table when present, else `AC`/`LF`;
    /// `Ok(None)` when the label set lacks either type. A `pairs` table naming a type the labels lack is an
    /// error.
    pub fn for_model(dir: Option<&Path>, labels: &LabelSet) -> Result<Option<Self>, String> {
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
                let p = Self::plod();
                Ok((labels.has_type(&p.short) && labels.has_type(&p.long)).then_some(p))
            }
        }
    }
}

/// One abbreviation ↔ long-form pair: indices into the document's entities.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Pair {
    pub ac: usize,
    pub lf: usize,
    pub rule: PairRule,
    /// The product of the two entities' scores.
    pub score: f32,
}

/// What an abbreviation stands for in one document.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct GlossaryEntry {
    pub long_form: String,
    /// Entity indices of the defining pair.
    pub ac: usize,
    pub lf: usize,
    /// Entity indices of every mention of the abbreviation (the defining one included).
    pub mentions: Vec<usize>,
}

pub type Glossary = BTreeMap<String, GlossaryEntry>;

/// Pairs and glossary of one document. `entities` have byte offsets into `text`; `words` and `sentences` are
/// the document's PLOD words and sentences (ranges of word indices); `types` names the short and long types.
pub fn pairs_and_glossary(
    text: &str,
    words: &[Word],
    sentences: &[Range<usize>],
    entities: &[Entity],
    types: &PairTypes,
) -> (Vec<Pair>, Glossary) {
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
        for (ac, lf, rule) in pair_entities(&tokens, &gold) {
            if let (Some(a), Some(l)) = (index(&ac), index(&lf)) {
                pairs.push(Pair { ac: a, lf: l, rule, score: entities[a].score * entities[l].score });
            }
        }
    }
    pairs.sort_by_key(|p| (entities[p.ac].start, p.ac));
    let glossary = glossary(entities, &pairs, &types.short);
    (pairs, glossary)
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
            let mentions =
                (0..entities.len()).filter(|&i| entity_type(&entities[i].label) == short && key(i) == k).collect();
            let entry = GlossaryEntry { long_form: entities[p.lf].text.clone(), ac: p.ac, lf: p.lf, mentions };
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
        let (pairs, glossary) = pairs_and_glossary(text, &words, &sentences, &ents, &PairTypes::plod());
        assert_eq!(pairs, vec![Pair { ac: 1, lf: 0, rule: PairRule::Parenthesised, score: 0.25 }]);
        let entry = &glossary["MRI"];
        assert_eq!(entry.long_form, "magnetic resonance imaging");
        assert_eq!(entry.mentions, vec![1, 2]);
    }

    #[test]
    fn pair_types_come_from_the_labels_or_the_model_card() {
        let labels = |xs: &[&str]| LabelSet::new(xs.iter().map(|s| s.to_string()).collect()).unwrap();
        let plod = LabelSet::plod();
        assert_eq!(PairTypes::for_model(None, &plod), Ok(Some(PairTypes::plod())));
        let disease = labels(&["O", "B-Disease", "I-Disease"]);
        assert_eq!(PairTypes::for_model(None, &disease), Ok(None));

        let dir = tempfile::tempdir().unwrap();
        let sf = labels(&["O", "B-SF", "B-LONG", "I-LONG", "B-Gene"]);
        std::fs::write(dir.path().join("nerkit.toml"), "[training]\nepochs = 1\n").unwrap();
        assert_eq!(PairTypes::for_model(Some(dir.path()), &sf), Ok(None), "no AC/LF, no `pairs`: no pairing");
        std::fs::write(dir.path().join("nerkit.toml"), "pairs = { short = \"SF\", long = \"LONG\" }\n").unwrap();
        let types = PairTypes::for_model(Some(dir.path()), &sf).unwrap().unwrap();
        assert_eq!((types.short.as_str(), types.long.as_str()), ("SF", "LONG"));
        let err = PairTypes::for_model(Some(dir.path()), &disease).unwrap_err();
        assert!(err.contains("`SF`") && err.contains("B-Disease"), "{err}");

        // pairing runs on the declared types
        let text = "We used magnetic resonance imaging (MRI) here.";
        let ents = vec![entity(text, "LONG", "magnetic resonance imaging", 0), entity(text, "SF", "MRI", 0)];
        let words = split_words(text);
        let sentences = split_sentences(text, &words);
        let (pairs, glossary) = pairs_and_glossary(text, &words, &sentences, &ents, &types);
        assert_eq!(pairs.len(), 1);
        assert_eq!(glossary["MRI"].mentions, vec![1]);
    }
}
