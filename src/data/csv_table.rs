//! CSV reader: one row per sentence, with a header row.
//!
//! Two columns are used, others are ignored: the words (default: the first header among `tokens`, `words`,
//! `token`, `sentence`) and the tags (first among `ner_tags`, `tags`, `labels`, `ner`), header names compared
//! case-insensitively; [`CsvColumns`] overrides either. Each cell is either a JSON list
//! (`["heart", "rate"]`, `["B-LF", "I-LF"]` or class ids `[2, 3]`) or a space-separated list
//! (`heart rate`, `B-LF I-LF`, `2 3`); all-digit tags are class ids mapped through the [`LabelSet`].
//! Origins are `file:line` of the row's first line.
use std::path::Path;

use super::source::file_label;
use super::tags::{resolve, RawTag};
use super::{DataError, Sentence};
use crate::labels::LabelSet;

const TOKEN_HEADERS: [&str; 4] = ["tokens", "words", "token", "sentence"];
const TAG_HEADERS: [&str; 4] = ["ner_tags", "tags", "labels", "ner"];

/// Which CSV columns hold the words and the tags; `None` = auto-detect from the header.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct CsvColumns {
    pub tokens: Option<String>,
    pub tags: Option<String>,
}

pub(crate) fn read(path: &Path, labels: &LabelSet, columns: &CsvColumns) -> Result<Vec<Sentence>, DataError> {
    let file = std::fs::File::open(path).map_err(|e| DataError::io(path, e))?;
    parse(file, &file_label(path), labels, columns)
}

/// Parses CSV from `input`; `file` prefixes every origin.
pub(crate) fn parse(
    input: impl std::io::Read,
    file: &str,
    labels: &LabelSet,
    columns: &CsvColumns,
) -> Result<Vec<Sentence>, DataError> {
    let mut reader = ::csv::ReaderBuilder::new().has_headers(true).from_reader(input);
    let csv_err = |line: u64, cause| DataError::Csv { origin: format!("{file}:{line}"), cause };
    let headers = reader.headers().map_err(|e| csv_err(1, e))?.clone();
    let find = |wanted: &Option<String>, defaults: &[&str], what: &str| -> Result<usize, DataError> {
        let names: Vec<&str> = match wanted {
            Some(w) => vec![w.as_str()],
            None => defaults.to_vec(),
        };
        names.iter().find_map(|n| headers.iter().position(|h| h.trim().eq_ignore_ascii_case(n))).ok_or_else(|| {
            DataError::format(
                format!("{file}:1"),
                format!(
                    "no {what} column: looked for {} among headers [{}]",
                    names.join(" / "),
                    headers.iter().collect::<Vec<_>>().join(", ")
                ),
            )
        })
    };
    let tokens_col = find(&columns.tokens, &TOKEN_HEADERS, "tokens")?;
    let tags_col = find(&columns.tags, &TAG_HEADERS, "tags")?;

    let mut out = Vec::new();
    for record in reader.records() {
        let record = record.map_err(|e| {
            let line = e.position().map(|p| p.line()).unwrap_or(0);
            csv_err(line, e)
        })?;
        let origin = format!("{file}:{}", record.position().map(|p| p.line()).unwrap_or(0));
        let cell = |col: usize| record.get(col).unwrap_or("").trim();
        let words: Vec<String> = parse_list(cell(tokens_col), &origin, "tokens")?;
        let raw: Vec<RawTag> = parse_list(cell(tags_col), &origin, "tags")?;
        let tags = resolve(raw, labels, &origin)?;
        out.push(Sentence { origin, words, tags });
    }
    Ok(out)
}

/// A cell as a JSON list, or as whitespace-separated items.
fn parse_list<T: serde::de::DeserializeOwned + FromItem>(
    cell: &str,
    origin: &str,
    what: &str,
) -> Result<Vec<T>, DataError> {
    if cell.starts_with('[') {
        serde_json::from_str(cell)
            .map_err(|e| DataError::format(origin, format!("{what} cell is not a JSON list of {what}: {e}")))
    } else {
        Ok(cell.split_whitespace().map(T::from_item).collect())
    }
}

/// Conversion of one whitespace-separated item.
trait FromItem {
    fn from_item(item: &str) -> Self;
}

impl FromItem for String {
    fn from_item(item: &str) -> Self {
        item.to_string()
    }
}

impl FromItem for RawTag {
    fn from_item(item: &str) -> Self {
        match item.parse::<i64>() {
            Ok(id) if item.bytes().all(|b| b.is_ascii_digit()) => RawTag::Id(id),
            _ => RawTag::Name(item.to_string()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse_str(text: &str, columns: &CsvColumns) -> Result<Vec<Sentence>, DataError> {
        parse(text.as_bytes(), "t.csv", &LabelSet::plod(), columns)
    }

    #[test]
    fn reads_json_and_space_separated_cells() {
        let text = "id,tokens,ner_tags\n\
                    1,\"[\"\"heart\"\", \"\"rate\"\"]\",\"[\"\"B-LF\"\", \"\"I-LF\"\"]\"\n\
                    2,MRI scan,B-AC O\n\
                    3,\"[\"\"HR\"\"]\",[1]\n\
                    4,HR rises,1 0\n";
        let s = parse_str(text, &CsvColumns::default()).unwrap();
        assert_eq!(s.len(), 4);
        assert_eq!(s[0].words, ["heart", "rate"]);
        assert_eq!(s[0].tags, ["B-LF", "I-LF"]);
        assert_eq!(s[1].origin, "t.csv:3");
        assert_eq!(s[1].tags, ["B-AC", "O"]);
        assert_eq!(s[2].tags, ["B-AC"]);
        assert_eq!(s[3].tags, ["B-AC", "O"]);
    }

    #[test]
    fn auto_detects_and_overrides_headers() {
        let text = "Words,Labels\nMRI,B-AC\n";
        assert_eq!(parse_str(text, &CsvColumns::default()).unwrap()[0].tags, ["B-AC"]);
        let text = "text,bio\nMRI,B-AC\n";
        let cols = CsvColumns { tokens: Some("text".into()), tags: Some("bio".into()) };
        assert_eq!(parse_str(text, &cols).unwrap()[0].words, ["MRI"]);
    }

    #[test]
    fn missing_column_lists_the_headers() {
        let msg = parse_str("text,bio\nMRI,B-AC\n", &CsvColumns::default()).unwrap_err().to_string();
        assert!(msg.starts_with("t.csv:1:") && msg.contains("no tokens column") && msg.contains("text, bio"));
    }

    #[test]
    fn bad_json_cell_names_the_line() {
        let msg = parse_str("tokens,ner_tags\nMRI,B-AC\n[\"a\",O\n", &CsvColumns::default()).unwrap_err();
        assert!(msg.to_string().starts_with("t.csv:3:"), "{msg}");
    }

    #[test]
    fn ragged_row_is_a_csv_error() {
        let err = parse_str("tokens,ner_tags\nMRI,B-AC,extra\n", &CsvColumns::default()).unwrap_err();
        assert!(matches!(err, DataError::Csv { .. }), "{err}");
        assert!(err.to_string().starts_with("t.csv:2"), "{err}");
    }
}
