//! Tags as stored in files: a label name, or an integer class id mapped through the [`LabelSet`].
use serde::Deserialize;

use super::DataError;
use crate::labels::LabelSet;

/// One stored tag: `"B-AC"` or a class id such as `1`.
#[derive(Clone, Debug, Deserialize, PartialEq, Eq)]
#[serde(untagged)]
pub(crate) enum RawTag {
    Name(String),
    Id(i64),
}

/// Maps a class id to its label name; an id outside the label set is a format error naming `origin` and word.
pub(crate) fn id_to_name(id: i64, labels: &LabelSet, origin: &str, word: usize) -> Result<String, DataError> {
    usize::try_from(id).ok().and_then(|i| labels.name(i)).map(str::to_string).ok_or_else(|| {
        DataError::format(
            origin,
            format!(
                "word {word}: class id {id} is outside the label set (ids 0..{} = {})",
                labels.len(),
                labels.labels().join(", ")
            ),
        )
    })
}

/// Converts stored tags to label names.
pub(crate) fn resolve(raw: Vec<RawTag>, labels: &LabelSet, origin: &str) -> Result<Vec<String>, DataError> {
    raw.into_iter()
        .enumerate()
        .map(|(i, t)| match t {
            RawTag::Name(n) => Ok(n),
            RawTag::Id(id) => id_to_name(id, labels, origin, i),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn maps_ids_and_keeps_names() {
        let raw = vec![RawTag::Id(0), RawTag::Name("B-LF".into()), RawTag::Id(3)];
        assert_eq!(resolve(raw, &LabelSet::plod(), "f:1").unwrap(), ["O", "B-LF", "I-LF"]);
    }

    #[test]
    fn out_of_range_id_names_origin_and_word() {
        let err = resolve(vec![RawTag::Id(0), RawTag::Id(4)], &LabelSet::plod(), "f:3").unwrap_err();
        let msg = err.to_string();
        assert!(msg.starts_with("f:3: word 1: class id 4"), "{msg}");
        assert!(resolve(vec![RawTag::Id(-1)], &LabelSet::plod(), "f:1").is_err());
    }
}
