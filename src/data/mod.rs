//! Loading and validating labelled sentences: hub datasets, parquet, JSONL, CoNLL, CSV.
//!
//! [`load`] is the one entry point: it reads a [`DataSource`] with the reader for its format, checks every
//! sentence against the [`LabelSet`] ([`validate`]), and returns a [`Dataset`]. Reader-level problems (a line
//! that is not JSON, a missing column, a class id outside the label set) stop the read at once and name
//! `file:line` (or `file#row N`); content problems (unknown tag, length mismatch, empty sentence) are all
//! collected first and reported together. Orphan `I-X` tags are warnings, or are rewritten to `B-X` with
//! [`LoadOptions::repair`]. Nothing is dropped silently.
mod conll;
mod csv_table;
mod error;
mod hub_source;
mod jsonl;
mod parquet_file;
mod sentence;
mod source;
pub mod split;
mod tags;
pub mod validate;

use std::path::{Path, PathBuf};

pub use csv_table::CsvColumns;
pub use error::DataError;
pub use hub_source::{hub_file_name, HubSplit};
pub use sentence::{Dataset, Sentence};
pub use source::DataSource;
pub use validate::{Problem, ProblemKind, ValidationReport};

use crate::labels::LabelSet;

/// How [`load`] reads and checks a source.
#[derive(Clone, Debug, Default)]
pub struct LoadOptions {
    /// Rewrite orphan `I-X` tags to `B-X` (reported as repaired) instead of warning about them.
    pub repair: bool,
    /// Column names for CSV sources (auto-detected when unset).
    pub csv: CsvColumns,
    /// Name for the returned dataset; default: the hub split, else the file stem.
    pub name: Option<String>,
}

/// Reads `source`, validates it against `labels` and returns it as a named [`Dataset`].
///
/// Warnings (orphan `I-` tags) and repairs are logged; use [`load_with_report`] to get them as data.
pub fn load(source: &DataSource, labels: &LabelSet, options: &LoadOptions) -> Result<Dataset, DataError> {
    let (dataset, report) = load_with_report(source, labels, options)?;
    report.log_warnings(&dataset.name);
    Ok(dataset)
}

/// Like [`load`], but also returns the validation report (warnings and the number of repairs).
pub fn load_with_report(
    source: &DataSource,
    labels: &LabelSet,
    options: &LoadOptions,
) -> Result<(Dataset, ValidationReport), DataError> {
    let mut sentences = read_sentences(source, labels, options)?;
    let report = validate::validate(&mut sentences, labels, options.repair);
    if !report.errors.is_empty() {
        return Err(DataError::Invalid { spec: source.to_string(), report: Box::new(report) });
    }
    let name = options.name.clone().unwrap_or_else(|| source.default_name());
    Ok((Dataset { name, sentences }, report))
}

/// Reads the sentences of `source` without validating them (integer class ids are still mapped to tags).
pub fn read_sentences(
    source: &DataSource,
    labels: &LabelSet,
    options: &LoadOptions,
) -> Result<Vec<Sentence>, DataError> {
    match source {
        DataSource::Jsonl(p) => jsonl::read(p, labels),
        DataSource::Conll(p) => conll::read(p),
        DataSource::Csv(p) => csv_table::read(p, labels, &options.csv),
        DataSource::Parquet(p) => parquet_file::read(p, labels),
        DataSource::Hub { repo, split } => {
            let path = hub_source::fetch(repo, split.unwrap_or(HubSplit::Train))?;
            parquet_file::read(&path, labels)
        }
    }
}

/// The directory holding the offline PLOD data (`plod-cw-2024-lowercased/`, `sdu-aaai22-sci-en-bio/`).
///
/// `PLOD_DIR` when set; else the first `<ancestor>/shared/data/plod` directory, walking up from this crate's
/// manifest directory. The error lists every place that was tried.
pub fn plod_dir() -> Result<PathBuf, DataError> {
    if let Some(dir) = std::env::var_os("PLOD_DIR").filter(|d| !d.is_empty()) {
        let dir = PathBuf::from(dir);
        return if dir.is_dir() { Ok(dir) } else { Err(DataError::PlodDirNotFound { searched: vec![dir] }) };
    }
    let mut searched = Vec::new();
    for ancestor in Path::new(env!("CARGO_MANIFEST_DIR")).ancestors() {
        let candidate = ancestor.join("shared").join("data").join("plod");
        if candidate.is_dir() {
            return Ok(candidate);
        }
        searched.push(candidate);
    }
    Err(DataError::PlodDirNotFound { searched })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loads_the_jsonl_sample_and_names_it_after_the_file() {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("data/sample.jsonl");
        let ds = load(&DataSource::Jsonl(path), &LabelSet::plod(), &LoadOptions::default()).unwrap();
        assert_eq!(ds.name, "sample");
        assert!(ds.sentences.len() >= 5);
        assert!(ds.sentences[0].origin.starts_with("sample.jsonl:1"));
    }

    #[test]
    fn invalid_content_is_an_error_with_every_problem() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("bad.jsonl");
        std::fs::write(
            &path,
            "{\"tokens\": [\"a\"], \"ner_tags\": [\"B-XX\"]}\n{\"tokens\": [\"a\", \"b\"], \"ner_tags\": [\"O\"]}\n",
        )
        .unwrap();
        let err = load(&DataSource::Jsonl(path), &LabelSet::plod(), &LoadOptions::default()).unwrap_err();
        let DataError::Invalid { report, .. } = &err else { panic!("expected Invalid, got {err}") };
        assert_eq!(report.errors.len(), 2);
        let msg = err.to_string();
        assert!(msg.contains("bad.jsonl:1") && msg.contains("B-XX") && msg.contains("bad.jsonl:2"), "{msg}");
    }
}
