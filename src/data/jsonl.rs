//! JSONL reader: one sentence per line, `{"tokens": [...], "ner_tags": [...]}`; tags are label names or
//! integer class ids (mapped through the [`LabelSet`]). Other keys (`id`, `pos_tags`) are ignored, blank lines
//! are skipped. A `.json` file whose first character is `[` is read as one JSON array of such objects
//! (origins `file#row N`, N from 0).
use std::path::Path;

use serde::Deserialize;

use super::source::file_label;
use super::tags::{resolve, RawTag};
use super::{DataError, Sentence};
use crate::labels::LabelSet;

#[derive(Deserialize)]
struct Record {
    tokens: Vec<String>,
    ner_tags: Vec<RawTag>,
}

pub(crate) fn read(path: &Path, labels: &LabelSet) -> Result<Vec<Sentence>, DataError> {
    let text = std::fs::read_to_string(path).map_err(|e| DataError::io(path, e))?;
    parse(&text, &file_label(path), labels)
}

/// Parses JSONL (or a JSON array) text; `file` prefixes every origin.
pub(crate) fn parse(text: &str, file: &str, labels: &LabelSet) -> Result<Vec<Sentence>, DataError> {
    if text.trim_start().starts_with('[') {
        let records: Vec<Record> =
            serde_json::from_str(text).map_err(|e| DataError::format(file, format!("invalid JSON array: {e}")))?;
        return records
            .into_iter()
            .enumerate()
            .map(|(row, r)| to_sentence(r, format!("{file}#row {row}"), labels))
            .collect();
    }
    let mut out = Vec::new();
    for (i, line) in text.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        let origin = format!("{file}:{}", i + 1);
        let record: Record = serde_json::from_str(line).map_err(|e| {
            DataError::format(&origin, format!("not a {{\"tokens\": [...], \"ner_tags\": [...]}} object: {e}"))
        })?;
        out.push(to_sentence(record, origin, labels)?);
    }
    Ok(out)
}

fn to_sentence(r: Record, origin: String, labels: &LabelSet) -> Result<Sentence, DataError> {
    let tags = resolve(r.ner_tags, labels, &origin)?;
    Ok(Sentence { origin, words: r.tokens, tags })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse_plod(text: &str) -> Result<Vec<Sentence>, DataError> {
        parse(text, "t.jsonl", &LabelSet::plod())
    }

    #[test]
    fn reads_string_and_id_tags_and_skips_blank_lines() {
        let text = "{\"tokens\": [\"MRI\", \"scan\"], \"ner_tags\": [\"B-AC\", \"O\"], \"id\": 7}\n\n\
                    {\"tokens\": [\"heart\", \"rate\"], \"ner_tags\": [2, 3]}\n";
        let s = parse_plod(text).unwrap();
        assert_eq!(s.len(), 2);
        assert_eq!(s[0].tags, ["B-AC", "O"]);
        assert_eq!(s[1].origin, "t.jsonl:3");
        assert_eq!(s[1].tags, ["B-LF", "I-LF"]);
    }

    #[test]
    fn bad_line_names_file_line_and_problem() {
        let text = "{\"tokens\": [\"a\"], \"ner_tags\": [\"O\"]}\n{\"tokens\": [\"a\"]}\n";
        let msg = parse_plod(text).unwrap_err().to_string();
        assert!(msg.starts_with("t.jsonl:2:") && msg.contains("ner_tags"), "{msg}");
        let msg = parse_plod("not json\n").unwrap_err().to_string();
        assert!(msg.starts_with("t.jsonl:1:"), "{msg}");
    }

    #[test]
    fn id_outside_label_set_is_an_error() {
        let msg = parse_plod("{\"tokens\": [\"a\"], \"ner_tags\": [9]}").unwrap_err().to_string();
        assert!(msg.contains("t.jsonl:1") && msg.contains("class id 9"), "{msg}");
    }

    #[test]
    fn reads_a_json_array() {
        let s =
            parse_plod("[{\"tokens\": [\"a\"], \"ner_tags\": [\"O\"]}, {\"tokens\": [], \"ner_tags\": []}]").unwrap();
        assert_eq!(s[1].origin, "t.jsonl#row 1");
    }
}
