//! int8 quantization of an fp32 graph, [`quantize_int8`]: weights always int8; activations quantized at run
//! time (dynamic: the formulation of ONNX Runtime's `quantize_dynamic`, in standard ops; tract runs the
//! per-tensor variant) or with calibrated static ranges ([`ActivationScale`]):
//!
//! - weight MatMuls `x @ Transpose(W)` (or `x @ W` with W an initializer): W becomes int8 symmetric, per output
//!   channel (default) or per tensor; x is quantized at run time,
//!   `y = MatMulInteger(q(x), W_q, x_zero_point) · x_scale · w_scale`. Activations are quantized per row
//!   (default: one symmetric scale per token, `x_scale = max|x_row| / 127`, per-axis `QuantizeLinear` to uint8
//!   around a fixed zero point 128, `DequantizeLinear` of the int32 product by the row scales), so a token's
//!   result never depends on the other tokens or sequences of the batch — what lets the server batch unrelated
//!   requests without changing any answer — or per tensor (`DynamicQuantizeLinear`, ONNX Runtime's
//!   `quantize_dynamic`; its scale spans the whole batch).
//!   One quantization is shared by all MatMuls reading the same value (query/key/value).
//! - embedding tables read by `Gather`: int8 rows, `Cast(Gather(T_q, ids)) · t_scale` (per hidden column or per
//!   tensor).
//!
//! Weights whose name matches a `keep_fp32` pattern (dotted components: `classifier`, `embeddings`,
//! `layer.5`) are left in fp32. The output of every rewritten node keeps its name, so graph outputs and
//! downstream nodes are untouched.
use std::collections::{BTreeMap, HashMap, HashSet};

use prost::Message;

use crate::builder::{attr, pb, tensor, ElemType};

#[derive(Debug, thiserror::Error)]
pub enum QuantizeError {
    #[error("the model has no graph")]
    NoGraph,
    #[error("initializer {name}: {values} values do not fill dims {dims:?}")]
    BadInitializer { name: String, dims: Vec<i64>, values: usize },
    #[error("static int8: no calibrated range for activation `{0}` (calibrate with the same keep_fp32 patterns)")]
    Uncalibrated(String),
    #[error("static int8: range of `{name}` is not finite: ({min}, {max})")]
    BadRange { name: String, min: f32, max: f32 },
}

/// How activations (the left operands of weight MatMuls) are quantized.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum ActivationScale {
    /// At run time, one symmetric scale per row (token): batch-invariant.
    #[default]
    PerRow,
    /// At run time, one asymmetric scale per tensor (`DynamicQuantizeLinear`): depends on the whole batch.
    PerTensor,
    /// Static: one asymmetric scale and zero point per activation, fixed at export from calibration ranges
    /// ([`QuantizeOptions::ranges`], see [`crate::calibrate`]): batch-invariant, and one fused ONNX Runtime
    /// kernel per MatMul (`QuantizeLinear` + `com.microsoft.MatMulIntegerToFloat`; ONNX Runtime only).
    Static,
}

/// Scale granularity of int8 weights.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum Granularity {
    /// One scale per output channel (MatMul) or hidden column (embedding table).
    #[default]
    PerChannel,
    /// One scale per weight tensor.
    PerTensor,
}

#[derive(Clone, Debug)]
pub struct QuantizeOptions {
    pub granularity: Granularity,
    /// Weight-name patterns kept fp32, matched on dotted components (`classifier`, `embeddings`).
    pub keep_fp32: Vec<String>,
    /// Quantize `Gather` embedding tables too.
    pub embeddings: bool,
    pub activations: ActivationScale,
    /// [`ActivationScale::Static`]: the calibrated (min, max) of each activation, by value name (the names
    /// [`activation_inputs`] lists).
    pub ranges: BTreeMap<String, (f32, f32)>,
    /// [`ActivationScale::Static`] only: weight patterns (as `keep_fp32`) whose MatMuls quantize their input per
    /// row at run time instead — the hybrid that keeps the static graph's speed where its fixed ranges are
    /// harmless and per-token scales where one fixed range costs accuracy (the most sensitive groups).
    pub per_row: Vec<String>,
}

