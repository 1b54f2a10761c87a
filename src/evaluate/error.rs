//! The evaluation error type: every variant names the file (and line / field) it is about.
use std::path::PathBuf;

use crate::metrics::MetricsError;

/// Why predictions could not be read, scored or reported.
#[derive(Debug, thiserror::Error)]
pub enum EvalError {
    #[error("cannot read {path}: {source}")]
    Read { path: PathBuf, source: std::io::Error },
    #[error("cannot write {path}: {source}")]
    Write { path: PathBuf, source: std::io::Error },
    #[error("{path}:{line}: invalid JSON: {message}")]
    Json { path: PathBuf, line: usize, message: String },
    #[error("{path}:{line}: field `{field}` is missing")]
    MissingField { path: PathBuf, line: usize, field: &'static str },
    #[error("{path}:{line}: field `{field}` has {got} entries but `tokens` has {expected}")]
    LengthMismatch { path: PathBuf, line: usize, field: &'static str, expected: usize, got: usize },
    #[error("{path}:{line}: field `{field}`[{position}] = `{tag}` is not a label of the set ({labels})")]
    UnknownTag { path: PathBuf, line: usize, field: &'static str, position: usize, tag: String, labels: String },
    #[error("{path}:{line}: field `pred_scores`[{position}] = {value} is not a confidence in [0, 1]")]
    BadScore { path: PathBuf, line: usize, position: usize, value: f64 },
    #[error("{origin}: `{field}` has {got} entries but the sentence has {expected} words")]
    PredictionLength { origin: String, field: &'static str, expected: usize, got: usize },
    #[error("{path}: no sentences")]
    Empty { path: PathBuf },
    #[error("chart {path}: {message}")]
    Chart { path: PathBuf, message: String },
    #[error("cannot compare with {path}: {message}")]
    Compare { path: PathBuf, message: String },
    #[error(transparent)]
    Metrics(#[from] MetricsError),
}
