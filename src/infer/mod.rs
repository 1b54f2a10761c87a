//! TODO: infer
