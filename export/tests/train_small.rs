//! Training graph on a small hand-built token classifier (embedding → dropout → LayerNorm → dense + GELU →
//! classifier): loss definition, gradients vs finite differences, AdamW step vs a host computation,
//! overfitting, and tract agreement.
mod autodiff_support;

use std::collections::HashMap;

use autodiff_support::{ort_run, ort_session, tract_run, Val};
use ndarray::{ArrayD, Dimension, IxDyn};
use nerkit_export::builder::{attr, Dim, ElemType, GraphBuilder};
use nerkit_export::train_graph::{build_eval_graph, build_train_graph, dropout, names, TrainGraph, TrainGraphConfig};
use rand::{rngs::StdRng, Rng, SeedableRng};

const V: usize = 20;
const H: usize = 8;
const F: usize = 16;
const L: usize = 4;

fn randn(rng: &mut StdRng, n: usize, scale: f32) -> Vec<f32> {
    (0..n).map(|_| rng.random_range(-1.0f32..1.0) * scale).collect()
}

/// The forward graph; `dropout_rate` > 0 inserts one in-graph dropout site after the embedding.
fn forward(dropout_rate: f32) -> GraphBuilder {
    let mut rng = StdRng::seed_from_u64(11);
    let mut g = GraphBuilder::new("small");
    let ids = g.input("input_ids", ElemType::I64, &[Dim::sym("batch"), Dim::sym("sequence")]);
    let emb = g.init_f32("embeddings.word_embeddings.weight", &[V as i64, H as i64], &randn(&mut rng, V * H, 1.0));
    let lnw: Vec<f32> = (0..H).map(|_| 1.0 + rng.random_range(-0.1f32..0.1)).collect();
    let lnw = g.init_f32("embeddings.LayerNorm.weight", &[H as i64], &lnw);
    let lnb = g.init_f32("embeddings.LayerNorm.bias", &[H as i64], &randn(&mut rng, H, 0.1));
    let w1 = g.init_f32("dense.weight", &[H as i64, F as i64], &randn(&mut rng, H * F, 0.5));
    let b1 = g.init_f32("dense.bias", &[F as i64], &randn(&mut rng, F, 0.1));
    let w2 = g.init_f32("classifier.weight", &[F as i64, L as i64], &randn(&mut rng, F * L, 0.5));
    let b2 = g.init_f32("classifier.bias", &[L as i64], &randn(&mut rng, L, 0.1));
    let e = g.op("Gather", "embeddings.word_embeddings", &[&emb, &ids], vec![]);
    let e = dropout::dropout(&mut g, &e, dropout_rate, 1, "embeddings.dropout");
    let n = g.op("LayerNormalization", "embeddings.LayerNorm", &[&e, &lnw, &lnb], vec![attr::float("epsilon", 1e-12)]);
    let h = g.op("MatMul", "dense.matmul", &[&n, &w1], vec![]);
    let h = g.op("Add", "dense", &[&h, &b1], vec![]);
    let s = g.const_f32("gelu.inv_sqrt2", &[], &[std::f32::consts::FRAC_1_SQRT_2]);
    let xs = g.op("Mul", "gelu.scaled", &[&h, &s], vec![]);
    let er = g.op("Erf", "gelu.erf", &[&xs], vec![]);
    let one = g.const_f32("gelu.one", &[], &[1.0]);
    let er1 = g.op("Add", "gelu.erf_plus_one", &[&er, &one], vec![]);
    let half = g.const_f32("gelu.half", &[], &[0.5]);
    let hx = g.op("Mul", "gelu.half_x", &[&h, &half], vec![]);
    let a = g.op("Mul", "gelu", &[&hx, &er1], vec![]);
    let o = g.op("MatMul", "classifier.matmul", &[&a, &w2], vec![]);
    let logits = g.op("Add", "logits", &[&o, &b2], vec![]);
    g.output(&logits, ElemType::F32, &[Dim::sym("batch"), Dim::sym("sequence"), Dim::Fixed(L as i64)]);
    g
}

fn arr<T: Clone>(shape: &[usize], v: Vec<T>) -> ArrayD<T> {
    ArrayD::from_shape_vec(IxDyn(shape), v).unwrap()
}

fn scalar_f32(v: f32) -> Val {
    Val::F32(arr(&[], vec![v]))
}

/// A batch of 2 × 5 tokens with two ignored positions.
fn batch() -> (Val, Val) {
    let ids = vec![1, 5, 7, 6, 0, 3, 19, 2, 2, 8]; // token-level model: same id ⇒ same label
    let labels = vec![0, 1, -100, 2, 3, 3, 0, -100, 1, 2];
    (Val::I64(arr(&[2, 5], ids)), Val::I64(arr(&[2, 5], labels)))
}

