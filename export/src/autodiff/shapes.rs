//! Static type and shape inference over a forward graph, as much as the gradient rules need.
//!
//! Every value gets an element type (ONNX `DataType` code) and, where it can be derived, a list of dims, each
//! [`SymDim::Known`] (a number), [`SymDim::Sym`] (a named graph-input dim such as `batch`) or
//! [`SymDim::Unknown`]. Small 1-D/scalar integer tensors (initializers, `Constant`, `Shape` and the usual
//! `Gather`/`Concat`/`Unsqueeze`/`Slice` arithmetic on them) are also tracked element-wise, so `Reshape` targets
//! computed in-graph still give dims. Ops without a shape rule leave their outputs without dims; that is only an
//! error if a gradient rule later needs them.
use std::collections::HashMap;

use crate::builder::pb;
use pb::tensor_proto::DataType;

/// One dimension as far as it is known before run time.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SymDim {
    Known(i64),
    Sym(String),
    Unknown,
}

/// What is known about one value.
#[derive(Clone, Debug, Default)]
pub struct ValueFacts {
    /// ONNX `DataType` code; 0 = unknown.
    pub elem: i32,
    /// Dims, when the rank is known.
    pub dims: Option<Vec<SymDim>>,
    /// Element values of a small integer tensor (scalar or 1-D), when tracked.
    pub ints: Option<Vec<SymDim>>,
}

/// Facts for every value of a graph.
#[derive(Clone, Debug, Default)]
pub struct Facts {
    pub values: HashMap<String, ValueFacts>,
}

pub fn is_float(elem: i32) -> bool {
    elem == DataType::Float as i32
        || elem == DataType::Double as i32
        || elem == DataType::Float16 as i32
        || elem == DataType::Bfloat16 as i32
}

fn attr<'a>(node: &'a pb::NodeProto, name: &str) -> Option<&'a pb::AttributeProto> {
    node.attribute.iter().find(|a| a.name == name)
}

pub fn attr_i(node: &pb::NodeProto, name: &str) -> Option<i64> {
    attr(node, name).map(|a| a.i)
}

pub fn attr_f(node: &pb::NodeProto, name: &str) -> Option<f32> {
    attr(node, name).map(|a| a.f)
}

pub fn attr_ints(node: &pb::NodeProto, name: &str) -> Option<Vec<i64>> {
    attr(node, name).map(|a| a.ints.clone())
}

pub fn attr_s(node: &pb::NodeProto, name: &str) -> Option<String> {
    attr(node, name).map(|a| String::from_utf8_lossy(&a.s).into_owned())
}

/// Integer contents of a tensor proto (int64/int32 only), if small.
pub fn tensor_ints(t: &pb::TensorProto) -> Option<Vec<i64>> {
    let n: i64 = t.dims.iter().product();
    if t.dims.len() > 1 || n > 64 {
        return None;
    }
    if t.data_type == DataType::Int64 as i32 {
        if !t.int64_data.is_empty() {
            return Some(t.int64_data.clone());
        }
        return Some(t.raw_data.chunks_exact(8).map(|c| i64::from_le_bytes(c.try_into().unwrap())).collect());
    }
    if t.data_type == DataType::Int32 as i32 {
        if !t.int32_data.is_empty() {
            return Some(t.int32_data.iter().map(|v| *v as i64).collect());
        }
        return Some(t.raw_data.chunks_exact(4).map(|c| i32::from_le_bytes(c.try_into().unwrap()) as i64).collect());
    }
    None
}

fn known(v: &[i64]) -> Vec<SymDim> {
    v.iter().map(|d| SymDim::Known(*d)).collect()
}

fn norm_axis(axis: i64, rank: usize) -> usize {
    if axis < 0 {
        (axis + rank as i64) as usize
    } else {
        axis as usize
    }
}

