//! A small ONNX graph builder over the prost types that `tract-onnx` generates (`tract_onnx::pb`).
//!
//! Values are plain strings (ONNX value names). Every node gets a readable name; generated values are
//! named `<node name>` (single output) or `<node name>:<i>` so a graph reads like the model in Netron.
//!
//! ```
//! use nerkit_export::builder::{GraphBuilder, Dim, ElemType};
//! let mut g = GraphBuilder::new("tiny");
//! let x = g.input("x", ElemType::F32, &[Dim::sym("batch"), Dim::Fixed(2)]);
//! let w = g.init_f32("w", &[2, 3], &[1.0, 0.0, 0.0, 0.0, 1.0, 0.0]);
//! let y = g.op("MatMul", "proj", &[&x, &w], vec![]);
//! g.output(&y, ElemType::F32, &[Dim::sym("batch"), Dim::Fixed(3)]);
//! let model = g.into_model(17, &[]);
//! assert_eq!(model.graph.unwrap().node.len(), 1);
//! ```
use std::collections::HashSet;
use std::path::Path;

use pb::tensor_proto::DataType;
use prost::Message;
pub use tract_onnx::pb;

/// ONNX element types used by nerkit graphs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ElemType {
    F32,
    I64,
    I32,
    I8,
    U8,
    Bool,
}

impl ElemType {
    pub fn onnx(self) -> i32 {
        (match self {
            ElemType::F32 => DataType::Float,
            ElemType::I64 => DataType::Int64,
            ElemType::I32 => DataType::Int32,
            ElemType::I8 => DataType::Int8,
            ElemType::U8 => DataType::Uint8,
            ElemType::Bool => DataType::Bool,
        }) as i32
    }
}

/// A graph input/output dimension: fixed size or a named symbolic dimension (`batch`, `sequence`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Dim {
    Fixed(i64),
    Sym(String),
}

impl Dim {
    pub fn sym(name: &str) -> Dim {
        Dim::Sym(name.to_string())
    }
}

/// ONNX attribute constructors.
pub mod attr {
    use super::pb::{attribute_proto::AttributeType, AttributeProto, TensorProto};

    fn base(name: &str, ty: AttributeType) -> AttributeProto {
        AttributeProto { name: name.to_string(), r#type: ty as i32, ..Default::default() }
    }
    pub fn int(name: &str, v: i64) -> AttributeProto {
        AttributeProto { i: v, ..base(name, AttributeType::Int) }
    }
    pub fn ints(name: &str, v: &[i64]) -> AttributeProto {
        AttributeProto { ints: v.to_vec(), ..base(name, AttributeType::Ints) }
    }
    pub fn float(name: &str, v: f32) -> AttributeProto {
        AttributeProto { f: v, ..base(name, AttributeType::Float) }
    }
    pub fn string(name: &str, v: &str) -> AttributeProto {
        AttributeProto { s: v.as_bytes().to_vec(), ..base(name, AttributeType::String) }
    }
    pub fn tensor(name: &str, t: TensorProto) -> AttributeProto {
        AttributeProto { t: Some(t), ..base(name, AttributeType::Tensor) }
    }
}

/// Tensor constructors (data stored little-endian in `raw_data`).
pub mod tensor {
    use super::pb::TensorProto;
    use super::ElemType;

    pub fn f32(name: &str, dims: &[i64], data: &[f32]) -> TensorProto {
        assert_eq!(
            dims.iter().product::<i64>() as usize,
            data.len(),
            "tensor {name}: dims {dims:?} vs {} values",
            data.len()
        );
        TensorProto {
            name: name.to_string(),
            dims: dims.to_vec(),
            data_type: ElemType::F32.onnx(),
            raw_data: bytemuck::cast_slice(data).to_vec(),
            ..Default::default()
        }
    }
    pub fn i64(name: &str, dims: &[i64], data: &[i64]) -> TensorProto {
        assert_eq!(
            dims.iter().product::<i64>() as usize,
            data.len(),
            "tensor {name}: dims {dims:?} vs {} values",
            data.len()
        );
        TensorProto {
            name: name.to_string(),
            dims: dims.to_vec(),
            data_type: ElemType::I64.onnx(),
            raw_data: bytemuck::cast_slice(data).to_vec(),
            ..Default::default()
        }
    }
    pub fn i8(name: &str, dims: &[i64], data: &[i8]) -> TensorProto {
        TensorProto {
            name: name.to_string(),
            dims: dims.to_vec(),
            data_type: ElemType::I8.onnx(),
            raw_data: data.iter().map(|v| *v as u8).collect(),
            ..Default::default()
        }
    }
    pub fn u8(name: &str, dims: &[i64], data: &[u8]) -> TensorProto {
        TensorProto {
            name: name.to_string(),
            dims: dims.to_vec(),
            data_type: ElemType::U8.onnx(),
            raw_data: data.to_vec(),
            ..Default::default()
        }
    }
}

fn value_info(name: &str, elem: ElemType, dims: &[Dim]) -> pb::ValueInfoProto {
    use pb::tensor_shape_proto::{dimension::Value, Dimension};
    let dim = dims
        .iter()
        .map(|d| Dimension {
            value: Some(match d {
                Dim::Fixed(n) => Value::DimValue(*n),
                Dim::Sym(s) => Value::DimParam(s.clone()),
            }),
            ..Default::default()
        })
        .collect();
    pb::ValueInfoProto {
        name: name.to_string(),
        r#type: Some(pb::TypeProto {
            value: Some(pb::type_proto::Value::TensorType(pb::type_proto::Tensor {
                elem_type: elem.onnx(),
                shape: Some(pb::TensorShapeProto { dim }),
            })),
            ..Default::default()
        }),
        ..Default::default()
    }
}