const CLASS_WEIGHTS: [f32; L] = [0.5, 2.0, 1.0, 1.5];

/// Host-side state of a training run: parameters and moments, fed back every step.
struct State {
    values: HashMap<String, Val>,
}

impl State {
    fn new(tg: &TrainGraph) -> State {
        let mut values = HashMap::new();
        for p in &tg.params {
            let shape: Vec<usize> = p.dims.iter().map(|d| *d as usize).collect();
            let data: Vec<f32> =
                p.initial.raw_data.chunks_exact(4).map(|c| f32::from_le_bytes(c.try_into().unwrap())).collect();
            values.insert(p.name.clone(), Val::F32(arr(&shape, data)));
            let n = shape.iter().product();
            values.insert(names::adam_m(&p.name), Val::F32(arr(&shape, vec![0.0; n])));
            values.insert(names::adam_v(&p.name), Val::F32(arr(&shape, vec![0.0; n])));
        }
        State { values }
    }

    fn feed(&self, ids: &Val, labels: &Val, lr: f32, step: f32, seed: i64) -> Vec<(String, Val)> {
        let mut f: Vec<(String, Val)> = self.values.iter().map(|(k, v)| (k.clone(), v.clone())).collect();
        f.push(("input_ids".into(), ids.clone()));
        f.push((names::LABELS.into(), labels.clone()));
        f.push((names::CLASS_WEIGHTS.into(), Val::F32(arr(&[L], CLASS_WEIGHTS.to_vec()))));
        f.push((names::LR.into(), scalar_f32(lr)));
        f.push((names::STEP.into(), scalar_f32(step)));
        f.push((names::SEED.into(), Val::I64(arr(&[], vec![seed]))));
        f
    }

    /// Runs one step and keeps the new parameters/moments; returns the loss.
    fn step(
        &mut self,
        sess: &mut ort::session::Session,
        tg: &TrainGraph,
        ids: &Val,
        labels: &Val,
        lr: f32,
        step: f32,
    ) -> f32 {
        let mut outs = vec![names::LOSS.to_string()];
        for p in &tg.params {
            outs.extend([names::new_param(&p.name), names::new_adam_m(&p.name), names::new_adam_v(&p.name)]);
        }
        let refs: Vec<&str> = outs.iter().map(|s| s.as_str()).collect();
        let r = ort_run(sess, &self.feed(ids, labels, lr, step, step as i64), &refs);
        for (k, p) in tg.params.iter().enumerate() {
            self.values.insert(p.name.clone(), r[1 + 3 * k].clone());
            self.values.insert(names::adam_m(&p.name), r[2 + 3 * k].clone());
            self.values.insert(names::adam_v(&p.name), r[3 + 3 * k].clone());
        }
        r[0].to_f64().iter().next().copied().unwrap() as f32
    }
}

fn config() -> TrainGraphConfig {
    let mut cfg = TrainGraphConfig::new("logits", L);
    cfg.output_logits = true;
    cfg.output_gradients = true;
    cfg
}

/// PyTorch's weighted CrossEntropyLoss(ignore_index=-100), on the host.
fn reference_loss(logits: &ArrayD<f64>, labels: &[i64]) -> f64 {
    let (mut num, mut den) = (0.0, 0.0);
    for (i, y) in labels.iter().enumerate() {
        if *y < 0 {
            continue;
        }
        let row: Vec<f64> = (0..L).map(|c| logits.as_slice().unwrap()[i * L + c]).collect();
        let mx = row.iter().cloned().fold(f64::MIN, f64::max);
        let lse = mx + row.iter().map(|v| (v - mx).exp()).sum::<f64>().ln();
        let w = CLASS_WEIGHTS[*y as usize] as f64;
        num += w * (lse - row[*y as usize]);
        den += w;
    }
    num / den
}

