//! TODO: analyze
