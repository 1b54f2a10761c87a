//! What tagging returns: entities with offsets into the input text, and the options that shape them.
use serde::{Deserialize, Serialize};

use super::decode::Decoding;
use super::text::CharIndex;

/// One entity found in a text. `text == input[start..end]`, with offsets in the unit the request asked for:
/// Unicode code points by default (what Python's `str` slicing and the Hugging Face pipeline use), or UTF-8
/// bytes. The text keeps the input's casing even when the model is uncased.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Entity {
    /// `AC` or `LF` (with `aggregation = none`, the token's own tag: `B-AC`, `I-LF`, ...).
    pub label: String,
    pub text: String,
    pub start: usize,
    pub end: usize,
    /// Mean probability of the entity's words (native) or the pipeline's score (Hugging Face strategies).
    pub score: f32,
    /// Hugging Face strategies only: the pipeline's `word` (the tokenizer's decoding of the sub-words, e.g.
    /// lowercased by an uncased model).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub word: Option<String>,
}

/// Unit of [`Entity::start`] / [`Entity::end`].
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum Offsets {
    /// Unicode code points (Python `str` indices).
    #[default]
    Chars,
    /// UTF-8 bytes (Rust `str` indices).
    Bytes,
}

/// How sub-word predictions become entities.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum Aggregation {
    /// nerkit's own: PLOD-style words (each word's first sub-word), sentence by sentence, decoded with
    /// `decode` (BIO-constrained Viterbi by default). What the model was trained and evaluated on.
    #[default]
    Native,
    /// Hugging Face `aggregation_strategy="none"`: one entity per sub-word token.
    None,
    /// Hugging Face `"simple"`: adjacent tokens of one type grouped (B- starts a new group).
    Simple,
    /// Hugging Face `"first"`: each tokenizer word takes its first sub-word's label, then grouped.
    First,
    /// Hugging Face `"average"`: each word takes the label of its sub-words' mean probabilities.
    Average,
    /// Hugging Face `"max"`: each word takes the label of its most confident sub-word.
    Max,
}

impl Aggregation {
    /// The Hugging Face pipeline's strategies (as opposed to [`Aggregation::Native`]).
    pub fn is_hf(self) -> bool {
        self != Aggregation::Native
    }
}

/// Options of one tagging request.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct TagOptions {
    pub aggregation: Aggregation,
    /// Word decoding for the native aggregation (`None` = Viterbi). The Hugging Face strategies decode by
    /// argmax, as the pipeline does; asking them for Viterbi is an error.
    pub decode: Option<Decoding>,
    pub offsets: Offsets,
    /// Sub-word overlap between consecutive token windows of a long text under a Hugging Face strategy (the
    /// pipeline's `stride`); `None` = the tagger's default (32). The native path windows sentences with the
    /// tagger's own stride.
    pub stride: Option<usize>,
    /// How abbreviation definitions are decided (models with pair types; [`crate::abbrev::PairMode`]).
    #[serde(default)]
    pub pairs: crate::abbrev::PairMode,
}

impl TagOptions {
    /// The decoding the native path uses; an error for a Hugging Face strategy with Viterbi.
    pub fn decoding(&self) -> Result<Decoding, String> {
        match (self.aggregation.is_hf(), self.decode) {
            (true, Some(Decoding::Viterbi)) => Err(format!(
                "decode = viterbi applies to the native aggregation only; the Hugging Face strategy `{}` decodes by argmax",
                clap::ValueEnum::to_possible_value(&self.aggregation).map(|v| v.get_name().to_string()).unwrap_or_default()
            )),
            (true, _) => Ok(Decoding::Argmax),
            (false, d) => Ok(d.unwrap_or_default()),
        }
    }
}

/// Converts byte offsets of `entities` into code points of `text` (in place).
pub fn to_char_offsets(text: &str, entities: &mut [Entity]) {
    let index = CharIndex::new(text);
    for e in entities {
        e.start = index.char_offset(e.start);
        e.end = index.char_offset(e.end);
    }
}

/// The entity type of a label: `B-AC` → `AC`, `LF` → `LF`.
pub fn entity_type(label: &str) -> &str {
    label.strip_prefix("B-").or_else(|| label.strip_prefix("I-")).unwrap_or(label)
}
