//! The ONNX Runtime–optimised inference graph: the same BERT token classifier as [`crate::inference`], with each
//! encoder layer written in ONNX Runtime's `com.microsoft` contrib ops instead of standard ops:
//!
//! | block | standard graph ([`crate::bert`]) | fused graph |
//! |---|---|---|
//! | self-attention | 3 Linear, Reshape/Transpose, MatMul, Softmax, MatMul | 3 MatMul, `MultiHeadAttention` (bias, mask) |
//! | dense + residual + LayerNorm | MatMul, Add, Add, LayerNormalization | MatMul, `SkipLayerNormalization` (bias fused) |
//! | intermediate | MatMul, Add, exact GELU (Div, Erf, Add, Mul, Mul) | MatMul, `BiasGelu` (exact erf GELU) |
//!
//! Measured on a 2-core CPU (README): ONNX Runtime already fuses the standard graph's GELU and attention
//! scale itself, so this variant is faster only for fp32 at batch 1 (6.1 vs 6.8 ms per 48-token sentence) and
//! slower at batch 8 × 128 and in int8; it is offered for other hardware and ORT versions, and as the place to
//! add fused kernels. Embeddings and the head stay standard ops. Only ONNX Runtime runs this graph (tract and the training graph
//! use the standard one); its logits equal the standard graph's to float rounding (tests/fused_graph.rs).
//! Weights are stored pre-transposed ([in, out]), so the int8 pass ([`crate::quantize`]) quantizes every
//! MatMul, the query/key/value projections included.
use crate::bert::{self, Ctx, Inference};
use crate::builder::{attr, pb, tensor, ElemType, GraphBuilder};
use crate::config::BertConfig;
use crate::inference::{check_request, finish_inference_model, InferenceOptions};
use crate::weights::{Weights, WeightsError};
use crate::ExportError;

const MS: &str = "com.microsoft";

/// `W^T` ([in, out]) of an HF Linear weight `[out, in]`, as an initializer named `<param>.weight.T`.
fn transposed_weight(c: &mut Ctx, param: &str, out: usize, inp: usize) -> Result<String, WeightsError> {
    let name = format!("{param}.weight");
    let w = c.weights.require(&name, &[out, inp])?;
    let mut t = vec![0.0f32; out * inp];
    for o in 0..out {
        for i in 0..inp {
            t[i * out + o] = w.data[o * inp + i];
        }
    }
    Ok(c.g.initializer(tensor::f32(&format!("{name}.T"), &[inp as i64, out as i64], &t)))
}

fn bias(c: &mut Ctx, param: &str, n: usize) -> Result<String, WeightsError> {
    c.param(&format!("{param}.bias"), &[n])
}

/// Self-attention of layer `l`: query/key/value projections as plain MatMuls (so the int8 pass quantizes them)
/// feeding `MultiHeadAttention`, which adds the packed [3H] bias, splits heads, masks padded keys and applies
/// softmax and the context product in one kernel.
fn attention(c: &mut Ctx, l: usize, x: &str, mask_i32: &str) -> Result<String, WeightsError> {
    let h = c.cfg.hidden_size;
    let p = format!("bert.encoder.layer.{l}.attention.self");
    let mut projected = Vec::with_capacity(3);
    let mut b = Vec::with_capacity(3 * h);
    for part in ["query", "key", "value"] {
        let w = transposed_weight(c, &format!("{p}.{part}"), h, h)?;
        projected.push(c.g.op("MatMul", &format!("{p}.{part}.matmul"), &[x, &w], vec![]));
        b.extend_from_slice(&c.weights.require(&format!("{p}.{part}.bias"), &[h])?.data);
    }
    let b = c.g.initializer(tensor::f32(&format!("{p}.qkv.bias"), &[3 * h as i64], &b));
    let heads = attr::int("num_heads", c.cfg.num_attention_heads as i64);
    let inputs = [projected[0].as_str(), &projected[1], &projected[2], &b, mask_i32];
    Ok(c.g.node_in_domain(MS, "MultiHeadAttention", &format!("{p}.context"), &inputs, 1, vec![heads]).remove(0))
}

/// `<prefix>.dense` (MatMul) → `SkipLayerNormalization(dense, residual, γ, β, dense bias)`.
fn dense_skip_norm(c: &mut Ctx, prefix: &str, x: &str, residual: &str, inp: usize) -> Result<String, WeightsError> {
    let h = c.cfg.hidden_size;
    let dense = format!("{prefix}.dense");
    let w = transposed_weight(c, &dense, h, inp)?;
    let mm = c.g.op("MatMul", &format!("{dense}.matmul"), &[x, &w], vec![]);
    let b = bias(c, &dense, h)?;
    let gamma = c.param(&format!("{prefix}.LayerNorm.weight"), &[h])?;
    let beta = c.param(&format!("{prefix}.LayerNorm.bias"), &[h])?;
    let eps = attr::float("epsilon", c.cfg.layer_norm_eps as f32);
    let name = format!("{prefix}.LayerNorm");
    Ok(c.g
        .node_in_domain(MS, "SkipLayerNormalization", &name, &[&mm, residual, &gamma, &beta, &b], 1, vec![eps])
        .remove(0))
}

/// One encoder layer in fused ops.
fn layer(c: &mut Ctx, l: usize, x: &str, mask_i32: &str) -> Result<String, WeightsError> {
    let (h, i) = (c.cfg.hidden_size, c.cfg.intermediate_size);
    let p = format!("bert.encoder.layer.{l}");
    let context = attention(c, l, x, mask_i32)?;
    let att = dense_skip_norm(c, &format!("{p}.attention.output"), &context, x, h)?;
    let inter = format!("{p}.intermediate.dense");
    let w = transposed_weight(c, &inter, i, h)?;
    let mm = c.g.op("MatMul", &format!("{inter}.matmul"), &[&att, &w], vec![]);
    let b = bias(c, &inter, i)?;
    let gelu = c.g.node_in_domain(MS, "BiasGelu", &format!("{inter}.gelu"), &[&mm, &b], 1, vec![]).remove(0);
    dense_skip_norm(c, &format!("{p}.output"), &gelu, &att, i)
}

/// Builds the fused inference `ModelProto` (same inputs, outputs and metadata as
/// [`crate::inference::inference_model`]).
pub fn fused_inference_model(
    cfg: &BertConfig,
    weights: &Weights,
    opts: &InferenceOptions,
) -> Result<pb::ModelProto, ExportError> {
    check_request(cfg, opts)?;
    let mut g = GraphBuilder::new("bert_token_classifier_fused");
    let num_labels = bert::num_labels(cfg, weights)?;
    let (ids, mask, types) = bert::declare_inputs(&mut g);
    let mut hooks = Inference;
    let mut c = Ctx::new(&mut g, cfg, weights, &mut hooks);
    let mut x = bert::embeddings(&mut c, &ids, &types)?;
    let to_i32 = attr::int("to", ElemType::I32.onnx() as i64);
    let mask_i32 = c.g.op("Cast", "bert.attention_mask.int32", &[&mask], vec![to_i32]);
    for l in 0..cfg.num_hidden_layers {
        x = layer(&mut c, l, &x, &mask_i32)?;
    }
    let logits = bert::classifier(&mut c, &x, num_labels)?;
    let out = bert::ForwardOutputs { logits, last_hidden_state: x, num_labels };
    Ok(finish_inference_model(g, cfg, &out, opts, "inference-fused"))
}
