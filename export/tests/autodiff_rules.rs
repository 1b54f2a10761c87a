//! Finite-difference checks of every backward rule, run through ORT CPU (analytic and numeric) and tract
//! (analytic). f64 graphs where ORT has a double kernel; f32 (ε = 1e-2, tolerance 2e-3 + 2%) otherwise.
mod autodiff_support;

use autodiff_support::{check_grad, wrt, wrt_in, Val, F32, F64};
use ndarray::{ArrayD, IxDyn};
use nerkit_export::builder::{attr, GraphBuilder};

/// `grad_case!(name, elem, [wrt...], [extra...], |g, x| body)` — one FD test.
macro_rules! grad_case {
    ($name:ident, $elem:expr, [$($w:expr),*], [$($e:expr),*], |$g:ident, $x:ident| $body:expr) => {
        #[test]
        fn $name() {
            let report = check_grad($elem, &[$($w),*], &[$($e),*], |$g: &mut GraphBuilder, $x: &[String]| $body);
            eprintln!("{}: {:?}", stringify!($name), report);
        }
    };
}

fn ints(g: &mut GraphBuilder, name: &str, v: &[i64]) -> String {
    g.const_i64(name, &[v.len() as i64], v)
}

// ---- elementwise -------------------------------------------------------------------------------------------
grad_case!(add_broadcast_bias, F64, [wrt("x", &[2, 3, 4]), wrt("b", &[4])], [], |g, x| g.op(
    "Add",
    "add",
    &[&x[0], &x[1]],
    vec![]
));
grad_case!(add_broadcast_keepdim, F64, [wrt("x", &[2, 3, 4]), wrt("b", &[2, 1, 4])], [], |g, x| g.op(
    "Add",
    "add",
    &[&x[0], &x[1]],
    vec![]
));
grad_case!(sub_broadcast, F64, [wrt("x", &[3, 1]), wrt("y", &[2, 1, 4])], [], |g, x| g.op(
    "Sub",
    "sub",
    &[&x[0], &x[1]],
    vec![]
));
grad_case!(mul_broadcast, F64, [wrt("x", &[2, 3, 4]), wrt("s", &[3, 1])], [], |g, x| g.op(
    "Mul",
    "mul",
    &[&x[0], &x[1]],
    vec![]
));
grad_case!(mul_same_value_twice, F64, [wrt("x", &[5])], [], |g, x| g.op("Mul", "sq", &[&x[0], &x[0]], vec![]));
grad_case!(div_broadcast, F64, [wrt("x", &[2, 3]), wrt_in("d", &[3], 0.5, 2.0)], [], |g, x| g.op(
    "Div",
    "div",
    &[&x[0], &x[1]],
    vec![]
));
grad_case!(sum_variadic, F64, [wrt("a", &[2, 3]), wrt("b", &[3]), wrt("c", &[1, 3])], [], |g, x| g.op(
    "Sum",
    "sum",
    &[&x[0], &x[1], &x[2]],
    vec![]
));
grad_case!(neg, F64, [wrt("x", &[4])], [], |g, x| g.op("Neg", "neg", &[&x[0]], vec![]));
grad_case!(sqrt, F64, [wrt_in("x", &[2, 3], 0.5, 2.0)], [], |g, x| g.op("Sqrt", "sqrt", &[&x[0]], vec![]));
grad_case!(pow_const_exponent, F64, [wrt_in("x", &[2, 3], 0.5, 2.0)], [], |g, x| {
    let e = nerkit_export::autodiff::constant(g, "e", 11, &[], &[3.0]);
    g.op("Pow", "pow", &[&x[0], &e], vec![])
});
grad_case!(pow_both, F64, [wrt_in("x", &[2, 3], 0.5, 2.0), wrt_in("e", &[3], 0.5, 2.0)], [], |g, x| g.op(
    "Pow",
    "pow",
    &[&x[0], &x[1]],
    vec![]
));
grad_case!(erf_f32, F32, [wrt("x", &[2, 5])], [], |g, x| g.op("Erf", "erf", &[&x[0]], vec![]));
grad_case!(tanh, F64, [wrt("x", &[2, 3])], [], |g, x| g.op("Tanh", "tanh", &[&x[0]], vec![]));
grad_case!(exp, F64, [wrt("x", &[2, 3])], [], |g, x| g.op("Exp", "exp", &[&x[0]], vec![]));
grad_case!(log, F64, [wrt_in("x", &[2, 3], 0.5, 2.0)], [], |g, x| g.op("Log", "log", &[&x[0]], vec![]));
grad_case!(relu, F64, [wrt("x", &[3, 4])], [], |g, x| g.op("Relu", "relu", &[&x[0]], vec![]));
// f32: tract has no f64 Sigmoid kernel.
grad_case!(sigmoid_f32, F32, [wrt("x", &[3, 4])], [], |g, x| g.op("Sigmoid", "sig", &[&x[0]], vec![]));
grad_case!(reciprocal, F64, [wrt_in("x", &[4], 0.5, 2.0)], [], |g, x| g.op("Reciprocal", "rec", &[&x[0]], vec![]));
grad_case!(abs, F64, [wrt_in("x", &[4], 0.2, 1.0)], [], |g, x| g.op("Abs", "abs", &[&x[0]], vec![]));
grad_case!(cast_f32_to_f64_and_back, F32, [wrt("x", &[3])], [], |g, x| {
    let c = g.op("Cast", "to_f64", &[&x[0]], vec![attr::int("to", 11)]);
    let sq = g.op("Mul", "sq64", &[&c, &c], vec![]);
    g.op("Cast", "to_f32", &[&sq], vec![attr::int("to", 1)])
});
// GELU as the BERT builder writes it: 0.5·x·(1 + erf(x/√2)), in f32 because ORT's Erf is float-only.
grad_case!(gelu_erf_f32, F32, [wrt("x", &[2, 6])], [], |g, x| {
    let s = g.const_f32("inv_sqrt2", &[], &[std::f32::consts::FRAC_1_SQRT_2]);
    let h = g.const_f32("half", &[], &[0.5]);
    let one = g.const_f32("one", &[], &[1.0]);
    let xs = g.op("Mul", "xs", &[&x[0], &s], vec![]);
    let e = g.op("Erf", "erf", &[&xs], vec![]);
    let e1 = g.op("Add", "e1", &[&e, &one], vec![]);
    let xe = g.op("Mul", "xe", &[&x[0], &e1], vec![]);
    g.op("Mul", "gelu", &[&xe, &h], vec![])
});