#[test]
fn train_loss_is_weighted_cross_entropy_and_gradients_match_finite_differences() {
    let tg = build_train_graph(forward(0.0), &config()).unwrap();
    assert_eq!(tg.params.len(), 7);
    assert!(tg.unused.is_empty());
    let mut sess = ort_session(&tg.model);
    let state = State::new(&tg);
    let (ids, labels) = batch();
    let feed = state.feed(&ids, &labels, 0.0, 1.0, 0);
    let mut outs = vec![names::LOSS.to_string(), "logits".to_string()];
    outs.extend(tg.params.iter().map(|p| names::grad(&p.name)));
    let refs: Vec<&str> = outs.iter().map(|s| s.as_str()).collect();
    let r = ort_run(&mut sess, &feed, &refs);
    let loss = r[0].to_f64()[[]];
    let Val::I64(lab) = &labels else { unreachable!() };
    let expected = reference_loss(&r[1].to_f64(), lab.as_slice().unwrap());
    assert!((loss - expected).abs() < 1e-5 * expected.abs(), "loss {loss} vs reference {expected}");

    // Central differences on every parameter element (f32 graph: ε = 1e-2).
    let eps = 1e-2f64;
    let mut worst = 0.0f64;
    for (k, p) in tg.params.iter().enumerate() {
        let ga = r[2 + k].to_f64();
        let base = state.values[&p.name].to_f64();
        for (idx, g_an) in ga.indexed_iter() {
            let mut eval = |d: f64| {
                let mut x = base.clone();
                x[&idx] += d;
                let mut f = feed.clone();
                let pos = f.iter().position(|(n, _)| n == &p.name).unwrap();
                f[pos].1 = Val::F32(x.mapv(|v| v as f32));
                ort_run(&mut sess, &f, &[names::LOSS]).remove(0).to_f64()[[]]
            };
            let fd = (eval(eps) - eval(-eps)) / (2.0 * eps);
            let err = (g_an - fd).abs();
            worst = worst.max(err);
            assert!(err < 2e-3 + 2e-2 * fd.abs(), "d loss/d {}{:?}: analytic {g_an} vs fd {fd}", p.name, idx.slice());
        }
    }
    eprintln!("worst |analytic - fd| = {worst:e}");
}

#[test]
fn adamw_step_matches_host_computation() {
    adamw_step_check(|_| None);
}

/// Layer-wise learning-rate decay: parameters with a multiplier k step with lr·k (and decay with lr·k·wd).
#[test]
fn adamw_step_with_learning_rate_multipliers_matches_host_computation() {
    let seen = adamw_step_check(|i| [Some(0.5), None, Some(0.25)][i % 3]);
    assert!(seen >= 2, "the tiny model should have parameters with multipliers ({seen})");
}

/// Runs one AdamW step with `multiplier(param index)` as learning-rate multipliers and checks every parameter
/// and moment against an f64 host computation. Returns how many parameters had a multiplier.
fn adamw_step_check(multiplier: impl Fn(usize) -> Option<f32>) -> usize {
    let mut cfg = config();
    cfg.adamw.max_grad_norm = Some(0.5);
    let names_in_order: Vec<String> =
        build_train_graph(forward(0.0), &cfg).unwrap().params.iter().map(|p| p.name.clone()).collect();
    cfg.lr_multipliers =
        names_in_order.iter().enumerate().filter_map(|(i, n)| multiplier(i).map(|k| (n.clone(), k))).collect();
    let tg = build_train_graph(forward(0.0), &cfg).unwrap();
    let mut sess = ort_session(&tg.model);
    let mut state = State::new(&tg);
    // Non-zero moments so both moment updates and the bias correction at step 3 are exercised.
    let mut rng = StdRng::seed_from_u64(3);
    for p in &tg.params {
        let shape = state.values[&p.name].shape();
        let n: usize = shape.iter().product();
        state.values.insert(names::adam_m(&p.name), Val::F32(arr(&shape, randn(&mut rng, n, 0.01))));
        let v: Vec<f32> = (0..n).map(|_| rng.random_range(0.0f32..1e-4)).collect();
        state.values.insert(names::adam_v(&p.name), Val::F32(arr(&shape, v)));
    }
    let (ids, labels) = batch();
    let (lr, step) = (0.01f32, 3.0f32);
    let mut outs = vec![names::GRAD_NORM.to_string()];
    for p in &tg.params {
        outs.extend([
            names::grad(&p.name),
            names::new_param(&p.name),
            names::new_adam_m(&p.name),
            names::new_adam_v(&p.name),
        ]);
    }
    let refs: Vec<&str> = outs.iter().map(|s| s.as_str()).collect();
    let r = ort_run(&mut sess, &state.feed(&ids, &labels, lr, step, 0), &refs);
    let grads: Vec<ArrayD<f64>> = (0..tg.params.len()).map(|k| r[1 + 4 * k].to_f64()).collect();
    let norm: f64 = grads.iter().map(|g| g.iter().map(|v| v * v).sum::<f64>()).sum::<f64>().sqrt();
    assert!((r[0].to_f64()[[]] - norm).abs() < 1e-5 * norm);
    let coef = (0.5 / (norm + 1e-6)).min(1.0);
    assert!(coef < 1.0, "test should exercise clipping (norm {norm})");
    let (b1, b2, eps, wd) = (0.9f64, 0.999f64, 1e-8f64, 0.01f64);
    let (bc1, bc2) = (1.0 - b1.powf(step as f64), 1.0 - b2.powf(step as f64));
    let mut worst = 0.0f64;
    for (k, p) in tg.params.iter().enumerate() {
        let (p0, m0, v0) = (
            state.values[&p.name].to_f64(),
            state.values[&names::adam_m(&p.name)].to_f64(),
            state.values[&names::adam_v(&p.name)].to_f64(),
        );
        let decay = !(p.name.ends_with(".bias") || p.name.contains("LayerNorm"));
        assert_eq!(p.weight_decay, decay, "{}", p.name);
        let lr = lr as f64 * cfg.lr_multipliers.get(&p.name).copied().unwrap_or(1.0) as f64;
        for i in 0..p0.len() {
            let g = grads[k].as_slice().unwrap()[i] * coef;
            let m = b1 * m0.as_slice().unwrap()[i] + (1.0 - b1) * g;
            let v = b2 * v0.as_slice().unwrap()[i] + (1.0 - b2) * g * g;
            let mut x = p0.as_slice().unwrap()[i];
            if decay {
                x *= 1.0 - lr * wd;
            }
            x -= (lr / bc1) * m / (v.sqrt() / bc2.sqrt() + eps);
            for (got, want) in [(&r[2 + 4 * k], x), (&r[3 + 4 * k], m), (&r[4 + 4 * k], v)] {
                let got = got.to_f64().as_slice().unwrap()[i];
                // f32 graph vs f64 host: relative error, absolute below 1e-4 (moments of tiny gradients).
                let err = (got - want).abs() / want.abs().max(1e-4);
                worst = worst.max(err);
                assert!(err < 1e-4, "{}[{i}]: graph {got} vs host {want}", p.name);
            }
        }
    }
    eprintln!("worst relative AdamW error {worst:e}");
    cfg.lr_multipliers.len()
}

