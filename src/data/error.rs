//! [`DataError`]: everything that can go wrong while finding, reading or validating a data source.
use std::path::PathBuf;

use super::validate::ValidationReport;

/// Why a data source could not be loaded. Every variant names the file (and line/row where one applies); the
/// underlying error (`cause`) is part of the message, so it is not repeated as an error source.
#[derive(Debug, thiserror::Error)]
pub enum DataError {
    #[error("data file `{path}` does not exist")]
    MissingFile { path: PathBuf },
    #[error("cannot tell the format of `{path}`: unknown extension `{ext}` (expected .jsonl, .json, .conll, .txt, .tsv, .csv or .parquet, or a `hub:<owner>/<name>[@split]` source)")]
    UnknownExtension { path: PathBuf, ext: String },
    #[error("bad data source `{spec}`: {reason}")]
    BadSource { spec: String, reason: String },
    #[error("cannot read `{path}`: {cause}")]
    Io { path: PathBuf, cause: std::io::Error },
    #[error("{origin}: {message}")]
    Format { origin: String, message: String },
    #[error("cannot read parquet file `{path}`: {cause}")]
    Parquet { path: PathBuf, cause: Box<parquet::errors::ParquetError> },
    #[error("{origin}: CSV error: {cause}")]
    Csv { origin: String, cause: ::csv::Error },
    #[error("cannot fetch `{file}` from hub dataset `{repo}`: {cause}")]
    Hub { repo: String, file: String, cause: Box<crate::hub::HubError> },
    #[error("`{spec}` has {count} invalid sentence problem(s):\n{report}", count = report.errors.len())]
    Invalid { spec: String, report: Box<ValidationReport> },
    #[error("PLOD data directory not found (set PLOD_DIR); tried: {}", searched.iter().map(|p| p.display().to_string()).collect::<Vec<_>>().join(", "))]
    PlodDirNotFound { searched: Vec<PathBuf> },
}

impl DataError {
    pub(crate) fn io(path: &std::path::Path, source: std::io::Error) -> Self {
        DataError::Io { path: path.to_path_buf(), cause: source }
    }

    pub(crate) fn format(origin: impl Into<String>, message: impl Into<String>) -> Self {
        DataError::Format { origin: origin.into(), message: message.into() }
    }
}