// ---- matmul ------------------------------------------------------------------------------------------------
grad_case!(matmul_linear_3d, F64, [wrt("x", &[2, 3, 4]), wrt("w", &[4, 5])], [], |g, x| g.op(
    "MatMul",
    "mm",
    &[&x[0], &x[1]],
    vec![]
));
grad_case!(matmul_2d, F64, [wrt("x", &[3, 4]), wrt("w", &[4, 2])], [], |g, x| g.op(
    "MatMul",
    "mm",
    &[&x[0], &x[1]],
    vec![]
));
grad_case!(matmul_batched, F64, [wrt("q", &[2, 2, 3, 4]), wrt("k", &[2, 2, 4, 3])], [], |g, x| g.op(
    "MatMul",
    "mm",
    &[&x[0], &x[1]],
    vec![]
));
grad_case!(matmul_batch_broadcast, F64, [wrt("a", &[2, 1, 3, 4]), wrt("b", &[3, 4, 2])], [], |g, x| g.op(
    "MatMul",
    "mm",
    &[&x[0], &x[1]],
    vec![]
));
grad_case!(gemm_plain_bias, F64, [wrt("a", &[3, 4]), wrt("b", &[4, 2]), wrt("c", &[2])], [], |g, x| g.op(
    "Gemm",
    "gemm",
    &[&x[0], &x[1], &x[2]],
    vec![]
));
// f32: tract's Gemm expansion reads alpha/beta as f32.
grad_case!(gemm_trans_alpha_beta_f32, F32, [wrt("a", &[4, 3]), wrt("b", &[2, 4]), wrt("c", &[3, 1])], [], |g, x| g.op(
    "Gemm",
    "gemm",
    &[&x[0], &x[1], &x[2]],
    vec![attr::int("transA", 1), attr::int("transB", 1), attr::float("alpha", 0.7), attr::float("beta", 1.5)]
));
grad_case!(gemm_trans_b_only, F64, [wrt("a", &[3, 4]), wrt("b", &[2, 4])], [], |g, x| g.op(
    "Gemm",
    "gemm",
    &[&x[0], &x[1]],
    vec![attr::int("transB", 1)]
));