/// Builds one ONNX graph. Node names must be unique; values are named after the node that makes them.
#[derive(Default, Debug, Clone)]
pub struct GraphBuilder {
    pub name: String,
    pub nodes: Vec<pb::NodeProto>,
    pub initializers: Vec<pb::TensorProto>,
    pub inputs: Vec<pb::ValueInfoProto>,
    pub outputs: Vec<pb::ValueInfoProto>,
    used_names: HashSet<String>,
    /// Op domains other than the default one that nodes use (each gets an opset import, version 1).
    domains: std::collections::BTreeSet<String>,
}

impl GraphBuilder {
    pub fn new(name: &str) -> Self {
        GraphBuilder { name: name.to_string(), ..Default::default() }
    }

    /// A unique node name: `base`, or `base_1`, `base_2`... if taken.
    pub fn unique(&mut self, base: &str) -> String {
        let mut name = base.to_string();
        let mut i = 1;
        while self.used_names.contains(&name) {
            name = format!("{base}_{i}");
            i += 1;
        }
        self.used_names.insert(name.clone());
        name
    }

    pub fn input(&mut self, name: &str, elem: ElemType, dims: &[Dim]) -> String {
        self.used_names.insert(name.to_string());
        self.inputs.push(value_info(name, elem, dims));
        name.to_string()
    }

    pub fn output(&mut self, value: &str, elem: ElemType, dims: &[Dim]) {
        self.outputs.push(value_info(value, elem, dims));
    }

    /// Adds a named initializer (a weight) and returns its value name.
    pub fn initializer(&mut self, t: pb::TensorProto) -> String {
        let name = t.name.clone();
        self.used_names.insert(name.clone());
        self.initializers.push(t);
        name
    }

    pub fn init_f32(&mut self, name: &str, dims: &[i64], data: &[f32]) -> String {
        self.initializer(tensor::f32(name, dims, data))
    }

    pub fn init_i64(&mut self, name: &str, dims: &[i64], data: &[i64]) -> String {
        self.initializer(tensor::i64(name, dims, data))
    }

    /// A scalar or small f32 constant, stored as an initializer named `name` (made unique).
    pub fn const_f32(&mut self, name: &str, dims: &[i64], data: &[f32]) -> String {
        let name = self.unique(name);
        self.initializer(tensor::f32(&name, dims, data))
    }

    pub fn const_i64(&mut self, name: &str, dims: &[i64], data: &[i64]) -> String {
        let name = self.unique(name);
        self.initializer(tensor::i64(&name, dims, data))
    }

    /// Adds a node with `n_outputs` outputs named `<name>` (one output) or `<name>:<i>`.
    pub fn node(
        &mut self,
        op_type: &str,
        name: &str,
        inputs: &[&str],
        n_outputs: usize,
        attrs: Vec<pb::AttributeProto>,
    ) -> Vec<String> {
        self.node_in_domain("", op_type, name, inputs, n_outputs, attrs)
    }

    /// Like [`GraphBuilder::node`] for an op of another domain (e.g. `com.microsoft` fused ops).
    pub fn node_in_domain(
        &mut self,
        domain: &str,
        op_type: &str,
        name: &str,
        inputs: &[&str],
        n_outputs: usize,
        attrs: Vec<pb::AttributeProto>,
    ) -> Vec<String> {
        let name = self.unique(name);
        let outputs: Vec<String> =
            if n_outputs == 1 { vec![name.clone()] } else { (0..n_outputs).map(|i| format!("{name}:{i}")).collect() };
        let refs: Vec<&str> = outputs.iter().map(|s| s.as_str()).collect();
        self.push_node(domain, op_type, name.clone(), inputs, &refs, attrs);
        outputs
    }

