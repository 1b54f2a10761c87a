//! The fp16 variant of an inference graph (`model.fp16.onnx`), for GPUs: every float initializer, constant,
//! cast and float-typed value becomes float16, while the interface stays the same — integer inputs unchanged,
//! float inputs cast down on entry and float outputs cast back to float32, so a caller cannot tell the
//! variants apart except by speed and the last digits of the logits.
//!
//! Values beyond fp16's range saturate to ±65504 instead of overflowing to infinity: the attention mask's
//! "minus infinity" is `f32::MIN`, and as fp16 `-inf` the mask's `(1 - mask) × min` would make `0 × -inf = NaN`
//! on every real token (Hugging Face uses `torch.finfo(float16).min` for the same reason).
use half::f16;

use crate::builder::pb::{self, tensor_proto::DataType, type_proto};

/// Metadata key the converted model carries (`"fp16"`).
pub const PRECISION_KEY: &str = "nerkit.precision";

/// What [`to_fp16`] changed.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct HalfReport {
    /// Float initializers and constants converted.
    pub tensors: usize,
    /// Elements whose magnitude exceeded fp16's largest finite value and were saturated to it.
    pub saturated: usize,
    /// Float outputs given a cast back to float32.
    pub outputs: usize,
}

/// Converts a float32 inference model to float16 (see the module docs).
pub fn to_fp16(model: &pb::ModelProto) -> (pb::ModelProto, HalfReport) {
    let mut model = model.clone();
    let mut report = HalfReport::default();
    let Some(graph) = model.graph.as_mut() else { return (model, report) };
    for t in &mut graph.initializer {
        convert_tensor(t, &mut report);
    }
    for node in &mut graph.node {
        for a in &mut node.attribute {
            if let Some(t) = a.t.as_mut() {
                convert_tensor(t, &mut report);
            }
            if node.op_type == "Cast" && a.name == "to" && a.i == DataType::Float as i32 as i64 {
                a.i = DataType::Float16 as i32 as i64;
            }
        }
    }
    for vi in &mut graph.value_info {
        retype(vi, DataType::Float16);
    }
    // Float inputs: consumers read a float16 copy.
    let float_inputs: Vec<String> = graph.input.iter().filter(|v| is_float(v)).map(|v| v.name.clone()).collect();
    for name in float_inputs {
        let inner = format!("{name}.fp16");
        rename_uses(graph, &name, &inner);
        graph.node.insert(0, cast(&name, &inner, DataType::Float16));
    }
    // Float outputs: the graph computes `name.fp16`, a last Cast writes `name` in float32.
    let float_outputs: Vec<String> = graph.output.iter().filter(|v| is_float(v)).map(|v| v.name.clone()).collect();
    for name in float_outputs {
        let inner = format!("{name}.fp16");
        for node in &mut graph.node {
            for o in node.output.iter_mut().filter(|o| **o == name) {
                o.clone_from(&inner);
            }
        }
        rename_uses(graph, &name, &inner);
        graph.node.push(cast(&inner, &name, DataType::Float));
        report.outputs += 1;
    }
    model.metadata_props.retain(|p| p.key != PRECISION_KEY);
    model.metadata_props.push(pb::StringStringEntryProto { key: PRECISION_KEY.into(), value: "fp16".into() });
    (model, report)
}

fn is_float(v: &pb::ValueInfoProto) -> bool {
    elem_type(v) == Some(DataType::Float as i32)
}

fn elem_type(v: &pb::ValueInfoProto) -> Option<i32> {
    match v.r#type.as_ref()?.value.as_ref()? {
        type_proto::Value::TensorType(t) => Some(t.elem_type),
    }
}

fn retype(v: &mut pb::ValueInfoProto, to: DataType) {
    if let Some(type_proto::Value::TensorType(t)) = v.r#type.as_mut().and_then(|t| t.value.as_mut()) {
        if t.elem_type == DataType::Float as i32 {
            t.elem_type = to as i32;
        }
    }
}

/// Every node input named `from` reads `to` instead.
fn rename_uses(graph: &mut pb::GraphProto, from: &str, to: &str) {
    for node in &mut graph.node {
        for i in node.input.iter_mut().filter(|i| *i == from) {
            *i = to.to_string();
        }
    }
}

fn cast(input: &str, output: &str, to: DataType) -> pb::NodeProto {
    pb::NodeProto {
        name: format!("{output}.cast"),
        op_type: "Cast".into(),
        input: vec![input.into()],
        output: vec![output.into()],
        attribute: vec![crate::builder::attr::int("to", to as i32 as i64)],
        ..Default::default()
    }
}

/// A float32 tensor (raw or `float_data`) becomes float16 in `raw_data`; other tensors are left alone.
fn convert_tensor(t: &mut pb::TensorProto, report: &mut HalfReport) {
    if t.data_type != DataType::Float as i32 {
        return;
    }
    let values: Vec<f32> = if t.raw_data.is_empty() {
        std::mem::take(&mut t.float_data)
    } else {
        t.raw_data.chunks_exact(4).map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]])).collect()
    };
    let max = f16::MAX.to_f32();
    let mut raw = Vec::with_capacity(values.len() * 2);
    for v in values {
        let clamped = if v.is_finite() && v.abs() > max {
            report.saturated += 1;
            v.signum() * max
        } else {
            v
        };
        raw.extend_from_slice(&f16::from_f32(clamped).to_le_bytes());
    }
    t.raw_data = raw;
    t.float_data.clear();
    t.data_type = DataType::Float16 as i32;
    report.tensors += 1;
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::builder::{tensor, Dim, ElemType, GraphBuilder};

    /// y = (x + c) * big, with `big` beyond fp16's range.
    fn tiny() -> pb::ModelProto {
        let mut g = GraphBuilder::new("t");
        let x = g.input("x", ElemType::F32, &[Dim::Fixed(2)]);
        let c = g.init_f32("c", &[2], &[1.5, -2.0]);
        let big = g.initializer(tensor::f32("big", &[], &[f32::MIN]));
        let s = g.op("Add", "sum", &[&x, &c], vec![]);
        let y = g.op("Mul", "y", &[&s, &big], vec![]);
        g.output(&y, ElemType::F32, &[Dim::Fixed(2)]);
        g.into_model(17, &[])
    }

    #[test]
    fn converts_tensors_saturates_and_keeps_the_interface() {
        let (half, report) = to_fp16(&tiny());
        assert_eq!(report, HalfReport { tensors: 2, saturated: 1, outputs: 1 });
        let g = half.graph.as_ref().unwrap();
        assert!(g.initializer.iter().all(|t| t.data_type == DataType::Float16 as i32));
        let big = g.initializer.iter().find(|t| t.name == "big").unwrap();
        let v = f16::from_le_bytes([big.raw_data[0], big.raw_data[1]]);
        assert_eq!(v, f16::MIN, "saturated, not -inf");
        // interface unchanged: float32 in and out, casts at both ends
        assert!(is_float(&g.input[0]) && is_float(&g.output[0]));
        assert_eq!(g.node.first().unwrap().op_type, "Cast");
        let last = g.node.last().unwrap();
        assert_eq!((last.op_type.as_str(), last.output[0].as_str()), ("Cast", g.output[0].name.as_str()));
        assert!(g.node.iter().filter(|n| n.op_type != "Cast").all(|n| !n.input.contains(&"x".to_string())));
        assert!(half.metadata_props.iter().any(|p| p.key == PRECISION_KEY && p.value == "fp16"));
    }
}
