//! Per-split statistics (pure): tag counts and shares, imbalance, sentence lengths, entity spans, duplicates.
use std::collections::HashMap;

use serde::{Deserialize, Serialize};

use super::histogram::{Histogram, Summary};
use crate::data::split::duplicate_groups;
use crate::data::Dataset;
use crate::labels::LabelSet;

/// How many most frequent span strings are kept per entity type.
pub const TOP_SPANS: usize = 20;

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TagCount {
    pub tag: String,
    pub count: usize,
    /// Share of all tokens of the split, 0..1.
    pub share: f64,
}

/// Lengths of sentences in one unit (words or sub-words).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct LengthStats {
    pub summary: Option<Summary>,
    pub histogram: Histogram,
}

/// Sub-word lengths (with special tokens) and how many sentences exceed `max_len`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SubwordStats {
    pub lengths: LengthStats,
    pub total: usize,
    pub over_max_len: usize,
    pub over_max_len_share: f64,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SpanText {
    pub text: String,
    pub count: usize,
}

/// Spans of one entity type (`AC`, `LF`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SpanStats {
    pub entity_type: String,
    pub count: usize,
    pub distinct: usize,
    pub length_words: Option<Summary>,
    /// `(length in words, number of spans)`, ascending by length.
    pub length_counts: Vec<(usize, usize)>,
    /// The [`TOP_SPANS`] most frequent lowercased span texts (ties: alphabetical).
    pub top: Vec<SpanText>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct DuplicateStats {
    /// Groups of ≥ 2 sentences with identical words.
    pub groups: usize,
    /// Sentences beyond the first of each group.
    pub redundant: usize,
    /// Origins of up to 5 groups, e.g. `["train.jsonl:3", "train.jsonl:90"]`.
    pub examples: Vec<Vec<String>>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SplitStats {
    pub name: String,
    pub sentences: usize,
    pub tokens: usize,
    /// One entry per label of the label set, in label-set order (tags outside it are impossible after
    /// validation).
    pub tags: Vec<TagCount>,
    /// Largest class count / smallest class count; `None` when a class never occurs.
    pub imbalance_ratio: Option<f64>,
    /// `O` tokens per entity token; `None` without entity tokens.
    pub outside_to_entity_ratio: Option<f64>,
    pub words: LengthStats,
    pub subwords: Option<SubwordStats>,
    pub spans: Vec<SpanStats>,
    pub duplicates: DuplicateStats,
}

/// A labelled span: entity type and word range `start..end`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Span {
    pub entity_type: String,
    pub start: usize,
    pub end: usize,
}

/// BIO decoding: `B-X` opens a span, `I-X` extends an open `X` span (or opens one when orphaned), else closes.
pub fn spans(tags: &[String]) -> Vec<Span> {
    let mut out: Vec<Span> = Vec::new();
    let mut open = false;
    for (i, tag) in tags.iter().enumerate() {
        if let Some(ty) = tag.strip_prefix("I-") {
            if open && out.last().is_some_and(|s| s.entity_type == ty) {
                out.last_mut().expect("open span").end = i + 1;
                continue;
            }
        }
        match tag.strip_prefix("B-").or_else(|| tag.strip_prefix("I-")) {
            Some(ty) => {
                out.push(Span { entity_type: ty.to_string(), start: i, end: i + 1 });
                open = true;
            }
            None => open = false,
        }
    }
    out
}

/// Statistics of one split. `subword_lengths` (one per sentence, in order) comes from the tokenizer, if any;
/// `bins` gives the histogram bin widths `(words, sub-words)` so that splits share bins.
pub fn split_stats(
    ds: &Dataset,
    labels: &LabelSet,
    subword_lengths: Option<&[usize]>,
    max_len: usize,
    bins: (usize, usize),
) -> SplitStats {
    let tokens = ds.num_tokens();
    let mut counts: HashMap<&str, usize> = HashMap::new();
    for t in ds.sentences.iter().flat_map(|s| &s.tags) {
        *counts.entry(t.as_str()).or_default() += 1;
    }
    let share = |c: usize| if tokens == 0 { 0.0 } else { c as f64 / tokens as f64 };
    let tags: Vec<TagCount> = labels
        .labels()
        .iter()
        .map(|l| {
            let count = counts.get(l.as_str()).copied().unwrap_or(0);
            TagCount { tag: l.clone(), count, share: share(count) }
        })
        .collect();
    let (max, min) = tags.iter().fold((0, usize::MAX), |(mx, mn), t| (mx.max(t.count), mn.min(t.count)));
    let imbalance_ratio = (min > 0).then(|| max as f64 / min as f64);
    let outside = counts.get("O").copied().unwrap_or(0);
    let entity = tokens - outside;
    let outside_to_entity_ratio = (entity > 0).then(|| outside as f64 / entity as f64);

    let word_lengths: Vec<usize> = ds.sentences.iter().map(|s| s.words.len()).collect();
    let words = LengthStats { summary: Summary::of(&word_lengths), histogram: Histogram::build(&word_lengths, bins.0) };
    let subwords = subword_lengths.map(|lens| {
        let over = lens.iter().filter(|&&l| l > max_len).count();
        SubwordStats {
            lengths: LengthStats { summary: Summary::of(lens), histogram: Histogram::build(lens, bins.1) },
            total: lens.iter().sum(),
            over_max_len: over,
            over_max_len_share: if lens.is_empty() { 0.0 } else { over as f64 / lens.len() as f64 },
        }
    });

    let groups = duplicate_groups(&ds.sentences);
    let duplicates = DuplicateStats {
        groups: groups.len(),
        redundant: groups.iter().map(|g| g.len() - 1).sum(),
        examples: groups.iter().take(5).map(|g| g.iter().map(|&i| ds.sentences[i].origin.clone()).collect()).collect(),
    };

    SplitStats {
        name: ds.name.clone(),
        sentences: ds.sentences.len(),
        tokens,
        tags,
        imbalance_ratio,
        outside_to_entity_ratio,
        words,
        subwords,
        spans: span_stats(ds, labels),
        duplicates,
    }
}