    /// A node whose outputs get the given value names (which must be new), e.g. a fused optimizer op writing
    /// `<p>.new`, `<p>.adam_m.new`, `<p>.adam_v.new`. Returns the node name.
    pub fn node_with_outputs(
        &mut self,
        domain: &str,
        op_type: &str,
        name: &str,
        inputs: &[&str],
        outputs: &[&str],
        attrs: Vec<pb::AttributeProto>,
    ) -> String {
        let name = self.unique(name);
        for o in outputs {
            self.used_names.insert(o.to_string());
        }
        self.push_node(domain, op_type, name.clone(), inputs, outputs, attrs);
        name
    }

    fn push_node(
        &mut self,
        domain: &str,
        op_type: &str,
        name: String,
        inputs: &[&str],
        outputs: &[&str],
        attrs: Vec<pb::AttributeProto>,
    ) {
        if !domain.is_empty() {
            self.domains.insert(domain.to_string());
        }
        self.nodes.push(pb::NodeProto {
            input: inputs.iter().map(|s| s.to_string()).collect(),
            output: outputs.iter().map(|s| s.to_string()).collect(),
            name,
            op_type: op_type.to_string(),
            domain: domain.to_string(),
            attribute: attrs,
            ..Default::default()
        });
    }

    /// Single-output node; returns its output value name.
    pub fn op(&mut self, op_type: &str, name: &str, inputs: &[&str], attrs: Vec<pb::AttributeProto>) -> String {
        self.node(op_type, name, inputs, 1, attrs).pop().expect("one output")
    }

    /// The finished graph. Initializers that no node reads and no graph output names are left out (shared
    /// constants a particular graph variant does not need).
    pub fn into_graph(self) -> pb::GraphProto {
        let read: HashSet<String> = self
            .nodes
            .iter()
            .flat_map(|n| n.input.iter())
            .chain(self.outputs.iter().map(|o| &o.name))
            .cloned()
            .collect();
        let mut initializer = self.initializers;
        initializer.retain(|t| read.contains(&t.name));
        pb::GraphProto {
            name: self.name,
            node: self.nodes,
            initializer,
            input: self.inputs,
            output: self.outputs,
            ..Default::default()
        }
    }

    /// Wraps the graph in a model with the given default-domain opset and metadata (key, value) pairs.
    pub fn into_model(self, opset: i64, metadata: &[(String, String)]) -> pb::ModelProto {
        let mut opset_import = vec![pb::OperatorSetIdProto { domain: String::new(), version: opset }];
        for domain in &self.domains {
            opset_import.push(pb::OperatorSetIdProto { domain: domain.clone(), version: 1 });
        }
        pb::ModelProto {
            ir_version: 8,
            opset_import,
            producer_name: "nerkit".into(),
            producer_version: env!("CARGO_PKG_VERSION").into(),
            metadata_props: metadata
                .iter()
                .map(|(k, v)| pb::StringStringEntryProto { key: k.clone(), value: v.clone() })
                .collect(),
            graph: Some(self.into_graph()),
            ..Default::default()
        }
    }
}

/// Serialises a model to bytes.
pub fn model_bytes(model: &pb::ModelProto) -> Vec<u8> {
    model.encode_to_vec()
}

/// Writes a model atomically (temp file in the same directory, then rename).
pub fn save_model(model: &pb::ModelProto, path: &Path) -> std::io::Result<()> {
    let tmp = path.with_extension("onnx.tmp");
    std::fs::write(&tmp, model_bytes(model))?;
    std::fs::rename(&tmp, path)
}

/// Reads a model from bytes.
pub fn parse_model(bytes: &[u8]) -> Result<pb::ModelProto, prost::DecodeError> {
    pb::ModelProto::decode(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unread_initializers_are_left_out() {
        let mut g = GraphBuilder::new("g");
        let x = g.input("x", ElemType::F32, &[Dim::Fixed(1)]);
        let used = g.const_f32("used", &[], &[2.0]);
        g.const_f32("unused", &[], &[3.0]);
        let kept_as_output = g.const_f32("as_output", &[], &[4.0]);
        let y = g.op("Mul", "y", &[&x, &used], vec![]);
        g.output(&y, ElemType::F32, &[Dim::Fixed(1)]);
        g.output(&kept_as_output, ElemType::F32, &[]);
        let names: Vec<String> = g.into_graph().initializer.into_iter().map(|t| t.name).collect();
        assert_eq!(names, vec!["used".to_string(), "as_output".to_string()]);
    }
}
