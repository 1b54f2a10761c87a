//! The label set is data: collected from the training data ([`LabelSet::from_tags`]), or read back from a
//! model directory's `config.json` ([`LabelSet::from_model_dir`]); any BIO set is accepted. `O, B-AC, B-LF,
//! I-LF` ([`LabelSet::plod`]) is only the PLOD datasets' class-id order.
use std::path::Path;

use serde::{Deserialize, Serialize};

/// An ordered BIO label set; a label's id is its index. `O` need not be first, but must be present.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct LabelSet {
    labels: Vec<String>,
}

/// Why a label list is not a usable BIO label set.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum LabelError {
    #[error("label set is empty")]
    Empty,
    #[error("label set has no `O` label")]
    NoOutside,
    #[error("label `{0}` appears twice in the label set")]
    Duplicate(String),
    #[error("label `{0}` is not BIO: expected `O`, `B-<type>` or `I-<type>`")]
    NotBio(String),
}

impl LabelSet {
    /// The PLOD label set, in the order of the datasets' class ids.
    pub fn plod() -> Self {
        LabelSet { labels: ["O", "B-AC", "B-LF", "I-LF"].iter().map(|s| s.to_string()).collect() }
    }

    /// The label set of a corpus: the distinct tags of `tags`, `O` first, then entity types sorted by name, and
    /// within a type `B-` before `I-` (`O, B-Chemical, I-Chemical, B-Disease, I-Disease`). `O` is added when
    /// absent. For PLOD data this is [`LabelSet::plod`]'s order.
    pub fn from_tags<'a>(tags: impl IntoIterator<Item = &'a str>) -> Result<Self, LabelError> {
        let mut seen: std::collections::BTreeSet<(&str, u8, &str)> = std::collections::BTreeSet::new();
        for t in tags {
            if t == "O" {
                continue;
            }
            let (kind, ty) = match (t.strip_prefix("B-"), t.strip_prefix("I-")) {
                (Some(ty), _) => (0, ty),
                (_, Some(ty)) => (1, ty),
                _ => return Err(LabelError::NotBio(t.to_string())),
            };
            seen.insert((ty, kind, t));
        }
        let labels = std::iter::once("O".to_string()).chain(seen.into_iter().map(|(_, _, t)| t.to_string())).collect();
        Self::new(labels)
    }

    /// The label set a model directory carries: `config.json`'s `id2label` (Hugging Face convention), read with
    /// [`nerkit_export::config::BertConfig`]. `Ok(None)` when there is no readable config, no `id2label`, ids
    /// with gaps, or only transformers' placeholders `LABEL_<i>` (an untrained base model).
    pub fn from_model_dir(dir: &Path) -> Result<Option<Self>, LabelError> {
        let Ok(cfg) = nerkit_export::config::BertConfig::from_file(&dir.join("config.json")) else { return Ok(None) };
        let map = &cfg.id2label;
        if map.is_empty()
            || map.keys().enumerate().any(|(i, id)| *id != i)
            || map.values().all(|n| n.starts_with("LABEL_"))
        {
            return Ok(None);
        }
        Self::new(map.values().cloned().collect()).map(Some)
    }

    /// True when the set has `B-<ty>` (the type can be predicted).
    pub fn has_type(&self, ty: &str) -> bool {
        self.labels.iter().any(|l| l.strip_prefix("B-") == Some(ty))
    }

    /// Whether `tag` is a BIO label: `O`, `B-<type>` or `I-<type>` with a non-empty type.
    pub fn is_bio_tag(tag: &str) -> bool {
        tag == "O" || tag.len() > 2 && (tag.starts_with("B-") || tag.starts_with("I-"))
    }

    pub fn new(labels: Vec<String>) -> Result<Self, LabelError> {
        if labels.is_empty() {
            return Err(LabelError::Empty);
        }
        let mut seen = std::collections::HashSet::new();
        for l in &labels {
            if !seen.insert(l.as_str()) {
                return Err(LabelError::Duplicate(l.clone()));
            }
            if !Self::is_bio_tag(l) {
                return Err(LabelError::NotBio(l.clone()));
            }
        }
        if !seen.contains("O") {
            return Err(LabelError::NoOutside);
        }
        Ok(LabelSet { labels })
    }

    pub fn len(&self) -> usize {
        self.labels.len()
    }

    pub fn is_empty(&self) -> bool {
        self.labels.is_empty()
    }

    pub fn id(&self, label: &str) -> Option<usize> {
        self.labels.iter().position(|l| l == label)
    }

    pub fn name(&self, id: usize) -> Option<&str> {
        self.labels.get(id).map(|s| s.as_str())
    }

    pub fn labels(&self) -> &[String] {
        &self.labels
    }

    pub fn outside_id(&self) -> usize {
        self.id("O").expect("validated: O present")
    }

    /// Entity types in first-seen order (`AC`, `LF` for PLOD).
    pub fn entity_types(&self) -> Vec<String> {
        let mut types: Vec<String> = Vec::new();
        for l in &self.labels {
            if let Some(t) = l.strip_prefix("B-").or_else(|| l.strip_prefix("I-")) {
                if !types.iter().any(|x| x == t) {
                    types.push(t.to_string());
                }
            }
        }
        types
    }
}

