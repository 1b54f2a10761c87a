//! The wire format of `POST /tag`: nerkit's own request and answer, and the Hugging Face Inference API's
//! token-classification shape (so `huggingface_hub.InferenceClient(...).token_classification(...)` works
//! unchanged). These types are the HTTP contract (and the OpenAPI schemas); the engine behind the server
//! converts its own results into them.
use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// How sub-word predictions become entities.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Aggregation {
    /// nerkit's own: PLOD-style words, sentence by sentence, BIO-constrained Viterbi (what the model was
    /// trained and evaluated on).
    #[default]
    Native,
    /// Hugging Face `none`: one entity per sub-word token.
    None,
    /// Hugging Face `simple`.
    Simple,
    /// Hugging Face `first`.
    First,
    /// Hugging Face `average`.
    Average,
    /// Hugging Face `max`.
    Max,
}

/// Word decoding of the native aggregation.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Decode {
    Viterbi,
    Argmax,
}

/// Where abbreviation definitions come from (models with pair types).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum PairMode {
    /// The model's scores and the short forms' letters together (the default).
    #[default]
    Hybrid,
    /// The model's entities, paired by layout, re-mention and nearest long form.
    Model,
    /// Schwartz–Hearst alone: its definitions and the later mentions of their short forms are the entities.
    Rules,
}

/// The request's `pairs`: `true` / `false` (include pairs and glossary or not; `true` = `hybrid`), or the mode.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize, ToSchema)]
#[serde(untagged)]
pub enum PairsOption {
    Include(bool),
    Mode(PairMode),
}

impl PairsOption {
    /// Reads `pairs` with an error that names what it accepts (serde's untagged enums say only "did not
    /// match any variant").
    fn deserialize_named<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        use serde::de::Error;
        let expected = "`pairs` must be true, false, \"hybrid\", \"model\" or \"rules\"";
        match serde_json::Value::deserialize(d)? {
            serde_json::Value::Bool(b) => Ok(PairsOption::Include(b)),
            serde_json::Value::String(s) => match s.as_str() {
                "hybrid" => Ok(PairsOption::Mode(PairMode::Hybrid)),
                "model" => Ok(PairsOption::Mode(PairMode::Model)),
                "rules" => Ok(PairsOption::Mode(PairMode::Rules)),
                other => Err(D::Error::custom(format!("unknown variant `{other}` of `pairs`: {expected}"))),
            },
            other => Err(D::Error::custom(format!("{expected}, not {other}"))),
        }
    }
}

impl Default for PairsOption {
    fn default() -> Self {
        PairsOption::Include(true)
    }
}

impl PairsOption {
    /// The mode to tag with, and whether pairs and glossary are returned.
    pub fn resolve(self) -> (PairMode, bool) {
        match self {
            PairsOption::Include(keep) => (PairMode::default(), keep),
            PairsOption::Mode(m) => (m, true),
        }
    }
}

/// Unit of entity offsets.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Offsets {
    /// Unicode code points (Python `str` indices; what the Hugging Face pipeline returns).
    #[default]
    Chars,
    /// UTF-8 bytes.
    Bytes,
}

/// Tagging options; requests with equal options share engine batches.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct TagOptions {
    pub aggregation: Aggregation,
    pub decode: Option<Decode>,
    pub offsets: Offsets,
    /// Sub-word overlap between windows of a long text (`None` = the engine's default).
    pub stride: Option<usize>,
    pub pairs: PairMode,
}

/// nerkit's request: one `text` or a list of `texts`.
#[derive(Clone, Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TagRequest {
    /// One text (the answer is one object).
    #[serde(default)]
    pub text: Option<String>,
    /// Several texts (the answer is a list, in order).
    #[serde(default)]
    pub texts: Option<Vec<String>>,
    #[serde(default)]
    pub aggregation: Aggregation,
    /// Default `viterbi` for the native aggregation; the Hugging Face strategies decode by argmax.
    #[serde(default)]
    pub decode: Option<Decode>,
    #[serde(default)]
    pub offsets: Offsets,
    /// `true` (default) / `false`: include `pairs` and `glossary` or not (models without pair types never have
    /// them); or how definitions are decided: `"hybrid"` (the default), `"model"`, `"rules"`.
    #[serde(default, deserialize_with = "PairsOption::deserialize_named")]
    pub pairs: PairsOption,
}

/// One entity: `text == input[start..end]` in the requested offset unit.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Entity {
    /// The entity type, e.g. `AC`, `LF`, `Disease` (with `aggregation = none`, the token's tag, e.g. `B-AC`).
    pub label: String,
    pub text: String,
    pub start: usize,
    pub end: usize,
    pub score: f32,
    /// Hugging Face strategies only: the tokenizer's decoding of the entity's sub-words.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub word: Option<String>,
}

/// An abbreviation ↔ long-form pair: indices into `entities`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Pair {
    pub ac: usize,
    pub lf: usize,
    /// The layout that defines it: `parenthesised`, `listed` (abbreviation lists); with `pairs = model` also
    /// `remention` and `nearest`.
    pub rule: String,
    /// What it rests on: `both` (model tags and letter alignment), `model` (tags only), `letters` (the short
    /// form's letters set the long form).
    pub evidence: String,
    pub score: f32,
}

