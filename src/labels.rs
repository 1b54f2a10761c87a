//! The label set is data: `O, B-AC, B-LF, I-LF` by default, any BIO set accepted.
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

    pub fn new(labels: Vec<String>) -> Result<Self, LabelError> {
        if labels.is_empty() {
            return Err(LabelError::Empty);
        }
        let mut seen = std::collections::HashSet::new();
        for l in &labels {
            if !seen.insert(l.as_str()) {
                return Err(LabelError::Duplicate(l.clone()));
            }
            if l != "O" && !(l.starts_with("B-") || l.starts_with("I-")) || l.len() == 2 {
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
    fn rejects_bad_sets() {
        let v = |xs: &[&str]| xs.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        assert_eq!(LabelSet::new(v(&["B-X"])), Err(LabelError::NoOutside));
        assert_eq!(LabelSet::new(v(&["O", "O"])), Err(LabelError::Duplicate("O".into())));
        assert_eq!(LabelSet::new(v(&["O", "X"])), Err(LabelError::NotBio("X".into())));
        assert_eq!(LabelSet::new(v(&["O", "B-"])), Err(LabelError::NotBio("B-".into())));
        assert!(LabelSet::new(v(&["O", "B-PER", "I-PER"])).is_ok());
    }
}
