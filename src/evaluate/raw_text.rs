//! `nerkit evaluate --raw-text`: scores the path users call — raw text in, entities out ([`TextTagger::tag`], as
//! `nerkit predict`, `POST /tag` and `nerkit.Tagger` run it) — against word-level gold. Gold sentences are
//! rebuilt as text (words joined by single spaces; alone, or several per text as paragraphs) and tagged; each entity is mapped back onto the gold
//! words it overlaps by byte offsets: the first takes `B-<type>`, the following ones `I-<type>` (or `B-<type>`
//! again where the label set has no `I-<type>`, as PLOD's `AC`).
use std::ops::Range;

use crate::infer::tagger::TagError;
use crate::infer::{Entity, TagOptions, TextTagger};
use crate::labels::LabelSet;

/// Texts per tagging call.
const CHUNK: usize = 256;

/// Sentences as one raw text, and each word's byte range in it, sentence by sentence.
pub struct Rebuilt {
    pub text: String,
    pub sentences: Vec<Vec<Range<usize>>>,
}

/// The words of `sentences` joined by single spaces (sentences too) into one text.
pub fn rebuild(sentences: &[Vec<String>]) -> Rebuilt {
    let mut text = String::new();
    let mut out = Vec::with_capacity(sentences.len());
    for words in sentences {
        let mut ranges = Vec::with_capacity(words.len());
        for w in words {
            if !text.is_empty() {
                text.push(' ');
            }
            ranges.push(text.len()..text.len() + w.len());
            text.push_str(w);
        }
        out.push(ranges);
    }
    Rebuilt { text, sentences: out }
}

/// The IOB2 tag of each word (`words`: byte ranges) under `entities` (byte offsets); a word two entities
/// overlap keeps the first.
pub fn word_tags(entities: &[Entity], words: &[Range<usize>], labels: &LabelSet) -> Vec<String> {
    let mut tags = vec!["O".to_string(); words.len()];
    for e in entities {
        let kind = crate::infer::entity::entity_type(&e.label);
        let inside = format!("I-{kind}");
        let inside = if labels.id(&inside).is_some() { inside } else { format!("B-{kind}") };
        let mut first = true;
        for (tag, w) in tags.iter_mut().zip(words) {
            if w.start < e.end && e.start < w.end && tag == "O" {
                *tag = if first { format!("B-{kind}") } else { inside.clone() };
                first = false;
            }
        }
    }
    tags
}

/// Tags `sentences` as raw texts of `per_text` consecutive sentences each (1: every sentence alone) with
/// `opts` (offsets are set to bytes) and returns the predicted tags of each sentence's gold words.
pub fn tag_as_text(
    tagger: &mut TextTagger,
    sentences: &[Vec<String>],
    per_text: usize,
    opts: &TagOptions,
) -> Result<Vec<Vec<String>>, TagError> {
    let opts = TagOptions { offsets: crate::infer::Offsets::Bytes, ..*opts };
    let mut out = Vec::with_capacity(sentences.len());
    for chunk in sentences.chunks(CHUNK * per_text.max(1)) {
        let rebuilt: Vec<Rebuilt> = chunk.chunks(per_text.max(1)).map(rebuild).collect();
        let texts: Vec<&str> = rebuilt.iter().map(|r| r.text.as_str()).collect();
        let tagged = tagger.tag(&texts, &opts)?;
        for (r, t) in rebuilt.iter().zip(&tagged) {
            out.extend(r.sentences.iter().map(|words| word_tags(&t.entities, words, tagger.labels())));
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entity(label: &str, start: usize, end: usize) -> Entity {
        Entity { label: label.into(), text: String::new(), start, end, score: 1.0, word: None }
    }

    #[test]
    fn entities_map_back_onto_the_gold_words() {
        let words: Vec<String> = ["echo", "planar", "imaging", "(", "EPI", ")"].map(String::from).to_vec();
        let two = rebuild(&[words.clone(), vec!["EPI".into()]]);
        assert_eq!(two.text, "echo planar imaging ( EPI ) EPI");
        assert_eq!(&two.text[two.sentences[1][0].clone()], "EPI");
        let r = rebuild(std::slice::from_ref(&words));
        let words_of = &r.sentences[0];
        // an entity that starts inside a word covers it; PLOD has no I-AC, so a two-word AC is B-AC B-AC
        let entities = [entity("LF", 2, 19), entity("AC", 22, 25)];
        assert_eq!(word_tags(&entities, words_of, &LabelSet::plod()), ["B-LF", "I-LF", "I-LF", "O", "B-AC", "O"]);
        let two_word_ac = [entity("AC", 0, 11)];
        assert_eq!(word_tags(&two_word_ac, words_of, &LabelSet::plod())[..3], ["B-AC", "B-AC", "O"]);
    }
}
