//! Sub-word tokenization of pre-split words and label alignment, producing model-ready [`Example`]s.
//!
//! - Each sentence is encoded once as pre-tokenized input (`tokenizers` `InputSequence::PreTokenizedOwned`)
//!   without special tokens; the tokenizer's own special tokens (learnt once from its post-processor, e.g.
//!   `[CLS]` … `[SEP]`) are wrapped around every window.
//! - Labels: the first sub-word of a word carries the word's label id; continuation sub-words and special tokens
//!   get [`IGNORE_INDEX`] (-100). With `label_all_subwords`, continuation sub-words get the word's label too,
//!   `B-X` mapped to `I-X` when the label set has `I-X`.
//! - A word the tokenizer turns into zero sub-words (an empty string, a lone control or zero-width character that
//!   the normalizer strips) is encoded as the unknown token (`[UNK]`, else `<unk>`), so every word keeps exactly
//!   one labelled sub-word and one prediction slot.
//! - Windows: see [`super::windows`]. Every word of a window is labelled (the loss sees overlap words twice);
//!   only its `owned` words are used when predictions are merged back.
use super::windows::{plan_windows, WindowSpan};
use super::PrepareError;
use crate::data::Sentence;
use crate::labels::LabelSet;
use serde::{Deserialize, Serialize};

/// Label of tokens the loss ignores (special tokens, continuation sub-words, padding).
pub const IGNORE_INDEX: i64 = -100;

/// One model input: a whole sentence or one window of it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Example {
    pub input_ids: Vec<i64>,
    pub attention_mask: Vec<i64>,
    pub token_type_ids: Vec<i64>,
    pub labels: Vec<i64>,
    /// Sentence-level word index of each token; `None` for special tokens.
    pub word_ids: Vec<Option<usize>>,
    #[serde(flatten)]
    pub window: WindowSpan,
}

impl AsRef<WindowSpan> for Example {
    fn as_ref(&self) -> &WindowSpan {
        &self.window
    }
}

impl Example {
    pub fn len(&self) -> usize {
        self.input_ids.len()
    }

    pub fn is_empty(&self) -> bool {
        self.input_ids.is_empty()
    }

    /// Token position of the first sub-word of each word in `window.words`, in order.
    pub fn first_subword_positions(&self) -> Vec<usize> {
        let mut out = Vec::with_capacity(self.window.words.len());
        let mut prev = None;
        for (pos, w) in self.word_ids.iter().enumerate() {
            if w.is_some() && *w != prev {
                out.push(pos);
            }
            prev = *w;
        }
        out
    }
}

/// Tokenization and windowing options.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct EncodeOptions {
    /// Maximum tokens per example, special tokens included.
    pub max_len: usize,
    /// Sub-words of overlap between consecutive windows of a long sentence.
    pub stride: usize,
    pub label_all_subwords: bool,
}

impl Default for EncodeOptions {
    fn default() -> Self {
        EncodeOptions { max_len: 128, stride: 32, label_all_subwords: false }
    }
}

/// Counters from encoding a set of sentences.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct EncodeStats {
    pub sentences: usize,
    pub examples: usize,
    /// Sentences cut into more than one window.
    pub split_sentences: usize,
    pub words: usize,
    /// Sub-words of all words (before windowing; specials excluded).
    pub subwords: usize,
    /// Words longer than a whole window, whose sub-words were truncated.
    pub truncated_words: usize,
    /// Words with zero sub-words, encoded as the unknown token.
    pub unk_words: usize,
}

/// A tokenizer plus everything learnt from it once: special-token wrapping, unknown and padding ids.
pub struct Encoder {
    tokenizer: tokenizers::Tokenizer,
    options: EncodeOptions,
    prefix: Vec<u32>,
    suffix: Vec<u32>,
    unk_id: u32,
    pad_id: u32,
}

impl Encoder {
    /// `tokenizer` should have padding and truncation off ([`crate::model::load_tokenizer`] does that).
    pub fn new(tokenizer: tokenizers::Tokenizer, options: EncodeOptions) -> Result<Self, PrepareError> {
        let probe = tokenizer
            .encode(vec!["a".to_string()], true)
            .map_err(|e| PrepareError::Tokenizer { origin: "special-token probe".into(), message: e.to_string() })?;
        let ids = probe.get_ids();
        let words = probe.get_word_ids();
        let first = words.iter().position(Option::is_some).unwrap_or(ids.len());
        let last = words.iter().rposition(Option::is_some).map(|p| p + 1).unwrap_or(ids.len());
        let (prefix, suffix) = (ids[..first].to_vec(), ids[last..].to_vec());
        let unk_id = ["[UNK]", "<unk>", "<UNK>"]
            .iter()
            .find_map(|t| tokenizer.token_to_id(t))
            .ok_or(PrepareError::NoUnknownToken)?;
        let pad_id = ["[PAD]", "<pad>", "<PAD>"].iter().find_map(|t| tokenizer.token_to_id(t)).unwrap_or(0);
        let specials = prefix.len() + suffix.len();
        if options.max_len <= specials {
            return Err(PrepareError::MaxLenTooSmall { max_len: options.max_len, specials });
        }
        if options.stride >= options.max_len - specials {
            let budget = options.max_len - specials;
            return Err(PrepareError::StrideTooLarge { stride: options.stride, budget });
        }
        Ok(Encoder { tokenizer, options, prefix, suffix, unk_id, pad_id })
    }