// ---- shape -------------------------------------------------------------------------------------------------
grad_case!(reshape_heads, F64, [wrt("x", &[2, 3, 8])], [], |g, x| {
    let s = ints(g, "shape", &[0, 0, 2, 4]);
    let r = g.op("Reshape", "split_heads", &[&x[0], &s], vec![]);
    g.op("Transpose", "heads_first", &[&r], vec![attr::ints("perm", &[0, 2, 1, 3])])
});
grad_case!(transpose_default_perm, F64, [wrt("x", &[2, 3, 4])], [], |g, x| g.op("Transpose", "t", &[&x[0]], vec![]));
grad_case!(unsqueeze_squeeze_flatten, F64, [wrt("x", &[2, 3, 2])], [], |g, x| {
    let a = ints(g, "axes", &[1]);
    let u = g.op("Unsqueeze", "u", &[&x[0], &a], vec![]);
    let m = g.op("Mul", "m", &[&u, &u], vec![]);
    let a2 = ints(g, "axes2", &[1]);
    let s = g.op("Squeeze", "s", &[&m, &a2], vec![]);
    g.op("Flatten", "f", &[&s], vec![attr::int("axis", 1)])
});
grad_case!(expand, F64, [wrt("x", &[3, 1])], [], |g, x| {
    let s = ints(g, "shape", &[2, 3, 4]);
    g.op("Expand", "e", &[&x[0], &s], vec![])
});
grad_case!(concat, F64, [wrt("a", &[2, 3]), wrt("b", &[2, 1])], [], |g, x| g.op(
    "Concat",
    "c",
    &[&x[0], &x[1], &x[0]],
    vec![attr::int("axis", -1)]
));
grad_case!(slice_middle, F64, [wrt("x", &[3, 6])], [], |g, x| {
    let s = ints(g, "starts", &[1, -4]);
    let e = ints(g, "ends", &[3, 5]);
    let a = ints(g, "axes", &[0, 1]);
    g.op("Slice", "sl", &[&x[0], &s, &e, &a], vec![])
});

// ---- reduce / softmax / norm --------------------------------------------------------------------------------
grad_case!(reduce_sum_keepdims, F64, [wrt("x", &[2, 3, 4])], [], |g, x| {
    let a = ints(g, "axes", &[-1]);
    g.op("ReduceSum", "rs", &[&x[0], &a], vec![])
});
grad_case!(reduce_sum_drop_axes, F64, [wrt("x", &[2, 3, 4])], [], |g, x| {
    let a = ints(g, "axes", &[0, 2]);
    g.op("ReduceSum", "rs", &[&x[0], &a], vec![attr::int("keepdims", 0)])
});
grad_case!(reduce_mean_attr_axes, F64, [wrt("x", &[2, 3, 4])], [], |g, x| g.op(
    "ReduceMean",
    "rm",
    &[&x[0]],
    vec![attr::ints("axes", &[1]), attr::int("keepdims", 0)]
));
grad_case!(softmax_last, F64, [wrt("x", &[2, 3, 5])], [], |g, x| g.op("Softmax", "sm", &[&x[0]], vec![]));
grad_case!(softmax_axis1, F64, [wrt("x", &[2, 3, 5])], [], |g, x| g.op(
    "Softmax",
    "sm",
    &[&x[0]],
    vec![attr::int("axis", 1)]
));
grad_case!(log_softmax, F64, [wrt("x", &[4, 5])], [], |g, x| g.op("LogSoftmax", "lsm", &[&x[0]], vec![]));
grad_case!(layer_norm, F64, [wrt("x", &[2, 3, 6]), wrt("scale", &[6]), wrt("bias", &[6])], [], |g, x| g.op(
    "LayerNormalization",
    "ln",
    &[&x[0], &x[1], &x[2]],
    vec![attr::float("epsilon", 1e-5)]
));
grad_case!(layer_norm_two_axes_no_bias, F64, [wrt("x", &[2, 3, 4]), wrt("scale", &[3, 4])], [], |g, x| g.op(
    "LayerNormalization",
    "ln",
    &[&x[0], &x[1]],
    vec![attr::int("axis", 1), attr::float("epsilon", 1e-3)]
));

