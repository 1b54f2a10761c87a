//! Early stopping on a metric to maximise (validation entity micro F1), with patience.
use serde::{Deserialize, Serialize};

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct EarlyStopping {
    /// Epochs without improvement tolerated before stopping; 0 disables early stopping.
    pub patience: usize,
    pub best: Option<f64>,
    pub best_epoch: Option<usize>,
    pub epochs_without_improvement: usize,
}

/// What the trainer should do after an evaluation.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Verdict {
    /// New best: save the best model.
    Improved,
    /// No improvement, keep going.
    Continue,
    /// Patience exhausted.
    Stop,
}

impl EarlyStopping {
    pub fn new(patience: usize) -> Self {
        EarlyStopping { patience, best: None, best_epoch: None, epochs_without_improvement: 0 }
    }

    pub fn observe(&mut self, epoch: usize, value: f64) -> Verdict {
        if self.best.is_none_or(|b| value > b) {
            self.best = Some(value);
            self.best_epoch = Some(epoch);
            self.epochs_without_improvement = 0;
            return Verdict::Improved;
        }
        self.epochs_without_improvement += 1;
        if self.patience > 0 && self.epochs_without_improvement >= self.patience {
            Verdict::Stop
        } else {
            Verdict::Continue
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stops_after_patience_epochs_without_gain() {
        let mut es = EarlyStopping::new(2);
        assert_eq!(es.observe(0, 0.5), Verdict::Improved);
        assert_eq!(es.observe(1, 0.6), Verdict::Improved);
        assert_eq!(es.observe(2, 0.6), Verdict::Continue); // equal is not an improvement
        assert_eq!(es.observe(3, 0.55), Verdict::Stop);
        assert_eq!((es.best, es.best_epoch), (Some(0.6), Some(1)));
    }

    #[test]
    fn zero_patience_never_stops() {
        let mut es = EarlyStopping::new(0);
        es.observe(0, 0.9);
        for e in 1..10 {
            assert_eq!(es.observe(e, 0.1), Verdict::Continue);
        }
    }
}