impl Default for QuantizeOptions {
    fn default() -> Self {
        QuantizeOptions {
            granularity: Granularity::PerChannel,
            keep_fp32: vec!["classifier".into()],
            embeddings: true,
            activations: ActivationScale::PerRow,
            ranges: BTreeMap::new(),
            per_row: Vec::new(),
        }
    }
}

/// What [`quantize_int8`] did.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct QuantizeReport {
    /// Quantized weight names (HF keys).
    pub quantized: Vec<String>,
    /// Quantizable weights left fp32 by `keep_fp32`.
    pub kept_fp32: Vec<String>,
    /// Serialized model sizes.
    pub fp32_bytes: usize,
    pub int8_bytes: usize,
}

/// True when `pattern`'s dotted components occur in `name` (`embeddings` matches
/// `bert.embeddings.word_embeddings.weight`, `layer.1` does not match `...layer.10...`).
pub fn matches_pattern(name: &str, pattern: &str) -> bool {
    let pattern = pattern.trim().trim_matches('.');
    !pattern.is_empty() && (name == pattern || format!(".{name}.").contains(&format!(".{pattern}.")))
}

/// Row-major f32 values of an initializer (raw_data or float_data).
pub fn initializer_f32(t: &pb::TensorProto) -> Result<Vec<f32>, QuantizeError> {
    let values: Vec<f32> =
        if !t.raw_data.is_empty() { crate::weights::f32s_from_bytes(&t.raw_data) } else { t.float_data.clone() };
    if values.len() as i64 != t.dims.iter().product::<i64>() {
        return Err(QuantizeError::BadInitializer { name: t.name.clone(), dims: t.dims.clone(), values: values.len() });
    }
    Ok(values)
}

/// Symmetric int8 of a [rows, cols] matrix with scales per column (`per_column`) or one scale.
/// Returns (int8 values, scales); a zero column gets scale 1.
pub fn quantize_symmetric(data: &[f32], rows: usize, cols: usize, per_column: bool) -> (Vec<i8>, Vec<f32>) {
    let n_scales = if per_column { cols } else { 1 };
    let mut max = vec![0f32; n_scales];
    for (i, v) in data.iter().enumerate() {
        let s = if per_column { i % cols } else { 0 };
        max[s] = max[s].max(v.abs());
    }
    let scales: Vec<f32> = max.iter().map(|&m| if m > 0.0 { m / 127.0 } else { 1.0 }).collect();
    let q = data
        .iter()
        .enumerate()
        .map(|(i, v)| (v / scales[if per_column { i % cols } else { 0 }]).round_ties_even().clamp(-127.0, 127.0) as i8)
        .collect();
    debug_assert_eq!(data.len(), rows * cols);
    (q, scales)
}

fn transpose(data: &[f32], rows: usize, cols: usize) -> Vec<f32> {
    let mut out = vec![0f32; data.len()];
    for r in 0..rows {
        for c in 0..cols {
            out[c * rows + r] = data[r * cols + c];
        }
    }
    out
}

fn node(op: &str, name: &str, inputs: &[&str], outputs: &[&str], attrs: Vec<pb::AttributeProto>) -> pb::NodeProto {
    pb::NodeProto {
        op_type: op.into(),
        name: name.into(),
        input: inputs.iter().map(|s| s.to_string()).collect(),
        output: outputs.iter().map(|s| s.to_string()).collect(),
        attribute: attrs,
        ..Default::default()
    }
}

const ROW_EPS: &str = "nerkit.quant.eps";
const ROW_INV127: &str = "nerkit.quant.inv127";
const ROW_START: &str = "nerkit.quant.start";
const ROW_END: &str = "nerkit.quant.end";
const ROW_ZERO: &str = "nerkit.quant.zero_point";

/// The shared constants of per-row quantization.
fn per_row_constants() -> Vec<pb::TensorProto> {
    vec![
        tensor::f32(ROW_EPS, &[], &[1e-8]),
        tensor::f32(ROW_INV127, &[], &[1.0 / 127.0]),
        tensor::i64(ROW_START, &[1], &[0]),
        tensor::i64(ROW_END, &[1], &[-1]),
        tensor::u8(ROW_ZERO, &[], &[128]),
    ]
}

