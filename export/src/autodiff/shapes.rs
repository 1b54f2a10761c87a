//! Static type and shape inference over a forward graph, as much as the gradient rules need.
//!
//! Every value gets an element type (ONNX `DataType` code) and, where it can be derived, a list of dims, each
//! [`SymDim::Known`] (a number), [`SymDim::Sym`] (a named graph-input dim such as `batch`) or
//! [`SymDim::Unknown`]. Small 1-D/scalar integer tensors (initializers, `Constant`, `Shape` and the usual
//! `Gather`/`Concat`/`Unsqueeze`/`Slice` arithmetic on them) are also tracked element-wise, so `Reshape` targets
//! computed in-graph still give dims. Ops without a shape rule leave their outputs without dims; that is only an
//! error if a gradient rule later needs them.
//!
//! This file holds the facts, the graph walk and the dim arithmetic; each op's shape rule is a function in its
//! family's file, next to its gradient rule (`shape_rule` in `elementwise.rs`, `matmul.rs`, ...), looked up
//! in `shape_rule_for`. Integer shape arithmetic without gradients (`Shape`, `Constant`, `Range`, ...)
//! is in `shape.rs`.
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

/// Facts of a constant tensor (an initializer or a `Constant`'s value).
pub(super) fn tensor_facts(t: &pb::TensorProto) -> ValueFacts {
    ValueFacts { elem: t.data_type, dims: Some(known(&t.dims)), ints: tensor_ints(t).map(|v| known(&v)) }
}

fn known(v: &[i64]) -> Vec<SymDim> {
    v.iter().map(|d| SymDim::Known(*d)).collect()
}

/// A possibly negative axis as an index into `rank` dims.
pub(super) fn norm_axis(axis: i64, rank: usize) -> usize {
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
            f.values.insert(t.name.clone(), tensor_facts(t));
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

    /// Facts of every output of `n` (at least one): its op's shape rule, unknown outputs left default.
    fn node_outputs(&self, n: &pb::NodeProto) -> Vec<ValueFacts> {
        let c = ShapeCtx { facts: self, node: n };
        let mut outs = match shape_rule_for(&n.op_type) {
            Some(rule) => rule(&c),
            None => vec![c.same(None)],
        };
        if outs.len() < n.output.len() {
            outs.resize(n.output.len(), ValueFacts::default());
        }
        outs
    }
}

/// A shape rule: the facts of a node's outputs, from the first on (outputs it leaves out stay unknown).
pub(super) type ShapeRule = fn(&ShapeCtx) -> Vec<ValueFacts>;

/// Looks up the shape rule of an ONNX op type; each lives in its family's file, next to the gradient rule.
fn shape_rule_for(op_type: &str) -> Option<ShapeRule> {
    super::elementwise::shape_rule(op_type)
        .or_else(|| super::matmul::shape_rule(op_type))
        .or_else(|| super::shape::shape_rule(op_type))
        .or_else(|| super::reduce::shape_rule(op_type))
        .or_else(|| super::softmax::shape_rule(op_type))
        .or_else(|| super::norm::shape_rule(op_type))
        .or_else(|| super::gather::shape_rule(op_type))
        .or_else(|| super::select::shape_rule(op_type))
}

/// What a shape rule sees: the facts inferred so far and the node.
pub(super) struct ShapeCtx<'a> {
    pub facts: &'a Facts,
    pub node: &'a pb::NodeProto,
}

impl ShapeCtx<'_> {
    /// Facts of input `i` (default when absent or unknown).
    pub fn input(&self, i: usize) -> ValueFacts {
        self.node.input.get(i).and_then(|v| self.facts.values.get(v)).cloned().unwrap_or_default()
    }

    /// Facts with input 0's element type, the given dims and no tracked ints.
    pub fn same(&self, dims: Option<Vec<SymDim>>) -> ValueFacts {
        ValueFacts { elem: self.input(0).elem, dims, ints: None }
    }

    /// Facts of element type `elem` with the broadcast dims of all inputs (none if one input's are unknown).
    pub fn broadcast_inputs(&self, elem: i32) -> ValueFacts {
        let all: Vec<Option<Vec<SymDim>>> = (0..self.node.input.len()).map(|i| self.input(i).dims).collect();
        let dims = if all.iter().all(|d| d.is_some()) {
            let refs: Vec<&[SymDim]> = all.iter().map(|d| d.as_deref().unwrap()).collect();
            Some(broadcast(&refs))
        } else {
            None
        };
        ValueFacts { elem, dims, ints: None }
    }

    /// The `axes` attribute, else the known values of input 1 (opset-13+ form).
    pub fn axes(&self) -> Option<Vec<i64>> {
        attr_ints(self.node, "axes").or_else(|| self.node.input.get(1).and_then(|a| self.facts.known_ints(a)))
    }
}

/// Shape rule of ops whose single output is shaped like input 0 (ints not tracked).
pub(super) fn like_input(c: &ShapeCtx) -> Vec<ValueFacts> {
    vec![c.same(c.input(0).dims)]
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

/// Product of dims (symbolic where needed; unknown if one is).
pub(super) fn product(d: &[SymDim]) -> SymDim {
    let mut m = Monomial { coef: 1, syms: vec![] };
    for v in d {
        match Monomial::of(v) {
            Some(x) => m = m.times(x),
            None => return SymDim::Unknown,
        }
    }
    m.dim()
}

/// `total / rest` when it divides exactly, else unknown.
pub(super) fn quotient(total: &SymDim, rest: &SymDim) -> SymDim {
    match (Monomial::of(total), Monomial::of(rest)) {
        (Some(t), Some(r)) => t.div(&r).map(Monomial::dim).unwrap_or(SymDim::Unknown),
        _ => SymDim::Unknown,
    }
}

/// Sum of dims, when all are known.
pub(super) fn sum_dims(it: impl Iterator<Item = SymDim>) -> SymDim {
    let mut s = 0;
    for d in it {
        match d {
            SymDim::Known(k) => s += k,
            _ => return SymDim::Unknown,
        }
    }
    SymDim::Known(s)
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