/// Broadcast of several dim lists (numpy rules). `Known(1)` yields to anything; two different non-1 values
/// give `Unknown`.
pub fn broadcast(all: &[&[SymDim]]) -> Vec<SymDim> {
    let rank = all.iter().map(|d| d.len()).max().unwrap_or(0);
    (0..rank)
        .map(|i| {
            let mut out = SymDim::Known(1);
            for dims in all {
                let lead = rank - dims.len();
                if i < lead {
                    continue;
                }
                let d = &dims[i - lead];
                out = match (&out, d) {
                    (SymDim::Known(1), x) => x.clone(),
                    (x, SymDim::Known(1)) => x.clone(),
                    (SymDim::Known(a), SymDim::Known(b)) if a == b => out.clone(),
                    (SymDim::Sym(a), SymDim::Sym(b)) if a == b => out.clone(),
                    (SymDim::Known(_), _) => out.clone(),
                    (_, SymDim::Known(_)) => d.clone(),
                    _ => SymDim::Unknown,
                };
            }
            out
        })
        .collect()
}

impl Facts {
    pub fn get(&self, v: &str) -> Option<&ValueFacts> {
        self.values.get(v)
    }
    pub fn elem(&self, v: &str) -> i32 {
        self.values.get(v).map(|f| f.elem).unwrap_or(0)
    }
    pub fn dims(&self, v: &str) -> Option<&Vec<SymDim>> {
        self.values.get(v).and_then(|f| f.dims.as_ref())
    }
    pub fn ints(&self, v: &str) -> Option<&Vec<SymDim>> {
        self.values.get(v).and_then(|f| f.ints.as_ref())
    }
    /// Fully known integer values (for `axes`, `perm`-like inputs).
    pub fn known_ints(&self, v: &str) -> Option<Vec<i64>> {
        self.ints(v)?.iter().map(|d| if let SymDim::Known(k) = d { Some(*k) } else { None }).collect()
    }

    /// Infers facts for a whole graph (nodes must be in topological order, as ONNX requires).
    pub fn infer(graph: &pb::GraphProto) -> Facts {
        Self::infer_parts(&graph.initializer, &graph.input, &graph.node)
    }

    /// [`Facts::infer`] over the parts of a graph (e.g. a `GraphBuilder`'s fields).
    pub fn infer_parts(
        initializers: &[pb::TensorProto],
        inputs: &[pb::ValueInfoProto],
        nodes: &[pb::NodeProto],
    ) -> Facts {
        let mut f = Facts::default();
        for t in initializers {
            f.values.insert(
                t.name.clone(),
                ValueFacts { elem: t.data_type, dims: Some(known(&t.dims)), ints: tensor_ints(t).map(|v| known(&v)) },
            );
        }
        for vi in inputs {
            f.values.entry(vi.name.clone()).or_insert_with(|| value_info_facts(vi));
        }
        for n in nodes {
            f.infer_node(n);
        }
        f
    }

    /// Infers and records the outputs of one node.
    pub fn infer_node(&mut self, n: &pb::NodeProto) {
        let outs = self.node_outputs(n);
        for (name, facts) in n.output.iter().zip(outs) {
            if !name.is_empty() {
                self.values.insert(name.clone(), facts);
            }
        }
    }

