//! Raw text in, entities out: the one tagging path that `nerkit predict`, `nerkit serve` and the raw-text
//! evaluation share.
//!
//! Native aggregation: text → PLOD-style words and sentences ([`super::text`]) → sub-word windows with stride
//! (no truncation: a 5,000-word document is tagged end to end) → length-sorted batches → each word's first
//! sub-word → BIO-constrained Viterbi per sentence → entities. The Hugging Face strategies instead tokenize the
//! whole text as the pipeline does and post-process tokens exactly like it ([`super::hf_pipeline`]); a text
//! longer than the window is cut into token windows with stride there too, where the pipeline (without
//! `stride`) would truncate it. Both end in pairs and a glossary ([`super::glossary`]).
use std::ops::Range;
use std::path::Path;

use serde::{Deserialize, Serialize};
use tokenizers::Decoder;

use super::decode::Decoding;
use super::entity::{entity_type, to_char_offsets, Entity, Offsets, TagOptions};
use super::glossary::{model_pair_types, pairs_and_glossary, Glossary, Pair, PairTypes, PairingInput};
use super::hf_pipeline::{self, Token};
use super::lanes::on_lanes;
use super::select;
use super::tagger::{decode_pairs, run_batched, tag_sentences, untagged, PairDecoding, TagError, WordTag};
use super::text::{split_sentences, split_words, words_overlapping, Word};
use super::{Backend, EngineChoice, EngineSpec, InferError};
use crate::abbrev::hybrid::Adopted;
use crate::abbrev::{schwartz_hearst, HybridOptions, PairMode};
use crate::labels::LabelSet;
use crate::metrics::entities::default_entities;
use crate::prepare::encode::{EncodeOptions, Encoder};
use crate::prepare::windows::{merge_windows, plan_windows, WindowSpan};

/// The result for one text.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct TaggedText {
    pub entities: Vec<Entity>,
    /// Abbreviation ↔ long-form pairs; `None` (absent from JSON) for a model without pair types
    /// ([`PairTypes`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pairs: Option<Vec<Pair>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub glossary: Option<Glossary>,
    /// The text's PLOD words, sentence by sentence, with a BIO tag each (for CoNLL output and word-level
    /// scoring); byte offsets.
    #[serde(skip)]
    pub sentences: Vec<TaggedSentence>,
}

#[derive(Clone, Debug, Default, PartialEq)]
pub struct TaggedSentence {
    pub words: Vec<Word>,
    pub tags: Vec<String>,
}

/// A model ready to tag raw text.
pub struct TextTagger {
    /// One engine per lane ([`super::lanes`]), at least one.
    lanes: Vec<Box<dyn Backend>>,
    encoder: Encoder,
    labels: LabelSet,
    /// The entity types that pair (`None`: no pairs, no glossary).
    pairs: Option<PairTypes>,
    /// Windows per engine call ([`Self::open_lanes`] sets what suits its lanes; [`Self::new`]: 32).
    pub batch_size: usize,
    /// Token window of the Hugging Face strategies (the pipeline's `model_max_length`).
    hf_max_len: usize,
    /// Costs of the hybrid abbreviation decoding ([`HybridOptions`]; the defaults unless set).
    hybrid: HybridOptions,
    why: Vec<String>,
}

impl TextTagger {
    /// `native` sets the native path's windows (`max_len`, `stride`); the Hugging Face strategies use
    /// `hf_max_len`-token windows with the same stride.
    pub fn new(
        backend: Box<dyn Backend>,
        tokenizer: tokenizers::Tokenizer,
        native: EncodeOptions,
        hf_max_len: usize,
    ) -> Result<Self, TagError> {
        let labels = LabelSet::new(backend.labels().to_vec())
            .map_err(|e| TagError::Infer(InferError::Batch(format!("model labels: {e}"))))?;
        let encoder = Encoder::new(tokenizer, native)?;
        let hf_max_len = hf_max_len.max(encoder.options().max_len);
        let pairs = model_pair_types(None, &labels).map_err(|m| TagError::Infer(InferError::Batch(m)))?;
        let hybrid = HybridOptions::default();
        Ok(TextTagger {
            lanes: vec![backend],
            encoder,
            labels,
            pairs,
            batch_size: 32,
            hf_max_len,
            hybrid,
            why: Vec::new(),
        })
    }

