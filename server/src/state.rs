//! What every handler shares.
use std::sync::atomic::AtomicUsize;
use std::sync::Arc;

use crate::api::ModelInfo;
use crate::batcher::{Batcher, Status};
use crate::config::ServerConfig;
use crate::engine::TokenCounter;
use crate::error::ApiError;
use crate::metrics::Metrics;

pub struct AppState {
    pub config: ServerConfig,
    pub batcher: Arc<Batcher>,
    pub metrics: Arc<Metrics>,
    /// Tag requests admitted and not yet answered.
    pub in_flight: AtomicUsize,
    /// The OpenAPI document, rendered once.
    pub openapi: String,
}

impl AppState {
    /// The loaded model, or the 503 a route answers while it loads or after it failed to.
    pub fn ready(&self) -> Result<(Arc<ModelInfo>, TokenCounter), ApiError> {
        match self.batcher.status() {
            Status::Ready(info, counter) => Ok((info, counter)),
            Status::Loading => Err(ApiError::unavailable("loading", "the model is still loading", 5)),
            Status::Failed(e) => {
                Err(ApiError::unavailable("model_failed", format!("the model failed to load: {e}"), 60))
            }
        }
    }
}