    fn node_outputs(&self, n: &pb::NodeProto) -> Vec<ValueFacts> {
        let inp =
            |i: usize| -> ValueFacts { n.input.get(i).and_then(|v| self.values.get(v)).cloned().unwrap_or_default() };
        let x = inp(0);
        let same = |dims: Option<Vec<SymDim>>| ValueFacts { elem: x.elem, dims, ints: None };
        let bcast = |elem: i32| {
            let all: Vec<Option<Vec<SymDim>>> = (0..n.input.len()).map(|i| inp(i).dims).collect();
            let dims = if all.iter().all(|d| d.is_some()) {
                let refs: Vec<&[SymDim]> = all.iter().map(|d| d.as_deref().unwrap()).collect();
                Some(broadcast(&refs))
            } else {
                None
            };
            ValueFacts { elem, dims, ints: None }
        };
        let int_arith = |f: fn(i64, i64) -> i64, out: ValueFacts| -> ValueFacts {
            let (a, b) = (inp(0).ints, inp(1).ints);
            let ints = match (a, b) {
                (Some(a), Some(b)) if a.len() == b.len() || a.len() == 1 || b.len() == 1 => {
                    let len = a.len().max(b.len());
                    Some(
                        (0..len)
                            .map(|i| match (&a[i.min(a.len() - 1)], &b[i.min(b.len() - 1)]) {
                                (SymDim::Known(p), SymDim::Known(q)) => SymDim::Known(f(*p, *q)),
                                _ => SymDim::Unknown,
                            })
                            .collect(),
                    )
                }
                _ => None,
            };
            ValueFacts { ints, ..out }
        };
        let bool_t = DataType::Bool as i32;
        let i64_t = DataType::Int64 as i32;
        let out = match n.op_type.as_str() {
            "Add" => int_arith(|a, b| a + b, bcast(x.elem)),
            "Sub" => int_arith(|a, b| a - b, bcast(x.elem)),
            "Mul" => int_arith(|a, b| a * b, bcast(x.elem)),
            "Div" => int_arith(|a, b| if b == 0 { 0 } else { a / b }, bcast(x.elem)),
            "Pow" | "Mod" | "Max" | "Min" | "Sum" | "BitwiseXor" | "BitwiseAnd" | "BitShift" | "PRelu" => bcast(x.elem),
            "Equal" | "Greater" | "Less" | "GreaterOrEqual" | "LessOrEqual" | "And" | "Or" | "Xor" => bcast(bool_t),
            "Where" => {
                let mut v = bcast(inp(1).elem);
                v.elem = inp(1).elem;
                v
            }
            "Neg" | "Sqrt" | "Erf" | "Tanh" | "Exp" | "Log" | "Relu" | "Sigmoid" | "Reciprocal" | "Abs"
            | "Identity" | "Softmax" | "LogSoftmax" | "Not" | "Floor" | "Ceil" | "Sign" | "Dropout" | "Clip"
            | "Cos" | "Sin" | "Round" | "IsNaN" | "IsInf" | "Gelu" | "LeakyRelu" | "Elu" | "Softplus" => {
                ValueFacts { ints: if n.op_type == "Identity" { x.ints.clone() } else { None }, ..same(x.dims.clone()) }
            }
            // nerkit's CPU kernels (`ai.nerkit`), elementwise.
            "SeededDropout" | "ErfGelu" | "ErfGeluGrad" | "MaskedSoftmax" | "SoftmaxGrad" => same(x.dims.clone()),
            "Cast" => {
                ValueFacts { elem: attr_i(n, "to").unwrap_or(0) as i32, dims: x.dims.clone(), ints: x.ints.clone() }
            }
            "CastLike" => ValueFacts { elem: inp(1).elem, dims: x.dims.clone(), ints: x.ints.clone() },
            "MatMul" => same(matmul_dims(x.dims.as_deref(), inp(1).dims.as_deref())),
            "Gemm" => {
                let a = x.dims.clone();
                let b = inp(1).dims;
                let dims = match (a, b) {
                    (Some(a), Some(b)) if a.len() == 2 && b.len() == 2 => {
                        let m = if attr_i(n, "transA") == Some(1) { a[1].clone() } else { a[0].clone() };
                        let nn = if attr_i(n, "transB") == Some(1) { b[0].clone() } else { b[1].clone() };
                        Some(vec![m, nn])
                    }
                    _ => None,
                };
                same(dims)
            }
            "Transpose" => same(x.dims.as_ref().map(|d| {
                let perm = attr_ints(n, "perm").unwrap_or_else(|| (0..d.len() as i64).rev().collect());
                perm.iter().map(|p| d[*p as usize].clone()).collect()
            })),
            "Reshape" => same(self.reshape_dims(x.dims.as_deref(), n.input.get(1).map(|s| s.as_str()))),
            "Flatten" => same(x.dims.as_ref().map(|d| {
                let axis = norm_axis(attr_i(n, "axis").unwrap_or(1), d.len());
                vec![product(&d[..axis]), product(&d[axis..])]
            })),
            "Unsqueeze" => {
                let axes = attr_ints(n, "axes").or_else(|| n.input.get(1).and_then(|a| self.known_ints(a)));
                match (x.dims.clone(), axes) {
                    (Some(d), Some(axes)) => {
                        let r = d.len() + axes.len();
                        let axes: Vec<usize> = axes.iter().map(|a| norm_axis(*a, r)).collect();
                        let mut it = d.into_iter();
                        let dims: Vec<SymDim> = (0..r)
                            .map(|i| {
                                if axes.contains(&i) {
                                    SymDim::Known(1)
                                } else {
                                    it.next().unwrap_or(SymDim::Unknown)
                                }
                            })
                            .collect();
                        ValueFacts { elem: x.elem, dims: Some(dims), ints: x.ints.clone() }
                    }
                    _ => same(None),
                }
            }
            "Squeeze" => {
                let axes = attr_ints(n, "axes").or_else(|| n.input.get(1).and_then(|a| self.known_ints(a)));
                let dims = x.dims.as_ref().map(|d| {
                    let axes: Vec<usize> = match &axes {
                        Some(a) => a.iter().map(|a| norm_axis(*a, d.len())).collect(),
                        None => (0..d.len()).filter(|i| d[*i] == SymDim::Known(1)).collect(),
                    };
                    d.iter().enumerate().filter(|(i, _)| !axes.contains(i)).map(|(_, v)| v.clone()).collect()
                });
                ValueFacts { elem: x.elem, dims, ints: x.ints.clone() }
            }
            "Concat" => {
                let all: Vec<ValueFacts> = (0..n.input.len()).map(inp).collect();
                let dims = if all.iter().all(|v| v.dims.is_some()) {
                    let first = all[0].dims.clone().unwrap();
                    let axis = norm_axis(attr_i(n, "axis").unwrap_or(0), first.len());
                    let mut d = first;
                    d[axis] = sum_dims(all.iter().map(|v| v.dims.as_ref().unwrap()[axis].clone()));
                    Some(d)
                } else {
                    None
                };
                let ints = if all.iter().all(|v| v.ints.is_some()) {
                    Some(all.iter().flat_map(|v| v.ints.clone().unwrap()).collect())
                } else {
                    None
                };
                ValueFacts { elem: x.elem, dims, ints }
            }
            "Slice" => self.slice_facts(n, &x),
            "Gather" => {
                let idx = inp(1);
                let dims = match (&x.dims, &idx.dims) {
                    (Some(d), Some(i)) => {
                        let axis = norm_axis(attr_i(n, "axis").unwrap_or(0), d.len());
                        let mut out = d[..axis].to_vec();
                        out.extend(i.iter().cloned());
                        out.extend(d[axis + 1..].iter().cloned());
                        Some(out)
                    }
                    _ => None,
                };
                let ints = match (&x.ints, self.known_ints(&n.input[1]), &idx.dims) {
                    (Some(vals), Some(ix), Some(idims)) if idims.len() <= 1 => Some(
                        ix.iter()
                            .map(|i| {
                                let i = if *i < 0 { *i + vals.len() as i64 } else { *i };
                                vals.get(i as usize).cloned().unwrap_or(SymDim::Unknown)
                            })
                            .collect(),
                    ),
                    _ => None,
                };
                ValueFacts { elem: x.elem, dims, ints }
            }
            "GatherElements" => ValueFacts { elem: x.elem, dims: inp(1).dims, ints: None },
            "ScatterND" | "ScatterElements" => same(x.dims.clone()),
            "ReduceSum" | "ReduceMean" | "ReduceMax" | "ReduceMin" | "ReduceProd" | "ReduceSumSquare" | "ReduceL2"
            | "ReduceLogSumExp" => {
                let axes = attr_ints(n, "axes").or_else(|| n.input.get(1).and_then(|a| self.known_ints(a)));
                let keep = attr_i(n, "keepdims").unwrap_or(1) == 1;
                let noop = attr_i(n, "noop_with_empty_axes").unwrap_or(0) == 1;
                let dims = x.dims.as_ref().and_then(|d| {
                    let axes: Vec<usize> = match &axes {
                        Some(a) if !a.is_empty() => a.iter().map(|a| norm_axis(*a, d.len())).collect(),
                        _ if n.input.len() > 1 && !n.input[1].is_empty() && axes.is_none() => return None,
                        _ if noop => return Some(d.clone()),
                        _ => (0..d.len()).collect(),
                    };
                    Some(
                        d.iter()
                            .enumerate()
                            .filter_map(|(i, v)| match (axes.contains(&i), keep) {
                                (true, true) => Some(SymDim::Known(1)),
                                (true, false) => None,
                                (false, _) => Some(v.clone()),
                            })
                            .collect(),
                    )
                });
                same(dims)
            }
            "LayerNormalization" => same(x.dims.clone()),
            "Shape" => {
                let ints = x.dims.as_ref().map(|d| {
                    let r = d.len() as i64;
                    let clampi = |v: i64| (if v < 0 { v + r } else { v }).clamp(0, r) as usize;
                    let start = clampi(attr_i(n, "start").unwrap_or(0));
                    let end = clampi(attr_i(n, "end").unwrap_or(r));
                    d[start..end.max(start)].to_vec()
                });
                let len = ints.as_ref().map(|v| v.len() as i64);
                ValueFacts { elem: i64_t, dims: Some(vec![len.map(SymDim::Known).unwrap_or(SymDim::Unknown)]), ints }
            }
            "Size" => ValueFacts { elem: i64_t, dims: Some(vec![]), ints: x.dims.as_ref().map(|d| vec![product(d)]) },
            "Constant" => match n.attribute.iter().find(|a| a.name == "value").and_then(|a| a.t.as_ref()) {
                Some(t) => ValueFacts {
                    elem: t.data_type,
                    dims: Some(known(&t.dims)),
                    ints: tensor_ints(t).map(|v| known(&v)),
                },
                None => ValueFacts::default(),
            },
            "ConstantOfShape" => {
                let elem = n
                    .attribute
                    .iter()
                    .find(|a| a.name == "value")
                    .and_then(|a| a.t.as_ref())
                    .map(|t| t.data_type)
                    .unwrap_or(DataType::Float as i32);
                ValueFacts { elem, dims: x.ints.clone(), ints: None }
            }
            "Expand" => {
                let dims = match (&x.dims, self.ints(&n.input[1])) {
                    (Some(d), Some(s)) => Some(broadcast(&[d, s])),
                    _ => None,
                };
                same(dims)
            }
            "Range" => {
                // Range(0, n, 1) has length n (the usual position-ids pattern).
                let len = match (self.known_ints(&n.input[0]), self.ints(&n.input[1]), self.known_ints(&n.input[2])) {
                    (Some(s), Some(l), Some(d)) if s == [0] && d == [1] && l.len() == 1 => l[0].clone(),
                    _ => SymDim::Unknown,
                };
                ValueFacts { elem: x.elem, dims: Some(vec![len]), ints: None }
            }
            _ => ValueFacts { elem: x.elem, dims: None, ints: None },
        };
        let mut outs = vec![out];
        for _ in 1..n.output.len() {
            outs.push(ValueFacts::default());
        }
        if n.op_type == "LayerNorm" && outs.len() == 3 {
            // nerkit's kernel: y like x; mean and 1/σ like x with a last axis of 1.
            let stats = x.dims.clone().map(|mut d| {
                if let Some(last) = d.last_mut() {
                    *last = SymDim::Known(1);
                }
                d
            });
            outs[0] = same(x.dims.clone());
            outs[1] = ValueFacts { elem: x.elem, dims: stats.clone(), ints: None };
            outs[2] = ValueFacts { elem: x.elem, dims: stats, ints: None };
        }
        if n.op_type == "Dropout" && n.output.len() > 1 {
            outs[1] = ValueFacts { elem: bool_t, dims: x.dims.clone(), ints: None };
        }
        outs
    }

