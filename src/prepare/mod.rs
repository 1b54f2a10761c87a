//! TODO: prepare