    pub fn options(&self) -> &EncodeOptions {
        &self.options
    }

    /// Padding token id (`[PAD]`, else `<pad>`, else 0).
    pub fn pad_id(&self) -> u32 {
        self.pad_id
    }

    pub fn unk_id(&self) -> u32 {
        self.unk_id
    }

    pub fn tokenizer(&self) -> &tokenizers::Tokenizer {
        &self.tokenizer
    }

    /// Sub-word slots per window (`max_len` minus special tokens).
    pub fn budget(&self) -> usize {
        self.options.max_len - self.prefix.len() - self.suffix.len()
    }

    /// `ids` between the tokenizer's special tokens (`[CLS] … [SEP]`), as model input.
    pub fn wrap(&self, ids: &[u32]) -> Vec<i64> {
        self.prefix.iter().chain(ids).chain(&self.suffix).map(|&i| i64::from(i)).collect()
    }

    /// Number of special tokens before the sub-words in a window.
    pub fn prefix_len(&self) -> usize {
        self.prefix.len()
    }

    /// Sub-word ids of each word (never empty: zero-sub-word words become the unknown token).
    pub fn word_pieces(&self, words: &[String], origin: &str) -> Result<Vec<Vec<u32>>, PrepareError> {
        Ok(self.pieces_and_empty(words, origin)?.0)
    }

    /// [`Self::word_pieces`] plus how many words had zero sub-words.
    fn pieces_and_empty(&self, words: &[String], origin: &str) -> Result<(Vec<Vec<u32>>, usize), PrepareError> {
        let enc = self
            .tokenizer
            .encode(words, false)
            .map_err(|e| PrepareError::Tokenizer { origin: origin.to_string(), message: e.to_string() })?;
        let mut pieces = vec![Vec::new(); words.len()];
        for (&id, w) in enc.get_ids().iter().zip(enc.get_word_ids()) {
            if let Some(slot) = w.and_then(|w| pieces.get_mut(w as usize)) {
                slot.push(id);
            }
        }
        let mut empty = 0;
        for p in pieces.iter_mut().filter(|p| p.is_empty()) {
            p.push(self.unk_id);
            empty += 1;
        }
        Ok((pieces, empty))
    }

    /// Encodes one sentence's words into one or more windows. `label_ids` (one per word) fills `labels`;
    /// without it (inference) every label is [`IGNORE_INDEX`].
    pub fn encode_words(
        &self,
        sentence_index: usize,
        words: &[String],
        label_ids: Option<&[usize]>,
        labels: &LabelSet,
        origin: &str,
        stats: &mut EncodeStats,
    ) -> Result<Vec<Example>, PrepareError> {
        let (pieces, empty) = self.pieces_and_empty(words, origin)?;
        let counts: Vec<usize> = pieces.iter().map(Vec::len).collect();
        let budget = self.budget();
        let windows = plan_windows(sentence_index, &counts, budget, self.options.stride);
        let continuation = continuation_ids(labels);
        stats.sentences += 1;
        stats.words += words.len();
        stats.subwords += counts.iter().sum::<usize>();
        stats.truncated_words += counts.iter().filter(|&&c| c > budget).count();
        stats.unk_words += empty;
        stats.split_sentences += usize::from(windows.len() > 1);
        stats.examples += windows.len();
        Ok(windows.into_iter().map(|w| self.build(w, &pieces, label_ids, &continuation)).collect())
    }

    /// Encodes unlabelled words for inference (all labels [`IGNORE_INDEX`]); windows as for training.
    pub fn encode_unlabelled(&self, sentence_index: usize, words: &[String]) -> Result<Vec<Example>, PrepareError> {
        let labels = LabelSet::plod(); // unused without label ids
        let origin = format!("input {sentence_index}");
        self.encode_words(sentence_index, words, None, &labels, &origin, &mut EncodeStats::default())
    }

