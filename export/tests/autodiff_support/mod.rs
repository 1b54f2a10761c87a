//! Shared test support: ORT (CPU, library from `ORT_DYLIB_PATH`) and tract runners over `ndarray` values, and a
//! finite-difference gradient checker for the autodiff rules.
#![allow(dead_code)]
use std::borrow::Cow;
use std::collections::HashMap;
use std::sync::OnceLock;

use ndarray::{ArrayD, Dimension, IxDyn};
use nerkit_export::autodiff::backward;
use nerkit_export::builder::{pb, GraphBuilder};
use ort::session::{Session, SessionInputValue};
use ort::value::Tensor;
use rand::{rngs::StdRng, Rng, SeedableRng};

pub const F32: i32 = 1;
pub const I64: i32 = 7;
pub const BOOL: i32 = 9;
pub const F64: i32 = 11;

/// A host tensor of one of the element types the tests use.
#[derive(Clone, Debug)]
pub enum Val {
    F32(ArrayD<f32>),
    F64(ArrayD<f64>),
    I64(ArrayD<i64>),
    Bool(ArrayD<bool>),
}

impl Val {
    pub fn elem(&self) -> i32 {
        match self {
            Val::F32(_) => F32,
            Val::F64(_) => F64,
            Val::I64(_) => I64,
            Val::Bool(_) => BOOL,
        }
    }
    pub fn shape(&self) -> Vec<usize> {
        match self {
            Val::F32(a) => a.shape().to_vec(),
            Val::F64(a) => a.shape().to_vec(),
            Val::I64(a) => a.shape().to_vec(),
            Val::Bool(a) => a.shape().to_vec(),
        }
    }
    /// A float tensor of `elem` type from f64 data.
    pub fn float(elem: i32, shape: &[usize], data: Vec<f64>) -> Val {
        let a = ArrayD::from_shape_vec(IxDyn(shape), data).unwrap();
        if elem == F64 {
            Val::F64(a)
        } else {
            Val::F32(a.mapv(|v| v as f32))
        }
    }
    pub fn to_f64(&self) -> ArrayD<f64> {
        match self {
            Val::F32(a) => a.mapv(|v| v as f64),
            Val::F64(a) => a.clone(),
            Val::I64(a) => a.mapv(|v| v as f64),
            Val::Bool(a) => a.mapv(|v| v as u8 as f64),
        }
    }
}

/// Graph input/output declaration with an explicit element type (the builder's `ElemType` has no f64).
pub fn value_info(name: &str, elem: i32, shape: Option<&[usize]>) -> pb::ValueInfoProto {
    use pb::tensor_shape_proto::{dimension::Value, Dimension};
    let shape = shape.map(|s| pb::TensorShapeProto {
        dim: s.iter().map(|d| Dimension { value: Some(Value::DimValue(*d as i64)), ..Default::default() }).collect(),
    });
    pb::ValueInfoProto {
        name: name.to_string(),
        r#type: Some(pb::TypeProto {
            value: Some(pb::type_proto::Value::TensorType(pb::type_proto::Tensor { elem_type: elem, shape })),
            ..Default::default()
        }),
        ..Default::default()
    }
}

pub fn env() -> &'static ort::environment::Environment {
    static ENV: OnceLock<ort::environment::Environment> = OnceLock::new();
    ENV.get_or_init(|| {
        let path = std::env::var("ORT_DYLIB_PATH").expect("set ORT_DYLIB_PATH to libonnxruntime.so");
        ort::init_from(path).expect("load onnxruntime").with_name("nerkit-tests").build().expect("ort environment")
    })
}

/// An ORT CPU session (1 thread, all graph optimisations) over an in-memory model.
pub fn ort_session(model: &pb::ModelProto) -> Session {
    ort_session_with_threads(model, 1)
}

/// An ORT CPU session with `threads` intra-op threads (multi-threaded kernels take other code paths).
#[allow(dead_code)]
pub fn ort_session_with_threads(model: &pb::ModelProto, threads: usize) -> Session {
    let bytes = nerkit_export::builder::model_bytes(model);
    Session::builder(env())
        .unwrap()
        .with_intra_threads(threads)
        .unwrap()
        .commit_from_memory(&bytes)
        .unwrap_or_else(|e| panic!("ORT rejected the model: {e}"))
}

