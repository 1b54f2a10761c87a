//! [`BertConfig`]: the subset of a Hugging Face `config.json` that the BERT-family graphs need.
//!
//! Field names and defaults follow `transformers.BertConfig`
//! (<https://github.com/huggingface/transformers/blob/main/src/transformers/models/bert/configuration_bert.py>):
//! every key is optional and falls back to the bert-base value, nothing about a particular checkpoint
//! (MiniLM's 384 / 6 / 12) is hard-coded. [`BertConfig::validate`] rejects what the graph builder cannot express.
//!
//! ```
//! let cfg: nerkit_export::config::BertConfig =
//!     serde_json::from_str(r#"{"hidden_size": 32, "num_attention_heads": 4, "num_hidden_layers": 2}"#).unwrap();
//! cfg.validate().unwrap();
//! assert_eq!(cfg.head_dim(), 8);
//! assert_eq!(cfg.intermediate_size, 3072); // bert-base default
//! ```
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

/// Model types whose checkpoints have exactly BERT's layout (absolute positions from 0, post-LN encoder).
/// RoBERTa-style models offset their positions by `pad_token_id + 1` and are not accepted.
pub const BERT_LIKE_MODEL_TYPES: &[&str] = &["bert"];

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read {path}: {source}")]
    Io { path: PathBuf, source: std::io::Error },
    #[error("{path}:{line}:{column}: invalid config.json: {message}")]
    Parse { path: PathBuf, line: usize, column: usize, message: String },
    #[error("unsupported config: {field} = {value} ({reason})")]
    Unsupported { field: &'static str, value: String, reason: String },
}

/// BERT-family hyper-parameters (HF `config.json`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct BertConfig {
    pub model_type: String,
    pub vocab_size: usize,
    pub hidden_size: usize,
    pub num_hidden_layers: usize,
    pub num_attention_heads: usize,
    pub intermediate_size: usize,
    pub hidden_act: String,
    pub max_position_embeddings: usize,
    pub type_vocab_size: usize,
    pub layer_norm_eps: f64,
    pub hidden_dropout_prob: f32,
    pub attention_probs_dropout_prob: f32,
    /// `classifier_dropout` of `BertForTokenClassification`; `None` means `hidden_dropout_prob`.
    pub classifier_dropout: Option<f32>,
    pub initializer_range: f32,
    pub position_embedding_type: String,
    pub pad_token_id: i64,
    /// Label names by class index (JSON object with string keys "0", "1", ...).
    #[serde(with = "id2label_serde")]
    pub id2label: BTreeMap<usize, String>,
    pub label2id: BTreeMap<String, usize>,
    /// Every other key of config.json, kept so a rewritten config loses nothing.
    #[serde(flatten)]
    pub extra: serde_json::Map<String, serde_json::Value>,
}

impl Default for BertConfig {
    /// bert-base-uncased.
    fn default() -> Self {
        BertConfig {
            model_type: "bert".into(),
            vocab_size: 30522,
            hidden_size: 768,
            num_hidden_layers: 12,
            num_attention_heads: 12,
            intermediate_size: 3072,
            hidden_act: "gelu".into(),
            max_position_embeddings: 512,
            type_vocab_size: 2,
            layer_norm_eps: 1e-12,
            hidden_dropout_prob: 0.1,
            attention_probs_dropout_prob: 0.1,
            classifier_dropout: None,
            initializer_range: 0.02,
            position_embedding_type: "absolute".into(),
            pad_token_id: 0,
            id2label: BTreeMap::new(),
            label2id: BTreeMap::new(),
            extra: serde_json::Map::new(),
        }
    }
}

