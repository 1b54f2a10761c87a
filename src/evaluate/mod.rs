//! TODO: evaluate
