//! The HTTP server's request and answer shapes: nerkit's own `POST /tag` request, the Hugging Face Inference
//! API's token-classification shape (so `huggingface_hub.InferenceClient(...).token_classification(...)` works
//! unchanged), errors, health and `/info`.
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::options::{Aggregation, Decoding, Offsets, PairsOption};
use crate::result::{Entity, PairTypes};

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
    pub decode: Option<Decoding>,
    #[serde(default)]
    pub offsets: Offsets,
    /// `true` (default) / `false`: include `pairs` and `glossary` or not (models without pair types never have
    /// them); or how definitions are decided: `"hybrid"` (the default), `"model"`, `"rules"`.
    #[serde(default, deserialize_with = "PairsOption::deserialize_named")]
    pub pairs: PairsOption,
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
    /// The engine in use after any fallback, e.g. `ort-int8`, `ort-cuda`, `tract` (an `EngineSpec` name).
    pub backend: String,
    /// Why this engine (the fallback decisions taken at load time).
    pub backend_reasons: Vec<String>,
    /// Longest window in sub-word tokens (longer texts are windowed with stride, never truncated).
    pub max_len: usize,
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