    fn reshape_dims(&self, input: Option<&[SymDim]>, shape: Option<&str>) -> Option<Vec<SymDim>> {
        let target = self.ints(shape?)?.clone();
        let mut out: Vec<SymDim> = target
            .iter()
            .enumerate()
            .map(|(i, d)| match d {
                SymDim::Known(0) => input.and_then(|x| x.get(i).cloned()).unwrap_or(SymDim::Unknown),
                other => other.clone(),
            })
            .collect();
        if let Some(pos) = out.iter().position(|d| *d == SymDim::Known(-1)) {
            let total = input.map(product).unwrap_or(SymDim::Unknown);
            let rest =
                product(&out.iter().enumerate().filter(|(i, _)| *i != pos).map(|(_, d)| d.clone()).collect::<Vec<_>>());
            out[pos] = quotient(&total, &rest);
        }
        Some(out)
    }

    fn slice_facts(&self, n: &pb::NodeProto, x: &ValueFacts) -> ValueFacts {
        let get = |i: usize| n.input.get(i).filter(|s| !s.is_empty()).and_then(|s| self.known_ints(s));
        let (starts, ends) = (get(1), get(2));
        let dims = x.dims.as_ref().map(|d| {
            let mut out = d.clone();
            let axes = get(3).unwrap_or_else(|| (0..starts.as_ref().map(|s| s.len()).unwrap_or(0) as i64).collect());
            for (k, a) in axes.iter().enumerate() {
                let a = norm_axis(*a, d.len());
                out[a] = match (&d[a], &starts, &ends, get(4)) {
                    (SymDim::Known(len), Some(s), Some(e), None) => {
                        let c = |v: i64| (if v < 0 { v + len } else { v }).clamp(0, *len);
                        SymDim::Known((c(e[k]) - c(s[k])).max(0))
                    }
                    _ => SymDim::Unknown,
                };
            }
            out
        });
        let ints = match (&x.ints, &starts, &ends, get(4)) {
            (Some(v), Some(s), Some(e), None) if s.len() == 1 => {
                let len = v.len() as i64;
                let c = |p: i64| (if p < 0 { p + len } else { p }).clamp(0, len) as usize;
                let (a, b) = (c(s[0]), c(e[0]));
                Some(v[a..b.max(a)].to_vec())
            }
            _ => None,
        };
        ValueFacts { elem: x.elem, dims, ints }
    }
}