/// Runs an ORT session; returns the named outputs.
pub fn ort_run(sess: &mut Session, inputs: &[(String, Val)], outputs: &[&str]) -> Vec<Val> {
    let feed: Vec<(Cow<str>, SessionInputValue)> = inputs
        .iter()
        .map(|(n, v)| {
            let value: SessionInputValue = match v {
                Val::F32(a) => Tensor::from_array(a.clone()).unwrap().into(),
                Val::F64(a) => Tensor::from_array(a.clone()).unwrap().into(),
                Val::I64(a) => Tensor::from_array(a.clone()).unwrap().into(),
                Val::Bool(a) => Tensor::from_array(a.clone()).unwrap().into(),
            };
            (Cow::Owned(n.clone()), value)
        })
        .collect();
    let out = sess.run(feed).unwrap_or_else(|e| panic!("ORT run failed: {e}"));
    outputs
        .iter()
        .map(|name| {
            let v = &out[*name];
            if let Ok(a) = v.try_extract_array::<f32>() {
                Val::F32(a.to_owned())
            } else if let Ok(a) = v.try_extract_array::<f64>() {
                Val::F64(a.to_owned())
            } else if let Ok(a) = v.try_extract_array::<i64>() {
                Val::I64(a.to_owned())
            } else {
                Val::Bool(v.try_extract_array::<bool>().expect("f32/f64/i64/bool output").to_owned())
            }
        })
        .collect()
}

/// Runs a model once on tract (optimised plan); returns all outputs in graph order.
pub fn tract_run(model: &pb::ModelProto, inputs: &[(String, Val)]) -> Vec<Val> {
    tract_run_with(model, inputs, true)
}

/// Runs a model once on tract; `optimize = false` runs the typed model without the declutter/optimisation
/// passes. Returns all outputs in graph order.
pub fn tract_run_with(model: &pb::ModelProto, inputs: &[(String, Val)], optimize: bool) -> Vec<Val> {
    use tract_onnx::prelude::*;
    let graph = model.graph.as_ref().unwrap();
    let by_name: HashMap<&str, &Val> = inputs.iter().map(|(n, v)| (n.as_str(), v)).collect();
    let mut m = tract_onnx::onnx().model_for_proto_model(model).expect("tract parse");
    for (i, vi) in graph.input.iter().enumerate() {
        let v = by_name[vi.name.as_str()];
        let dt = match v {
            Val::F32(_) => f32::datum_type(),
            Val::F64(_) => f64::datum_type(),
            Val::I64(_) => i64::datum_type(),
            Val::Bool(_) => bool::datum_type(),
        };
        m.set_input_fact(i, InferenceFact::dt_shape(dt, v.shape())).unwrap();
    }
    let plan = if optimize {
        m.into_optimized().expect("tract optimise").into_runnable().expect("tract plan")
    } else {
        m.into_typed().expect("tract typing").into_runnable().expect("tract plan")
    };
    let feed: TVec<TValue> = graph
        .input
        .iter()
        .map(|vi| {
            let t: Tensor = match by_name[vi.name.as_str()] {
                Val::F32(a) => a.clone().into(),
                Val::F64(a) => a.clone().into(),
                Val::I64(a) => a.clone().into(),
                Val::Bool(a) => a.clone().into(),
            };
            t.into()
        })
        .collect();
    let out = plan.run(feed).expect("tract run");
    out.iter()
        .map(|t| {
            if let Ok(a) = t.to_plain_array_view::<f32>() {
                Val::F32(a.to_owned())
            } else if let Ok(a) = t.to_plain_array_view::<f64>() {
                Val::F64(a.to_owned())
            } else if let Ok(a) = t.to_plain_array_view::<i64>() {
                Val::I64(a.to_owned())
            } else {
                Val::Bool(t.to_plain_array_view::<bool>().expect("f32/f64/i64/bool").to_owned())
            }
        })
        .collect()
}

/// A differentiable input of a gradient check: name, shape and the uniform range its values are drawn from.
pub struct Wrt<'a> {
    pub name: &'a str,
    pub shape: &'a [usize],
    pub lo: f64,
    pub hi: f64,
}

pub fn wrt<'a>(name: &'a str, shape: &'a [usize]) -> Wrt<'a> {
    Wrt { name, shape, lo: -1.0, hi: 1.0 }
}

pub fn wrt_in<'a>(name: &'a str, shape: &'a [usize], lo: f64, hi: f64) -> Wrt<'a> {
    Wrt { name, shape, lo, hi }
}

/// Outcome of a gradient check: the worst absolute and relative deviations from finite differences.
#[derive(Debug)]
pub struct Report {
    pub max_abs: f64,
    pub max_rel: f64,
    pub checked: usize,
}

