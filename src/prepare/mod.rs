//! Preparing labelled sentences for a token-classification model: sub-word tokenization and label alignment
//! ([`encode`]), windows for long sentences ([`windows`]), class weights ([`weights`]), length-bucketed batches
//! and padding ([`batch`]), raw-text word splitting for inference ([`words`]) and the on-disk cache written by
//! `nerkit prepare` ([`cache`]).
//!
//! Entry points: [`Encoder::new`] then [`Encoder::encode_sentences`] (library), [`prepare_to_dir`] (cache).
use std::path::PathBuf;

pub mod batch;
pub mod cache;
pub mod encode;
pub mod weights;
pub mod windows;
pub mod words;

pub use batch::{batches, pad_batch, LabelledBatch};
pub use cache::{load_prepared, prepare_to_dir, Manifest, PrepareOutcome, PrepareRequest};
pub use encode::{EncodeOptions, EncodeStats, Encoder, Example, IGNORE_INDEX};
pub use weights::{class_weights, label_counts, ClassWeighting};
pub use windows::{merge_windows, MergeError, WindowSpan};
pub use words::{split_text, WordSpan};

/// Why sentences could not be prepared or a prepared cache read.
#[derive(Debug, thiserror::Error)]
pub enum PrepareError {
    #[error("{origin}: tokenizer failed: {message}")]
    Tokenizer { origin: String, message: String },
    #[error("the tokenizer has no unknown token (`[UNK]` or `<unk>`) to encode words it drops")]
    NoUnknownToken,
    #[error("max_len {max_len} leaves no room for sub-words after {specials} special tokens")]
    MaxLenTooSmall { max_len: usize, specials: usize },
    #[error("stride {stride} must be smaller than the {budget} sub-word slots of a window (max_len minus specials)")]
    StrideTooLarge { stride: usize, budget: usize },
    #[error("{origin}: {words} words but {tags} tags")]
    TagCount { origin: String, words: usize, tags: usize },
    #[error("{origin}: word {word} has tag `{tag}`, which is not in the label set")]
    UnknownTag { origin: String, word: usize, tag: String },
    #[error("validation fraction {value} is outside [0, 1)")]
    BadValFraction { value: f64 },
    #[error("{}: {source}", path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{}:{line}: {source}", path.display())]
    Json {
        path: PathBuf,
        line: usize,
        #[source]
        source: serde_json::Error,
    },
    #[error("{}: no split `{split}` in the prepared cache (splits: {available})", dir.display())]
    MissingSplit { dir: PathBuf, split: String, available: String },
    #[error(transparent)]
    Model(#[from] crate::model::ModelError),
}
