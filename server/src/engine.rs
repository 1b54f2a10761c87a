//! What the server needs of a model: tag a batch of texts, count a text's tokens, tell what it is.
use std::sync::Arc;

use crate::api::{ModelInfo, TagOptions, TagResult};

/// Counts the sub-word tokens of a text (for the batch token budget); called on the HTTP worker threads.
pub type TokenCounter = Arc<dyn Fn(&str) -> usize + Send + Sync>;

/// A loaded model. The server owns it on one thread (the batcher) and hands it whole batches.
pub trait Engine: Send + 'static {
    fn info(&self) -> ModelInfo;
    fn token_counter(&self) -> TokenCounter;
    /// Tags `texts` with `opts`: one result per text, in order. The result for a text must not depend on the
    /// other texts of the batch (the server batches unrelated requests together).
    fn tag(&mut self, texts: &[&str], opts: &TagOptions) -> Result<Vec<TagResult>, EngineError>;
}

#[derive(Clone, Debug, thiserror::Error)]
pub enum EngineError {
    /// The request cannot be served as asked (e.g. an option the model does not support): a 422.
    #[error("{0}")]
    Invalid(String),
    /// The engine failed: a 500.
    #[error("{0}")]
    Failed(String),
}
