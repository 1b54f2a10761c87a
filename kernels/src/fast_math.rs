//! `erf` and `exp` for f32 as plain arithmetic (no calls, no branches), and row reductions in interleaved
//! lanes, so the kernels' loops vectorise.
//! Accuracy against f64 `libm` is tested below: |erf error| < 5e-7 (4.5e-7 near ±3.9, where erf is within 1e-7 of ±1), exp relative error < 3e-7.

/// erf(x): the rational minimax approximation of Eigen's `generic_fast_erf_float` (odd numerator of degree
/// 13 over an even denominator of degree 8), on x clamped to [−4, 4], outside which erf is ±1 in f32.
#[inline(always)]
pub fn erf(x: f32) -> f32 {
    let x = x.clamp(-4.0, 4.0);
    let x2 = x * x;
    let mut p = x2 * -2.726_142_3e-10 + 2.770_681_4e-8;
    p = x2 * p + -2.101_024e-6;
    p = x2 * p + -5.692_506_4e-5;
    p = x2 * p + -7.349_906_3e-4;
    p = x2 * p + -2.9546e-3;
    p = x2 * p + -1.609_603_3e-2;
    p *= x;
    let mut q = x2 * -1.456_607_2e-5 + -2.133_740_6e-4;
    q = x2 * q + -1.682_827e-3;
    q = x2 * q + -7.373_329e-3;
    q = x2 * q + -1.426_473_9e-2;
    p / q
}

/// e^x (Cephes `expf`): x = n·ln 2 + r with |r| ≤ ln 2 / 2, e^r by a degree-7 polynomial, 2^n from the
/// exponent bits. Below −87 (where e^x leaves the normal f32 range) the result is 0; above 88 it is e^88.
#[inline(always)]
pub fn exp(x: f32) -> f32 {
    let underflow = x < -87.0;
    const LOG2E: f32 = std::f32::consts::LOG2_E;
    // Round to nearest by the 1.5·2²³ trick (no `round` call).
    const MAGIC: f32 = 12_582_912.0;
    let x = x.clamp(-87.0, 88.0);
    let n = (x * LOG2E + MAGIC) - MAGIC;
    // ln 2 in two parts, so n·ln2 is exact enough.
    let r = x - n * 0.693_359_4 - n * -2.121_944_4e-4;
    let r2 = r * r;
    let mut y = 1.987_569_1e-4 * r + 1.398_199_9e-3;
    y = y * r + 8.333_452e-3;
    y = y * r + 4.166_579_6e-2;
    y = y * r + 0.166_666_65;
    y = y * r + 0.5;
    y = y * r2 + r + 1.0;
    // 2^n from the exponent bits; n + 127 as an integer read off the mantissa of (n + 127) + 1.5·2²³, which
    // avoids a float-to-int conversion (a saturating one does not vectorise).
    let biased = (n + 127.0 + MAGIC).to_bits().wrapping_sub(MAGIC.to_bits());
    let value = y * f32::from_bits(biased << 23);
    if underflow {
        0.0
    } else {
        value
    }
}

/// Folds `v` with `f` in 8 interleaved lanes, then the lanes in order: a reduction the compiler can vectorise
/// (a single running value is a chain of dependent operations it must keep in order).
#[inline(always)]
pub fn lanes(v: &[f32], init: f32, f: impl Fn(f32, f32) -> f32) -> f32 {
    let mut acc = [init; 8];
    let chunks = v.chunks_exact(8);
    let rest = chunks.remainder();
    for c in chunks {
        for (a, &x) in acc.iter_mut().zip(c) {
            *a = f(*a, x);
        }
    }
    let mut total = acc.into_iter().fold(init, &f);
    for &x in rest {
        total = f(total, x);
    }
    total
}

/// Σ a·b in 8 interleaved lanes (see [`lanes`]).
#[inline(always)]
pub fn dot(a: &[f32], b: &[f32]) -> f32 {
    let mut acc = [0.0f32; 8];
    let (ca, cb) = (a.chunks_exact(8), b.chunks_exact(8));
    let (ra, rb) = (ca.remainder(), cb.remainder());
    for (x, y) in ca.zip(cb) {
        for i in 0..8 {
            acc[i] += x[i] * y[i];
        }
    }
    acc.into_iter().sum::<f32>() + ra.iter().zip(rb).map(|(x, y)| x * y).sum::<f32>()
}

#[cfg(test)]
mod tests {
    use super::{dot, lanes};

    #[test]
    fn lane_reductions_equal_plain_ones() {
        let v: Vec<f32> = (0..131).map(|i| ((i * 37 % 101) as f32 - 50.0) / 8.0).collect();
        assert_eq!(lanes(&v, f32::NEG_INFINITY, f32::max), v.iter().copied().fold(f32::NEG_INFINITY, f32::max));
        let sum: f64 = v.iter().map(|&x| x as f64).sum();
        assert!((lanes(&v, 0.0, |a, b| a + b) as f64 - sum).abs() < 1e-4);
        let d: f64 = v.iter().map(|&x| (x as f64) * (x as f64)).sum();
        assert!((dot(&v, &v) as f64 - d).abs() < 1e-3 * d);
        assert_eq!(lanes(&[], 0.0, |a, b| a + b), 0.0);
    }

    #[test]
    fn erf_is_within_5e7_of_libm() {
        let mut worst = (0.0f64, 0.0f32);
        for i in -600_000..=600_000 {
            let x = i as f32 * 1e-5;
            let err = (super::erf(x) as f64 - libm::erf(x as f64)).abs();
            if err > worst.0 {
                worst = (err, x);
            }
        }
        for x in [-1e30f32, -10.0, 10.0, 1e30] {
            assert!((super::erf(x) - x.signum()).abs() <= f32::EPSILON, "erf({x}) = {}", super::erf(x));
        }
        eprintln!("erf: largest error {:e} at x = {}", worst.0, worst.1);
        assert!(worst.0 < 5e-7, "largest error {:e} at x = {}", worst.0, worst.1);
    }

    #[test]
    fn exp_is_within_3e7_relative_of_libm() {
        let mut worst = (0.0f64, 0.0f32);
        for i in -870_000..=880_000 {
            let x = i as f32 * 1e-4;
            let want = libm::exp(x as f64);
            let err = ((super::exp(x) as f64 - want) / want).abs();
            if err > worst.0 {
                worst = (err, x);
            }
        }
        eprintln!("exp: largest relative error {:e} at x = {}", worst.0, worst.1);
        assert!(worst.0 < 3e-7, "largest relative error {:e} at x = {}", worst.0, worst.1);
        assert_eq!(super::exp(-1000.0), 0.0);
        assert_eq!(super::exp(f32::MIN), 0.0);
    }
}
