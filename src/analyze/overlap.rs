//! Cross-split overlap (pure): how much of a split's vocabulary, entity strings and sentences already occur
//! in a reference split (train).
use std::collections::HashSet;

use serde::{Deserialize, Serialize};

use super::stats::spans;
use crate::data::split::shared_sentences;
use crate::data::Dataset;

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Overlap {
    pub reference: String,
    pub split: String,
    /// Distinct lowercased words of `split`, and how many of them occur in `reference`.
    pub word_types: usize,
    pub word_types_seen: usize,
    pub word_type_share: f64,
    /// Distinct lowercased entity strings (`type` + text) of `split`, and how many occur in `reference`.
    pub entity_strings: usize,
    pub entity_strings_seen: usize,
    pub entity_share: f64,
    /// Sentences of `split` whose exact words also occur in `reference`.
    pub shared_sentences: usize,
    /// Origins of up to 5 of them.
    pub shared_examples: Vec<String>,
}

fn word_types(ds: &Dataset) -> HashSet<String> {
    ds.sentences.iter().flat_map(|s| &s.words).map(|w| w.to_lowercase()).collect()
}

fn entity_strings(ds: &Dataset) -> HashSet<(String, String)> {
    ds.sentences
        .iter()
        .flat_map(|s| {
            spans(&s.tags)
                .into_iter()
                .map(move |sp| (sp.entity_type, s.words[sp.start..sp.end].join(" ").to_lowercase()))
        })
        .collect()
}

fn share(part: usize, whole: usize) -> f64 {
    if whole == 0 {
        0.0
    } else {
        part as f64 / whole as f64
    }
}

/// Overlap of `split` with `reference`.
pub fn overlap(reference: &Dataset, split: &Dataset) -> Overlap {
    let (ref_words, words) = (word_types(reference), word_types(split));
    let (ref_entities, entities) = (entity_strings(reference), entity_strings(split));
    let word_types_seen = words.intersection(&ref_words).count();
    let entity_strings_seen = entities.intersection(&ref_entities).count();
    let shared = shared_sentences(&reference.sentences, &split.sentences);
    Overlap {
        reference: reference.name.clone(),
        split: split.name.clone(),
        word_types: words.len(),
        word_types_seen,
        word_type_share: share(word_types_seen, words.len()),
        entity_strings: entities.len(),
        entity_strings_seen,
        entity_share: share(entity_strings_seen, entities.len()),
        shared_sentences: shared.len(),
        shared_examples: shared.iter().take(5).map(|&i| split.sentences[i].origin.clone()).collect(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::Sentence;

    fn ds(name: &str, rows: &[(&str, &str)]) -> Dataset {
        let sentences = rows
            .iter()
            .map(|(w, t)| Sentence {
                origin: format!("{name}:{w}"),
                words: w.split(' ').map(String::from).collect(),
                tags: t.split(' ').map(String::from).collect(),
            })
            .collect();
        Dataset { name: name.into(), sentences }
    }

    #[test]
    fn counts_seen_words_entities_and_sentences() {
        let train = ds("train", &[("Heart rate ( HR )", "B-LF I-LF O B-AC O"), ("BP fell", "B-AC O")]);
        let val = ds("validation", &[("heart rate rose", "B-LF I-LF O"), ("BP fell", "B-AC O"), ("CRP", "B-AC")]);
        let o = overlap(&train, &val);
        // types: heart rate rose bp fell crp = 6, seen: heart rate bp fell = 4
        assert_eq!((o.word_types, o.word_types_seen), (6, 4));
        // entities: LF "heart rate", AC "bp", AC "crp"; seen: the first two
        assert_eq!((o.entity_strings, o.entity_strings_seen), (3, 2));
        assert!((o.entity_share - 2.0 / 3.0).abs() < 1e-12);
        assert_eq!(o.shared_sentences, 1);
        assert_eq!(o.shared_examples, ["validation:BP fell"]);
    }
}