/// A product of dims as `coef · Π syms` (syms sorted), so `batch·sequence·4 / 4` gives back `batch*sequence`.
#[derive(Clone, Debug, PartialEq)]
struct Monomial {
    coef: i64,
    syms: Vec<String>,
}

impl Monomial {
    fn of(d: &SymDim) -> Option<Monomial> {
        match d {
            SymDim::Known(k) => Some(Monomial { coef: *k, syms: vec![] }),
            SymDim::Sym(s) => {
                let mut m = Monomial { coef: 1, syms: vec![] };
                for part in s.split('*') {
                    match part.parse::<i64>() {
                        Ok(k) => m.coef *= k,
                        Err(_) => m.syms.push(part.to_string()),
                    }
                }
                m.syms.sort();
                Some(m)
            }
            SymDim::Unknown => None,
        }
    }
    fn times(mut self, o: Monomial) -> Monomial {
        self.coef *= o.coef;
        self.syms.extend(o.syms);
        self.syms.sort();
        self
    }
    /// Exact division, if `o` divides `self`.
    fn div(mut self, o: &Monomial) -> Option<Monomial> {
        if o.coef == 0 || self.coef % o.coef != 0 {
            return None;
        }
        self.coef /= o.coef;
        for s in &o.syms {
            let i = self.syms.iter().position(|x| x == s)?;
            self.syms.remove(i);
        }
        Some(self)
    }
    fn dim(self) -> SymDim {
        if self.syms.is_empty() {
            return SymDim::Known(self.coef);
        }
        let mut parts = self.syms;
        if self.coef != 1 {
            parts.insert(0, self.coef.to_string());
        }
        SymDim::Sym(parts.join("*"))
    }
}

