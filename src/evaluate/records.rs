//! Prediction records and the `--predictions` JSONL reader.
//!
//! One sentence per line: `{"tokens": [...], "ner_tags": [gold...], "pred_tags": [...]}` with an optional
//! `"pred_scores": [per-word confidence]`. Tags may be label names (`"B-AC"`) or label-set ids (`1`).
//! Blank lines are skipped. Every problem is reported as `file:line` plus the field at fault.
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::EvalError;
use crate::labels::LabelSet;

/// One scored sentence at word level.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct PredictionRecord {
    pub tokens: Vec<String>,
    #[serde(rename = "ner_tags")]
    pub gold: Vec<String>,
    #[serde(rename = "pred_tags")]
    pub pred: Vec<String>,
    #[serde(rename = "pred_scores", default, skip_serializing_if = "Option::is_none")]
    pub scores: Option<Vec<f64>>,
}

impl PredictionRecord {
    pub fn new(tokens: Vec<String>, gold: Vec<String>, pred: Vec<String>) -> Self {
        PredictionRecord { tokens, gold, pred, scores: None }
    }

    /// Builds a record from string slices (tests, examples).
    pub fn from_strs(tokens: &[&str], gold: &[&str], pred: &[&str]) -> Self {
        let v = |xs: &[&str]| xs.iter().map(|s| s.to_string()).collect();
        PredictionRecord::new(v(tokens), v(gold), v(pred))
    }

    /// A gold sentence plus a tagger's word-level predictions (the model-based path).
    pub fn from_sentence(
        sentence: &crate::data::Sentence,
        pred: Vec<String>,
        scores: Option<Vec<f64>>,
    ) -> Result<Self, EvalError> {
        let n = sentence.words.len();
        let mismatch =
            |field, got| EvalError::PredictionLength { origin: sentence.origin.clone(), field, expected: n, got };
        if pred.len() != n {
            return Err(mismatch("pred_tags", pred.len()));
        }
        if let Some(s) = &scores {
            if s.len() != n {
                return Err(mismatch("pred_scores", s.len()));
            }
        }
        Ok(PredictionRecord { tokens: sentence.words.clone(), gold: sentence.tags.clone(), pred, scores })
    }

    pub fn len(&self) -> usize {
        self.tokens.len()
    }

    pub fn is_empty(&self) -> bool {
        self.tokens.is_empty()
    }
}

#[derive(Deserialize)]
#[serde(untagged)]
enum RawTag {
    Name(String),
    Id(usize),
}

#[derive(Deserialize)]
struct RawRecord {
    tokens: Option<Vec<String>>,
    ner_tags: Option<Vec<RawTag>>,
    pred_tags: Option<Vec<RawTag>>,
    #[serde(default)]
    pred_scores: Option<Vec<f64>>,
}

/// Reads and validates a predictions JSONL file against `labels`.
pub fn read_predictions(path: &Path, labels: &LabelSet) -> Result<Vec<PredictionRecord>, EvalError> {
    let text = std::fs::read_to_string(path).map_err(|source| EvalError::Read { path: path.into(), source })?;
    let records = parse_predictions(&text, path, labels)?;
    if records.is_empty() {
        return Err(EvalError::Empty { path: path.into() });
    }
    Ok(records)
}

/// The label set of a predictions file: the string tags of its `ner_tags` and `pred_tags`
/// ([`LabelSet::from_tags`]); a file that stores class ids is read with the PLOD order (pass `--labels`
/// otherwise).
pub fn predictions_label_set(path: &Path) -> Result<LabelSet, EvalError> {
    let text = std::fs::read_to_string(path).map_err(|source| EvalError::Read { path: path.into(), source })?;
    let mut tags = std::collections::BTreeSet::new();
    let mut ids = false;
    for (i, line) in text.lines().enumerate().filter(|(_, l)| !l.trim().is_empty()) {
        let v: serde_json::Value = serde_json::from_str(line).map_err(|e| EvalError::Json {
            path: path.into(),
            line: i + 1,
            message: e.to_string(),
        })?;
        for field in ["ner_tags", "pred_tags"] {
            for (position, t) in v.get(field).and_then(|x| x.as_array()).into_iter().flatten().enumerate() {
                match t.as_str() {
                    Some(name) if !LabelSet::is_bio_tag(name) => {
                        return Err(EvalError::UnknownTag {
                            path: path.into(),
                            line: i + 1,
                            field,
                            position,
                            tag: name.to_string(),
                            labels: "BIO tags: O, B-<type>, I-<type>".into(),
                        })
                    }
                    Some(name) => {
                        tags.insert(name.to_string());
                    }
                    None => ids = true,
                }
            }
        }
    }
    if ids && tags.is_empty() {
        return Ok(LabelSet::plod());
    }
    LabelSet::from_tags(tags.iter().map(String::as_str)).map_err(|e| EvalError::Compare {
        path: path.into(),
        message: format!("its tags are not a BIO label set: {e}"),
    })
}

/// Parses JSONL text; `path` is only used in error messages.
pub fn parse_predictions(text: &str, path: &Path, labels: &LabelSet) -> Result<Vec<PredictionRecord>, EvalError> {
    let mut out = Vec::new();
    for (i, line) in text.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        out.push(parse_line(line, path, i + 1, labels)?);
    }
    Ok(out)
}

