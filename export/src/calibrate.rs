//! Static int8 calibration, the graph-side half: a copy of the fp32 graph that also outputs the activations
//! the quantizer needs ranges for ([`observing_model`]), the statistics collected over calibration sentences
//! ([`ActivationStats`]) and the range each method picks from them ([`CalibrationMethod`]: min-max, percentile
//! and entropy, the methods of ONNX Runtime's Python quantizer, written here in nerkit's own code). Running the
//! graph is the caller's job (nerkit runs it on ONNX Runtime, `nerkit::quantize::calibrate`).
//!
//! Every method picks a threshold `t` on |x| from a histogram of |x| (so outliers on either side count) and
//! the range is `[max(min, -t), min(max, t)]`: a one-sided activation (after GELU, min ≈ -0.17) keeps its
//! small negative side instead of wasting half of the 256 levels.
use crate::builder::pb;
use crate::quantize::{activation_inputs, QuantizeError, QuantizeOptions};

/// How a range is chosen from the observed values.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum CalibrationMethod {
    /// The observed minimum and maximum.
    MinMax,
    /// Clip |x| at this percentile of the observed |x| (e.g. 99.99).
    Percentile(f64),
    /// The clipping threshold whose 128-level quantized histogram is closest to the observed one in KL
    /// divergence (TensorRT's entropy calibration, ONNX Runtime's `CalibrationMethod.Entropy`).
    Entropy,
}

impl CalibrationMethod {
    /// Short name for reports (`minmax`, `percentile-99.99`, `entropy`).
    pub fn name(&self) -> String {
        match self {
            CalibrationMethod::MinMax => "minmax".into(),
            CalibrationMethod::Percentile(p) => format!("percentile-{p}"),
            CalibrationMethod::Entropy => "entropy".into(),
        }
    }
}

impl std::str::FromStr for CalibrationMethod {
    type Err = String;

    /// `minmax`, `entropy`, `percentile` (99.99) or `percentile-P`.
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "minmax" => Ok(CalibrationMethod::MinMax),
            "entropy" => Ok(CalibrationMethod::Entropy),
            "percentile" => Ok(CalibrationMethod::Percentile(99.99)),
            _ => match s.strip_prefix("percentile-").map(str::parse::<f64>) {
                Some(Ok(p)) if p > 50.0 && p <= 100.0 => Ok(CalibrationMethod::Percentile(p)),
                _ => Err(format!("unknown calibration method `{s}` (minmax, percentile, percentile-P, entropy)")),
            },
        }
    }
}

/// Bins of the |x| histogram.
pub const HISTOGRAM_BINS: usize = 2048;
/// Quantized levels per side the entropy method compares against (int8: 128).
const ENTROPY_LEVELS: usize = 128;

/// What calibration saw of one activation. Collected in two passes over the same sentences: [`Self::observe_range`]
/// (min, max), then [`Self::observe_histogram`] (|x| over `[0, max(|min|, |max|)]`).
#[derive(Clone, Debug, PartialEq)]
pub struct ActivationStats {
    pub min: f32,
    pub max: f32,
    /// Counts of |x| in [`HISTOGRAM_BINS`] equal bins over `[0, abs_max]`.
    pub histogram: Vec<u64>,
}

impl Default for ActivationStats {
    fn default() -> Self {
        ActivationStats { min: f32::INFINITY, max: f32::NEG_INFINITY, histogram: vec![0; HISTOGRAM_BINS] }
    }
}

impl ActivationStats {
    /// The largest |x| seen (the histogram's upper edge).
    pub fn abs_max(&self) -> f32 {
        self.min.abs().max(self.max.abs())
    }

    /// First pass: widens min and max.
    pub fn observe_range(&mut self, values: impl IntoIterator<Item = f32>) {
        for v in values {
            self.min = self.min.min(v);
            self.max = self.max.max(v);
        }
    }

    /// Second pass: counts |x| into the histogram (values beyond the first pass's range land in the last bin).
    pub fn observe_histogram(&mut self, values: impl IntoIterator<Item = f32>) {
        let top = self.abs_max();
        let per_bin = if top > 0.0 { HISTOGRAM_BINS as f32 / top } else { 0.0 };
        for v in values {
            let b = ((v.abs() * per_bin) as usize).min(HISTOGRAM_BINS - 1);
            self.histogram[b] += 1;
        }
    }

    /// The (min, max) range `method` picks. An activation never observed gives `(0, 0)`.
    pub fn range(&self, method: CalibrationMethod) -> (f32, f32) {
        if self.min > self.max {
            return (0.0, 0.0);
        }
        let top = self.abs_max();
        let threshold = match method {
            CalibrationMethod::MinMax => top,
            CalibrationMethod::Percentile(p) => percentile_threshold(&self.histogram, top, p),
            CalibrationMethod::Entropy => entropy_threshold(&self.histogram, top),
        };
        (self.min.max(-threshold), self.max.min(threshold))
    }
}

/// The upper edge of the first bin where the cumulative count reaches `p` % of all values.
fn percentile_threshold(hist: &[u64], top: f32, p: f64) -> f32 {
    let total: u64 = hist.iter().sum();
    if total == 0 {
        return top;
    }
    let want = (p / 100.0 * total as f64).ceil() as u64;
    let mut seen = 0;
    for (i, &c) in hist.iter().enumerate() {
        seen += c;
        if seen >= want {
            return top * (i + 1) as f32 / hist.len() as f32;
        }
    }
    top
}

