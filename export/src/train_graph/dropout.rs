//! In-graph dropout masks from a counter-based hash of (seed, element position, site id).
//!
//! ONNX `RandomUniformLike` takes its seed as a static attribute, so it cannot change per step without
//! rebuilding the graph. Instead every dropout site hashes positions with keys derived from the `seed` graph
//! input (int64 scalar, ≥ 0; pass a new value every step) and the site's id. Only int64/int32
//! `Add`/`Mul`/`Mod`/`Abs`, `Range`, `Size`, `Shape`, `Reshape`, `Concat`, `Squeeze`, `Cast`, `Gather`,
//! `GreaterOrEqual` and `Where` are used, all available on ORT CPU, ORT CUDA and tract, and every intermediate
//! stays below 2⁶³, so nothing overflows and the masks are bit-identical on every engine.
//!
//! Full-size work is what costs (an attention-probability site of MiniLM at batch 16 × 128 has 3.1 M
//! elements), so it is one int32 `Add` and one `Gather`: rows (all axes but the last) and columns (the last
//! axis) are hashed separately on their small counter tensors into [0, M), and each element reads a per-site,
//! per-step table of 2M ready-made mask values at `row hash + column hash`.
//! ```text
//! P = 2³¹ − 1, Q = 2³⁰ − 35 (primes), M = 2¹⁶
//! k   = (|seed| mod P)·48271 + site·16807 + 12345             mod P   (scalar; k' = k·69069 + 1 mod P)
//! mix(c, k) = h₄ where h₁ = c·1103515245 + k, h₂ = h₁·(h₁ + k'), h₃ = h₂·742938285 + c, h₄ = h₃·(h₃ + k)  (mod P)
//! r   = mix(row index, k) mod M          (one per row: [..., 1], int32)
//! s   = mix(column index, k') mod M      (one per column: [last], int32)
//! k'' = k' + site·7919 + 104729                                mod P
//! T[i] = mix(i + k'', k) mod Q ≥ ⌊rate·Q⌋ ? 1/(1 − rate) : 0     for i in [0, 2M)   (the table)
//! mask = T[r + s]
//! ```
//! `mix` multiplies by full-period multipliers (spreading consecutive counters) and has two quadratic rounds
//! (non-linear, so nearby counters and nearby seeds give unrelated values). Two positions share a table entry
//! only when their row and column hashes sum to the same index, which for neighbours (same row, adjacent
//! columns, or the reverse) is as likely as any other pair: about 1 in 2M. The test suite checks the keep rate,
//! seed/site sensitivity, independence of neighbours along rows and columns, and ORT = tract. Row and column
//! counts must stay below 2³¹.
use crate::builder::{attr, ElemType, GraphBuilder};

/// P = 2³¹ − 1, the modulus of the per-row/per-column mixing.
pub const MODULUS: i64 = 2_147_483_647;
/// Q = 2³⁰ − 35 (prime), the modulus of the full-size round; small enough that (r + s)·(r + s + k) < 2⁶³.
pub const Q: i64 = 1_073_741_789;

/// M: row and column hashes are reduced to [0, M); the mask table has 2M entries.
pub const TABLE_HALF: i64 = 1 << 16;

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
    dropout_with(g, x, rate, site, name, MaskOps::Standard)
}

/// How a dropout site computes its mask; both give the same values bit for bit.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MaskOps {
    /// Standard ONNX ops ([`scaled_mask`]), for every engine.
    Standard,
    /// One node of nerkit's CPU kernel ([`kernel_dropout`]), for ONNX Runtime with that kernel registered.
    Kernel,
}

/// [`dropout`] with the mask computed by `ops`.
pub fn dropout_with(g: &mut GraphBuilder, x: &str, rate: f32, site: u32, name: &str, ops: MaskOps) -> String {
    assert!((0.0..1.0).contains(&rate), "dropout rate {rate} outside [0, 1)");
    if rate == 0.0 {
        return x.to_string();
    }
    match ops {
        MaskOps::Standard => {
            let mask = scaled_mask(g, x, rate, site, name);
            g.op("Mul", name, &[x, &mask], vec![])
        }
        MaskOps::Kernel => kernel_dropout(g, x, rate, site, name),
    }
}

/// `x · mask(seed, site)` as one `ai.nerkit` `SeededDropout(x, seed)` node (attributes `rate`, `site`) named
/// `name`, whose kernel computes the mask from [`MaskKeys`] on the fly. Its gradient is the same node applied
/// to the output gradient (the mask does not depend on x), so no mask tensor is ever stored.
pub fn kernel_dropout(g: &mut GraphBuilder, x: &str, rate: f32, site: u32, name: &str) -> String {
    let seed = seed_input(g);
    let attrs = vec![attr::float("rate", rate), attr::int("site", site as i64)];
    g.node_in_domain(super::cpu_ops::DOMAIN, super::cpu_ops::SEEDED_DROPOUT, name, &[x, &seed], 1, attrs)
        .pop()
        .expect("one output")
}

