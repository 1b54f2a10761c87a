//! [`DataSource`]: where sentences come from, parsed from a CLI string.
//!
//! A path is classified by extension: `.jsonl`/`.json` → JSONL, `.conll`/`.txt`/`.tsv` → CoNLL, `.csv` → CSV,
//! `.parquet` → parquet. `hub:<owner>/<name>[@split]` names a Hugging Face dataset split
//! (`train`, `validation`/`val`, `test`).
use std::fmt;
use std::path::{Path, PathBuf};
use std::str::FromStr;

use super::{DataError, HubSplit};

/// A data source: a local file of a known format, or a hub dataset split.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum DataSource {
    Jsonl(PathBuf),
    Conll(PathBuf),
    Csv(PathBuf),
    Parquet(PathBuf),
    /// A hub dataset; `split: None` means "every split" to `analyze` and `train` to [`super::load`].
    Hub {
        repo: String,
        split: Option<HubSplit>,
    },
}

impl DataSource {
    /// Classifies a local path by extension; the file must exist.
    pub fn from_path(path: impl Into<PathBuf>) -> Result<Self, DataError> {
        let path = path.into();
        let ext = path.extension().and_then(|e| e.to_str()).unwrap_or("").to_ascii_lowercase();
        let source = match ext.as_str() {
            "jsonl" | "json" => DataSource::Jsonl(path),
            "conll" | "txt" | "tsv" => DataSource::Conll(path),
            "csv" => DataSource::Csv(path),
            "parquet" => DataSource::Parquet(path),
            _ => return Err(DataError::UnknownExtension { path, ext }),
        };
        match source.path() {
            Some(p) if !p.is_file() => Err(DataError::MissingFile { path: p.to_path_buf() }),
            _ => Ok(source),
        }
    }

    /// The local file, if this is not a hub source.
    pub fn path(&self) -> Option<&Path> {
        match self {
            DataSource::Jsonl(p) | DataSource::Conll(p) | DataSource::Csv(p) | DataSource::Parquet(p) => Some(p),
            DataSource::Hub { .. } => None,
        }
    }

    /// The same source restricted to `split` (hub sources only; files are returned unchanged).
    pub fn with_split(&self, split: HubSplit) -> Self {
        match self {
            DataSource::Hub { repo, .. } => DataSource::Hub { repo: repo.clone(), split: Some(split) },
            other => other.clone(),
        }
    }

    /// The dataset name [`super::load`] uses by default: the hub split, else the file stem.
    pub fn default_name(&self) -> String {
        match self {
            DataSource::Hub { split, .. } => split.unwrap_or(HubSplit::Train).name().to_string(),
            _ => {
                let p = self.path().expect("file source");
                p.file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_else(|| p.display().to_string())
            }
        }
    }
}

impl FromStr for DataSource {
    type Err = DataError;

    fn from_str(spec: &str) -> Result<Self, DataError> {
        let Some(rest) = spec.strip_prefix("hub:") else { return DataSource::from_path(spec) };
        let bad = |reason: &str| DataError::BadSource { spec: spec.to_string(), reason: reason.to_string() };
        let (repo, split) = match rest.split_once('@') {
            Some((repo, split)) => (repo, Some(split.parse::<HubSplit>().map_err(|e| bad(&e))?)),
            None => (rest, None),
        };
        let mut parts = repo.split('/');
        let (owner, name) = (parts.next().unwrap_or(""), parts.next().unwrap_or(""));
        if owner.is_empty() || name.is_empty() || parts.next().is_some() {
            return Err(bad("expected `hub:<owner>/<name>[@train|validation|test]`"));
        }
        Ok(DataSource::Hub { repo: repo.to_string(), split })
    }
}

impl fmt::Display for DataSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DataSource::Hub { repo, split: Some(s) } => write!(f, "hub:{repo}@{}", s.name()),
            DataSource::Hub { repo, split: None } => write!(f, "hub:{repo}"),
            other => write!(f, "{}", other.path().expect("file source").display()),
        }
    }
}

/// The short file name used in sentence origins (`train.jsonl:17`).
pub(crate) fn file_label(path: &Path) -> String {
    path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_else(|| path.display().to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample(name: &str) -> String {
        format!("{}/data/{name}", env!("CARGO_MANIFEST_DIR"))
    }

    #[test]
    fn classifies_by_extension() {
        assert!(matches!(sample("sample.jsonl").parse(), Ok(DataSource::Jsonl(_))));
        assert!(matches!(sample("sample.conll").parse(), Ok(DataSource::Conll(_))));
        assert!(matches!(sample("sample.csv").parse(), Ok(DataSource::Csv(_))));
    }

    #[test]
    fn unknown_extension_and_missing_file_name_the_path() {
        let err = "corpus.xlsx".parse::<DataSource>().unwrap_err();
        assert!(matches!(err, DataError::UnknownExtension { ref ext, .. } if ext == "xlsx"));
        assert!(err.to_string().contains("corpus.xlsx"));
        let err = "no/such/file.jsonl".parse::<DataSource>().unwrap_err();
        assert!(matches!(err, DataError::MissingFile { .. }));
        assert!(err.to_string().contains("no/such/file.jsonl"));
    }

    #[test]
    fn parses_hub_specs() {
        let s: DataSource = "hub:surrey-nlp/PLOD-CW-25@val".parse().unwrap();
        assert_eq!(s, DataSource::Hub { repo: "surrey-nlp/PLOD-CW-25".into(), split: Some(HubSplit::Validation) });
        assert_eq!(s.to_string(), "hub:surrey-nlp/PLOD-CW-25@validation");
        assert_eq!(s.default_name(), "validation");
        let all: DataSource = "hub:surrey-nlp/PLOD-CW-25".parse().unwrap();
        assert_eq!(all.with_split(HubSplit::Test).to_string(), "hub:surrey-nlp/PLOD-CW-25@test");
        assert!("hub:PLOD-CW-25".parse::<DataSource>().is_err());
        assert!("hub:a/b@dev2".parse::<DataSource>().unwrap_err().to_string().contains("dev2"));
    }
}
