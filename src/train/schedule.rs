//! Learning-rate schedule: linear warmup then linear decay to zero, as transformers'
//! `get_linear_schedule_with_warmup` (the rate used for optimizer step `t`, counted from 0).

/// Linear warmup over `warmup_steps`, then linear decay to 0 at `total_steps`.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct LinearSchedule {
    pub peak_lr: f64,
    pub warmup_steps: usize,
    pub total_steps: usize,
}

impl LinearSchedule {
    /// `warmup_ratio` of `total_steps` (rounded up, like transformers' `get_warmup_steps`).
    pub fn new(peak_lr: f64, warmup_ratio: f64, total_steps: usize) -> Self {
        let warmup_steps = (warmup_ratio * total_steps as f64).ceil() as usize;
        LinearSchedule { peak_lr, warmup_steps, total_steps }
    }

    pub fn lr(&self, step: usize) -> f64 {
        if step < self.warmup_steps {
            return self.peak_lr * step as f64 / self.warmup_steps.max(1) as f64;
        }
        let remaining = self.total_steps.saturating_sub(step) as f64;
        let span = self.total_steps.saturating_sub(self.warmup_steps).max(1) as f64;
        self.peak_lr * (remaining / span).max(0.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn warmup_then_decay() {
        // 100 steps, 10% warmup: lr(0) = 0, lr(5) = half the peak, lr(10) = peak, lr(55) = half, lr(100) = 0.
        let s = LinearSchedule::new(1e-4, 0.1, 100);
        assert_eq!(s.warmup_steps, 10);
        assert_eq!(s.lr(0), 0.0);
        assert!((s.lr(5) - 5e-5).abs() < 1e-12);
        assert!((s.lr(10) - 1e-4).abs() < 1e-12);
        assert!((s.lr(55) - 5e-5).abs() < 1e-12);
        assert_eq!(s.lr(100), 0.0);
        assert_eq!(s.lr(150), 0.0);
    }

    #[test]
    fn no_warmup_starts_at_peak() {
        let s = LinearSchedule::new(2e-5, 0.0, 4);
        assert_eq!(s.lr(0), 2e-5);
        assert!((s.lr(2) - 1e-5).abs() < 1e-15);
    }
}