fn parse_line(line: &str, path: &Path, lineno: usize, labels: &LabelSet) -> Result<PredictionRecord, EvalError> {
    let p = || PathBuf::from(path);
    let raw: RawRecord =
        serde_json::from_str(line).map_err(|e| EvalError::Json { path: p(), line: lineno, message: e.to_string() })?;
    let missing = |field| EvalError::MissingField { path: p(), line: lineno, field };
    let tokens = raw.tokens.ok_or_else(|| missing("tokens"))?;
    let n = tokens.len();
    let tags = |field: &'static str, raw: Option<Vec<RawTag>>| -> Result<Vec<String>, EvalError> {
        let raw = raw.ok_or_else(|| missing(field))?;
        if raw.len() != n {
            return Err(EvalError::LengthMismatch { path: p(), line: lineno, field, expected: n, got: raw.len() });
        }
        raw.into_iter()
            .enumerate()
            .map(|(position, t)| {
                let name = match &t {
                    RawTag::Name(s) if labels.id(s).is_some() => Some(s.clone()),
                    RawTag::Id(id) => labels.name(*id).map(str::to_string),
                    RawTag::Name(_) => None,
                };
                name.ok_or_else(|| EvalError::UnknownTag {
                    path: p(),
                    line: lineno,
                    field,
                    position,
                    tag: match t {
                        RawTag::Name(s) => s,
                        RawTag::Id(id) => id.to_string(),
                    },
                    labels: labels.labels().join(", "),
                })
            })
            .collect()
    };
    let gold = tags("ner_tags", raw.ner_tags)?;
    let pred = tags("pred_tags", raw.pred_tags)?;
    if let Some(s) = &raw.pred_scores {
        if s.len() != n {
            return Err(EvalError::LengthMismatch {
                path: p(),
                line: lineno,
                field: "pred_scores",
                expected: n,
                got: s.len(),
            });
        }
        if let Some((position, &value)) = s.iter().enumerate().find(|(_, v)| !(0.0..=1.0).contains(*v)) {
            return Err(EvalError::BadScore { path: p(), line: lineno, position, value });
        }
    }
    Ok(PredictionRecord { tokens, gold, pred, scores: raw.pred_scores })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<Vec<PredictionRecord>, EvalError> {
        parse_predictions(text, Path::new("p.jsonl"), &LabelSet::plod())
    }

    #[test]
    fn from_sentence_checks_lengths() {
        let s =
            crate::data::Sentence { origin: "t.jsonl:3".into(), words: vec!["EPI".into()], tags: vec!["B-AC".into()] };
        assert!(PredictionRecord::from_sentence(&s, vec!["B-AC".into()], Some(vec![0.9])).is_ok());
        let e = PredictionRecord::from_sentence(&s, vec![], None).unwrap_err();
        assert_eq!(e.to_string(), "t.jsonl:3: `pred_tags` has 0 entries but the sentence has 1 words");
    }

    #[test]
    fn reads_names_ids_and_scores() {
        let r = parse(
            "{\"tokens\":[\"EPI\",\"x\"],\"ner_tags\":[\"B-AC\",\"O\"],\"pred_tags\":[1,0],\"pred_scores\":[0.9,1]}\n\n",
        )
        .unwrap();
        assert_eq!(r.len(), 1);
        assert_eq!(r[0].pred, vec!["B-AC", "O"]);
        assert_eq!(r[0].scores, Some(vec![0.9, 1.0]));
    }

    #[test]
    fn errors_name_file_line_and_field() {
        let ok = "{\"tokens\":[\"a\"],\"ner_tags\":[\"O\"],\"pred_tags\":[\"O\"]}\n";
        let e = parse(&format!("{ok}{{\"tokens\":[\"a\",\"b\"],\"ner_tags\":[\"O\",\"O\"],\"pred_tags\":[\"O\"]}}"))
            .unwrap_err();
        assert_eq!(e.to_string(), "p.jsonl:2: field `pred_tags` has 1 entries but `tokens` has 2");
        let e = parse("{\"tokens\":[\"a\"],\"ner_tags\":[\"I-AC\"],\"pred_tags\":[\"O\"]}").unwrap_err();
        assert!(e.to_string().starts_with("p.jsonl:1: field `ner_tags`[0] = `I-AC` is not a label"), "{e}");
        let e = parse("{\"tokens\":[\"a\"],\"ner_tags\":[\"O\"]}").unwrap_err();
        assert_eq!(e.to_string(), "p.jsonl:1: field `pred_tags` is missing");
        let e =
            parse("{\"tokens\":[\"a\"],\"ner_tags\":[\"O\"],\"pred_tags\":[\"O\"],\"pred_scores\":[1.5]}").unwrap_err();
        assert!(matches!(e, EvalError::BadScore { line: 1, position: 0, .. }));
        assert!(matches!(parse("{not json"), Err(EvalError::Json { line: 1, .. })));
        assert!(matches!(
            parse("{\"tokens\":[\"a\"],\"ner_tags\":[9],\"pred_tags\":[0]}"),
            Err(EvalError::UnknownTag { .. })
        ));
    }
}
