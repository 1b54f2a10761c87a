//! Hand-derived gradients (the derivative is written above each case, candle style) and the structure of the
//! backward graph: accumulation of fanned-out values, pruning, non-differentiable inputs, naming, errors.
mod autodiff_support;

use autodiff_support::{env, ort_run, ort_session, value_info, Val, F32, F64, I64};
use ndarray::{ArrayD, IxDyn};
use nerkit_export::autodiff::{backward, backward_with_rows, constant, AutodiffError};
use nerkit_export::builder::{attr, GraphBuilder};

fn vec64(v: &[f64]) -> Val {
    Val::F64(ArrayD::from_shape_vec(IxDyn(&[v.len()]), v.to_vec()).unwrap())
}

/// Runs `loss` and the gradients of `wrt` (declared f64 [n] inputs with values `xs`).
fn grads(g: &mut GraphBuilder, loss: &str, wrt: &[(&str, &[f64])]) -> Vec<Vec<f64>> {
    let names: Vec<String> = wrt.iter().map(|(n, _)| n.to_string()).collect();
    let gr = backward(g, loss, &names).unwrap();
    let outs: Vec<String> = names.iter().map(|n| gr[n].clone()).collect();
    for o in &outs {
        g.outputs.push(value_info(o, F64, None));
    }
    let feed: Vec<(String, Val)> = wrt.iter().map(|(n, v)| (n.to_string(), vec64(v))).collect();
    let refs: Vec<&str> = outs.iter().map(|s| s.as_str()).collect();
    let model = g.clone().into_model(17, &[]);
    ort_run(&mut ort_session(&model), &feed, &refs).iter().map(|v| v.to_f64().iter().copied().collect()).collect()
}

fn sum_all(g: &mut GraphBuilder, x: &str, name: &str) -> String {
    g.op("ReduceSum", name, &[x], vec![attr::int("keepdims", 0)])
}

#[test]
fn square_plus_linear() {
    // y = x² + 5x + 4, L = Σy  ⇒  dL/dx = 2x + 5
    let mut g = GraphBuilder::new("t");
    g.inputs.push(value_info("x", F64, Some(&[3])));
    let five = constant(&mut g, "five", F64, &[], &[5.0]);
    let four = constant(&mut g, "four", F64, &[], &[4.0]);
    let sq = g.op("Mul", "sq", &["x", "x"], vec![]);
    let lin = g.op("Mul", "lin", &["x", &five], vec![]);
    let s = g.op("Add", "s", &[&sq, &lin], vec![]);
    let y = g.op("Add", "y", &[&s, &four], vec![]);
    let l = sum_all(&mut g, &y, "loss");
    let d = grads(&mut g, &l, &[("x", &[1.0, 2.0, -3.0])]);
    assert_eq!(d[0], vec![7.0, 9.0, -1.0]);
    // x feeds three places (twice into `sq`, once into `lin`): one Sum node accumulates them.
    let acc = g.nodes.iter().find(|n| n.name == "x.grad").expect("x.grad node");
    assert_eq!(acc.op_type, "Sum");
    assert_eq!(acc.input.len(), 3);
}

#[test]
fn softmax_of_two() {
    // y = softmax([0, ln 3]) = [1/4, 3/4], L = y₁  ⇒  dL/dx = y₁·(e₁ − y) = [−3/16, 3/16]
    let mut g = GraphBuilder::new("t");
    g.inputs.push(value_info("x", F64, Some(&[2])));
    let y = g.op("Softmax", "sm", &["x"], vec![]);
    let idx = g.const_i64("one", &[], &[1]);
    let y1 = g.op("Gather", "pick", &[&y, &idx], vec![]);
    let d = grads(&mut g, &y1, &[("x", &[0.0, 3f64.ln()])]);
    assert!((d[0][0] + 3.0 / 16.0).abs() < 1e-15 && (d[0][1] - 3.0 / 16.0).abs() < 1e-15, "{:?}", d[0]);
}