    /// The entity types this model pairs (`None`: it has no pairs or glossary).
    pub fn pair_types(&self) -> Option<&PairTypes> {
        self.pairs.as_ref()
    }

    /// Sets the pair types from `dir/nerkit.toml` (else `AC`/`LF` when the labels have both).
    pub fn with_pair_types_of(mut self, dir: &Path) -> Result<Self, TagError> {
        self.pairs = model_pair_types(Some(dir), &self.labels).map_err(|m| TagError::Infer(InferError::Batch(m)))?;
        Ok(self)
    }

    /// Sets the costs of hybrid abbreviation decoding (`nerkit evaluate --hybrid-cost`).
    pub fn with_hybrid_options(mut self, hybrid: HybridOptions) -> Self {
        self.hybrid = hybrid;
        self
    }

    /// Adds lanes: more engines like the first (same graph, same labels) that tag parts of each call at once.
    pub fn with_lanes(mut self, more: Vec<Box<dyn Backend>>) -> Result<Self, TagError> {
        for b in &more {
            if b.labels() != self.labels.labels() {
                return Err(TagError::Labels { model: b.labels().to_vec(), expected: self.labels.labels().to_vec() });
            }
        }
        self.lanes.extend(more);
        Ok(self)
    }

    /// Opens a model directory (exported, or trained and exported now; see [`select`]) on `choice`, one lane
    /// with `threads` intra-op threads.
    pub fn open(model_dir: &Path, choice: EngineChoice, threads: Option<usize>) -> Result<Self, TagError> {
        Self::open_lanes(model_dir, choice, threads, Some(1))
    }

    /// [`Self::open`] with `lanes` engines sharing `threads` ([`select::load`]; `None` = the device's default).
    pub fn open_lanes(
        model_dir: &Path,
        choice: EngineChoice,
        threads: Option<usize>,
        lanes: Option<usize>,
    ) -> Result<Self, TagError> {
        let mut loaded = select::load(model_dir, choice, threads, lanes)?;
        let model = crate::model::ModelDir::open(&loaded.graph_dir)?;
        let cfg = nerkit_export::config::BertConfig::from_file(&loaded.graph_dir.join("config.json")).ok();
        let positions = cfg.map_or(512, |c| c.max_position_embeddings);
        let first = loaded.backends.remove(0);
        let mut t = Self::new(first, model.tokenizer()?, EncodeOptions::default(), positions.min(512))?
            .with_lanes(loaded.backends)?
            .with_pair_types_of(model_dir)?;
        t.why = loaded.why;
        t.batch_size = loaded.batch_size;
        Ok(t)
    }

    /// The engine in use (what loaded, after any fallback), e.g. `ort-int8`, `tract`.
    pub fn engine(&self) -> EngineSpec {
        self.lanes[0].spec()
    }

    /// Engines tagging at once ([`super::lanes`]).
    pub fn lanes(&self) -> usize {
        self.lanes.len()
    }

    /// Why this engine: the fallback decisions taken when it was loaded.
    pub fn backend_reasons(&self) -> &[String] {
        &self.why
    }

    pub fn labels(&self) -> &LabelSet {
        &self.labels
    }

    pub fn encoder(&self) -> &Encoder {
        &self.encoder
    }

    /// Longest window in tokens (native path), special tokens included.
    pub fn max_len(&self) -> usize {
        self.encoder.options().max_len
    }