impl Default for LabelSet {
    fn default() -> Self {
        Self::plod()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plod_ids_and_types() {
        let l = LabelSet::plod();
        assert_eq!(l.id("B-LF"), Some(2));
        assert_eq!(l.name(3), Some("I-LF"));
        assert_eq!(l.entity_types(), vec!["AC", "LF"]);
        assert_eq!(l.outside_id(), 0);
    }

    #[test]
    fn from_tags_orders_o_then_types_then_b_before_i() {
        let tags = ["I-Disease", "O", "B-Disease", "B-Chemical", "I-Chemical", "B-Disease"];
        let l = LabelSet::from_tags(tags).unwrap();
        assert_eq!(l.labels(), ["O", "B-Chemical", "I-Chemical", "B-Disease", "I-Disease"]);
        let plod = LabelSet::from_tags(["B-LF", "I-LF", "O", "B-AC"]).unwrap();
        assert_eq!(plod, LabelSet::plod());
        assert_eq!(LabelSet::from_tags(["B-Gene"]).unwrap().labels(), ["O", "B-Gene"]);
        assert_eq!(LabelSet::from_tags(["O", "Gene"]), Err(LabelError::NotBio("Gene".into())));
    }

    #[test]
    fn model_dir_labels_from_id2label_and_none_for_placeholders() {
        let dir = tempfile::tempdir().unwrap();
        assert_eq!(LabelSet::from_model_dir(dir.path()), Ok(None));
        let cfg = dir.path().join("config.json");
        std::fs::write(&cfg, r#"{"id2label": {"1": "B-Gene", "0": "O", "2": "I-Gene"}}"#).unwrap();
        assert_eq!(LabelSet::from_model_dir(dir.path()).unwrap().unwrap().labels(), ["O", "B-Gene", "I-Gene"]);
        std::fs::write(&cfg, r#"{"id2label": {"0": "LABEL_0", "1": "LABEL_1"}}"#).unwrap();
        assert_eq!(LabelSet::from_model_dir(dir.path()), Ok(None));
    }

    #[test]
    fn rejects_bad_sets() {
        let v = |xs: &[&str]| xs.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        assert_eq!(LabelSet::new(v(&["B-X"])), Err(LabelError::NoOutside));
        assert_eq!(LabelSet::new(v(&["O", "O"])), Err(LabelError::Duplicate("O".into())));
        assert_eq!(LabelSet::new(v(&["O", "X"])), Err(LabelError::NotBio("X".into())));
        assert_eq!(LabelSet::new(v(&["O", "B-"])), Err(LabelError::NotBio("B-".into())));
        assert!(LabelSet::new(v(&["O", "B-PER", "I-PER"])).is_ok());
    }
}