    fn build(&self, window: WindowSpan, pieces: &[Vec<u32>], label_ids: Option<&[usize]>, cont: &[usize]) -> Example {
        let mut ex = Example {
            input_ids: Vec::new(),
            attention_mask: Vec::new(),
            token_type_ids: Vec::new(),
            labels: Vec::new(),
            word_ids: Vec::new(),
            window,
        };
        let push = |ex: &mut Example, id: u32, word: Option<usize>, label: i64| {
            ex.input_ids.push(i64::from(id));
            ex.word_ids.push(word);
            ex.labels.push(label);
        };
        for &id in &self.prefix {
            push(&mut ex, id, None, IGNORE_INDEX);
        }
        let budget = self.budget();
        for w in ex.window.words.clone() {
            for (k, &id) in pieces[w].iter().take(budget).enumerate() {
                let label = match label_ids {
                    None => IGNORE_INDEX,
                    Some(l) if k == 0 => l[w] as i64,
                    Some(l) if self.options.label_all_subwords => cont[l[w]] as i64,
                    Some(_) => IGNORE_INDEX,
                };
                push(&mut ex, id, Some(w), label);
            }
        }
        for &id in &self.suffix {
            push(&mut ex, id, None, IGNORE_INDEX);
        }
        ex.attention_mask = vec![1; ex.input_ids.len()];
        ex.token_type_ids = vec![0; ex.input_ids.len()];
        ex
    }

    /// Encodes labelled sentences; `sentence_index` of each example is the sentence's position in `sentences`.
    pub fn encode_sentences(
        &self,
        sentences: &[Sentence],
        labels: &LabelSet,
    ) -> Result<(Vec<Example>, EncodeStats), PrepareError> {
        let mut stats = EncodeStats::default();
        let mut examples = Vec::new();
        for (i, s) in sentences.iter().enumerate() {
            let ids = label_ids(s, labels)?;
            examples.extend(self.encode_words(i, &s.words, Some(&ids), labels, &s.origin, &mut stats)?);
        }
        Ok((examples, stats))
    }
}

/// Label id of each word of `s`; errors name the sentence origin and word.
pub fn label_ids(s: &Sentence, labels: &LabelSet) -> Result<Vec<usize>, PrepareError> {
    if s.words.len() != s.tags.len() {
        let (words, tags) = (s.words.len(), s.tags.len());
        return Err(PrepareError::TagCount { origin: s.origin.clone(), words, tags });
    }
    s.tags
        .iter()
        .enumerate()
        .map(|(i, t)| {
            labels.id(t).ok_or_else(|| PrepareError::UnknownTag { origin: s.origin.clone(), word: i, tag: t.clone() })
        })
        .collect()
}

