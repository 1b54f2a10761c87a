//! Entity (chunk) extraction from BIO tag sequences, in two modes.
//!
//! * [`Mode::Default`] reproduces seqeval's default `get_entities` (seqeval 1.2, `mode=None`) exactly.
//!   A tag's first character is its prefix and the rest (after one `-`) its type; a missing type is `_`.
//!   It is lenient: a stray `I-LF` after `O` (or after another type) *starts* an entity, `B-O` is an entity
//!   of type `O`, and an unknown prefix such as `X-AC` behaves like `I-`. `E-`/`S-` (IOBES) are honoured as
//!   seqeval does.
//! * [`Mode::Strict`] reproduces seqeval's `mode='strict', scheme=IOB2`: an entity is one `B-X` followed by
//!   any number of `I-X`; a stray `I-` belongs to no entity. Prefixes other than `B`, `I`, `O` are an error,
//!   as in seqeval (which raises `ValueError`).
//!
//! Spans are half-open word ranges `[start, end)` within one sentence. seqeval flattens a corpus with one
//! `O` between sentences; extracting per sentence gives the same entities for every tag that has a `B`/`I`/
//! `E`/`S` prefix or a type. The only difference: a type-less tag with another prefix (a bare `X`) opening a
//! sentence starts an entity here, and continues a stale one in seqeval. A [`LabelSet`](crate::labels::LabelSet)
//! never contains such tags.
use serde::{Deserialize, Serialize};

use super::MetricsError;

/// Which chunking rules to apply; see the module documentation.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Mode {
    /// seqeval's default (lenient, CoNLL-style) chunking.
    #[default]
    Default,
    /// seqeval `mode='strict', scheme=IOB2`.
    Strict,
}

impl Mode {
    pub fn as_str(self) -> &'static str {
        match self {
            Mode::Default => "default",
            Mode::Strict => "strict",
        }
    }
}

impl std::str::FromStr for Mode {
    type Err = MetricsError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "default" | "lenient" | "conlleval" => Ok(Mode::Default),
            "strict" | "iob2" => Ok(Mode::Strict),
            other => Err(MetricsError::UnknownMode(other.to_string())),
        }
    }
}

/// One entity: a type and a half-open word range.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct Span {
    pub kind: String,
    pub start: usize,
    pub end: usize,
}

impl Span {
    pub fn new(kind: impl Into<String>, start: usize, end: usize) -> Self {
        Span { kind: kind.into(), start, end }
    }

    pub fn len(&self) -> usize {
        self.end - self.start
    }

    pub fn is_empty(&self) -> bool {
        self.end == self.start
    }

    /// True when the two ranges share at least one word.
    pub fn overlaps(&self, other: &Span) -> bool {
        self.start < other.end && other.start < self.end
    }
}

/// Entities of one sentence under `mode`.
pub fn extract<S: AsRef<str>>(tags: &[S], mode: Mode) -> Result<Vec<Span>, MetricsError> {
    match mode {
        Mode::Default => Ok(default_entities(tags)),
        Mode::Strict => strict_entities(tags),
    }
}

/// seqeval's split of a tag into (prefix char, type): `chunk[0]` and `chunk[1:].split('-', 1)[-1] or '_'`.
fn split_default(tag: &str) -> (char, &str) {
    let mut chars = tag.chars();
    let prefix = chars.next().unwrap_or('O');
    let rest = chars.as_str();
    let kind = match rest.split_once('-') {
        Some((_, after)) => after,
        None => rest,
    };
    (prefix, if kind.is_empty() { "_" } else { kind })
}

fn end_of_chunk(prev_tag: char, tag: char, prev_type: &str, kind: &str) -> bool {
    matches!(prev_tag, 'E' | 'S')
        || (matches!(prev_tag, 'B' | 'I') && matches!(tag, 'B' | 'S' | 'O'))
        || (prev_tag != 'O' && prev_tag != '.' && prev_type != kind)
}

fn start_of_chunk(prev_tag: char, tag: char, prev_type: &str, kind: &str) -> bool {
    matches!(tag, 'B' | 'S')
        || (matches!(prev_tag, 'E' | 'S' | 'O') && matches!(tag, 'E' | 'I'))
        || (tag != 'O' && tag != '.' && prev_type != kind)
}

/// seqeval default-mode chunking (`get_entities`), never fails.
pub fn default_entities<S: AsRef<str>>(tags: &[S]) -> Vec<Span> {
    let mut chunks = Vec::new();
    let (mut prev_tag, mut prev_type) = ('O', "");
    let mut begin = 0;
    // seqeval appends one `O` so that a chunk running to the end is closed.
    for (i, chunk) in tags.iter().map(|t| t.as_ref()).chain(std::iter::once("O")).enumerate() {
        let (tag, kind) = split_default(chunk);
        if end_of_chunk(prev_tag, tag, prev_type, kind) {
            chunks.push(Span::new(prev_type, begin, i));
        }
        if start_of_chunk(prev_tag, tag, prev_type, kind) {
            begin = i;
        }
        prev_tag = tag;
        prev_type = kind;
    }
    chunks
}

