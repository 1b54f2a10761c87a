//! Statistics and reproducibility of the in-graph dropout PRNG (`train_graph::dropout`), on ORT CPU and tract.
mod autodiff_support;

use autodiff_support::{ort_run, ort_session, tract_run_with, value_info, Val, F32, I64};
use ndarray::{ArrayD, IxDyn};
use nerkit_export::builder::GraphBuilder;
use nerkit_export::train_graph::dropout;

const N: usize = 40_000;
const RATE: f32 = 0.1;

/// Graph: x [200, 200] → dropout site 1 and site 2 (same seed input).
fn model() -> nerkit_export::builder::pb::ModelProto {
    let mut g = GraphBuilder::new("dropout");
    g.inputs.push(value_info("x", F32, Some(&[200, 200])));
    let a = dropout::dropout(&mut g, "x", RATE, 1, "site1");
    let b = dropout::dropout(&mut g, "x", RATE, 2, "site2");
    g.outputs.push(value_info(&a, F32, None));
    g.outputs.push(value_info(&b, F32, None));
    g.into_model(17, &[])
}

fn feed(seed: i64) -> Vec<(String, Val)> {
    vec![
        ("x".into(), Val::F32(ArrayD::from_elem(IxDyn(&[200, 200]), 1.0))),
        ("seed".into(), Val::I64(ArrayD::from_elem(IxDyn(&[]), seed))),
    ]
}

fn kept(v: &Val) -> Vec<bool> {
    v.to_f64().iter().map(|x| *x != 0.0).collect()
}

fn frac_differ(a: &[bool], b: &[bool]) -> f64 {
    a.iter().zip(b).filter(|(x, y)| x != y).count() as f64 / a.len() as f64
}

#[test]
fn dropout_masks_have_the_right_statistics_and_are_reproducible() {
    let model = model();
    let mut sess = ort_session(&model);
    let run = |sess: &mut _, seed| ort_run(sess, &feed(seed), &["site1", "site2"]);
    let out7 = run(&mut sess, 7);
    let (m1, m2) = (kept(&out7[0]), kept(&out7[1]));

    // Kept values are scaled by 1/(1-rate); dropped ones are 0.
    let scale = 1.0 / (1.0 - RATE as f64);
    assert!(out7[0].to_f64().iter().all(|v| *v == 0.0 || (v - scale).abs() < 1e-6));

    // Keep rate within 4 standard deviations of 1 - rate.
    let sigma = ((RATE * (1.0 - RATE)) as f64 / N as f64).sqrt();
    for m in [&m1, &m2] {
        let keep = m.iter().filter(|k| **k).count() as f64 / N as f64;
        assert!((keep - (1.0 - RATE as f64)).abs() < 4.0 * sigma, "keep rate {keep}");
    }

    // Same seed → same mask; different seed or site → about 2·p·(1-p) = 18% of positions differ.
    let again = run(&mut sess, 7);
    assert_eq!(kept(&again[0]), m1);
    let other = run(&mut sess, 8);
    let expected = 2.0 * (RATE * (1.0 - RATE)) as f64;
    for d in [frac_differ(&m1, &kept(&other[0])), frac_differ(&m1, &m2)] {
        assert!((d - expected).abs() < 0.01, "fraction of differing positions {d}, expected ≈ {expected}");
    }

    // Neighbours are independent: P(both dropped) ≈ rate².
    let both = m1.windows(2).filter(|w| !w[0] && !w[1]).count() as f64 / (N - 1) as f64;
    assert!((both - (RATE * RATE) as f64).abs() < 0.003, "P(both neighbours dropped) = {both}");
    // Along columns too (stride 200).
    let col = (0..N - 200).filter(|i| !m1[*i] && !m1[i + 200]).count() as f64 / (N - 200) as f64;
    assert!((col - (RATE * RATE) as f64).abs() < 0.003, "P(both column neighbours dropped) = {col}");

    // A large seed works (|seed| mod P) and differs from a small one.
    let big = run(&mut sess, 1 << 40);
    assert!((frac_differ(&m1, &kept(&big[0])) - expected).abs() < 0.01);

    // tract computes bit-identical masks. Unoptimised, like the BERT training step in train_bert.rs: tract
    // 0.23's PropagateRoi pass overflows (debug builds) estimating the cost of the hash's integer arithmetic.
    let t = tract_run_with(&model, &feed(7), false);
    assert_eq!(kept(&t[0]), m1);
    assert_eq!(kept(&t[1]), m2);
    let _ = I64;
}

/// `dropout::MaskKeys` (what nerkit's CPU kernel computes) gives the graph's masks, value for value, on tract
/// (the graph on ONNX Runtime is compared with the kernel in nerkit's tests/cpu_kernels.rs).
#[test]
fn mask_stream_equals_the_graph_on_tract() {
    let model = model();
    for seed in [0i64, 7, 1 << 40] {
        let out = tract_run_with(&model, &feed(seed), false);
        for (k, site) in [1u32, 2].into_iter().enumerate() {
            let keys = dropout::MaskKeys::new(seed, site, RATE);
            let table = keys.table();
            let graph = out[k].to_f64();
            let mut differing = 0;
            for ((i, j), v) in graph.view().into_dimensionality::<ndarray::Ix2>().unwrap().indexed_iter() {
                let want = table[keys.row(i as i64) + keys.col(j as i64)];
                differing += usize::from(want as f64 != *v);
            }
            assert_eq!(differing, 0, "seed {seed}, site {site}: {differing} of {N} values differ");
        }
    }
}
