//! Fine-tuning support: learning-rate schedule, early stopping, atomic checkpoints.
//! (The loop over the training graph lands with the training-graph work.)
pub mod checkpoint;
pub mod early_stop;
pub mod schedule;