    /// Tags sentences already split into words (gold words, e.g. `nerkit evaluate`): one [`WordTag`] per word,
    /// decoded per sentence with `decoding`, in order; no pairs (see [`decode_pairs`]).
    pub fn tag_words(&mut self, sentences: &[Vec<String>], decoding: Decoding) -> Result<Vec<Vec<WordTag>>, TagError> {
        tag_sentences(self.lanes[0].as_mut(), &self.encoder, sentences, self.batch_size, &self.labels, decoding)
    }

    /// Tags `texts` (batched together) with `opts`.
    pub fn tag(&mut self, texts: &[&str], opts: &TagOptions) -> Result<Vec<TaggedText>, TagError> {
        let decoding = opts.decoding().map_err(|m| TagError::Infer(InferError::Batch(m)))?;
        let segmented: Vec<(Vec<Word>, Vec<Range<usize>>)> = texts
            .iter()
            .map(|t| {
                let words = split_words(t);
                let sentences = split_sentences(t, &words);
                (words, sentences)
            })
            .collect();
        let mut out = if opts.aggregation.is_hf() {
            // `rules` answers with Schwartz–Hearst alone: the model need not run
            let entities = match (&self.pairs, opts.pairs) {
                (Some(types), PairMode::Rules) => texts
                    .iter()
                    .zip(&segmented)
                    .map(|(text, (words, sentences))| rules_entities(text, words, sentences, types))
                    .collect(),
                _ => self.hf_entities(texts, opts)?,
            };
            let (labels, pairs) = (&self.labels, self.pairs.as_ref());
            texts
                .iter()
                .zip(segmented)
                .zip(entities)
                .map(|((text, (words, sentences)), entities)| {
                    let tagged = sentences_from_entities(&words, &sentences, &entities, labels);
                    finish(text, &words, &sentences, entities, tagged, pairs.map(|t| (t, opts.pairs, Vec::new())))
                })
                .collect()
        } else {
            self.native(texts, segmented, decoding, opts.pairs)?
        };
        if opts.offsets == Offsets::Chars {
            for (text, tagged) in texts.iter().zip(&mut out) {
                to_char_offsets(text, &mut tagged.entities);
            }
        }
        Ok(out)
    }

    fn native(
        &mut self,
        texts: &[&str],
        segmented: Vec<(Vec<Word>, Vec<Range<usize>>)>,
        decoding: Decoding,
        mode: PairMode,
    ) -> Result<Vec<TaggedText>, TagError> {
        let mut flat: Vec<Vec<String>> = Vec::new();
        for (text, (words, sentences)) in texts.iter().zip(&segmented) {
            for r in sentences {
                flat.push(words[r.clone()].iter().map(|w| w.text(text).to_string()).collect());
            }
        }
        let (encoder, labels, batch_size) = (&self.encoder, &self.labels, self.batch_size);
        let mut flat_words = flat.iter();
        let words: Vec<usize> = flat.iter().map(Vec::len).collect();
        let tags = if self.pairs.is_some() && mode == PairMode::Rules {
            // Schwartz–Hearst alone sets every label (`decode_pairs`): the model need not run
            words.iter().map(|&n| untagged(n, labels)).collect()
        } else {
            on_lanes(&mut self.lanes, &words, |backend, part| {
                tag_sentences(backend, encoder, &flat[part], batch_size, labels, decoding)
            })?
        };
        let mut tags = tags.into_iter();
        let pair_decoding = self.pairs.clone().map(|types| PairDecoding { types, mode, hybrid: self.hybrid });
        let mut out = Vec::with_capacity(texts.len());
        for (text, (words, sentences)) in texts.iter().zip(segmented) {
            let mut entities = Vec::new();
            let mut tagged = Vec::new();
            let mut adopted = Vec::with_capacity(sentences.len());
            for (r, sentence_words) in sentences.iter().zip(flat_words.by_ref()) {
                let mut word_tags = tags.next().expect("one tag list per sentence");
                if let Some(p) = &pair_decoding {
                    let w: Vec<&str> = sentence_words.iter().map(String::as_str).collect();
                    adopted.push(decode_pairs(&w, &mut word_tags, &self.labels, decoding, p));
                }
                let names: Vec<String> =
                    word_tags.iter().map(|t| self.labels.name(t.label).unwrap_or("O").to_string()).collect();
                for span in default_entities(&names) {
                    let (first, last) = (&words[r.start + span.start], &words[r.start + span.end - 1]);
                    let score =
                        word_tags[span.start..span.end].iter().map(|t| t.score).sum::<f32>() / span.len() as f32;
                    entities.push(Entity {
                        label: span.kind.clone(),
                        text: text[first.start..last.end].to_string(),
                        start: first.start,
                        end: last.end,
                        score,
                        word: None,
                    });
                }
                tagged.push(TaggedSentence { words: words[r.clone()].to_vec(), tags: names });
            }
            let pairing = self.pairs.as_ref().map(|t| (t, mode, adopted));
            out.push(finish(text, &words, &sentences, entities, tagged, pairing));
        }
        Ok(out)
    }