/// The keep threshold on the full-size hash (`⌊rate·Q⌋`) and the value of a kept position (`1/(1 − rate)`).
pub fn threshold_and_scale(rate: f32) -> (i64, f32) {
    ((rate as f64 * Q as f64).floor() as i64, 1.0 / (1.0 - rate))
}

/// The masks of one dropout site at one seed, computed in plain integer arithmetic: the same numbers as the
/// graph of [`scaled_mask`] (every intermediate is below 2⁶³ there too, so nothing differs), for nerkit's CPU
/// kernel and to check the graph against. Element (row i, column j) of a mask is
/// `table[row(i) + col(j)]`, `table[t] = table_entry(t)` for t in [0, 2M).
#[derive(Clone, Copy, Debug)]
pub struct MaskKeys {
    k: i64,
    k2: i64,
    k3: i64,
    threshold: i64,
    scale: f32,
}

impl MaskKeys {
    pub fn new(seed: i64, site: u32, rate: f32) -> Self {
        let p = MODULUS;
        let site = site as i64;
        let s = seed.wrapping_abs().rem_euclid(p);
        let k = mod_p(s * 48271 + (site * 16807 + 12345) % p);
        let k2 = mod_p(k * 69069 + 1);
        let k3 = mod_p(k2 + (site * 7919 + 104_729) % p);
        let (threshold, scale) = threshold_and_scale(rate);
        MaskKeys { k, k2, k3, threshold, scale }
    }

    /// Entry `t` of the site's table of 2M mask values.
    #[inline]
    pub fn table_entry(&self, t: i64) -> f32 {
        if mix_value(t + self.k3, self.k, self.k2) % Q >= self.threshold {
            self.scale
        } else {
            0.0
        }
    }

    /// The whole table, `table_entry(0..2M)`.
    pub fn table(&self) -> Vec<f32> {
        (0..2 * TABLE_HALF).map(|t| self.table_entry(t)).collect()
    }

    /// Row `i`'s hash in [0, M).
    #[inline]
    pub fn row(&self, i: i64) -> usize {
        (mix_value(i, self.k, self.k2) % TABLE_HALF) as usize
    }

    /// Column `j`'s hash in [0, M).
    #[inline]
    pub fn col(&self, j: i64) -> usize {
        (mix_value(j, self.k2, self.k) % TABLE_HALF) as usize
    }
}

/// `x mod P` for 0 ≤ x < 2⁶³ (P = 2³¹ − 1 is a Mersenne prime: fold the high bits onto the low ones).
#[inline]
fn mod_p(x: i64) -> i64 {
    let x = (x & MODULUS) + (x >> 31);
    let x = (x & MODULUS) + (x >> 31);
    if x >= MODULUS {
        x - MODULUS
    } else {
        x
    }
}

/// [`mix`] on one counter (c, k, k2 ≥ 0).
#[inline]
fn mix_value(c: i64, k: i64, k2: i64) -> i64 {
    let h1 = mod_p(c * 1_103_515_245 + k);
    let h2 = mod_p(h1 * (h1 + k2));
    let h3 = mod_p(h2 * 742_938_285 + c);
    mod_p(h3 * (h3 + k))
}

