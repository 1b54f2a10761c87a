//! Sequence-labelling metrics: seqeval-equivalent entity scores, token scores and the confusion matrix.
//!
//! * [`entities`]: chunking of BIO tags into [`Span`]s, seqeval default mode or strict IOB2 ([`Mode`]).
//! * [`entity_scores`]: per-type P/R/F1 and micro / macro / weighted averages ([`EntityReport`]).
//! * [`token_scores`]: per-label P/R/F1, accuracy and the confusion matrix ([`TokenReport`]).
//! * [`MetricsAccumulator`]: add sentence by sentence (training loop, evaluation), then [`MetricsAccumulator::finalize`].
//!
//! Scores are computed on word-level tags (the first sub-word of each word carries the prediction).
pub mod accumulator;
pub mod entities;
pub mod entity_scores;
pub mod token_scores;

pub use accumulator::{Metrics, MetricsAccumulator};
pub use entities::{default_entities, extract, strict_entities, Mode, Span};
pub use entity_scores::{Average, EntityReport, Prf, TypeCounts};
pub use token_scores::{ConfusionMatrix, LabelScore, TokenReport};

/// Why a metric could not be computed.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum MetricsError {
    #[error("unknown evaluation mode `{0}`: expected `default` or `strict`")]
    UnknownMode(String),
    #[error("tag `{tag}` at position {position} is not valid in strict IOB2 mode (prefix must be B, I or O)")]
    InvalidStrictTag { tag: String, position: usize },
    #[error("sentence {sentence}: {gold} gold tags but {pred} predicted tags")]
    LengthMismatch { sentence: usize, gold: usize, pred: usize },
    #[error("sentence {sentence}, position {position}: label `{label}` is not in the label set")]
    UnknownLabel { sentence: usize, position: usize, label: String },
    #[error("sentence {sentence}, position {position}: label id {id} is out of range for {len} labels")]
    LabelIdOutOfRange { sentence: usize, position: usize, id: usize, len: usize },
    #[error("{gold} gold sentences but {pred} predicted sentences")]
    SentenceCountMismatch { gold: usize, pred: usize },
}

/// One-shot entity report over whole corpora of string tags (any tags, not bound to a label set).
pub fn entity_report<S: AsRef<str>>(
    gold: &[Vec<S>],
    pred: &[Vec<S>],
    mode: Mode,
) -> Result<EntityReport, MetricsError> {
    if gold.len() != pred.len() {
        return Err(MetricsError::SentenceCountMismatch { gold: gold.len(), pred: pred.len() });
    }
    let mut counts = std::collections::BTreeMap::new();
    for (i, (g, p)) in gold.iter().zip(pred).enumerate() {
        if g.len() != p.len() {
            return Err(MetricsError::LengthMismatch { sentence: i, gold: g.len(), pred: p.len() });
        }
        entity_scores::count_sentence(&extract(g, mode)?, &extract(p, mode)?, &mut counts);
    }
    Ok(EntityReport::from_counts(&counts))
}