#[test]
fn layer_norm_of_constant_shift_has_zero_input_gradient() {
    // y = LayerNorm(x) (scale 1, bias 0), L = Σy = 0 for every x  ⇒  dL/dx = 0, dL/dbias = 1 per element
    let mut g = GraphBuilder::new("t");
    g.inputs.push(value_info("x", F64, Some(&[4])));
    g.inputs.push(value_info("b", F64, Some(&[4])));
    let scale = constant(&mut g, "scale", F64, &[4], &[1.0; 4]);
    let y = g.op("LayerNormalization", "ln", &["x", &scale, "b"], vec![attr::float("epsilon", 1e-5)]);
    let l = sum_all(&mut g, &y, "loss");
    let d = grads(&mut g, &l, &[("x", &[0.3, -1.0, 2.0, 0.5]), ("b", &[0.0; 4])]);
    assert!(d[0].iter().all(|v| v.abs() < 1e-12), "{:?}", d[0]);
    assert_eq!(d[1], vec![1.0; 4]);
}

#[test]
fn embedding_gradient_is_a_scatter_add_not_a_one_hot_matmul() {
    // e = W[ids], L = Σ e  ⇒  dL/dW[v] = (count of v in ids) for every column
    let mut g = GraphBuilder::new("t");
    g.inputs.push(value_info("w", F64, Some(&[4, 2])));
    g.inputs.push(value_info("ids", I64, Some(&[3])));
    let e = g.op("Gather", "emb", &["w", "ids"], vec![]);
    let l = sum_all(&mut g, &e, "loss");
    let gr = backward(&mut g, &l, &["w".to_string()]).unwrap();
    let scatter = g.nodes.iter().find(|n| n.name == "emb.grad.w").expect("emb.grad.w");
    assert_eq!(scatter.op_type, "ScatterElements");
    assert!(!g.nodes.iter().any(|n| n.op_type == "OneHot" || (n.name.contains(".grad") && n.op_type == "MatMul")));
    g.outputs.push(value_info(&gr["w"], F64, None));
    let feed = vec![
        ("w".to_string(), Val::F64(ArrayD::zeros(IxDyn(&[4, 2])))),
        ("ids".to_string(), Val::I64(ArrayD::from_shape_vec(IxDyn(&[3]), vec![2, 0, 2]).unwrap())),
    ];
    let out = ort_run(&mut ort_session(&g.into_model(17, &[])), &feed, &[&gr["w"]]);
    assert_eq!(out[0].to_f64().iter().copied().collect::<Vec<_>>(), vec![1., 1., 0., 0., 2., 2., 0., 0.]);
}