    /// Entities of each text under a Hugging Face strategy (byte offsets).
    fn hf_entities(&mut self, texts: &[&str], opts: &TagOptions) -> Result<Vec<Vec<Entity>>, TagError> {
        let tokenizer = self.encoder.tokenizer();
        let tok_err = |e: tokenizers::Error| {
            TagError::Infer(InferError::Tokenizer { path: "tokenizer.json".into(), message: e.to_string() })
        };
        let budget = self.hf_max_len - (self.encoder.options().max_len - self.encoder.budget());
        let stride = opts.stride.unwrap_or(self.encoder.options().stride).min(budget.saturating_sub(1));
        let mut encodings = Vec::with_capacity(texts.len());
        let (mut windows, mut seqs) = (Vec::new(), Vec::new());
        for (i, text) in texts.iter().enumerate() {
            let enc = tokenizer.encode(*text, false).map_err(tok_err)?;
            if !enc.get_ids().is_empty() {
                for w in plan_windows(i, &vec![1; enc.get_ids().len()], budget, stride) {
                    seqs.push(self.encoder.wrap(&enc.get_ids()[w.words.clone()]));
                    windows.push(w);
                }
            }
            encodings.push(enc);
        }
        let (batch_size, pad) = (self.batch_size, i64::from(self.encoder.pad_id()));
        let lengths: Vec<usize> = seqs.iter().map(Vec::len).collect();
        let logits =
            on_lanes(&mut self.lanes, &lengths, |backend, part| run_batched(backend, &seqs[part], batch_size, pad))?;
        let prefix = self.encoder.prefix_len();
        let per_window: Vec<Vec<Vec<f32>>> = windows
            .iter()
            .zip(&logits)
            .map(|(w, l)| (0..w.words.len()).map(|k| softmax(l.row(prefix + k).as_slice().expect("row"))).collect())
            .collect();
        // merge per text; texts without tokens have no window
        let mut by_text: Vec<Vec<(WindowSpan, Vec<Vec<f32>>)>> = vec![Vec::new(); texts.len()];
        for (w, p) in windows.into_iter().zip(per_window) {
            let i = w.sentence_index;
            by_text[i].push((WindowSpan { sentence_index: 0, ..w }, p));
        }
        let decoder = tokenizer.get_decoder();
        let decode = |tokens: Vec<String>| match decoder {
            Some(d) => d.decode(tokens.clone()).unwrap_or_else(|_| tokens.join(" ")),
            None => tokens.join(" "),
        };
        let labels = self.labels.labels().to_vec();
        let ignore = vec![self.labels.labels()[self.labels.outside_id()].clone()];
        let unk = self.encoder.unk_id();
        let mut out = Vec::with_capacity(texts.len());
        for ((text, enc), parts) in texts.iter().zip(&encodings).zip(by_text) {
            if parts.is_empty() {
                out.push(Vec::new());
                continue;
            }
            let (spans, preds): (Vec<WindowSpan>, Vec<Vec<Vec<f32>>>) = parts.into_iter().unzip();
            let scores = merge_windows(&spans, &preds)?.pop().expect("one text");
            let tokens: Vec<Token> = enc
                .get_ids()
                .iter()
                .zip(enc.get_tokens())
                .zip(enc.get_offsets())
                .zip(scores)
                .map(|(((&id, piece), &(start, end)), scores)| Token { id, piece: piece.clone(), start, end, scores })
                .collect();
            out.push(hf_pipeline::entities(text, &tokens, &labels, unk, opts.aggregation, &ignore, &decode));
        }
        Ok(out)
    }
}