#[test]
fn small_model_overfits_with_dropout() {
    let tg = build_train_graph(forward(0.1), &TrainGraphConfig::new("logits", L)).unwrap();
    let mut sess = ort_session(&tg.model);
    let mut state = State::new(&tg);
    let (ids, labels) = batch();
    let first = state.step(&mut sess, &tg, &ids, &labels, 0.05, 1.0);
    let mut last = first;
    for step in 2..=100 {
        last = state.step(&mut sess, &tg, &ids, &labels, 0.05, step as f32);
    }
    eprintln!("training loss (dropout 0.1) {first} → {last}");
    assert!(last < 0.1 * first, "loss {first} → {last}");

    // The eval graph (no dropout) shares parameter names and gives a low loss on the trained values.
    let names_: Vec<String> = tg.params.iter().map(|p| p.name.clone()).collect();
    let eval = build_eval_graph(forward(0.0), &TrainGraphConfig::new("logits", L), &names_).unwrap();
    let mut es = ort_session(&eval.model);
    let mut f: Vec<(String, Val)> = names_.iter().map(|n| (n.clone(), state.values[n].clone())).collect();
    f.push(("input_ids".into(), ids.clone()));
    f.push((names::LABELS.into(), labels.clone()));
    f.push((names::CLASS_WEIGHTS.into(), Val::F32(arr(&[L], CLASS_WEIGHTS.to_vec()))));
    let el = ort_run(&mut es, &f, &[names::LOSS]).remove(0).to_f64()[[]];
    eprintln!("eval loss {el}");
    assert!(el < 0.05, "eval loss {el}");
}

#[test]
fn tract_runs_the_training_graph_like_ort() {
    let tg = build_train_graph(forward(0.1), &TrainGraphConfig::new("logits", L)).unwrap();
    let state = State::new(&tg);
    let (ids, labels) = batch();
    let feed = state.feed(&ids, &labels, 0.01, 1.0, 42);
    let ort_loss = ort_run(&mut ort_session(&tg.model), &feed, &[names::LOSS]).remove(0).to_f64()[[]];
    let outs = tract_run(&tg.model, &feed);
    let out_names: Vec<&str> = tg.model.graph.as_ref().unwrap().output.iter().map(|o| o.name.as_str()).collect();
    let li = out_names.iter().position(|n| *n == names::LOSS).unwrap();
    let tract_loss = outs[li].to_f64()[[]];
    assert!((ort_loss - tract_loss).abs() < 1e-5 * ort_loss.abs(), "ORT {ort_loss} vs tract {tract_loss}");
}