/// Every id the same (a token-type embedding): on a multi-threaded ONNX Runtime session the gradient must
/// still be the exact sum of all rows. ORT's parallel `ScatterND` (reduction add) lost updates here.
#[test]
fn embedding_gradient_with_repeated_ids_is_exact_on_several_threads() {
    let (batch, seq, width) = (16usize, 92usize, 384usize);
    let mut g = GraphBuilder::new("t");
    g.inputs.push(value_info("w", F32, Some(&[2, width])));
    g.inputs.push(value_info("ids", I64, Some(&[batch, seq])));
    g.inputs.push(value_info("dy", F32, Some(&[batch, seq, width])));
    let e = g.op("Gather", "emb", &["w", "ids"], vec![]);
    // L = Σ e·dy, so dL/dw[0] = Σ over positions of dy (every id is 0) and dL/dw[1] = 0.
    let prod = g.op("Mul", "weighted", &[&e, "dy"], vec![]);
    let l = sum_all(&mut g, &prod, "loss");
    let gr = backward(&mut g, &l, &["w".to_string()]).unwrap();
    g.outputs.push(value_info(&gr["w"], F32, None));
    let dy: Vec<f32> = (0..batch * seq * width).map(|i| ((i * 7919) % 1000) as f32 / 1000.0 - 0.5).collect();
    let mut expected = vec![0.0f64; width];
    for (i, v) in dy.iter().enumerate() {
        expected[i % width] += *v as f64;
    }
    let feed = vec![
        ("w".to_string(), Val::F32(ArrayD::zeros(IxDyn(&[2, width])))),
        ("ids".to_string(), Val::I64(ArrayD::zeros(IxDyn(&[batch, seq])))),
        ("dy".to_string(), Val::F32(ArrayD::from_shape_vec(IxDyn(&[batch, seq, width]), dy).unwrap())),
    ];
    let bytes = nerkit_export::builder::model_bytes(&g.into_model(17, &[]));
    let mut session = ort::session::Session::builder(env())
        .unwrap()
        .with_intra_threads(2)
        .unwrap()
        .commit_from_memory(&bytes)
        .unwrap();
    for _ in 0..5 {
        let got = ort_run(&mut session, &feed, &[&gr["w"]])[0].to_f64();
        let got: Vec<f64> = got.iter().copied().collect();
        let worst = (0..width).map(|c| (got[c] - expected[c]).abs()).fold(0.0, f64::max);
        assert!(worst < 1e-2, "row 0 off by up to {worst} (sums are ~±30)");
        assert!(got[width..].iter().all(|&v| v == 0.0), "row 1 must stay zero");
    }
}

/// Row-sparse table gradients: one lookup gives the distinct ids and their summed rows (the dense gradient's
/// nonzero rows); a table looked up twice falls back to one dense gradient equal to `backward`'s.
#[test]
fn row_sparse_gradient_holds_the_dense_gradients_rows() {
    let (vocab, width) = (7usize, 3usize);
    let ids: Vec<i64> = vec![4, 1, 4, 6, 1, 4];
    let table: Vec<f32> = (0..vocab * width).map(|i| i as f32 / 10.0 - 1.0).collect();
    let build = |twice: bool| {
        let mut g = GraphBuilder::new("t");
        g.inputs.push(value_info("w", F32, Some(&[vocab, width])));
        g.inputs.push(value_info("ids", I64, Some(&[2, 3])));
        let e = g.op("Gather", "emb", &["w", "ids"], vec![]);
        let sq = g.op("Mul", "sq", &[&e, &e], vec![]);
        let mut l = sum_all(&mut g, &sq, "loss");
        if twice {
            let e2 = g.op("Gather", "emb2", &["w", "ids"], vec![]);
            let l2 = sum_all(&mut g, &e2, "loss2");
            l = g.op("Add", "total", &[&l, &l2], vec![]);
        }
        (g, l)
    };
    let feed = vec![
        ("w".to_string(), Val::F32(ArrayD::from_shape_vec(IxDyn(&[vocab, width]), table.clone()).unwrap())),
        ("ids".to_string(), Val::I64(ArrayD::from_shape_vec(IxDyn(&[2, 3]), ids.clone()).unwrap())),
    ];
    let sparse_set = std::collections::HashSet::from(["w".to_string()]);
    let wrt = ["w".to_string()];

    // Once: rows = distinct ids (sorted), values = 2·w[id]·(occurrences of id).
    let (mut g, l) = build(false);
    let gr = backward_with_rows(&mut g, &l, &wrt, &sparse_set).unwrap();
    assert!(gr.dense.is_empty(), "{:?}", gr.dense);
    let rg = gr.rows["w"].clone();
    g.outputs.push(value_info(&rg.rows, I64, None));
    g.outputs.push(value_info(&rg.values, F32, None));
    let out = ort_run(&mut ort_session(&g.into_model(17, &[])), &feed, &[&rg.rows, &rg.values]);
    let rows: Vec<f64> = out[0].to_f64().iter().copied().collect();
    assert_eq!(rows, vec![1.0, 4.0, 6.0]);
    let values: Vec<f64> = out[1].to_f64().iter().copied().collect();
    for (k, &r) in rows.iter().enumerate() {
        let count = ids.iter().filter(|&&i| i as f64 == r).count() as f64;
        for c in 0..width {
            let want = 2.0 * table[r as usize * width + c] as f64 * count;
            assert!(
                (values[k * width + c] - want).abs() < 1e-5,
                "row {r} col {c}: {} vs {want}",
                values[k * width + c]
            );
        }
    }

    // Twice: a dense gradient, the same as without the row-sparse request.
    let dense_of = |sparse: bool| {
        let (mut g, l) = build(true);
        let gr = if sparse {
            let gr = backward_with_rows(&mut g, &l, &wrt, &sparse_set).unwrap();
            assert!(gr.rows.is_empty(), "two lookups: no row-sparse gradient");
            gr.dense
        } else {
            backward(&mut g, &l, &wrt).unwrap()
        };
        g.outputs.push(value_info(&gr["w"], F32, None));
        ort_run(&mut ort_session(&g.into_model(17, &[])), &feed, &[&gr["w"]])[0].to_f64()
    };
    assert_eq!(dense_of(true), dense_of(false));
}