/// Symmetric per-row quantization of `x` [.., K]: `x` as [M, K], `s = max(max|x_row|, eps) / 127` per row,
/// `q = QuantizeLinear(x, s, 128)` per axis 0 (uint8 around the fixed zero point 128). Returns q [M, K], s [M],
/// the zero point for `MatMulInteger` (scalar 128) and the leading shape of `x` (to reshape the product back).
/// Standard ops that ONNX Runtime runs; tract does not take a per-axis `QuantizeLinear`, so it runs `model.onnx`.
fn quantize_per_row(
    x: &str,
    k: usize,
    nodes: &mut Vec<pb::NodeProto>,
    inits: &mut Vec<pb::TensorProto>,
) -> [String; 4] {
    let p = format!("{x}.rowq");
    let name = |s: &str| format!("{p}.{s}");
    inits.push(tensor::i64(&name("shape2d"), &[2], &[-1, k as i64]));
    nodes.push(node("Reshape", &name("x2d"), &[x, &name("shape2d")], &[&name("x2d")], vec![]));
    let rows = || vec![attr::ints("axes", &[1]), attr::int("keepdims", 0)];
    nodes.push(node("ReduceMax", &name("max"), &[&name("x2d")], &[&name("max")], rows()));
    nodes.push(node("ReduceMin", &name("min"), &[&name("x2d")], &[&name("min")], rows()));
    nodes.push(node("Neg", &name("negmin"), &[&name("min")], &[&name("negmin")], vec![]));
    nodes.push(node("Max", &name("amax"), &[&name("max"), &name("negmin")], &[&name("amax")], vec![]));
    nodes.push(node("Max", &name("amax_eps"), &[&name("amax"), ROW_EPS], &[&name("amax_eps")], vec![]));
    nodes.push(node("Mul", &name("scale"), &[&name("amax_eps"), ROW_INV127], &[&name("scale")], vec![]));
    // a [M] zero point of 128s (QuantizeLinear wants one per scale)
    nodes.push(node("Shape", &name("rows"), &[&name("scale")], &[&name("rows")], vec![]));
    let fill = vec![attr::tensor("value", tensor::u8("value", &[1], &[128]))];
    nodes.push(node("ConstantOfShape", &name("zp"), &[&name("rows")], &[&name("zp")], fill));
    let q_in = [name("x2d"), name("scale"), name("zp")];
    let q_in: Vec<&str> = q_in.iter().map(String::as_str).collect();
    nodes.push(node("QuantizeLinear", &name("q"), &q_in, &[&name("q")], vec![attr::int("axis", 0)]));
    nodes.push(node("Shape", &name("shape"), &[x], &[&name("shape")], vec![]));
    nodes.push(node("Slice", &name("lead"), &[&name("shape"), ROW_START, ROW_END], &[&name("lead")], vec![]));
    [name("q"), name("scale"), ROW_ZERO.to_string(), name("lead")]
}

/// A weight found behind a node input: its initializer and whether it is read through `Transpose([1, 0])`.
struct WeightRef<'a> {
    init: &'a pb::TensorProto,
    transposed: bool,
}

/// Finds the nodes the quantizer rewrites: MatMuls whose right operand is a 2-D fp32 initializer (maybe behind
/// `Transpose([1, 0])`), and `Gather`s from such a table (embeddings).
struct Targets<'a> {
    inits: HashMap<&'a str, &'a pb::TensorProto>,
    producer: HashMap<&'a str, &'a pb::NodeProto>,
}

impl<'a> Targets<'a> {
    fn new(graph: &'a pb::GraphProto) -> Self {
        let inits = graph
            .initializer
            .iter()
            .filter(|t| t.data_type == ElemType::F32.onnx() && t.dims.len() == 2)
            .map(|t| (t.name.as_str(), t))
            .collect();
        let producer = graph.node.iter().flat_map(|n| n.output.iter().map(move |o| (o.as_str(), n))).collect();
        Targets { inits, producer }
    }

