//! In-graph dropout masks from a counter-based hash of (seed, element index, site id).
//!
//! ONNX `RandomUniformLike` takes its seed as a static attribute, so it cannot change per step without
//! rebuilding the graph. Instead every dropout site hashes, for each element, its flat index `c` with a key
//! derived from the `seed` graph input (int64 scalar, ≥ 0; pass a new value every step) and the site's id.
//! Only int64 `Add`/`Mul`/`Mod`/`Abs`, `Range`, `Size`, `Shape`, `Reshape`, `GreaterOrEqual`, `Cast` are used,
//! all available on ORT CPU, ORT CUDA and tract, and every intermediate stays below 2⁶² so nothing overflows:
//! the masks are bit-identical on every engine.
//!
//! PRNG (all arithmetic mod the Mersenne prime P = 2³¹ − 1):
//! ```text
//! k  = (|seed| mod P)·48271 + site·16807 + 12345            mod P   (per site, scalar)
//! h₁ = c·1103515245 + k                                       mod P
//! k₂ = k·69069 + 1                                           mod P
//! h₂ = h₁·(h₁ + k₂)                                           mod P
//! h₃ = h₂·742938285 + c                                       mod P
//! h₄ = h₃·(h₃ + k)                                            mod P
//! keep  = h₄ ≥ ⌊rate·P⌋        mask = keep / (1 − rate)
//! ```
//! Multiplications by full-period multipliers spread consecutive counters; the two quadratic rounds make the map
//! non-linear, so nearby counters and nearby seeds give unrelated bits. Element indices must stay below 2³¹
//! (≈ 2·10⁹ elements per dropout site).
use crate::builder::{attr, ElemType, GraphBuilder};

pub const MODULUS: i64 = 2_147_483_647;

/// Name of the seed graph input.
pub const SEED_INPUT: &str = "seed";

/// Declares the `seed` input (int64 scalar) unless the graph already has it.
pub fn seed_input(g: &mut GraphBuilder) -> String {
    if !g.inputs.iter().any(|i| i.name == SEED_INPUT) {
        g.input(SEED_INPUT, ElemType::I64, &[]);
    }
    SEED_INPUT.to_string()
}

/// Emits `x · mask(seed, site)` for dropout probability `rate` (0 ≤ rate < 1) and returns its value name.
/// Nodes are named `<name>.*`; `name` is usually the dropout site (`...attention.self.dropout`).
pub fn dropout(g: &mut GraphBuilder, x: &str, rate: f32, site: u32, name: &str) -> String {
    assert!((0.0..1.0).contains(&rate), "dropout rate {rate} outside [0, 1)");
    if rate == 0.0 {
        return x.to_string();
    }
    let keep = keep_mask(g, x, rate, site, name);
    let maskf = g.op("Cast", &format!("{name}.mask"), &[&keep], vec![attr::int("to", ElemType::F32.onnx() as i64)]);
    let scale = g.const_f32(&format!("{name}.scale"), &[], &[1.0 / (1.0 - rate)]);
    let scaled = g.op("Mul", &format!("{name}.mask_scaled"), &[&maskf, &scale], vec![]);
    g.op("Mul", name, &[x, &scaled], vec![])
}

