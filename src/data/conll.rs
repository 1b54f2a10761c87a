//! CoNLL reader: one `word<TAB or spaces>...<tag>` per line (word = first column, tag = last column), a blank
//! line between sentences, `-DOCSTART-` lines skipped. A sentence's origin is the line of its first word.
use std::path::Path;

use super::source::file_label;
use super::{DataError, Sentence};

pub(crate) fn read(path: &Path) -> Result<Vec<Sentence>, DataError> {
    let text = std::fs::read_to_string(path).map_err(|e| DataError::io(path, e))?;
    parse(&text, &file_label(path))
}

/// Parses CoNLL text; `file` prefixes every origin.
pub(crate) fn parse(text: &str, file: &str) -> Result<Vec<Sentence>, DataError> {
    let mut out = Vec::new();
    let mut current: Option<Sentence> = None;
    for (i, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() {
            out.extend(current.take());
            continue;
        }
        if line.starts_with("-DOCSTART-") {
            out.extend(current.take());
            continue;
        }
        let columns: Vec<&str> = line.split_whitespace().collect();
        if columns.len() < 2 {
            return Err(DataError::format(
                format!("{file}:{}", i + 1),
                format!("expected `word<TAB>tag`, found one column `{line}`"),
            ));
        }
        let s = current.get_or_insert_with(|| Sentence {
            origin: format!("{file}:{}", i + 1),
            words: Vec::new(),
            tags: Vec::new(),
        });
        s.words.push(columns[0].to_string());
        s.tags.push(columns[columns.len() - 1].to_string());
    }
    out.extend(current);
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_tab_and_space_separated_sentences() {
        let text = "-DOCSTART- -X- O\n\nheart\tB-LF\nrate\tI-LF\n(\tO\nHR\tB-AC\n)\tO\n\n\n\
                    EU NNP B-NP O\nMRI NN I-NP B-AC\n";
        let s = parse(text, "t.conll").unwrap();
        assert_eq!(s.len(), 2);
        assert_eq!(s[0].origin, "t.conll:3");
        assert_eq!(s[0].words, ["heart", "rate", "(", "HR", ")"]);
        assert_eq!(s[0].tags, ["B-LF", "I-LF", "O", "B-AC", "O"]);
        assert_eq!(s[1].origin, "t.conll:10");
        assert_eq!(s[1].words, ["EU", "MRI"]);
        assert_eq!(s[1].tags, ["O", "B-AC"]);
    }

    #[test]
    fn line_without_tag_names_file_line() {
        let msg = parse("a\tO\nlonely\n", "t.conll").unwrap_err().to_string();
        assert!(msg.starts_with("t.conll:2:") && msg.contains("lonely"), "{msg}");
    }

    #[test]
    fn empty_input_has_no_sentences() {
        assert!(parse("\n\n", "t.conll").unwrap().is_empty());
    }
}