/// The f32 mask of a dropout site, shaped like `x` (rank ≥ 1): `1/(1 − rate)` where kept, 0 where dropped.
pub fn scaled_mask(g: &mut GraphBuilder, x: &str, rate: f32, site: u32, name: &str) -> String {
    let seed = seed_input(g);
    let c = |g: &mut GraphBuilder, what: &str, v: i64| g.const_i64(&format!("{name}.{what}"), &[], &[v]);
    let p = c(g, "p", MODULUS);
    let q = c(g, "q", Q);
    let m = c(g, "m", TABLE_HALF);
    // Per-site keys (scalar work).
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
    let a3 = c(g, "k3_add", (site as i64 * 7919 + 104_729) % MODULUS);
    let k3a = g.op("Add", &format!("{name}.k3_add"), &[&k2, &a3], vec![]);
    let k3 = g.op("Mod", &format!("{name}.key3"), &[&k3a, &p], vec![]);

    // The table: 2M mask values.
    let zero = c(g, "zero", 0);
    let table_len = c(g, "table_len", 2 * TABLE_HALF);
    let t_ctr = g.op("Range", &format!("{name}.table_counter"), &[&zero, &table_len, &one], vec![]);
    // Offset the counter by the key first: a constant counter multiplied by the mixing constants would be
    // folded by tract into symbolic integers whose cost estimate overflows.
    let t_off = g.op("Add", &format!("{name}.table_offset"), &[&t_ctr, &k3], vec![]);
    let t = mix(g, &format!("{name}.table"), &t_off, &k, &k2, &p);
    let t = g.op("Mod", &format!("{name}.table_hash"), &[&t, &q], vec![]);
    let (threshold, scale) = threshold_and_scale(rate);
    let thr = c(g, "threshold", threshold);
    let keep = g.op("GreaterOrEqual", &format!("{name}.table_keep"), &[&t, &thr], vec![]);
    let scale = g.const_f32(&format!("{name}.scale"), &[], &[scale]);
    let fzero = g.const_f32(&format!("{name}.zero_f32"), &[], &[0.0]);
    let table = g.op("Where", &format!("{name}.table"), &[&keep, &scale, &fzero], vec![]);

    // Row and column hashes in [0, M), as int32.
    let ax0 = g.const_i64(&format!("{name}.axis0"), &[1], &[0]);
    let lead_shape = g.op("Shape", &format!("{name}.lead_shape"), &[x], vec![attr::int("end", -1)]);
    let last = g.op("Shape", &format!("{name}.last_dim"), &[x], vec![attr::int("start", -1)]);
    let cols = g.op("Squeeze", &format!("{name}.cols"), &[&last, &ax0], vec![]);
    let numel = g.op("Size", &format!("{name}.numel"), &[x], vec![]);
    let rows = g.op("Div", &format!("{name}.rows"), &[&numel, &cols], vec![]);
    let row_ctr = g.op("Range", &format!("{name}.row_counter"), &[&zero, &rows, &one], vec![]);
    let col_ctr = g.op("Range", &format!("{name}.col_counter"), &[&zero, &cols, &one], vec![]);
    let to_i32 = || vec![attr::int("to", ElemType::I32.onnx() as i64)];
    let r = mix(g, &format!("{name}.row"), &row_ctr, &k, &k2, &p);
    let r = g.op("Mod", &format!("{name}.row_hash"), &[&r, &m], vec![]);
    let r = g.op("Cast", &format!("{name}.row_hash_i32"), &[&r], to_i32());
    let one_1 = g.const_i64(&format!("{name}.one_dim"), &[1], &[1]);
    let row_shape = g.op("Concat", &format!("{name}.row_shape"), &[&lead_shape, &one_1], vec![attr::int("axis", 0)]);
    let r = g.op("Reshape", &format!("{name}.row_hash_col"), &[&r, &row_shape], vec![]);
    let s = mix(g, &format!("{name}.col"), &col_ctr, &k2, &k, &p);
    let s = g.op("Mod", &format!("{name}.col_hash"), &[&s, &m], vec![]);
    let s = g.op("Cast", &format!("{name}.col_hash_i32"), &[&s], to_i32());

    // Full size: one int32 Add and one Gather.
    let idx = g.op("Add", &format!("{name}.index"), &[&r, &s], vec![]);
    g.op("Gather", &format!("{name}.mask_scaled"), &[&table, &idx], vec![attr::int("axis", 0)])
}

/// Four rounds mod P over a counter tensor: linear, quadratic, linear (re-adding the counter), quadratic.
/// The quadratic rounds multiply two different values: tract rewrites `Mul(x, x)` into a `Square` that has
/// no int64 kernel.
fn mix(g: &mut GraphBuilder, name: &str, ctr: &str, k: &str, k2: &str, p: &str) -> String {
    let c = |g: &mut GraphBuilder, what: &str, v: i64| g.const_i64(&format!("{name}.{what}"), &[], &[v]);
    let lin = |g: &mut GraphBuilder, i: usize, x: &str, a: &str, b: &str| {
        let t = g.op("Mul", &format!("{name}.h{i}_mul"), &[x, a], vec![]);
        let u = g.op("Add", &format!("{name}.h{i}_add"), &[&t, b], vec![]);
        g.op("Mod", &format!("{name}.h{i}"), &[&u, p], vec![])
    };
    let quad = |g: &mut GraphBuilder, i: usize, x: &str, k: &str| {
        let u = g.op("Add", &format!("{name}.h{i}_shift"), &[x, k], vec![]);
        let t = g.op("Mul", &format!("{name}.h{i}_mul"), &[x, &u], vec![]);
        g.op("Mod", &format!("{name}.h{i}"), &[&t, p], vec![])
    };
    let a = c(g, "a1", 1_103_515_245);
    let h1 = lin(g, 1, ctr, &a, k);
    let h2 = quad(g, 2, &h1, k2);
    let b = c(g, "a3", 742_938_285);
    let h3 = lin(g, 3, &h2, &b, ctr);
    quad(g, 4, &h3, k)
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
        // Table indices: r + s < 2M fits int32.
        assert!(2 * TABLE_HALF - 2 < i32::MAX as i64);
    }
}
