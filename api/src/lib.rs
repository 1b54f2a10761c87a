//! nerkit's wire types: the options tagging takes and the results it returns, in one place for the core
//! (`nerkit predict`'s JSONL), the HTTP server (`POST /tag`, its OpenAPI schemas) and the Python package.
//! Data and serde only — no engine, no HTTP — so each front end speaks the same JSON by construction.
//!
//! - [`options`]: how to tag (aggregation, decoding, offsets, abbreviation definitions).
//! - [`result`]: what tagging returns (entities, pairs, glossary).
//! - [`http`]: the server's request and answer shapes (nerkit's own and the Hugging Face Inference API's).
pub mod http;
pub mod options;
pub mod result;

pub use http::*;
pub use options::*;
pub use result::*;