/// What one abbreviation stands for in the text.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct GlossaryEntry {
    pub long_form: String,
    pub ac: usize,
    pub lf: usize,
    /// Entity indices of every mention of the abbreviation.
    pub mentions: Vec<usize>,
    /// Other long forms the text gives the same abbreviation (absent when none).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub other_definitions: Vec<OtherDefinition>,
}

/// A further, different definition of an abbreviation in the glossary: its long form and the pair's entities.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct OtherDefinition {
    pub long_form: String,
    pub ac: usize,
    pub lf: usize,
}

/// The answer for one text.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct TagResult {
    pub entities: Vec<Entity>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pairs: Option<Vec<Pair>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub glossary: Option<BTreeMap<String, GlossaryEntry>>,
}

/// The Hugging Face Inference API request for token classification.
#[derive(Clone, Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct HfRequest {
    /// One text or a list of texts.
    pub inputs: HfInputs,
    #[serde(default)]
    pub parameters: HfParameters,
}

#[derive(Clone, Debug, Deserialize, ToSchema)]
#[serde(untagged)]
pub enum HfInputs {
    One(String),
    Many(Vec<String>),
}

/// `parameters` of the Hugging Face request.
#[derive(Clone, Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct HfParameters {
    /// `none`, `simple` (the default here, as on the Inference API), `first`, `average`, `max`; nerkit
    /// also takes `native`.
    #[serde(default)]
    pub aggregation_strategy: Option<Aggregation>,
    /// Entity groups (or token tags with `none`) to drop; `O` is never returned.
    #[serde(default)]
    pub ignore_labels: Option<Vec<String>>,
    /// Sub-word overlap between the windows of a long text.
    #[serde(default)]
    pub stride: Option<usize>,
}

/// One entity in the Hugging Face shape.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct HfEntity {
    /// Entity type (`AC`, `LF`) for the grouping strategies.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub entity_group: Option<String>,
    /// Token tag (`B-AC`, ...) with `aggregation_strategy = none`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub entity: Option<String>,
    pub score: f32,
    pub word: String,
    /// Code points.
    pub start: usize,
    pub end: usize,
}

impl HfEntity {
    pub fn from_entity(e: &Entity, aggregation: Aggregation) -> HfEntity {
        let kind = e.label.strip_prefix("B-").or_else(|| e.label.strip_prefix("I-")).unwrap_or(&e.label);
        let (entity_group, entity) = match aggregation {
            Aggregation::None => (None, Some(e.label.clone())),
            _ => (Some(kind.to_string()), None),
        };
        HfEntity {
            entity_group,
            entity,
            score: e.score,
            word: e.word.clone().unwrap_or_else(|| e.text.clone()),
            start: e.start,
            end: e.end,
        }
    }

    /// The label `ignore_labels` is matched against.
    pub fn label(&self) -> &str {
        self.entity_group.as_deref().or(self.entity.as_deref()).unwrap_or("")
    }
}

/// Every error answer: `{"error": "...", "kind": "..."}`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct ErrorBody {
    pub error: String,
    /// Machine-readable class, e.g. `invalid_json`, `text_too_long`, `queue_full`.
    pub kind: String,
}

/// `GET /health`.
#[derive(Clone, Debug, Serialize, Deserialize, ToSchema)]
pub struct Health {
    /// `ok`, `loading` or `failed`.
    pub status: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// What the engine tells about itself.
#[derive(Clone, Debug, Default, Serialize, Deserialize, ToSchema)]
pub struct ModelInfo {
    /// The model directory or id.
    pub model_id: String,
    pub labels: Vec<String>,
    /// Entity types in label order (e.g. `AC`, `LF`; `Chemical`, `Disease`).
    #[serde(default)]
    pub entity_types: Vec<String>,
    /// The types that pair as abbreviation ↔ long form; absent for models without pairs (their answers have
    /// no `pairs` or `glossary`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pairs: Option<PairTypes>,
    /// The engine in use, e.g. `ort-cpu int8`.
    pub backend: String,
    /// Why this engine (the fallback decisions taken at load time).
    pub backend_reasons: Vec<String>,
    /// Longest window in sub-word tokens (longer texts are windowed with stride, never truncated).
    pub max_len: usize,
}

/// The entity types that pair: `short` (abbreviation) and `long` (long form).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct PairTypes {
    pub short: String,
    pub long: String,
}

/// The server's limits (`/info`).
#[derive(Clone, Debug, Serialize, Deserialize, ToSchema)]
pub struct Limits {
    /// Concurrent requests share engine batches (`nerkit serve --no-batching` turns it off).
    pub batching: bool,
    pub max_body_bytes: usize,
    pub max_texts: usize,
    pub max_chars: usize,
    pub max_batch_tokens: usize,
    pub max_wait_ms: u64,
    pub max_concurrent: usize,
}

/// `GET /info`.
#[derive(Clone, Debug, Serialize, Deserialize, ToSchema)]
pub struct Info {
    #[serde(flatten)]
    pub model: ModelInfo,
    pub limits: Limits,
    pub auth: bool,
    pub version: String,
}