fn product(d: &[SymDim]) -> SymDim {
    let mut m = Monomial { coef: 1, syms: vec![] };
    for v in d {
        match Monomial::of(v) {
            Some(x) => m = m.times(x),
            None => return SymDim::Unknown,
        }
    }
    m.dim()
}

fn quotient(total: &SymDim, rest: &SymDim) -> SymDim {
    match (Monomial::of(total), Monomial::of(rest)) {
        (Some(t), Some(r)) => t.div(&r).map(Monomial::dim).unwrap_or(SymDim::Unknown),
        _ => SymDim::Unknown,
    }
}

fn sum_dims(it: impl Iterator<Item = SymDim>) -> SymDim {
    let mut s = 0;
    for d in it {
        match d {
            SymDim::Known(k) => s += k,
            _ => return SymDim::Unknown,
        }
    }
    SymDim::Known(s)
}

fn matmul_dims(a: Option<&[SymDim]>, b: Option<&[SymDim]>) -> Option<Vec<SymDim>> {
    let (a, b) = (a?, b?);
    if a.len() < 2 || b.len() < 2 {
        return None;
    }
    let mut out = broadcast(&[&a[..a.len() - 2], &b[..b.len() - 2]]);
    out.push(a[a.len() - 2].clone());
    out.push(b[b.len() - 1].clone());
    Some(out)
}