#[test]
fn pruning_skips_branches_without_parameters_or_loss() {
    // L = Σ(w·x); a side branch c·c (no parameter) and a parameter-only output v·v (not in the loss) add
    // no gradient nodes.
    let mut g = GraphBuilder::new("t");
    for n in ["w", "x", "c", "v"] {
        g.inputs.push(value_info(n, F64, Some(&[2])));
    }
    let wx = g.op("Mul", "wx", &["w", "x"], vec![]);
    let cc = g.op("Mul", "cc", &["c", "c"], vec![]);
    let s = g.op("Add", "s", &[&wx, &cc], vec![]);
    let _vv = g.op("Mul", "vv", &["v", "v"], vec![]);
    let l = sum_all(&mut g, &s, "loss");
    let gr = backward(&mut g, &l, &["w".to_string(), "v".to_string()]).unwrap();
    assert!(gr.contains_key("w") && !gr.contains_key("v"), "v does not reach the loss");
    let grad_nodes: Vec<&str> = g.nodes.iter().filter(|n| n.name.contains(".grad")).map(|n| n.name.as_str()).collect();
    assert!(grad_nodes.iter().all(|n| !n.starts_with("cc.") && !n.starts_with("vv.")), "{grad_nodes:?}");
    // Only the needed input gradient of wx is built: d/dw, not d/dx.
    assert!(grad_nodes.contains(&"wx.grad.w") && !grad_nodes.contains(&"wx.grad.x"), "{grad_nodes:?}");
}

#[test]
fn op_without_rule_is_an_error_naming_it() {
    let mut g = GraphBuilder::new("t");
    g.inputs.push(value_info("x", F64, Some(&[2])));
    let y = g.op("Cos", "cosine", &["x"], vec![]);
    let l = sum_all(&mut g, &y, "loss");
    match backward(&mut g, &l, &["x".to_string()]) {
        Err(AutodiffError::NoRule { op_type, node }) => {
            assert_eq!((op_type.as_str(), node.as_str()), ("Cos", "cosine"))
        }
        other => panic!("expected NoRule, got {other:?}"),
    }
}

#[test]
fn non_scalar_loss_and_integer_parameter_are_rejected() {
    let mut g = GraphBuilder::new("t");
    g.inputs.push(value_info("x", F64, Some(&[2])));
    g.inputs.push(value_info("i", I64, Some(&[2])));
    let y = g.op("Neg", "y", &["x"], vec![]);
    assert!(matches!(backward(&mut g.clone(), &y, &["x".to_string()]), Err(AutodiffError::LossNotScalar { .. })));
    let l = sum_all(&mut g, &y, "loss");
    assert!(matches!(backward(&mut g, &l, &["i".to_string()]), Err(AutodiffError::BadParameter { .. })));
}
