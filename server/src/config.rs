//! Server settings: `serve.toml` keys and `nerkit serve` flags are these fields.
use serde::{Deserialize, Serialize};

use crate::api::Limits;
use crate::batcher::BatchPolicy;

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ServerConfig {
    /// Address to bind; loopback by default (say `0.0.0.0` to serve a network, e.g. in a container).
    pub host: String,
    /// Port (0: any free port; the bound address is printed).
    pub port: u16,
    /// Bearer token required on every route but `/health` and the web UI page (`None`: no auth).
    pub api_key: Option<String>,
    /// HTTP worker threads (default: one per core).
    pub workers: Option<usize>,
    /// Largest request body.
    pub max_body_bytes: usize,
    /// Most texts in one request.
    pub max_texts: usize,
    /// Longest text, in characters (code points).
    pub max_chars: usize,
    /// Group concurrent requests into shared engine batches.
    pub batching: bool,
    /// Token budget of one engine batch.
    pub max_batch_tokens: usize,
    /// How long a batch that is not full waits for more requests, ms (0: take what is queued, add no latency).
    pub max_wait_ms: u64,
    /// Most tag requests queued or running at once; more get 503 with `Retry-After`.
    pub max_concurrent: usize,
    /// Seconds in-flight requests get to finish after SIGTERM / Ctrl-C.
    pub shutdown_timeout_s: u64,
}

impl Default for ServerConfig {
    fn default() -> Self {
        ServerConfig {
            host: "127.0.0.1".into(),
            port: 8080,
            api_key: None,
            workers: None,
            max_body_bytes: 4 << 20,
            max_texts: 256,
            max_chars: 200_000,
            batching: true,
            max_batch_tokens: 8192,
            max_wait_ms: 0,
            max_concurrent: 1024,
            shutdown_timeout_s: 30,
        }
    }
}

impl ServerConfig {
    /// Checks the settings that would make the server useless.
    pub fn validate(&self) -> Result<(), String> {
        let positive = [
            ("max_body_bytes", self.max_body_bytes),
            ("max_texts", self.max_texts),
            ("max_chars", self.max_chars),
            ("max_batch_tokens", self.max_batch_tokens),
            ("max_concurrent", self.max_concurrent),
        ];
        for (name, v) in positive {
            if v == 0 {
                return Err(format!("{name} must be at least 1"));
            }
        }
        if self.workers == Some(0) {
            return Err("workers must be at least 1".into());
        }
        if self.api_key.as_deref().is_some_and(|k| k.trim().is_empty()) {
            return Err("api_key is empty (leave it out to serve without auth)".into());
        }
        Ok(())
    }

    pub fn limits(&self) -> Limits {
        Limits {
            batching: self.batching,
            max_body_bytes: self.max_body_bytes,
            max_texts: self.max_texts,
            max_chars: self.max_chars,
            max_batch_tokens: self.max_batch_tokens,
            max_wait_ms: self.max_wait_ms,
            max_concurrent: self.max_concurrent,
        }
    }

    pub fn batch_policy(&self) -> BatchPolicy {
        BatchPolicy {
            enabled: self.batching,
            max_tokens: self.max_batch_tokens,
            max_wait: std::time::Duration::from_millis(self.max_wait_ms),
        }
    }
}
