//! What every handler shares.
use std::sync::atomic::AtomicUsize;
use std::sync::Arc;

use crate::batcher::Batcher;
use crate::config::ServerConfig;
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