/// seqeval `Tag` parsing for the strict schemes: prefix = first char, type = rest stripped of `-`, or `_`.
fn split_strict(tag: &str) -> (char, &str) {
    let mut chars = tag.chars();
    let prefix = chars.next().unwrap_or('O');
    let kind = chars.as_str().trim_matches('-');
    (prefix, if kind.is_empty() { "_" } else { kind })
}

/// seqeval strict IOB2 chunking: `B-X (I-X)*`; stray `I-` tags are dropped.
pub fn strict_entities<S: AsRef<str>>(tags: &[S]) -> Result<Vec<Span>, MetricsError> {
    let parsed: Vec<(char, &str)> = tags
        .iter()
        .enumerate()
        .map(|(i, t)| {
            let (p, k) = split_strict(t.as_ref());
            if matches!(p, 'B' | 'I' | 'O') {
                Ok((p, k))
            } else {
                Err(MetricsError::InvalidStrictTag { tag: t.as_ref().to_string(), position: i })
            }
        })
        .collect::<Result<_, _>>()?;
    let mut spans = Vec::new();
    let mut i = 0;
    while i < parsed.len() {
        let (prefix, kind) = parsed[i];
        if prefix != 'B' {
            i += 1;
            continue;
        }
        let mut end = i + 1;
        while end < parsed.len() && parsed[end].0 == 'I' && parsed[end].1 == kind {
            end += 1;
        }
        spans.push(Span::new(kind, i, end));
        i = end;
    }
    Ok(spans)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(tags: &[&str]) -> Vec<(String, usize, usize)> {
        default_entities(tags).into_iter().map(|s| (s.kind, s.start, s.end)).collect()
    }

    fn s(tags: &[&str]) -> Vec<(String, usize, usize)> {
        strict_entities(tags).unwrap().into_iter().map(|s| (s.kind, s.start, s.end)).collect()
    }

    fn v(xs: &[(&str, usize, usize)]) -> Vec<(String, usize, usize)> {
        xs.iter().map(|(k, a, b)| (k.to_string(), *a, *b)).collect()
    }

    #[test]
    fn seqeval_docstring_example() {
        assert_eq!(d(&["B-PER", "I-PER", "O", "B-LOC"]), v(&[("PER", 0, 2), ("LOC", 3, 4)]));
        assert_eq!(s(&["B-PER", "I-PER", "O", "B-LOC"]), v(&[("PER", 0, 2), ("LOC", 3, 4)]));
    }

    #[test]
    fn stray_inside_tag_starts_an_entity_only_in_default_mode() {
        assert_eq!(d(&["O", "I-LF", "I-LF", "O"]), v(&[("LF", 1, 3)]));
        assert_eq!(s(&["O", "I-LF", "I-LF", "O"]), v(&[]));
        // I- of another type: default closes AC and opens LF, strict keeps only the B-AC word.
        assert_eq!(d(&["B-AC", "I-LF"]), v(&[("AC", 0, 1), ("LF", 1, 2)]));
        assert_eq!(s(&["B-AC", "I-LF"]), v(&[("AC", 0, 1)]));
    }

    #[test]
    fn b_o_is_an_entity_of_type_o() {
        assert_eq!(d(&["B-O", "O", "B-AC"]), v(&[("O", 0, 1), ("AC", 2, 3)]));
        assert_eq!(s(&["B-O", "I-O"]), v(&[("O", 0, 2)]));
    }

    #[test]
    fn suffixless_and_unknown_prefixes() {
        assert_eq!(d(&["B", "I", "O"]), v(&[("_", 0, 2)]));
        // `X-AC` is neither B nor I: it starts a chunk on a type change and continues one otherwise.
        assert_eq!(d(&["X-AC", "X-AC", "O"]), v(&[("AC", 0, 2)]));
        assert!(matches!(strict_entities(&["O", "E-AC"]), Err(MetricsError::InvalidStrictTag { position: 1, .. })));
    }

    #[test]
    fn adjacent_and_trailing_entities() {
        assert_eq!(d(&["B-AC", "B-AC", "B-LF", "I-LF"]), v(&[("AC", 0, 1), ("AC", 1, 2), ("LF", 2, 4)]));
        assert_eq!(d(&[] as &[&str]), v(&[]));
        assert_eq!(d(&["O", "O"]), v(&[]));
    }

    #[test]
    fn mode_parses() {
        assert_eq!("strict".parse::<Mode>().unwrap(), Mode::Strict);
        assert!("fuzzy".parse::<Mode>().is_err());
    }
}
