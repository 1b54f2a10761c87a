//! Loading and validating labelled sentences: hub datasets, parquet, JSONL, CoNLL, CSV.
//!
//! [`load`] is the one entry point: it reads a [`DataSource`] with the reader for its format, checks every
//! sentence against the [`LabelSet`] ([`validate`]), and returns a [`Dataset`]. Reader-level problems (a line
//! that is not JSON, a missing column, a class id outside the label set) stop the read at once and name
//! `file:line` (or `file#row N`); content problems (unknown tag, length mismatch, empty sentence) are all
//! collected first and reported together. Orphan `I-X` tags are warnings, or are rewritten to `B-X` with
//! [`LoadOptions::repair`]. Tags in IOB1, IOBES/BIOES or BILOU are converted to IOB2 on read ([`scheme`]: given
//! in [`LoadOptions::scheme`] or detected). Nothing is dropped silently.
//!
//! [`tag_set`] and [`check_tags_within`] find a corpus's label set (the label set is the data's).
mod conll;
mod csv_table;
pub mod documents;
mod error;
mod hub_source;
mod jsonl;
mod parquet_file;
pub mod scheme;
mod sentence;
mod source;
pub mod split;
mod tags;
pub mod validate;

use std::path::{Path, PathBuf};

pub use csv_table::CsvColumns;
pub use error::DataError;
pub use hub_source::{hub_file_name, HubSplit};
pub use scheme::Scheme;
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
    /// The source's tagging scheme; `None` detects it ([`scheme::detect`]).
    pub scheme: Option<Scheme>,
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
    let (sentences, scheme) = read_iob2(source, labels, options)?;
    check(source, sentences, scheme, labels, options)
}

/// The second half of [`load`] for sentences already read with [`read_iob2`]: validates them against
/// `labels`, logs warnings and repairs, and names the dataset. Callers that must see the tags before choosing
/// the label set (a corpus's own set, `--extra-data` checks) read once and finish here.
pub fn validated(
    source: &DataSource,
    sentences: Vec<Sentence>,
    scheme: Scheme,
    labels: &LabelSet,
    options: &LoadOptions,
) -> Result<Dataset, DataError> {
    let (dataset, report) = check(source, sentences, scheme, labels, options)?;
    report.log_warnings(&dataset.name);
    Ok(dataset)
}

fn check(
    source: &DataSource,
    mut sentences: Vec<Sentence>,
    scheme: Scheme,
    labels: &LabelSet,
    options: &LoadOptions,
) -> Result<(Dataset, ValidationReport), DataError> {
    let mut report = validate::validate(&mut sentences, labels, options.repair);
    report.scheme = scheme;
    if !report.errors.is_empty() {
        return Err(DataError::Invalid { spec: source.to_string(), report: Box::new(report) });
    }
    let name = options.name.clone().unwrap_or_else(|| source.default_name());
    Ok((Dataset { name, sentences }, report))
}

/// Reads `source` and converts its tags to IOB2 from its scheme (given or detected), without checking them
/// against a label set; returns the scheme. Impossible sequences of the scheme are an [`DataError::Invalid`].
pub fn read_iob2(
    source: &DataSource,
    id_labels: &LabelSet,
    options: &LoadOptions,
) -> Result<(Vec<Sentence>, Scheme), DataError> {
    let mut sentences = read_sentences(source, id_labels, options)?;
    let scheme = match options.scheme {
        Some(s) => s,
        None => {
            scheme::detect(&sentences).map_err(|reason| DataError::BadSource { spec: source.to_string(), reason })?
        }
    };
    let mut report = ValidationReport { scheme, ..Default::default() };
    for s in &mut sentences {
        report.errors.extend(scheme::to_iob2(s, scheme));
    }
    if !report.errors.is_empty() {
        return Err(DataError::Invalid { spec: source.to_string(), report: Box::new(report) });
    }
    Ok((sentences, scheme))
}

/// Loads `source` checked against `labels` when given, else against the label set of its own tags
/// ([`tag_set`]; integer class ids then index the PLOD order). Returns the dataset and the label set used.
pub fn load_labelled(
    source: &DataSource,
    labels: Option<&LabelSet>,
    options: &LoadOptions,
) -> Result<(Dataset, LabelSet), DataError> {
    let id_labels = labels.cloned().unwrap_or_else(LabelSet::plod);
    let (sentences, scheme) = read_iob2(source, &id_labels, options)?;
    let labels = match labels {
        Some(l) => l.clone(),
        None => tag_set(&sentences)?,
    };
    Ok((validated(source, sentences, scheme, &labels, options)?, labels))
}

/// The label set of `sentences` ([`LabelSet::from_tags`]); a tag that is not BIO names its sentence and word.
pub fn tag_set<'a>(sentences: impl IntoIterator<Item = &'a Sentence>) -> Result<LabelSet, DataError> {
    let mut tags = std::collections::BTreeSet::new();
    for s in sentences {
        for (w, t) in s.tags.iter().enumerate() {
            if !LabelSet::is_bio_tag(t) {
                let e = crate::labels::LabelError::NotBio(t.clone());
                return Err(DataError::format(s.origin.clone(), format!("word {w}: {e}")));
            }
            tags.insert(t.as_str());
        }
    }
    LabelSet::from_tags(tags).map_err(|e| DataError::format("label set", e.to_string()))
}

/// An error naming both label sets when `sentences` (from `what`) carry tags that `labels` lacks.
pub fn check_tags_within(sentences: &[Sentence], labels: &LabelSet, what: &str) -> Result<(), DataError> {
    let theirs = tag_set(sentences)?;
    let missing: Vec<&str> = theirs.labels().iter().filter(|t| labels.id(t).is_none()).map(String::as_str).collect();
    if missing.is_empty() {
        return Ok(());
    }
    Err(DataError::format(
        what,
        format!(
            "its tags ({}) are not within the training label set ({}): {} missing",
            theirs.labels().join(", "),
            labels.labels().join(", "),
            missing.join(", ")
        ),
    ))
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