/// Pairs and glossary for a model with pair types: the types, the pair mode and the hybrid decoder's adopted
/// definitions per sentence.
type Pairing<'a> = (&'a PairTypes, PairMode, Vec<Vec<Adopted>>);

fn finish(
    text: &str,
    words: &[Word],
    sentences: &[Range<usize>],
    mut entities: Vec<Entity>,
    tagged: Vec<TaggedSentence>,
    pairing: Option<Pairing>,
) -> TaggedText {
    let (pairs, glossary) = match pairing {
        Some((types, mode, adopted)) => {
            let input = PairingInput { types, mode, adopted: &adopted };
            let (p, g) = pairs_and_glossary(text, words, sentences, &mut entities, &input);
            (Some(p), Some(g))
        }
        None => (None, None),
    };
    TaggedText { entities, pairs, glossary, sentences: tagged }
}

/// Schwartz–Hearst's entities for a text (the `rules` mode under a Hugging Face strategy): each sentence's
/// definitions and later short-form mentions, typed with the model's pair types (byte offsets).
fn rules_entities(text: &str, words: &[Word], sentences: &[Range<usize>], types: &PairTypes) -> Vec<Entity> {
    let mut out = Vec::new();
    for r in sentences {
        let w: Vec<&str> = words[r.clone()].iter().map(|x| x.text(text)).collect();
        for (range, is_short) in schwartz_hearst::entities(&w, &schwartz_hearst::definitions(&w)) {
            let (first, last) = (&words[r.start + range.start], &words[r.start + range.end - 1]);
            out.push(Entity {
                label: if is_short { types.short.clone() } else { types.long.clone() },
                text: text[first.start..last.end].to_string(),
                start: first.start,
                end: last.end,
                score: 1.0,
                word: None,
            });
        }
    }
    out
}

/// BIO word tags from entities with byte offsets (Hugging Face strategies): a word takes the first entity
/// overlapping it; an entity starts with `B-` and continues with `I-`, but every word of a type without an
/// `I-` label (PLOD's `AC`) is `B-`.
fn sentences_from_entities(
    words: &[Word],
    sentences: &[Range<usize>],
    entities: &[Entity],
    labels: &LabelSet,
) -> Vec<TaggedSentence> {
    let mut tags = vec![String::from("O"); words.len()];
    for e in entities {
        let Range { start: first, end: last } = words_overlapping(words, e.start, e.end);
        let kind = entity_type(&e.label);
        for (k, t) in tags.iter_mut().enumerate().take(last).skip(first) {
            if t == "O" {
                let inside = k > first && labels.id(&format!("I-{kind}")).is_some() && !e.label.starts_with("B-");
                *t = if e.label.starts_with("I-") || inside { format!("I-{kind}") } else { format!("B-{kind}") };
            }
        }
    }
    sentences
        .iter()
        .map(|r| TaggedSentence { words: words[r.clone()].to_vec(), tags: tags[r.clone()].to_vec() })
        .collect()
}

fn softmax(row: &[f32]) -> Vec<f32> {
    let max = row.iter().copied().fold(f32::NEG_INFINITY, f32::max);
    let exp: Vec<f32> = row.iter().map(|&v| (v - max).exp()).collect();
    let sum: f32 = exp.iter().sum();
    exp.into_iter().map(|e| e / sum).collect()
}
