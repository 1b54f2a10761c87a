//! Value fingerprints for comparing two engines node by node (ORT CPU vs the CUDA execution provider, ORT vs
//! tract): every node output gets a scalar graph output `fp.<n>` = Σx² (computed in f32 after a Cast), so one
//! run per engine yields a fingerprint of every intermediate value. [`origins`] then names the nodes whose
//! outputs disagree although all their inputs agree: the ops the two engines compute differently.
//!
//! Extra consumers can stop an engine from fusing nodes, so a discrepancy seen only in the plain graph may
//! live in a fused kernel; compare the plain graph's outputs too.
use std::collections::HashMap;

use crate::builder::{attr, pb, ElemType};

/// One fingerprinted value.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Probe {
    /// Index of the producing node in the graph.
    pub node: usize,
    pub op: String,
    /// The fingerprinted value's name.
    pub value: String,
    /// The graph output holding its fingerprint.
    pub output: String,
}

/// Adds a fingerprint output for every node output of `model`; returns the probes in node order.
pub fn add_fingerprints(model: &mut pb::ModelProto) -> Vec<Probe> {
    let graph = model.graph.as_mut().expect("model has a graph");
    let mut probes = Vec::new();
    let mut extra_nodes = Vec::new();
    for (i, node) in graph.node.iter().enumerate() {
        for value in node.output.iter().filter(|v| !v.is_empty()) {
            let n = probes.len();
            let cast = format!("fp.{n}.cast");
            let output = format!("fp.{n}");
            extra_nodes.push(pb::NodeProto {
                input: vec![value.clone()],
                output: vec![cast.clone()],
                name: cast.clone(),
                op_type: "Cast".into(),
                attribute: vec![attr::int("to", ElemType::F32.onnx() as i64)],
                ..Default::default()
            });
            extra_nodes.push(pb::NodeProto {
                input: vec![cast],
                output: vec![output.clone()],
                name: output.clone(),
                op_type: "ReduceSumSquare".into(),
                attribute: vec![attr::int("keepdims", 0)],
                ..Default::default()
            });
            graph.output.push(scalar_f32_info(&output));
            probes.push(Probe { node: i, op: node.op_type.clone(), value: value.clone(), output });
        }
    }
    graph.node.extend(extra_nodes);
    probes
}

fn scalar_f32_info(name: &str) -> pb::ValueInfoProto {
    pb::ValueInfoProto {
        name: name.to_string(),
        r#type: Some(pb::TypeProto {
            value: Some(pb::type_proto::Value::TensorType(pb::type_proto::Tensor {
                elem_type: ElemType::F32.onnx(),
                shape: Some(pb::TensorShapeProto { dim: vec![] }),
            })),
            ..Default::default()
        }),
        ..Default::default()
    }
}

/// Relative difference of two fingerprints (0 when both are equal, including both infinite or both NaN).
pub fn relative_difference(a: f32, b: f32) -> f64 {
    let (a, b) = (a as f64, b as f64);
    if a == b || (a.is_nan() && b.is_nan()) {
        return 0.0;
    }
    if !a.is_finite() || !b.is_finite() {
        return f64::INFINITY;
    }
    (a - b).abs() / a.abs().max(b.abs()).max(1e-30)
}

/// A value that differs between the two engines although every input of its node agrees.
#[derive(Clone, Debug, PartialEq)]
pub struct Origin {
    pub probe: usize,
    pub relative_difference: f64,
}

/// Probes whose fingerprints differ by more than `tolerance` (relative) while all inputs of their node agree
/// (graph inputs and initializers count as agreeing). `a` and `b` hold the fingerprints in probe order.
pub fn origins(model: &pb::ModelProto, probes: &[Probe], a: &[f32], b: &[f32], tolerance: f64) -> Vec<Origin> {
    let graph = model.graph.as_ref().expect("model has a graph");
    let differs: HashMap<&str, f64> =
        probes.iter().zip(a.iter().zip(b)).map(|(p, (&x, &y))| (p.value.as_str(), relative_difference(x, y))).collect();
    probes
        .iter()
        .enumerate()
        .filter_map(|(i, p)| {
            let d = differs[p.value.as_str()];
            let inputs_agree =
                graph.node[p.node].input.iter().all(|v| differs.get(v.as_str()).is_none_or(|&dv| dv <= tolerance));
            (d > tolerance && inputs_agree).then_some(Origin { probe: i, relative_difference: d })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::builder::{Dim, GraphBuilder};

    fn tiny() -> pb::ModelProto {
        let mut g = GraphBuilder::new("t");
        let x = g.input("x", ElemType::F32, &[Dim::Fixed(2)]);
        let y = g.op("Relu", "relu", &[&x], vec![]);
        let z = g.op("Neg", "neg", &[&y], vec![]);
        let idx = g.op("Shape", "shape", &[&z], vec![]);
        g.output(&z, ElemType::F32, &[Dim::Fixed(2)]);
        g.output(&idx, ElemType::I64, &[Dim::Fixed(1)]);
        g.into_model(17, &[])
    }

    #[test]
    fn every_node_output_gets_one_scalar_output() {
        let mut m = tiny();
        let probes = add_fingerprints(&mut m);
        assert_eq!(probes.iter().map(|p| p.op.as_str()).collect::<Vec<_>>(), ["Relu", "Neg", "Shape"]);
        let g = m.graph.as_ref().unwrap();
        assert_eq!(g.output.len(), 2 + 3);
        assert_eq!(g.node.len(), 3 + 6);
        assert!(probes.iter().all(|p| g.output.iter().any(|o| o.name == p.output)));
    }

    #[test]
    fn origins_name_the_first_disagreeing_node_only() {
        let mut m = tiny();
        let probes = add_fingerprints(&mut m);
        // Relu agrees, Neg differs, Shape (fed by Neg) differs too but is downstream.
        let a = [4.0, 4.0, 1.0];
        let b = [4.0, 5.0, 2.0];
        let o = origins(&m, &probes, &a, &b, 1e-3);
        assert_eq!(o.len(), 1);
        assert_eq!(probes[o[0].probe].op, "Neg");
        assert!((o[0].relative_difference - 0.2).abs() < 1e-12);
        assert!(origins(&m, &probes, &a, &a, 1e-3).is_empty());
    }

    #[test]
    fn relative_difference_handles_non_finite_values() {
        assert_eq!(relative_difference(f32::INFINITY, f32::INFINITY), 0.0);
        assert_eq!(relative_difference(f32::NAN, f32::NAN), 0.0);
        assert_eq!(relative_difference(1.0, f32::NAN), f64::INFINITY);
        assert_eq!(relative_difference(0.0, 0.0), 0.0);
    }
}
