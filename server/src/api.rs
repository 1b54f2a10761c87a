//! The wire format of `POST /tag` and the server's other answers: the `nerkit-api` crate's types (the core and
//! the Python package return the same ones), re-exported here as `nerkit_server::api`.
pub use nerkit_api::*;