    fn weight_behind(&self, value: &str) -> Option<WeightRef<'a>> {
        if let Some(init) = self.inits.get(value) {
            return Some(WeightRef { init, transposed: false });
        }
        let n = self.producer.get(value)?;
        let perm = n.attribute.iter().find(|a| a.name == "perm").map(|a| a.ints.clone());
        if n.op_type == "Transpose" && perm.as_deref() == Some(&[1, 0]) {
            return self.inits.get(n.input[0].as_str()).map(|init| WeightRef { init, transposed: true });
        }
        None
    }

    /// The weight `n` reads and whether `n` is an embedding `Gather`; `None` for nodes left alone.
    fn of(&self, n: &pb::NodeProto, opts: &QuantizeOptions) -> Option<(WeightRef<'a>, bool)> {
        match n.op_type.as_str() {
            "MatMul" => self.weight_behind(&n.input[1]).map(|w| (w, false)),
            "Gather" if opts.embeddings => {
                self.inits.get(n.input[0].as_str()).map(|&init| (WeightRef { init, transposed: false }, true))
            }
            _ => None,
        }
    }
}

/// For each MatMul output read only by an `Add` of a 1-D fp32 initializer (the bias of a dense layer), and not a
/// graph output: the Add's output, the bias and its length. A static MatMul takes the bias into its kernel
/// (`MatMulIntegerToFloat`'s `bias` input), which saves one pass over the product (~10 % of the static graph's
/// time on MiniLM, 8 × 128).
fn bias_adds(graph: &pb::GraphProto) -> HashMap<String, (String, String, i64)> {
    let vectors: HashMap<&str, i64> = graph
        .initializer
        .iter()
        .filter(|t| t.data_type == ElemType::F32.onnx() && t.dims.len() == 1)
        .map(|t| (t.name.as_str(), t.dims[0]))
        .collect();
    let mut readers: HashMap<&str, Vec<&pb::NodeProto>> = HashMap::new();
    for n in &graph.node {
        for i in &n.input {
            readers.entry(i.as_str()).or_default().push(n);
        }
    }
    let outputs: HashSet<&str> = graph.output.iter().map(|o| o.name.as_str()).collect();
    graph
        .node
        .iter()
        .filter(|n| n.op_type == "MatMul" && !outputs.contains(n.output[0].as_str()))
        .filter_map(|n| {
            let out = n.output[0].as_str();
            let [add] = readers.get(out)?.as_slice() else { return None };
            if add.op_type != "Add" || add.input.len() != 2 {
                return None;
            }
            let other = if add.input[0] == out { &add.input[1] } else { &add.input[0] };
            let len = *vectors.get(other.as_str())?;
            Some((out.to_string(), (add.output[0].clone(), other.clone(), len)))
        })
        .collect()
}

fn is_kept(name: &str, opts: &QuantizeOptions) -> bool {
    opts.keep_fp32.iter().any(|p| matches_pattern(name, p))
}

/// The activations that [`quantize_int8`] with `opts` quantizes: the left operands of the weight MatMuls it
/// rewrites, in graph order, each once (query, key and value share one). With [`ActivationScale::Static`] each
/// needs a calibrated range.
pub fn activation_inputs(model: &pb::ModelProto, opts: &QuantizeOptions) -> Result<Vec<String>, QuantizeError> {
    let graph = model.graph.as_ref().ok_or(QuantizeError::NoGraph)?;
    let targets = Targets::new(graph);
    let mut seen = HashSet::new();
    let mut out = Vec::new();
    for n in &graph.node {
        if let Some((w, false)) = targets.of(n, opts) {
            if !is_kept(&w.init.name, opts) && seen.insert(n.input[0].clone()) {
                out.push(n.input[0].clone());
            }
        }
    }
    Ok(out)
}

/// uint8 affine parameters (scale, zero point) of a calibrated range, widened to hold 0 exactly.
pub fn affine_u8(min: f32, max: f32) -> (f32, u8) {
    let (lo, hi) = (min.min(0.0), max.max(0.0));
    let scale = if hi > lo { (hi - lo) / 255.0 } else { 1.0 };
    let zp = (-lo / scale).round_ties_even().clamp(0.0, 255.0) as u8;
    (scale, zp)
}