fn span_stats(ds: &Dataset, labels: &LabelSet) -> Vec<SpanStats> {
    labels
        .entity_types()
        .into_iter()
        .map(|ty| {
            let mut lengths = Vec::new();
            let mut texts: HashMap<String, usize> = HashMap::new();
            for s in &ds.sentences {
                for sp in spans(&s.tags).into_iter().filter(|sp| sp.entity_type == ty) {
                    lengths.push(sp.end - sp.start);
                    *texts.entry(s.words[sp.start..sp.end].join(" ").to_lowercase()).or_default() += 1;
                }
            }
            let mut by_len: HashMap<usize, usize> = HashMap::new();
            for &l in &lengths {
                *by_len.entry(l).or_default() += 1;
            }
            let mut length_counts: Vec<(usize, usize)> = by_len.into_iter().collect();
            length_counts.sort_unstable();
            let distinct = texts.len();
            let mut top: Vec<SpanText> = texts.into_iter().map(|(text, count)| SpanText { text, count }).collect();
            top.sort_by(|a, b| b.count.cmp(&a.count).then_with(|| a.text.cmp(&b.text)));
            top.truncate(TOP_SPANS);
            SpanStats {
                entity_type: ty,
                count: lengths.len(),
                distinct,
                length_words: Summary::of(&lengths),
                length_counts,
                top,
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::Sentence;

    fn sent(words: &str, tags: &str) -> Sentence {
        Sentence {
            origin: "t".into(),
            words: words.split(' ').map(String::from).collect(),
            tags: tags.split(' ').map(String::from).collect(),
        }
    }

    fn strings(tags: &str) -> Vec<String> {
        tags.split(' ').map(String::from).collect()
    }

    #[test]
    fn bio_spans() {
        let s = spans(&strings("B-LF I-LF O B-AC B-AC I-LF I-LF O I-LF"));
        let got: Vec<(&str, usize, usize)> = s.iter().map(|s| (s.entity_type.as_str(), s.start, s.end)).collect();
        assert_eq!(got, [("LF", 0, 2), ("AC", 3, 4), ("AC", 4, 5), ("LF", 5, 7), ("LF", 8, 9)]);
    }

    #[test]
    fn split_numbers() {
        let ds = Dataset {
            name: "train".into(),
            sentences: vec![
                sent("Heart rate ( HR ) rose", "B-LF I-LF O B-AC O O"),
                sent("HR fell", "B-AC O"),
                sent("HR fell", "B-AC O"),
            ],
        };
        let st = split_stats(&ds, &LabelSet::plod(), Some(&[9, 5, 5]), 6, (1, 2));
        assert_eq!((st.sentences, st.tokens), (3, 10));
        let counts: Vec<usize> = st.tags.iter().map(|t| t.count).collect();
        let no_lf = Dataset { name: "x".into(), sentences: vec![sent("HR fell", "B-AC O")] };
        assert_eq!(split_stats(&no_lf, &LabelSet::plod(), None, 6, (1, 1)).imbalance_ratio, None);
        assert_eq!(counts, [5, 3, 1, 1]);
        assert_eq!(st.imbalance_ratio, Some(5.0));
        assert_eq!(st.outside_to_entity_ratio, Some(1.0));
        assert!((st.tags[0].share - 0.5).abs() < 1e-12);
        let sub = st.subwords.as_ref().unwrap();
        assert_eq!((sub.total, sub.over_max_len), (19, 1));
        assert_eq!(st.words.summary.as_ref().unwrap().max, 6);
        let ac = &st.spans[0];
        assert_eq!((ac.entity_type.as_str(), ac.count, ac.distinct), ("AC", 3, 1));
        assert_eq!(ac.top[0], SpanText { text: "hr".into(), count: 3 });
        assert_eq!(st.spans[1].length_counts, [(2, 1)]);
        assert_eq!((st.duplicates.groups, st.duplicates.redundant), (1, 1));
    }
}
