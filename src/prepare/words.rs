//! Raw text → words with character offsets, for serving and inference on untokenised text.
//!
//! Splitting follows BERT's pre-tokenizer (`tokenizers`' `BertPreTokenizer`): split on Unicode whitespace
//! (removed) and isolate every punctuation character (ASCII punctuation or Unicode category P*), so `"(EPI)"`
//! becomes `"("`, `"EPI"`, `")"`. No normalisation is applied: each word is an exact slice of the input.
//!
//! **Offsets are in Unicode scalar values (Rust `char`s), end-exclusive**, not bytes and not UTF-16 units:
//! `text.chars().skip(start).take(end - start)` is the word. Use [`char_slice`] to cut by such offsets.
use tokenizers::pre_tokenizers::bert::BertPreTokenizer;
use tokenizers::{OffsetReferential, OffsetType, PreTokenizedString, PreTokenizer};

/// One word of a raw text and where it sits, in `char` offsets `[start, end)`.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct WordSpan {
    pub text: String,
    pub start: usize,
    pub end: usize,
}

/// Splits `text` into words like BERT's pre-tokenizer, with `char` offsets into `text`.
pub fn split_text(text: &str) -> Vec<WordSpan> {
    let mut pre = PreTokenizedString::from(text);
    // BertPreTokenizer only splits (whitespace / punctuation predicates); it cannot fail on any input.
    BertPreTokenizer.pre_tokenize(&mut pre).expect("BertPreTokenizer is infallible");
    pre.get_splits(OffsetReferential::Original, OffsetType::Char)
        .into_iter()
        .map(|(word, (start, end), _)| WordSpan { text: word.to_string(), start, end })
        .collect()
}

/// The `chars` `[start, end)` of `text` (clamped to its length).
pub fn char_slice(text: &str, start: usize, end: usize) -> &str {
    let byte = |n: usize| text.char_indices().nth(n).map(|(b, _)| b).unwrap_or(text.len());
    let (b0, b1) = (byte(start), byte(end.max(start)));
    &text[b0..b1]
}

#[cfg(test)]
mod tests {
    use super::*;

    fn texts(spans: &[WordSpan]) -> Vec<&str> {
        spans.iter().map(|w| w.text.as_str()).collect()
    }

    fn assert_offsets(text: &str, spans: &[WordSpan]) {
        for w in spans {
            assert_eq!(char_slice(text, w.start, w.end), w.text, "{w:?}");
            assert_eq!(w.end - w.start, w.text.chars().count());
        }
    }

    #[test]
    fn splits_punctuation_and_whitespace() {
        let text = "Epithelial (EPI) cells,\tin  vitro.";
        let spans = split_text(text);
        assert_eq!(texts(&spans), ["Epithelial", "(", "EPI", ")", "cells", ",", "in", "vitro", "."]);
        assert_eq!((spans[2].start, spans[2].end), (12, 15));
        assert_offsets(text, &spans);
    }

    #[test]
    fn offsets_are_chars_of_the_original_text() {
        // Multi-byte characters before a word shift byte offsets but not char offsets.
        let text = "überhaupt 🙂 naïve-test µM";
        let spans = split_text(text);
        assert_eq!(texts(&spans), ["überhaupt", "🙂", "naïve", "-", "test", "µM"]);
        assert_eq!((spans[0].start, spans[0].end), (0, 9));
        assert_eq!((spans[1].start, spans[1].end), (10, 11));
        assert_eq!((spans[2].start, spans[2].end), (12, 17));
        assert_offsets(text, &spans);
    }

    #[test]
    fn empty_and_blank_text() {
        assert!(split_text("").is_empty());
        assert!(split_text(" \n\t ").is_empty());
        assert_eq!(char_slice("abc", 1, 10), "bc");
        assert_eq!(char_slice("abc", 2, 1), "");
    }
}