/// Finite-difference check of the gradient rules used by `build`.
///
/// `build` receives the builder and the names of the differentiable inputs (already declared with element
/// type `elem`), may declare further inputs listed in `extra`, and returns the value `y` to test. The
/// checker differentiates `L = Σ y·r` (r random, fixed) and compares every element of `dL/dx` with a
/// central difference `(L(x+ε) - L(x-ε)) / 2ε` computed by ORT. Also checks that tract computes the same
/// analytic gradients. Panics with details if any element is off by more than `atol + rtol·|fd|`.
pub fn check_grad(
    elem: i32,
    wrts: &[Wrt],
    extra: &[(&str, Val)],
    build: impl FnOnce(&mut GraphBuilder, &[String]) -> String,
) -> Report {
    let (eps, atol, rtol) = if elem == F64 { (1e-6, 1e-7, 1e-6) } else { (1e-2, 2e-3, 2e-2) };
    let mut rng = StdRng::seed_from_u64(0x5eed);
    let mut g = GraphBuilder::new("grad_check");
    let mut feed: Vec<(String, Val)> = vec![];
    let names: Vec<String> = wrts.iter().map(|w| w.name.to_string()).collect();
    for w in wrts {
        g.inputs.push(value_info(w.name, elem, Some(w.shape)));
        let n: usize = w.shape.iter().product();
        let data: Vec<f64> = (0..n).map(|_| rng.random_range(w.lo..w.hi)).collect();
        feed.push((w.name.to_string(), Val::float(elem, w.shape, data)));
    }
    for (name, v) in extra {
        g.inputs.push(value_info(name, v.elem(), Some(&v.shape())));
        feed.push((name.to_string(), v.clone()));
    }
    let y = build(&mut g, &names);

    // Shape of y, from one forward run.
    let mut fwd = g.clone();
    fwd.outputs.push(value_info(&y, elem, None));
    let y_val = ort_run(&mut ort_session(&fwd.into_model(17, &[])), &feed, &[&y]).remove(0);
    let ys = y_val.shape();
    let n: usize = ys.iter().product();
    let r: Vec<f64> = (0..n).map(|_| rng.random_range(-1.0..1.0)).collect();
    g.inputs.push(value_info("r", elem, Some(&ys)));
    feed.push(("r".into(), Val::float(elem, &ys, r)));
    let yr = g.op("Mul", "y_r", &[&y, "r"], vec![]);
    let loss = g.op("ReduceSum", "loss", &[&yr], vec![nerkit_export::builder::attr::int("keepdims", 0)]);
    let grads = backward(&mut g, &loss, &names).unwrap_or_else(|e| panic!("backward: {e}"));
    g.outputs.push(value_info(&loss, elem, None));
    let mut outs = vec![loss.clone()];
    for nm in &names {
        let gv = grads.get(nm).unwrap_or_else(|| panic!("no gradient for {nm}"));
        g.outputs.push(value_info(gv, elem, None));
        outs.push(gv.clone());
    }
    let model = g.into_model(17, &[]);
    let mut sess = ort_session(&model);
    let out_refs: Vec<&str> = outs.iter().map(|s| s.as_str()).collect();
    let analytic = ort_run(&mut sess, &feed, &out_refs);

    // tract computes the same analytic gradients.
    let tract_out = tract_run(&model, &feed);
    for (k, (a, t)) in analytic.iter().zip(&tract_out).enumerate() {
        let (a, t) = (a.to_f64(), t.to_f64());
        assert_eq!(a.shape(), t.shape(), "tract output {} shape", outs[k]);
        let scale = a.iter().fold(1.0f64, |m, v| m.max(v.abs()));
        let worst = a.iter().zip(t.iter()).fold(0.0f64, |m, (x, y)| m.max((x - y).abs()));
        // tract computes some f64 ops (LayerNormalization's statistics) in f32.
        let tol = if elem == F64 { 1e-6 } else { 1e-4 };
        assert!(worst <= tol * scale, "tract vs ORT on {}: max diff {worst:e}", outs[k]);
    }

    let mut report = Report { max_abs: 0.0, max_rel: 0.0, checked: 0 };
    for (k, nm) in names.iter().enumerate() {
        let base = feed.iter().position(|(n, _)| n == nm).unwrap();
        let x0 = feed[base].1.to_f64();
        let ga = analytic[k + 1].to_f64();
        assert_eq!(ga.shape(), x0.shape(), "gradient of {nm} has the wrong shape");
        for (idx, g_an) in ga.indexed_iter() {
            let mut eval = |delta: f64| {
                let mut x = x0.clone();
                x[&idx] += delta;
                let mut f = feed.clone();
                f[base].1 = Val::float(elem, x.shape(), x.iter().cloned().collect());
                ort_run(&mut sess, &f, &[&loss]).remove(0).to_f64().iter().next().copied().unwrap()
            };
            let fd = (eval(eps) - eval(-eps)) / (2.0 * eps);
            let err = (g_an - fd).abs();
            assert!(
                err <= atol + rtol * fd.abs(),
                "d loss / d {nm}{:?}: analytic {g_an} vs finite difference {fd} (err {err:e})",
                idx.slice()
            );
            report.max_abs = report.max_abs.max(err);
            report.max_rel = report.max_rel.max(err / fd.abs().max(1e-12));
            report.checked += 1;
        }
    }
    report
}