// ---- gather / select ---------------------------------------------------------------------------------------
fn ids(shape: &[usize], v: Vec<i64>) -> Val {
    Val::I64(ArrayD::from_shape_vec(IxDyn(shape), v).unwrap())
}
grad_case!(
    gather_embedding_repeated_ids,
    F64,
    [wrt("emb", &[5, 3])],
    [("ids", ids(&[2, 3], vec![1, 4, 1, 0, 1, 4]))],
    |g, x| g.op("Gather", "lookup", &[&x[0], "ids"], vec![])
);
grad_case!(gather_elements, F64, [wrt("x", &[3, 4])], [("idx", ids(&[3, 2], vec![0, 3, 3, 3, 1, 2]))], |g, x| g.op(
    "GatherElements",
    "ge",
    &[&x[0], "idx"],
    vec![attr::int("axis", 1)]
));
grad_case!(
    where_mask,
    F64,
    [wrt("a", &[2, 3]), wrt("b", &[3])],
    [("c", Val::Bool(ArrayD::from_shape_vec(IxDyn(&[2, 3]), vec![true, false, true, false, false, true]).unwrap()))],
    |g, x| g.op("Where", "w", &["c", &x[0], &x[1]], vec![])
);
grad_case!(
    dropout_mask_mul,
    F64,
    [wrt("x", &[2, 4])],
    [("mask", Val::F64(ArrayD::from_shape_vec(IxDyn(&[2, 4]), vec![0., 2., 2., 0., 2., 2., 2., 0.]).unwrap()))],
    |g, x| g.op("Mul", "dropout", &[&x[0], "mask"], vec![])
);

// ---- attention block: scores, mask, softmax, context (fan-out of x through q, k, v) --------------------------
grad_case!(
    attention_block,
    F64,
    [wrt("x", &[2, 3, 4]), wrt("wq", &[4, 4]), wrt("wk", &[4, 4]), wrt("wv", &[4, 4])],
    [("mask", Val::F64(ArrayD::from_shape_vec(IxDyn(&[2, 1, 1, 3]), vec![0., 0., -1e4, 0., -1e4, -1e4]).unwrap()))],
    |g, x| {
        let heads = ints(g, "heads", &[0, 0, 2, 2]);
        let proj = |g: &mut GraphBuilder, w: &str, tag: &str, perm: &[i64]| {
            let p = g.op("MatMul", tag, &[&x[0], w], vec![]);
            let r = g.op("Reshape", &format!("{tag}.heads"), &[&p, &heads], vec![]);
            g.op("Transpose", &format!("{tag}.t"), &[&r], vec![attr::ints("perm", perm)])
        };
        let q = proj(g, &x[1], "q", &[0, 2, 1, 3]);
        let k = proj(g, &x[2], "k", &[0, 2, 3, 1]);
        let v = proj(g, &x[3], "v", &[0, 2, 1, 3]);
        let s = g.op("MatMul", "scores", &[&q, &k], vec![]);
        let scale = nerkit_export::autodiff::constant(g, "scale", 11, &[], &[0.5f64.sqrt()]);
        let ss = g.op("Mul", "scaled", &[&s, &scale], vec![]);
        let sm = g.op("Add", "masked", &[&ss, "mask"], vec![]);
        let p = g.op("Softmax", "probs", &[&sm], vec![attr::int("axis", -1)]);
        g.op("MatMul", "context", &[&p, &v], vec![])
    }
);