/// KL(p || q) of two unnormalised histograms over the bins where `p` is non-zero (q smoothed where 0).
fn kl_divergence(p: &[f64], q: &[f64]) -> f64 {
    let (sp, sq): (f64, f64) = (p.iter().sum(), q.iter().sum());
    if sp == 0.0 || sq == 0.0 {
        return f64::INFINITY;
    }
    p.iter()
        .zip(q)
        .filter(|(&a, _)| a > 0.0)
        .map(|(&a, &b)| {
            let (a, b) = (a / sp, b.max(1e-12) / sq);
            a * (a / b).ln()
        })
        .sum()
}

/// TensorRT's entropy calibration on the |x| histogram: for each candidate threshold (bin `i`, from 128 to all
/// bins), the reference distribution is the first `i` bins with the clipped tail added to the last one; it is
/// merged into 128 levels and expanded back over the non-empty bins; the threshold with the least KL divergence
/// wins.
fn entropy_threshold(hist: &[u64], top: f32) -> f32 {
    let n = hist.len();
    if hist.iter().sum::<u64>() == 0 || n <= ENTROPY_LEVELS {
        return top;
    }
    let mut best = (f64::INFINITY, n);
    for i in ENTROPY_LEVELS..=n {
        let mut p: Vec<f64> = hist[..i].iter().map(|&c| c as f64).collect();
        p[i - 1] += hist[i..].iter().sum::<u64>() as f64;
        let mut q = vec![0f64; i];
        for level in 0..ENTROPY_LEVELS {
            let (a, b) = (level * i / ENTROPY_LEVELS, (level + 1) * i / ENTROPY_LEVELS); // i >= 128: a < b
            let sum: f64 = hist[a..b].iter().map(|&c| c as f64).sum();
            let nonzero = hist[a..b].iter().filter(|&&c| c > 0).count();
            if nonzero > 0 {
                for j in a..b {
                    if hist[j] > 0 {
                        q[j] = sum / nonzero as f64;
                    }
                }
            }
        }
        let kl = kl_divergence(&p, &q);
        if kl < best.0 {
            best = (kl, i);
        }
    }
    top * best.1 as f32 / n as f32
}

/// A copy of `model` that also outputs every activation [`activation_inputs`] lists for `opts` (f32, shape left
/// to the runtime), with those names in graph order.
pub fn observing_model(
    model: &pb::ModelProto,
    opts: &QuantizeOptions,
) -> Result<(pb::ModelProto, Vec<String>), QuantizeError> {
    let names = activation_inputs(model, opts)?;
    let mut out = model.clone();
    let graph = out.graph.as_mut().ok_or(QuantizeError::NoGraph)?;
    for name in &names {
        if graph.output.iter().any(|o| &o.name == name) {
            continue;
        }
        graph.output.push(pb::ValueInfoProto {
            name: name.clone(),
            r#type: Some(pb::TypeProto {
                value: Some(pb::type_proto::Value::TensorType(pb::type_proto::Tensor {
                    elem_type: crate::builder::ElemType::F32.onnx(),
                    shape: None,
                })),
                ..Default::default()
            }),
            ..Default::default()
        });
    }
    Ok((out, names))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stats(values: &[f32]) -> ActivationStats {
        let mut s = ActivationStats::default();
        s.observe_range(values.iter().copied());
        s.observe_histogram(values.iter().copied());
        s
    }

    #[test]
    fn minmax_is_the_observed_range() {
        let s = stats(&[-0.5, 0.0, 3.0, 1.0]);
        assert_eq!(s.range(CalibrationMethod::MinMax), (-0.5, 3.0));
        assert_eq!(ActivationStats::default().range(CalibrationMethod::MinMax), (0.0, 0.0));
    }

    #[test]
    fn percentile_clips_a_rare_outlier_and_keeps_the_negative_side() {
        // 9,999 values in [-1, 1] and one outlier at 100.
        let mut v: Vec<f32> = (0..9_999).map(|i| (i as f32 / 9_998.0) * 2.0 - 1.0).collect();
        v.push(100.0);
        let s = stats(&v);
        let (lo, hi) = s.range(CalibrationMethod::Percentile(99.9));
        assert!((0.99..1.2).contains(&hi), "hi {hi}");
        assert_eq!(lo, -1.0, "the negative side is within the threshold");
        assert_eq!(s.range(CalibrationMethod::Percentile(100.0)).1, 100.0);
    }

    #[test]
    fn entropy_clips_a_long_tail_but_not_a_uniform_range() {
        let uniform: Vec<f32> = (0..20_000).map(|i| i as f32 / 20_000.0).collect();
        let (_, hi) = stats(&uniform).range(CalibrationMethod::Entropy);
        assert!(hi > 0.9, "uniform data keeps (nearly) its whole range: {hi}");
        // a narrow bulk plus a few far outliers: the threshold lands well below the outliers
        let mut tail: Vec<f32> = (0..20_000).map(|i| ((i % 200) as f32 / 200.0) - 0.5).collect();
        tail.extend([40.0, -35.0, 50.0]);
        let (lo, hi) = stats(&tail).range(CalibrationMethod::Entropy);
        assert!(hi < 10.0 && lo > -10.0, "({lo}, {hi})");
        assert!(hi >= 0.5, "the bulk stays inside: {hi}");
    }

    #[test]
    fn method_names_parse() {
        assert_eq!("minmax".parse(), Ok(CalibrationMethod::MinMax));
        assert_eq!("percentile".parse(), Ok(CalibrationMethod::Percentile(99.99)));
        assert_eq!("percentile-99.9".parse(), Ok(CalibrationMethod::Percentile(99.9)));
        assert_eq!("entropy".parse(), Ok(CalibrationMethod::Entropy));
        assert!("percentile-10".parse::<CalibrationMethod>().is_err());
        assert!("kl".parse::<CalibrationMethod>().is_err());
    }
}