/// Facts of a declared graph input.
pub fn value_info_facts(vi: &pb::ValueInfoProto) -> ValueFacts {
    use pb::tensor_shape_proto::dimension::Value;
    match vi.r#type.as_ref().and_then(|t| t.value.as_ref()) {
        Some(pb::type_proto::Value::TensorType(t)) => ValueFacts {
            elem: t.elem_type,
            dims: t.shape.as_ref().map(|s| {
                s.dim
                    .iter()
                    .map(|d| match &d.value {
                        Some(Value::DimValue(v)) => SymDim::Known(*v),
                        Some(Value::DimParam(p)) if !p.is_empty() => SymDim::Sym(p.clone()),
                        _ => SymDim::Unknown,
                    })
                    .collect()
            }),
            ints: None,
        },
        _ => ValueFacts::default(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::builder::{Dim, ElemType, GraphBuilder};

    #[test]
    fn broadcast_prefers_non_one_dims() {
        let a = vec![SymDim::Sym("b".into()), SymDim::Known(1), SymDim::Known(4)];
        let b = vec![SymDim::Known(3), SymDim::Known(1)];
        assert_eq!(broadcast(&[&a, &b]), vec![SymDim::Sym("b".into()), SymDim::Known(3), SymDim::Known(4)]);
    }

    #[test]
    fn reshape_target_from_shape_arithmetic() {
        let mut g = GraphBuilder::new("t");
        let x = g.input("x", ElemType::F32, &[Dim::sym("batch"), Dim::sym("seq"), Dim::Fixed(32)]);
        let s = g.op("Shape", "s", &[&x], vec![]);
        let i01 = g.const_i64("i01", &[2], &[0, 1]);
        let bs = g.op("Gather", "bs", &[&s, &i01], vec![]);
        let heads = g.const_i64("heads", &[2], &[4, 8]);
        let target = g.op("Concat", "target", &[&bs, &heads], vec![crate::builder::attr::int("axis", 0)]);
        let y = g.op("Reshape", "y", &[&x, &target], vec![]);
        let f = Facts::infer(&g.into_graph());
        let d = f.dims(&y).unwrap();
        assert_eq!(
            d,
            &vec![SymDim::Sym("batch".into()), SymDim::Sym("seq".into()), SymDim::Known(4), SymDim::Known(8)]
        );
    }

    #[test]
    fn reshape_minus_one_keeps_symbolic_products() {
        let mut g = GraphBuilder::new("t");
        let x = g.input("x", ElemType::F32, &[Dim::sym("batch"), Dim::sym("seq"), Dim::Fixed(4), Dim::Fixed(8)]);
        let rows = g.const_i64("rows", &[2], &[-1, 16]);
        let y = g.op("Reshape", "y", &[&x, &rows], vec![]);
        let back = g.const_i64("back", &[3], &[0, -1, 32]);
        let z = g.op("Reshape", "z", &[&x, &back], vec![]);
        let f = Facts::infer(&g.into_graph());
        assert_eq!(f.dims(&y).unwrap(), &vec![SymDim::Sym("2*batch*seq".into()), SymDim::Known(16)]);
        let want = vec![SymDim::Sym("batch".into()), SymDim::Sym("seq".into()), SymDim::Known(32)];
        assert_eq!(f.dims(&z).unwrap(), &want);
    }
}
