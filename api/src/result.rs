//! What tagging returns for one text: entities, abbreviation ↔ long-form pairs and a glossary. The same JSON
//! is a `nerkit predict` record, a `POST /tag` answer and what `nerkit.Tagger.tag` returns.
use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// One entity found in a text. `text == input[start..end]`, with offsets in the unit the request asked for:
/// Unicode code points by default (what Python's `str` slicing and the Hugging Face pipeline use), or UTF-8
/// bytes. The text keeps the input's casing even when the model is uncased.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Entity {
    /// The entity type, e.g. `AC`, `LF`, `Disease` (with `aggregation = none`, the token's tag, e.g. `B-AC`).
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

/// How a pair was formed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum PairRule {
    /// `long form ( SF )` or `SF ( long form )`.
    Parenthesised,
    /// An entry of an abbreviation list: `SF , long form ;`, `SF : long form .`, `SF = long form ;`.
    Listed,
    /// `pairs = model` only: the same abbreviation (case-insensitive) is defined in brackets elsewhere in the
    /// sentence.
    Remention,
    /// `pairs = model` only: the nearest long form in the sentence.
    Nearest,
}

impl PairRule {
    pub fn name(self) -> &'static str {
        match self {
            PairRule::Parenthesised => "parenthesised",
            PairRule::Listed => "listed",
            PairRule::Remention => "remention",
            PairRule::Nearest => "nearest",
        }
    }
}

/// What a pair rests on.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Evidence {
    /// The model tagged both sides and the short form's letters align with the long form.
    Both,
    /// The model's tags alone (the letters do not align, e.g. "copper (Cu)").
    Model,
    /// The letters set the long form (Schwartz–Hearst, or the hybrid decoder moved or added it).
    Letters,
}

impl Evidence {
    pub fn name(self) -> &'static str {
        match self {
            Evidence::Both => "both",
            Evidence::Model => "model",
            Evidence::Letters => "letters",
        }
    }
}

/// One abbreviation ↔ long-form pair: indices into the text's entities.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Pair {
    pub ac: usize,
    pub lf: usize,
    /// The layout that defines it: `parenthesised`, `listed` (abbreviation lists); with `pairs = model` also
    /// `remention` and `nearest`.
    pub rule: PairRule,
    /// What the pair rests on: `both` (model tags and letter alignment), `model` (tags only), `letters` (the
    /// short form's letters set the long form).
    pub evidence: Evidence,
    /// The product of the two entities' scores.
    pub score: f32,
}

/// What an abbreviation stands for in one text.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct GlossaryEntry {
    pub long_form: String,
    /// Entity indices of the defining pair (the first bracketed definition, else the first pair).
    pub ac: usize,
    pub lf: usize,
    /// Entity indices of every mention of the abbreviation (the defining one included).
    pub mentions: Vec<usize>,
    /// Other long forms the text gives the same abbreviation, with their pairs' entity indices (absent when
    /// none).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub other_definitions: Vec<OtherDefinition>,
}

/// A further, different definition of an abbreviation already in the glossary.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct OtherDefinition {
    pub long_form: String,
    pub ac: usize,
    pub lf: usize,
}

/// Abbreviation → what it stands for.
pub type Glossary = BTreeMap<String, GlossaryEntry>;

/// The answer for one text.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct TagResult {
    pub entities: Vec<Entity>,
    /// Abbreviation ↔ long-form pairs; absent for a model without pair types ([`PairTypes`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pairs: Option<Vec<Pair>>,
    /// Abbreviation → what it stands for (a [`Glossary`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub glossary: Option<BTreeMap<String, GlossaryEntry>>,
}

/// The entity types that pair: `short` (abbreviation) and `long` (long form). A model pairs when its label
/// set has both; other models have no pairs and no glossary at all.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct PairTypes {
    pub short: String,
    pub long: String,
}

impl PairTypes {
    /// `AC` ↔ `LF`, the PLOD types.
    pub fn plod() -> Self {
        PairTypes { short: "AC".into(), long: "LF".into() }
    }
}
