//! Raw text → PLOD-style words with byte offsets → sentences.
//!
//! Words split like the PLOD corpora (spaCy's tokenizer): on any Unicode whitespace (NBSP and tabs included),
//! then leading and trailing punctuation and brackets become words of their own (`"(MRI)."` → `(`, `MRI`, `)`,
//! `.`), while inner punctuation stays (`IL-6`, `and/or`, `0.05`, `e.g.`). A trailing full stop stays on
//! abbreviations (`e.g.`, `Fig.`, `al.`, single-letter initials).
//!
//! Sentences come from Unicode's sentence boundaries (UAX #29, `unicode-segmentation`), kept only where
//! biomedical text really ends a sentence: never inside brackets, never after an abbreviation such as
//! `et al.`, `e.g.`, `Fig.`, `vs.`, and only between words.
use std::ops::Range;

use unicode_segmentation::UnicodeSegmentation;

/// One word: `text[start..end]` (byte offsets into the input).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Word {
    pub start: usize,
    pub end: usize,
}

impl Word {
    pub fn text<'a>(&self, text: &'a str) -> &'a str {
        &text[self.start..self.end]
    }
}

/// Abbreviations after which a full stop neither ends a sentence nor leaves the word (lowercase, with stop).
const ABBREVIATIONS: &[&str] = &[
    "al.", "e.g.", "i.e.", "fig.", "figs.", "vs.", "v.", "approx.", "ca.", "cf.", "dr.", "prof.", "no.", "nos.", "eq.",
    "eqs.", "ref.", "refs.", "resp.", "sp.", "spp.", "ssp.", "var.", "inc.", "ltd.", "co.", "corp.", "st.", "mr.",
    "mrs.", "ms.", "vol.", "pp.", "p.", "tab.", "suppl.", "min.", "max.", "avg.", "est.", "dept.", "univ.", "jan.",
    "feb.", "mar.", "apr.", "jun.", "jul.", "aug.", "sep.", "sept.", "oct.", "nov.", "dec.", "u.s.",
];

/// Punctuation split off the front of a word.
fn is_prefix_punct(c: char) -> bool {
    matches!(c, '(' | '[' | '{' | '"' | '\'' | '“' | '‘' | '«' | '<' | '„' | '¿' | '¡' | '*' | '…')
}

/// Punctuation split off the end of a word (the full stop is handled apart, see [`keeps_stop`]).
fn is_suffix_punct(c: char) -> bool {
    matches!(c, ')' | ']' | '}' | ',' | ';' | ':' | '!' | '?' | '"' | '\'' | '”' | '’' | '»' | '>' | '*' | '…')
}

fn is_open_bracket(w: &str) -> bool {
    matches!(w, "(" | "[" | "{")
}

fn is_close_bracket(w: &str) -> bool {
    matches!(w, ")" | "]" | "}")
}

/// Whether a word ending in `.` keeps it: known abbreviations, initials (`J.`), dotted forms (`U.K.`).
fn keeps_stop(word: &str) -> bool {
    let lower = word.to_lowercase();
    if ABBREVIATIONS.contains(&lower.as_str()) {
        return true;
    }
    let body = &word[..word.len() - 1];
    let mut chars = body.chars();
    // a single letter (an initial) or letters separated by stops (U.K., e.g. spelt differently)
    matches!((chars.next(), chars.next()), (Some(c), None) if c.is_alphabetic())
        || (body.contains('.') && body.split('.').all(|p| p.chars().count() == 1 && p.chars().all(char::is_alphabetic)))
}

/// Splits `text` into PLOD-style words (see the module doc).
pub fn split_words(text: &str) -> Vec<Word> {
    let mut words = Vec::new();
    let mut chunk_start = None;
    for (i, c) in text.char_indices().chain(std::iter::once((text.len(), ' '))) {
        if c.is_whitespace() {
            if let Some(s) = chunk_start.take() {
                split_chunk(text, s, i, &mut words);
            }
        } else if chunk_start.is_none() {
            chunk_start = Some(i);
        }
    }
    words
}

/// Splits one whitespace-free chunk `text[start..end]` into words, appending them to `out`.
fn split_chunk(text: &str, mut start: usize, mut end: usize, out: &mut Vec<Word>) {
    let mut suffixes = Vec::new();
    loop {
        let s = &text[start..end];
        let Some(first) = s.chars().next() else { break };
        if is_prefix_punct(first) && s.len() > first.len_utf8() {
            out.push(Word { start, end: start + first.len_utf8() });
            start += first.len_utf8();
            continue;
        }
        let last = s.chars().next_back().expect("non-empty");
        if s.len() > last.len_utf8() {
            // possessive 's / ’s
            for poss in ["'s", "’s", "'S", "’S"] {
                if s.ends_with(poss) && s.len() > poss.len() {
                    suffixes.push(Word { start: end - poss.len(), end });
                    end -= poss.len();
                    break;
                }
            }
            let s = &text[start..end];
            let last = s.chars().next_back().expect("non-empty");
            if s.len() > last.len_utf8() && (is_suffix_punct(last) || (last == '.' && !keeps_stop(s))) {
                suffixes.push(Word { start: end - last.len_utf8(), end });
                end -= last.len_utf8();
                continue;
            }
        }
        out.push(Word { start, end });
        break;
    }
    out.extend(suffixes.into_iter().rev());
}

