//! A plain-loop BERT token classifier (the math of `transformers.BertForTokenClassification` in eval mode),
//! independent of any ONNX engine: the oracle the exported graph is compared against.
use nerkit_export::config::BertConfig;
use nerkit_export::weights::Weights;

fn w<'a>(weights: &'a Weights, name: &str) -> &'a [f32] {
    &weights.get(name).unwrap_or_else(|| panic!("missing {name}")).data
}

/// x [n, inp] @ W^T [out, inp] + b.
fn linear(x: &[f32], n: usize, inp: usize, weights: &Weights, p: &str) -> Vec<f32> {
    let (wt, b) = (w(weights, &format!("{p}.weight")), w(weights, &format!("{p}.bias")));
    let out = b.len();
    let mut y = vec![0f32; n * out];
    for r in 0..n {
        for o in 0..out {
            let mut acc = b[o] as f64;
            for k in 0..inp {
                acc += x[r * inp + k] as f64 * wt[o * inp + k] as f64;
            }
            y[r * out + o] = acc as f32;
        }
    }
    y
}

fn layer_norm(x: &mut [f32], h: usize, weights: &Weights, p: &str, eps: f64) {
    let (g, b) = (w(weights, &format!("{p}.weight")), w(weights, &format!("{p}.bias")));
    for row in x.chunks_mut(h) {
        let mean = row.iter().map(|&v| v as f64).sum::<f64>() / h as f64;
        let var = row.iter().map(|&v| (v as f64 - mean).powi(2)).sum::<f64>() / h as f64;
        for (i, v) in row.iter_mut().enumerate() {
            *v = (((*v as f64 - mean) / (var + eps).sqrt()) * g[i] as f64 + b[i] as f64) as f32;
        }
    }
}

fn erf(x: f64) -> f64 {
    // Abramowitz–Stegun 7.1.26 is too coarse; use the series / continued fraction via libm-free approach:
    // erf(x) = 2/sqrt(pi) * sum_{n} (-1)^n x^(2n+1) / (n! (2n+1)) converges fast for |x| < 3.
    if x.abs() > 3.0 {
        return x.signum() * (1.0 - (-x * x).exp() / (x.abs() * std::f64::consts::PI.sqrt()));
    }
    let (mut term, mut sum, mut n) = (x, x, 0.0);
    while term.abs() > 1e-17 {
        n += 1.0;
        term *= -x * x / n;
        sum += term / (2.0 * n + 1.0);
    }
    sum * 2.0 / std::f64::consts::PI.sqrt()
}

/// Returns (logits [b, s, labels], last hidden [b, s, hidden]) for padded ids/mask/types [b, s].
pub fn forward(
    cfg: &BertConfig,
    weights: &Weights,
    ids: &[i64],
    mask: &[i64],
    types: &[i64],
    b: usize,
    s: usize,
) -> (Vec<f32>, Vec<f32>) {
    let (h, nh, hd) = (cfg.hidden_size, cfg.num_attention_heads, cfg.head_dim());
    let eps = cfg.layer_norm_eps;
    let n = b * s;
    let (we, pe, te) = (
        w(weights, "bert.embeddings.word_embeddings.weight"),
        w(weights, "bert.embeddings.position_embeddings.weight"),
        w(weights, "bert.embeddings.token_type_embeddings.weight"),
    );
    let mut x = vec![0f32; n * h];
    for r in 0..n {
        let (id, tt, pos) = (ids[r] as usize, types[r] as usize, r % s);
        for k in 0..h {
            x[r * h + k] = we[id * h + k] + te[tt * h + k] + pe[pos * h + k];
        }
    }
    layer_norm(&mut x, h, weights, "bert.embeddings.LayerNorm", eps);
    for l in 0..cfg.num_hidden_layers {
        let p = format!("bert.encoder.layer.{l}");
        let q = linear(&x, n, h, weights, &format!("{p}.attention.self.query"));
        let k = linear(&x, n, h, weights, &format!("{p}.attention.self.key"));
        let v = linear(&x, n, h, weights, &format!("{p}.attention.self.value"));
        let mut ctx = vec![0f32; n * h];
        for bi in 0..b {
            for head in 0..nh {
                for i in 0..s {
                    let qi = (bi * s + i) * h + head * hd;
                    let mut scores: Vec<f64> = (0..s)
                        .map(|j| {
                            let kj = (bi * s + j) * h + head * hd;
                            let dot: f64 = (0..hd).map(|d| q[qi + d] as f64 * k[kj + d] as f64).sum();
                            if mask[bi * s + j] == 0 {
                                f64::NEG_INFINITY
                            } else {
                                dot / (hd as f64).sqrt()
                            }
                        })
                        .collect();
                    let max = scores.iter().cloned().fold(f64::NEG_INFINITY, f64::max);
                    let total: f64 = scores
                        .iter_mut()
                        .map(|sc| {
                            *sc = (*sc - max).exp();
                            *sc
                        })
                        .sum();
                    for d in 0..hd {
                        let acc: f64 =
                            (0..s).map(|j| scores[j] / total * v[(bi * s + j) * h + head * hd + d] as f64).sum();
                        ctx[qi + d] = acc as f32;
                    }
                }
            }
        }
        let mut att = linear(&ctx, n, h, weights, &format!("{p}.attention.output.dense"));
        att.iter_mut().zip(&x).for_each(|(a, r)| *a += r);
        layer_norm(&mut att, h, weights, &format!("{p}.attention.output.LayerNorm"), eps);
        let mut inter = linear(&att, n, h, weights, &format!("{p}.intermediate.dense"));
        inter.iter_mut().for_each(|v| *v = (*v as f64 * 0.5 * (1.0 + erf(*v as f64 / 2f64.sqrt()))) as f32);
        let mut out = linear(&inter, n, cfg.intermediate_size, weights, &format!("{p}.output.dense"));
        out.iter_mut().zip(&att).for_each(|(o, r)| *o += r);
        layer_norm(&mut out, h, weights, &format!("{p}.output.LayerNorm"), eps);
        x = out;
    }
    let logits = linear(&x, n, h, weights, "classifier");
    (logits, x)
}

#[test]
fn erf_matches_known_values() {
    for (x, e) in
        [(0.0, 0.0), (0.5, 0.520_499_877_8), (1.0, 0.842_700_792_9), (2.0, 0.995_322_265), (-1.5, -0.966_105_146_5)]
    {
        assert!((erf(x) - e).abs() < 1e-9, "erf({x}) = {} vs {e}", erf(x));
    }
}