/// For each label id, the id continuation sub-words get: `B-X` → `I-X` when present, otherwise unchanged.
pub fn continuation_ids(labels: &LabelSet) -> Vec<usize> {
    (0..labels.len())
        .map(|id| {
            let name = labels.name(id).unwrap_or("O");
            name.strip_prefix("B-").and_then(|t| labels.id(&format!("I-{t}"))).unwrap_or(id)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::str::FromStr;

    /// A real WordPiece tokenizer with BERT specials and a handful of words (shared with tests/hub_mirror.rs).
    fn tiny_tokenizer() -> tokenizers::Tokenizer {
        tokenizers::Tokenizer::from_str(include_str!("../../tests/fixtures/tiny_tokenizer.json")).unwrap()
    }

    fn words(ws: &[&str]) -> Vec<String> {
        ws.iter().map(|w| w.to_string()).collect()
    }

    fn sentence(ws: &[&str], tags: &[&str]) -> Sentence {
        Sentence { origin: "t:1".into(), words: words(ws), tags: words(tags) }
    }

    #[test]
    fn aligns_first_subwords_and_wraps_specials() {
        let enc = Encoder::new(tiny_tokenizer(), EncodeOptions::default()).unwrap();
        assert_eq!((enc.unk_id(), enc.pad_id(), enc.budget()), (1, 0, 126));
        let s = sentence(&["Epithelial", "(EPI)", "cells"], &["B-LF", "O", "I-LF"]);
        let (ex, stats) = enc.encode_sentences(&[s], &LabelSet::plod()).unwrap();
        assert_eq!(ex.len(), 1);
        let e = &ex[0];
        // [CLS] epi ##thelial ( epi ) cells [SEP]: "(EPI)" is one word of three sub-words.
        assert_eq!(e.input_ids, vec![2, 4, 5, 7, 4, 8, 6, 3]);
        assert_eq!(e.word_ids, vec![None, Some(0), Some(0), Some(1), Some(1), Some(1), Some(2), None]);
        assert_eq!(e.labels, vec![-100, 2, -100, 0, -100, -100, 3, -100]);
        assert_eq!(e.attention_mask, vec![1; 8]);
        assert_eq!(e.token_type_ids, vec![0; 8]);
        assert_eq!(e.first_subword_positions(), vec![1, 3, 6]);
        assert_eq!((stats.words, stats.subwords, stats.examples, stats.unk_words), (3, 6, 1, 0));
    }

    #[test]
    fn label_all_subwords_maps_b_to_i() {
        let opts = EncodeOptions { label_all_subwords: true, ..EncodeOptions::default() };
        let enc = Encoder::new(tiny_tokenizer(), opts).unwrap();
        let s = sentence(&["Epithelial", "ab"], &["B-LF", "B-AC"]);
        let (ex, _) = enc.encode_sentences(&[s], &LabelSet::plod()).unwrap();
        // B-LF (2) continues as I-LF (3); B-AC (1) has no I-AC in the PLOD set and stays B-AC.
        assert_eq!(ex[0].labels, vec![-100, 2, 3, 1, 1, -100]);
    }

    #[test]
    fn zero_subword_words_become_unk() {
        let enc = Encoder::new(tiny_tokenizer(), EncodeOptions::default()).unwrap();
        let s = sentence(&["a", "\u{200b}", "", "\u{0007}", "cells"], &["O", "B-AC", "O", "O", "B-LF"]);
        let (ex, stats) = enc.encode_sentences(&[s], &LabelSet::plod()).unwrap();
        assert_eq!(ex[0].input_ids, vec![2, 9, 1, 1, 1, 6, 3]);
        assert_eq!(ex[0].labels, vec![-100, 0, 1, 0, 0, 2, -100]);
        assert_eq!(stats.unk_words, 3);
    }

    #[test]
    fn long_sentences_become_windows_that_merge_back() {
        let opts = EncodeOptions { max_len: 10, stride: 3, label_all_subwords: false };
        let enc = Encoder::new(tiny_tokenizer(), opts).unwrap();
        let ws: Vec<&str> = (0..40).map(|i| ["Epithelial", "cells", "a", "ab"][i % 4]).collect();
        let tags: Vec<&str> = (0..40).map(|i| ["O", "B-AC", "B-LF", "I-LF"][i % 4]).collect();
        let (ex, stats) = enc.encode_sentences(&[sentence(&ws, &tags)], &LabelSet::plod()).unwrap();
        assert!(ex.len() > 5 && stats.split_sentences == 1 && stats.examples == ex.len());
        for e in &ex {
            assert!(e.len() <= 10 && e.input_ids[0] == 2 && *e.input_ids.last().unwrap() == 3);
        }
        let preds: Vec<Vec<i64>> =
            ex.iter().map(|e| e.first_subword_positions().iter().map(|&p| e.labels[p]).collect()).collect();
        let merged = super::super::windows::merge_windows(&ex, &preds).unwrap();
        let expected: Vec<i64> = (0..40).map(|i| (i % 4) as i64).collect();
        assert_eq!(merged, vec![expected]);
    }

    #[test]
    fn rejects_impossible_options() {
        let e = Encoder::new(tiny_tokenizer(), EncodeOptions { max_len: 2, stride: 0, label_all_subwords: false });
        assert!(matches!(e, Err(PrepareError::MaxLenTooSmall { max_len: 2, specials: 2 })));
        let e = Encoder::new(tiny_tokenizer(), EncodeOptions { max_len: 10, stride: 8, label_all_subwords: false });
        assert!(matches!(e, Err(PrepareError::StrideTooLarge { stride: 8, budget: 8 })));
    }

    #[test]
    fn continuation_maps_b_to_i_when_present() {
        let l = LabelSet::plod(); // O, B-AC, B-LF, I-LF
        assert_eq!(continuation_ids(&l), vec![0, 1, 3, 3]);
    }

    #[test]
    fn label_ids_report_origin() {
        let l = LabelSet::plod();
        let s = Sentence { origin: "x.jsonl:3".into(), words: vec!["a".into(), "b".into()], tags: vec!["O".into()] };
        assert!(label_ids(&s, &l).unwrap_err().to_string().contains("x.jsonl:3"));
        let s = Sentence { origin: "x.jsonl:4".into(), words: vec!["a".into()], tags: vec!["B-XX".into()] };
        let msg = label_ids(&s, &l).unwrap_err().to_string();
        assert!(msg.contains("x.jsonl:4") && msg.contains("B-XX"), "{msg}");
    }

    #[test]
    fn first_subword_positions_follow_word_ids() {
        let ex = Example {
            input_ids: vec![0; 6],
            attention_mask: vec![1; 6],
            token_type_ids: vec![0; 6],
            labels: vec![-100; 6],
            word_ids: vec![None, Some(4), Some(4), Some(5), Some(6), None],
            window: WindowSpan { sentence_index: 0, words: 4..7, owned: 4..7 },
        };
        assert_eq!(ex.first_subword_positions(), vec![1, 3, 4]);
    }
}