/// Indices of the `words` overlapping the byte range `start..end` (empty when none does).
pub fn words_overlapping(words: &[Word], start: usize, end: usize) -> Range<usize> {
    words.partition_point(|w| w.end <= start)..words.partition_point(|w| w.start < end)
}

/// Groups `words` of `text` into sentences: ranges of word indices covering every word once, in order.
pub fn split_sentences(text: &str, words: &[Word]) -> Vec<Range<usize>> {
    if words.is_empty() {
        return Vec::new();
    }
    // candidate boundaries: byte offsets where UAX #29 starts a new sentence
    let mut candidates = text.split_sentence_bound_indices().map(|(i, _)| i).skip(1).peekable();
    let mut sentences = Vec::new();
    let (mut start, mut depth) = (0usize, 0i32);
    for i in 0..words.len() {
        let w = words[i].text(text);
        if is_open_bracket(w) {
            depth += 1;
        } else if is_close_bracket(w) {
            depth = (depth - 1).max(0);
        }
        let Some(next) = words.get(i + 1) else { break };
        // is there a candidate boundary between this word's end and the next word's start?
        while candidates.peek().is_some_and(|&b| b <= words[i].end) {
            candidates.next();
        }
        let boundary = candidates.peek().is_some_and(|&b| b <= next.start);
        if boundary && depth == 0 && ends_sentence(text, words, i) {
            sentences.push(start..i + 1);
            start = i + 1;
        }
    }
    sentences.push(start..words.len());
    sentences
}

/// Whether word `i` can close a sentence: terminal punctuation (possibly followed by a closing quote or
/// bracket), not an abbreviation, and the next word does not continue in lowercase.
fn ends_sentence(text: &str, words: &[Word], i: usize) -> bool {
    let w = words[i].text(text);
    let terminal = |w: &str| matches!(w, "." | "!" | "?" | "…") || w.ends_with("...");
    let closes = matches!(w, ")" | "]" | "”" | "\"" | "’" | "'") && i > 0 && terminal(words[i - 1].text(text));
    if !(terminal(w) || closes) {
        // a word that kept its stop (an abbreviation) never ends a sentence
        return false;
    }
    let next = words[i + 1].text(text);
    !next.chars().next().is_some_and(|c| c.is_lowercase())
}

/// Byte offset → Unicode code point offset, for one text.
pub struct CharIndex {
    /// `(byte, char)` at each multi-byte character; identity where the text is ASCII.
    starts: Vec<usize>,
}

impl CharIndex {
    pub fn new(text: &str) -> Self {
        CharIndex { starts: text.char_indices().map(|(b, _)| b).collect() }
    }

    /// Code point offset of byte offset `byte` (a character boundary, or the text's length).
    pub fn char_offset(&self, byte: usize) -> usize {
        self.starts.partition_point(|&b| b < byte)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn words(text: &str) -> Vec<&str> {
        split_words(text).iter().map(|w| w.text(text)).collect()
    }

    fn sentences(text: &str) -> Vec<String> {
        let ws = split_words(text);
        split_sentences(text, &ws)
            .into_iter()
            .map(|r| ws[r].iter().map(|w| w.text(text)).collect::<Vec<_>>().join(" "))
            .collect()
    }

    #[test]
    fn brackets_and_punctuation_are_words() {
        assert_eq!(words("imaging (MRI)."), ["imaging", "(", "MRI", ")", "."]);
        assert_eq!(words("IL-6, and/or 0.05;"), ["IL-6", ",", "and/or", "0.05", ";"]);
        assert_eq!(words("“quoted” [1]"), ["“", "quoted", "”", "[", "1", "]"]);
        assert_eq!(
            words("the patient's e.g. Fig. J. U.K. end."),
            ["the", "patient", "'s", "e.g.", "Fig.", "J.", "U.K.", "end", "."]
        );
        assert_eq!(words("a\u{a0}b\tc\n d"), ["a", "b", "c", "d"]);
        assert_eq!(words("(("), ["(", "("]);
        assert_eq!(words(""), Vec::<&str>::new());
    }

    #[test]
    fn sentences_do_not_split_inside_brackets_or_after_abbreviations() {
        assert_eq!(sentences("We used MRI. It worked."), ["We used MRI .", "It worked ."]);
        assert_eq!(sentences("Smith et al. Showed it. Next one."), ["Smith et al. Showed it .", "Next one ."]);
        assert_eq!(
            sentences("Data (see Fig. 2. Also Table 1.) agree. Then more."),
            ["Data ( see Fig. 2 . Also Table 1 . ) agree .", "Then more ."]
        );
        assert_eq!(sentences("Drugs, e.g. Aspirin, help. Yes"), ["Drugs , e.g. Aspirin , help .", "Yes"]);
        assert_eq!(sentences("no stop at the end"), ["no stop at the end"]);
        assert_eq!(sentences("What? Really! OK."), ["What ?", "Really !", "OK ."]);
    }

    #[test]
    fn char_offsets_count_code_points() {
        let t = "é😀a";
        let ix = CharIndex::new(t);
        assert_eq!([ix.char_offset(0), ix.char_offset(2), ix.char_offset(6), ix.char_offset(7)], [0, 1, 2, 3]);
    }
}