/// The boolean keep-mask (true = keep) of a dropout site, shaped like `x`.
pub fn keep_mask(g: &mut GraphBuilder, x: &str, rate: f32, site: u32, name: &str) -> String {
    let seed = seed_input(g);
    let p = g.const_i64(&format!("{name}.p"), &[], &[MODULUS]);
    let c = |g: &mut GraphBuilder, what: &str, v: i64| g.const_i64(&format!("{name}.{what}"), &[], &[v]);
    // Per-site key (scalar work).
    let s_abs = g.op("Abs", &format!("{name}.seed_abs"), &[&seed], vec![]);
    let s_mod = g.op("Mod", &format!("{name}.seed_mod"), &[&s_abs, &p], vec![]);
    let m1 = c(g, "k_mul", 48271);
    let a1 = c(g, "k_add", (site as i64 * 16807 + 12345) % MODULUS);
    let k0 = g.op("Mul", &format!("{name}.k_mul"), &[&s_mod, &m1], vec![]);
    let k1 = g.op("Add", &format!("{name}.k_add"), &[&k0, &a1], vec![]);
    let k = g.op("Mod", &format!("{name}.key"), &[&k1, &p], vec![]);
    let m2 = c(g, "k2_mul", 69069);
    let one = c(g, "one", 1);
    let k2a = g.op("Mul", &format!("{name}.k2_mul"), &[&k, &m2], vec![]);
    let k2b = g.op("Add", &format!("{name}.k2_add"), &[&k2a, &one], vec![]);
    let k2 = g.op("Mod", &format!("{name}.key2"), &[&k2b, &p], vec![]);
    // Element counters 0..numel, shaped like x.
    let zero = c(g, "zero", 0);
    let n = g.op("Size", &format!("{name}.numel"), &[x], vec![]);
    let flat = g.op("Range", &format!("{name}.counter_flat"), &[&zero, &n, &one], vec![]);
    let shape = g.op("Shape", &format!("{name}.shape"), &[x], vec![]);
    let ctr = g.op("Reshape", &format!("{name}.counter"), &[&flat, &shape], vec![]);
    // Rounds: x·a + b mod P (linear, full-period multiplier) and x·(x + k) mod P (quadratic). The quadratic
    // rounds multiply two different values: tract rewrites Mul(x, x) into a Square that has no int64 kernel.
    let lin = |g: &mut GraphBuilder, i: usize, x: &str, a: &str, b: &str| {
        let t = g.op("Mul", &format!("{name}.h{i}_mul"), &[x, a], vec![]);
        let u = g.op("Add", &format!("{name}.h{i}_add"), &[&t, b], vec![]);
        g.op("Mod", &format!("{name}.h{i}"), &[&u, &p], vec![])
    };
    let quad = |g: &mut GraphBuilder, i: usize, x: &str, k: &str| {
        let u = g.op("Add", &format!("{name}.h{i}_shift"), &[x, k], vec![]);
        let t = g.op("Mul", &format!("{name}.h{i}_mul"), &[x, &u], vec![]);
        g.op("Mod", &format!("{name}.h{i}"), &[&t, &p], vec![])
    };
    let a = c(g, "a1", 1_103_515_245);
    let h1 = lin(g, 1, &ctr, &a, &k);
    let h2 = quad(g, 2, &h1, &k2);
    let b = c(g, "a3", 742_938_285);
    let h3 = lin(g, 3, &h2, &b, &ctr);
    let h4 = quad(g, 4, &h3, &k);
    let thr = c(g, "threshold", (rate as f64 * MODULUS as f64).floor() as i64);
    g.op("GreaterOrEqual", &format!("{name}.keep"), &[&h4, &thr], vec![])
}

/// A stable site id from a site name (FNV-1a, 32 bit): the same module gets the same stream in every
/// graph built from the same architecture, whatever the order the sites are built in.
pub fn site_id(site: &str) -> u32 {
    site.bytes().fold(0x811c_9dc5u32, |h, b| (h ^ b as u32).wrapping_mul(0x0100_0193))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::builder::Dim;

    #[test]
    fn zero_rate_is_identity() {
        let mut g = GraphBuilder::new("t");
        let x = g.input("x", ElemType::F32, &[Dim::Fixed(3)]);
        assert_eq!(dropout(&mut g, &x, 0.0, 1, "d"), "x");
        assert!(g.nodes.is_empty());
    }

    #[test]
    fn site_ids_differ_between_sites() {
        let a = site_id("bert.encoder.layer.0.attention.self.dropout");
        let b = site_id("bert.encoder.layer.1.attention.self.dropout");
        assert_ne!(a, b);
        assert_eq!(a, site_id("bert.encoder.layer.0.attention.self.dropout"));
    }

    #[test]
    fn intermediates_fit_in_i64() {
        // Largest operand of each multiplication is < P; the products and the additions stay < 2^63.
        let p = MODULUS as i128;
        for m in [48271i128, 69069, 1_103_515_245, 742_938_285] {
            assert!((p - 1) * m + p < i64::MAX as i128);
        }
        // Quadratic rounds: x < P, x + k < 2P.
        assert!((p - 1) * (2 * p - 2) < i64::MAX as i128);
    }
}