/// Static quantization of `x` with a fixed scale and zero point: `QuantizeLinear(x, s, zp)`. Returns the uint8
/// value, the scale and zero point initializers.
fn quantize_static(
    x: &str,
    range: (f32, f32),
    nodes: &mut Vec<pb::NodeProto>,
    inits: &mut Vec<pb::TensorProto>,
) -> Result<[String; 3], QuantizeError> {
    if !(range.0.is_finite() && range.1.is_finite()) {
        return Err(QuantizeError::BadRange { name: x.to_string(), min: range.0, max: range.1 });
    }
    let (scale, zp) = affine_u8(range.0, range.1);
    let p = format!("{x}.staticq");
    let (s, z, q) = (format!("{p}.scale"), format!("{p}.zero_point"), format!("{p}.q"));
    inits.push(tensor::f32(&s, &[], &[scale]));
    inits.push(tensor::u8(&z, &[], &[zp]));
    nodes.push(node("QuantizeLinear", &q, &[x, &s, &z], &[&q], vec![]));
    Ok([q, s, z])
}

/// ONNX Runtime's contrib-op domain (`MatMulIntegerToFloat`).
const MS_DOMAIN: &str = "com.microsoft";

/// Rewrites `model` with int8 weights and int8 activations — dynamic per row, dynamic per tensor or static
/// calibrated, as `opts.activations` says; see the module docs.
pub fn quantize_int8(
    model: &pb::ModelProto,
    opts: &QuantizeOptions,
) -> Result<(pb::ModelProto, QuantizeReport), QuantizeError> {
    let graph = model.graph.as_ref().ok_or(QuantizeError::NoGraph)?;
    let targets = Targets::new(graph);
    let per_channel = opts.granularity == Granularity::PerChannel;

    let mut report = QuantizeReport { fp32_bytes: model.encoded_len(), ..Default::default() };
    let mut new_nodes = Vec::with_capacity(graph.node.len() * 2);
    let mut new_inits: Vec<pb::TensorProto> = Vec::new();
    let mut quantized_inputs: HashMap<String, [String; 3]> = HashMap::new();
    let mut done: HashSet<String> = HashSet::new();
    let mut row_inputs: HashMap<String, [String; 4]> = HashMap::new();
    new_inits.extend(per_row_constants()); // dropped below when no MatMul reads them
    let mut static_inputs: HashMap<String, [String; 3]> = HashMap::new();
    let biases = bias_adds(graph);
    let mut folded_adds: HashSet<String> = HashSet::new();
    for n in &graph.node {
        if n.op_type == "Add" && folded_adds.contains(&n.output[0]) {
            continue; // its bias went into the MatMul's kernel
        }
        let Some((w, is_gather)) = targets.of(n, opts) else {
            new_nodes.push(n.clone());
            continue;
        };
        let wname = w.init.name.clone();
        if is_kept(&wname, opts) {
            report.kept_fp32.push(wname);
            new_nodes.push(n.clone());
            continue;
        }
        let (r, c) = (w.init.dims[0] as usize, w.init.dims[1] as usize);
        // the MatMul's right operand is [k, nout]
        let (k, nout) = if w.transposed { (c, r) } else { (r, c) };
        let (q_name, s_name) = (format!("{wname}.int8"), format!("{wname}.scale"));
        if done.insert(wname.clone()) {
            let values = initializer_f32(w.init)?;
            // The MatMul right operand is [K, N]; quantize per N (output channel).
            let (mat, rows, cols) = if w.transposed { (transpose(&values, r, c), c, r) } else { (values, r, c) };
            let (q, scales) = quantize_symmetric(&mat, rows, cols, per_channel);
            new_inits.push(tensor::i8(&q_name, &[rows as i64, cols as i64], &q));
            let sdims: &[i64] = if per_channel { &[cols as i64] } else { &[] };
            new_inits.push(tensor::f32(&s_name, sdims, &scales));
            report.quantized.push(wname.clone());
        }
        let out = n.output[0].as_str();
        let cast_to = vec![attr::int("to", ElemType::F32.onnx() as i64)];
        if is_gather {
            let g = format!("{}.int8", n.name);
            let f = format!("{}.dequant", n.name);
            new_nodes.push(node("Gather", &g, &[&q_name, &n.input[1]], &[&g], n.attribute.clone()));
            new_nodes.push(node("Cast", &f, &[&g], &[&f], cast_to));
            new_nodes.push(node("Mul", &n.name, &[&f, &s_name], &[out], vec![]));
            continue;
        }
        let x = n.input[0].clone();
        let activations = match opts.activations {
            ActivationScale::Static if opts.per_row.iter().any(|p| matches_pattern(&wname, p)) => {
                ActivationScale::PerRow
            }
            other => other,
        };
        if activations == ActivationScale::Static {
            // y = MatMulIntegerToFloat(QuantizeLinear(x, s, zp), W_q, s, w_scale, zp): one MLAS kernel
            let [xq, xs, xz] = match static_inputs.get(&x) {
                Some(q) => q.clone(),
                None => {
                    let range = *opts.ranges.get(&x).ok_or_else(|| QuantizeError::Uncalibrated(x.clone()))?;
                    let q = quantize_static(&x, range, &mut new_nodes, &mut new_inits)?;
                    static_inputs.insert(x.clone(), q.clone());
                    q
                }
            };
            let mut inputs = vec![xq.as_str(), &q_name, &xs, &s_name, &xz];
            let mut result = out;
            if let Some((sum, b, _)) = biases.get(out).filter(|(_, _, len)| *len == nout as i64) {
                folded_adds.insert(sum.clone());
                inputs.extend(["", b.as_str()]); // no B zero point; the bias
                result = sum;
            }
            let mut mm = node("MatMulIntegerToFloat", &n.name, &inputs, &[result], vec![]);
            mm.domain = MS_DOMAIN.into();
            new_nodes.push(mm);
            continue;
        }
        if activations == ActivationScale::PerRow {
            // y = reshape(DequantizeLinear(MatMulInteger(q, W_q, 128), s, axis 0) · w_scale)
            let [xq, xs, xz, lead] = row_inputs
                .entry(x.clone())
                .or_insert_with(|| quantize_per_row(&x, k, &mut new_nodes, &mut new_inits))
                .clone();
            let nm = |s: &str| format!("{}.{s}", n.name);
            new_inits.push(tensor::i64(&nm("n"), &[1], &[nout as i64]));
            new_nodes.push(node("MatMulInteger", &nm("int"), &[&xq, &q_name, &xz], &[&nm("int")], vec![]));
            new_nodes.push(node(
                "DequantizeLinear",
                &nm("rows"),
                &[&nm("int"), &xs],
                &[&nm("rows")],
                vec![attr::int("axis", 0)],
            ));
            new_nodes.push(node("Mul", &nm("cols"), &[&nm("rows"), &s_name], &[&nm("cols")], vec![]));
            new_nodes.push(node(
                "Concat",
                &nm("shape"),
                &[&lead, &nm("n")],
                &[&nm("shape")],
                vec![attr::int("axis", 0)],
            ));
            new_nodes.push(node("Reshape", &n.name, &[&nm("cols"), &nm("shape")], &[out], vec![]));
            continue;
        }
        let [xq, xs, xz] = quantized_inputs
            .entry(x.clone())
            .or_insert_with(|| {
                let qn = format!("{x}.quant");
                let outs = [format!("{qn}:0"), format!("{qn}:1"), format!("{qn}:2")];
                new_nodes.push(node("DynamicQuantizeLinear", &qn, &[&x], &[&outs[0], &outs[1], &outs[2]], vec![]));
                outs
            })
            .clone();
        let (mi, mf, sc) = (format!("{}.int", n.name), format!("{}.int.f32", n.name), format!("{}.scale", n.name));
        new_nodes.push(node("MatMulInteger", &mi, &[&xq, &q_name, &xz], &[&mi], vec![]));
        new_nodes.push(node("Cast", &mf, &[&mi], &[&mf], cast_to));
        new_nodes.push(node("Mul", &sc, &[&xs, &s_name], &[&sc], vec![]));
        new_nodes.push(node("Mul", &n.name, &[&mf, &sc], &[out], vec![]));
    }
    // Drop nodes and initializers nothing reads any more (the fp32 weights and their Transposes).
    let outputs: HashSet<&str> = graph.output.iter().map(|o| o.name.as_str()).collect();
    loop {
        let used: HashSet<String> = new_nodes.iter().flat_map(|n| n.input.iter().cloned()).collect();
        let before = new_nodes.len();
        new_nodes.retain(|n| n.output.iter().any(|o| used.contains(o) || outputs.contains(o.as_str())));
        if new_nodes.len() == before {
            break;
        }
    }
    let used: HashSet<&str> = new_nodes.iter().flat_map(|n| n.input.iter().map(|s| s.as_str())).collect();
    let initializer: Vec<pb::TensorProto> =
        graph.initializer.iter().chain(new_inits.iter()).filter(|t| used.contains(t.name.as_str())).cloned().collect();
    let mut out = model.clone();
    let uses_ms = new_nodes.iter().any(|n| n.domain == MS_DOMAIN);
    if uses_ms && !out.opset_import.iter().any(|o| o.domain == MS_DOMAIN) {
        out.opset_import.push(pb::OperatorSetIdProto { domain: MS_DOMAIN.into(), version: 1 });
    }
    out.graph = Some(pb::GraphProto { node: new_nodes, initializer, ..graph.clone() });
    out.metadata_props.push(pb::StringStringEntryProto {
        key: "nerkit.quantization".into(),
        value: format!(
            "int8, weights {:?}, activations {:?}{}, fp32 kept: {:?}",
            opts.granularity,
            opts.activations,
            if opts.per_row.is_empty() { String::new() } else { format!(", per-row: {:?}", opts.per_row) },
            opts.keep_fp32
        ),
    });
    report.int8_bytes = out.encoded_len();
    Ok((out, report))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn patterns_match_dotted_components() {
        assert!(matches_pattern("classifier.weight", "classifier"));
        assert!(matches_pattern("bert.embeddings.word_embeddings.weight", "embeddings"));
        assert!(matches_pattern("bert.encoder.layer.1.output.dense.weight", "layer.1"));
        assert!(!matches_pattern("bert.encoder.layer.10.output.dense.weight", "layer.1"));
        assert!(!matches_pattern("bert.embeddings.word_embeddings.weight", "word"));
        assert!(!matches_pattern("x", ""));
    }

    #[test]
    fn symmetric_quantization_per_column_and_per_tensor() {
        // [[1, -0.5], [-2, 0.25]]: column maxima 2 and 0.5.
        let data = [1.0, -0.5, -2.0, 0.25];
        let (q, s) = quantize_symmetric(&data, 2, 2, true);
        assert_eq!(s, vec![2.0 / 127.0, 0.5 / 127.0]);
        assert_eq!(q, vec![64, -127, -127, 64]); // 63.5 rounds to even 64
        let (q, s) = quantize_symmetric(&data, 2, 2, false);
        assert_eq!(s, vec![2.0 / 127.0]);
        assert_eq!(q, vec![64, -32, -127, 16]);
        let (_, s) = quantize_symmetric(&[0.0, 0.0], 1, 2, true);
        assert_eq!(s, vec![1.0, 1.0], "zero columns keep a finite scale");
    }

    #[test]
    fn dequantized_error_is_within_half_a_step() {
        let data: Vec<f32> = (0..64).map(|i| ((i * 37 % 29) as f32 - 14.0) / 7.0).collect();
        let (q, s) = quantize_symmetric(&data, 8, 8, true);
        for (i, (v, qv)) in data.iter().zip(&q).enumerate() {
            let err = (v - *qv as f32 * s[i % 8]).abs();
            assert!(err <= s[i % 8] / 2.0 + 1e-6, "{i}: {v} vs {qv}");
        }
    }
}
