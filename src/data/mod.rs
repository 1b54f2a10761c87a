//! Loading and validating labelled sentences: hub datasets, parquet, JSONL, CoNLL, CSV.
mod sentence;
pub use sentence::{Dataset, Sentence};