impl BertConfig {
    /// Reads and validates `path` (a `config.json`).
    pub fn from_file(path: &Path) -> Result<BertConfig, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Io { path: path.into(), source })?;
        let cfg: BertConfig = serde_json::from_str(&text).map_err(|e| ConfigError::Parse {
            path: path.into(),
            line: e.line(),
            column: e.column(),
            message: e.to_string(),
        })?;
        cfg.validate()?;
        Ok(cfg)
    }

    /// Checks that the graph builder supports this configuration.
    pub fn validate(&self) -> Result<(), ConfigError> {
        let unsupported = |field, value: String, reason: &str| {
            Err(ConfigError::Unsupported { field, value, reason: reason.to_string() })
        };
        if !BERT_LIKE_MODEL_TYPES.contains(&self.model_type.as_str()) {
            return unsupported(
                "model_type",
                self.model_type.clone(),
                &format!("expected one of {BERT_LIKE_MODEL_TYPES:?}"),
            );
        }
        if self.position_embedding_type != "absolute" {
            return unsupported(
                "position_embedding_type",
                self.position_embedding_type.clone(),
                "only absolute position embeddings are supported",
            );
        }
        if !matches!(self.hidden_act.as_str(), "gelu" | "gelu_python") {
            return unsupported("hidden_act", self.hidden_act.clone(), "only exact (erf) gelu is supported");
        }
        for (field, v) in [
            ("hidden_size", self.hidden_size),
            ("num_attention_heads", self.num_attention_heads),
            ("num_hidden_layers", self.num_hidden_layers),
            ("intermediate_size", self.intermediate_size),
            ("vocab_size", self.vocab_size),
            ("max_position_embeddings", self.max_position_embeddings),
            ("type_vocab_size", self.type_vocab_size),
        ] {
            if v == 0 {
                return unsupported(field, "0".into(), "must be positive");
            }
        }
        #[allow(clippy::manual_is_multiple_of)] // is_multiple_of needs Rust 1.87; rust-version is 1.85
        if self.hidden_size % self.num_attention_heads != 0 {
            return unsupported(
                "hidden_size",
                self.hidden_size.to_string(),
                &format!("not divisible by num_attention_heads = {}", self.num_attention_heads),
            );
        }
        Ok(())
    }

    pub fn head_dim(&self) -> usize {
        self.hidden_size / self.num_attention_heads
    }

    /// Dropout rate in front of the token-classification head.
    pub fn classifier_dropout_rate(&self) -> f32 {
        self.classifier_dropout.unwrap_or(self.hidden_dropout_prob)
    }

    /// Label names in class-index order (`LABEL_<i>` for gaps), `num_labels` long.
    pub fn labels(&self, num_labels: usize) -> Vec<String> {
        (0..num_labels).map(|i| self.id2label.get(&i).cloned().unwrap_or_else(|| format!("LABEL_{i}"))).collect()
    }

    /// Sets `id2label` / `label2id` from label names in class-index order.
    pub fn set_labels(&mut self, labels: &[String]) {
        self.id2label = labels.iter().cloned().enumerate().collect();
        self.label2id = labels.iter().cloned().enumerate().map(|(i, l)| (l, i)).collect();
    }
}

/// `id2label` has string keys in JSON ("0": "O") and integer keys in Rust.
mod id2label_serde {
    use std::collections::BTreeMap;

    use serde::{de::Error, Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(m: &BTreeMap<usize, String>, s: S) -> Result<S::Ok, S::Error> {
        s.collect_map(m.iter().map(|(k, v)| (k.to_string(), v)))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<BTreeMap<usize, String>, D::Error> {
        let raw = BTreeMap::<String, String>::deserialize(d)?;
        raw.into_iter()
            .map(|(k, v)| {
                k.parse::<usize>()
                    .map(|k| (k, v))
                    .map_err(|_| D::Error::custom(format!("id2label key {k:?} is not an integer")))
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(json: &str) -> BertConfig {
        serde_json::from_str(json).unwrap()
    }

    #[test]
    fn defaults_fill_missing_keys_and_extra_keys_survive() {
        let cfg = parse(r#"{"hidden_size": 384, "architectures": ["BertModel"]}"#);
        assert_eq!(cfg.hidden_size, 384);
        assert_eq!(cfg.num_hidden_layers, 12);
        assert_eq!(cfg.extra["architectures"][0], "BertModel");
        let back = serde_json::to_value(&cfg).unwrap();
        assert_eq!(back["architectures"][0], "BertModel");
    }

    #[test]
    fn id2label_round_trips_with_string_keys() {
        let mut cfg = parse(r#"{"id2label": {"0": "O", "1": "B-AC"}}"#);
        assert_eq!(cfg.labels(3), vec!["O", "B-AC", "LABEL_2"]);
        cfg.set_labels(&["O".into(), "B-LF".into()]);
        let v = serde_json::to_value(&cfg).unwrap();
        assert_eq!(v["id2label"]["1"], "B-LF");
        assert_eq!(v["label2id"]["B-LF"], 1);
        assert!(serde_json::from_str::<BertConfig>(r#"{"id2label": {"x": "O"}}"#).is_err());
    }

    #[test]
    fn validate_rejects_what_the_builder_cannot_express() {
        let err = |json: &str| parse(json).validate().unwrap_err().to_string();
        assert!(err(r#"{"position_embedding_type": "relative_key"}"#).contains("position_embedding_type"));
        assert!(err(r#"{"hidden_act": "relu"}"#).contains("hidden_act = relu"));
        assert!(err(r#"{"hidden_size": 30, "num_attention_heads": 4}"#).contains("not divisible"));
        assert!(err(r#"{"model_type": "gpt2"}"#).contains("model_type = gpt2"));
        parse("{}").validate().unwrap();
    }
}
