//! The BERT encoder + token-classification head as ONNX nodes, one function per block (as
//! `transformers.models.bert.modeling_bert`): [`embeddings`], [`self_attention`], [`attention_output`],
//! [`intermediate`], [`output`], [`classifier`]; [`build_token_classifier`] wires them.
//!
//! Names mirror the HF state dict: parameters are `bert.encoder.layer.3.attention.self.query.weight`, the
//! value a Linear produces is `bert.encoder.layer.3.attention.self.query`. Linear weights keep the HF layout
//! [out, in] and go through a `Transpose` node (ORT and tract fold it), so a graph's parameters can be
//! written back as a checkpoint transformers loads.
//!
//! The same builder serves inference and training: [`ForwardHooks`] decides how parameters enter the graph
//! (initializers by default, graph inputs for training) and what happens at each place HF applies dropout
//! (identity for inference).
use crate::builder::{attr, Dim, ElemType, GraphBuilder};
use crate::config::BertConfig;
use crate::weights::{Tensor, Weights, WeightsError};

/// Graph input names (int64 [batch, sequence]).
pub const INPUT_IDS: &str = "input_ids";
pub const ATTENTION_MASK: &str = "attention_mask";
pub const TOKEN_TYPE_IDS: &str = "token_type_ids";
/// Graph output name (f32 [batch, sequence, num_labels]).
pub const LOGITS: &str = "logits";

/// Customisation points of the forward graph.
pub trait ForwardHooks {
    /// Called at every place HF applies dropout (`site` is the HF module name, e.g.
    /// `bert.encoder.layer.0.attention.self.dropout`, `dropout` for the head). Returns the value to use
    /// downstream. Default: identity (inference).
    fn dropout(&mut self, _g: &mut GraphBuilder, value: &str, _rate: f32, _site: &str) -> String {
        value.to_string()
    }

    /// The exact GELU `x/2 · (1 + erf(x/√2))` of the intermediate layer as one node named `name`, or `None` for
    /// the standard ops (default).
    fn gelu(&mut self, _g: &mut GraphBuilder, _x: &str, _name: &str) -> Option<String> {
        None
    }

    /// `softmax(scores + mask)` over the last axis (the attention probabilities) as one node named `name`, or
    /// `None` for the standard `Add` + `Softmax` (default).
    fn masked_softmax(&mut self, _g: &mut GraphBuilder, _scores: &str, _mask: &str, _name: &str) -> Option<String> {
        None
    }

    /// LayerNorm of `x` over the last axis (`scale`, `bias` [hidden]) as a node named `name`, or `None` for the
    /// standard `LayerNormalization` (default).
    fn layer_norm(
        &mut self,
        _g: &mut GraphBuilder,
        _x: &str,
        _scale: &str,
        _bias: &str,
        _epsilon: f32,
        _name: &str,
    ) -> Option<String> {
        None
    }

    /// Makes parameter `name` available in the graph and returns its value name. Default: an initializer named
    /// exactly `name` holding `t`.
    fn parameter(&mut self, g: &mut GraphBuilder, name: &str, t: &Tensor) -> String {
        g.init_f32(name, &t.dims_i64(), &t.data)
    }
}

/// Inference hooks: parameters are initializers, dropout is the identity.
#[derive(Debug, Default, Clone, Copy)]
pub struct Inference;

impl ForwardHooks for Inference {}

/// Value names produced by [`build_token_classifier`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ForwardOutputs {
    /// f32 [batch, sequence, num_labels], named [`LOGITS`].
    pub logits: String,
    /// f32 [batch, sequence, hidden]: the encoder output (before the head's dropout).
    pub last_hidden_state: String,
    pub num_labels: usize,
}

/// Per-graph constants shared by all layers.
struct Consts {
    heads_shape: String,
    merge_shape: String,
    scale: String,
    sqrt2: String,
    half: String,
    one: String,
}

impl Consts {
    fn new(g: &mut GraphBuilder, cfg: &BertConfig) -> Consts {
        let (nh, hd) = (cfg.num_attention_heads as i64, cfg.head_dim() as i64);
        Consts {
            heads_shape: g.const_i64("const.heads_shape", &[4], &[0, 0, nh, hd]),
            merge_shape: g.const_i64("const.merge_shape", &[3], &[0, 0, cfg.hidden_size as i64]),
            scale: g.const_f32("const.attention_scale", &[], &[1.0 / (hd as f32).sqrt()]),
            sqrt2: g.const_f32("const.sqrt2", &[], &[std::f32::consts::SQRT_2]),
            half: g.const_f32("const.half", &[], &[0.5]),
            one: g.const_f32("const.one", &[], &[1.0]),
        }
    }
}

/// Context shared by the block functions.
pub struct Ctx<'a> {
    pub g: &'a mut GraphBuilder,
    pub cfg: &'a BertConfig,
    pub weights: &'a Weights,
    pub hooks: &'a mut dyn ForwardHooks,
    consts: Consts,
}

impl<'a> Ctx<'a> {
    pub(crate) fn new(
        g: &'a mut GraphBuilder,
        cfg: &'a BertConfig,
        weights: &'a Weights,
        hooks: &'a mut dyn ForwardHooks,
    ) -> Ctx<'a> {
        let consts = Consts::new(g, cfg);
        Ctx { g, cfg, weights, hooks, consts }
    }

    pub(crate) fn param(&mut self, name: &str, shape: &[usize]) -> Result<String, WeightsError> {
        let t = self.weights.require(name, shape)?;
        Ok(self.hooks.parameter(self.g, name, t))
    }

    fn dropout(&mut self, value: &str, rate: f32, site: &str) -> String {
        self.hooks.dropout(self.g, value, rate, site)
    }

    /// `x @ W^T + b` with W = `<param>.weight` [out, in], b = `<param>.bias` [out]; the result is named `node`.
    pub fn linear(&mut self, param: &str, node: &str, x: &str, out: usize, inp: usize) -> Result<String, WeightsError> {
        let w = self.param(&format!("{param}.weight"), &[out, inp])?;
        let b = self.param(&format!("{param}.bias"), &[out])?;
        let wt = self.g.op("Transpose", &format!("{param}.weight.T"), &[&w], vec![attr::ints("perm", &[1, 0])]);
        let mm = self.g.op("MatMul", &format!("{node}.matmul"), &[x, &wt], vec![]);
        Ok(self.g.op("Add", node, &[&mm, &b], vec![]))
    }

    /// LayerNormalization over the last axis with `<param>.weight` / `<param>.bias`.
    pub fn layer_norm(&mut self, param: &str, x: &str) -> Result<String, WeightsError> {
        let h = self.cfg.hidden_size;
        let w = self.param(&format!("{param}.weight"), &[h])?;
        let b = self.param(&format!("{param}.bias"), &[h])?;
        let eps = self.cfg.layer_norm_eps as f32;
        if let Some(y) = self.hooks.layer_norm(self.g, x, &w, &b, eps, param) {
            return Ok(y);
        }
        Ok(self.g.op(
            "LayerNormalization",
            param,
            &[x, &w, &b],
            vec![attr::int("axis", -1), attr::float("epsilon", eps)],
        ))
    }
}

/// word + position + token_type embeddings → LayerNorm → dropout. Position ids are `0..sequence`.
pub fn embeddings(c: &mut Ctx, input_ids: &str, token_type_ids: &str) -> Result<String, WeightsError> {
    let (h, p) = (c.cfg.hidden_size, "bert.embeddings");
    let word_w = c.param(&format!("{p}.word_embeddings.weight"), &[c.cfg.vocab_size, h])?;
    let pos_w = c.param(&format!("{p}.position_embeddings.weight"), &[c.cfg.max_position_embeddings, h])?;
    let type_w = c.param(&format!("{p}.token_type_embeddings.weight"), &[c.cfg.type_vocab_size, h])?;
    let shape = c.g.op("Shape", &format!("{p}.input_shape"), &[input_ids], vec![]);
    let one_i = c.g.const_i64(&format!("{p}.seq_axis"), &[], &[1]);
    let seq = c.g.op("Gather", &format!("{p}.seq_len"), &[&shape, &one_i], vec![attr::int("axis", 0)]);
    let zero_i = c.g.const_i64(&format!("{p}.pos_start"), &[], &[0]);
    let step_i = c.g.const_i64(&format!("{p}.pos_step"), &[], &[1]);
    let pos_ids = c.g.op("Range", &format!("{p}.position_ids"), &[&zero_i, &seq, &step_i], vec![]);
    let word = c.g.op("Gather", &format!("{p}.word_embeddings"), &[&word_w, input_ids], vec![]);
    let types = c.g.op("Gather", &format!("{p}.token_type_embeddings"), &[&type_w, token_type_ids], vec![]);
    let pos = c.g.op("Gather", &format!("{p}.position_embeddings"), &[&pos_w, &pos_ids], vec![]);
    let sum = c.g.op("Add", &format!("{p}.word_plus_type"), &[&word, &types], vec![]);
    let sum = c.g.op("Add", &format!("{p}.sum"), &[&sum, &pos], vec![]);
    let ln = c.layer_norm(&format!("{p}.LayerNorm"), &sum)?;
    let rate = c.cfg.hidden_dropout_prob;
    Ok(c.dropout(&ln, rate, &format!("{p}.dropout")))
}

/// The additive attention mask [batch, 1, 1, sequence]: 0 where `attention_mask` is 1, f32::MIN where 0.
pub fn extended_attention_mask(c: &mut Ctx, attention_mask: &str) -> String {
    let p = "bert.extended_attention_mask";
    let m = c.g.op("Cast", &format!("{p}.cast"), &[attention_mask], vec![attr::int("to", ElemType::F32.onnx() as i64)]);
    let one = c.consts.one.clone();
    let inv = c.g.op("Sub", &format!("{p}.invert"), &[&one, &m], vec![]);
    let min = c.g.const_f32(&format!("{p}.min"), &[], &[f32::MIN]);
    let add = c.g.op("Mul", &format!("{p}.scale"), &[&inv, &min], vec![]);
    let axes = c.g.const_i64(&format!("{p}.axes"), &[2], &[1, 2]);
    c.g.op("Unsqueeze", p, &[&add, &axes], vec![])
}

/// Multi-head self-attention of layer `l` on `x` [B, S, H]; returns the context [B, S, H].
pub fn self_attention(c: &mut Ctx, l: usize, x: &str, mask: &str) -> Result<String, WeightsError> {
    let h = c.cfg.hidden_size;
    let p = format!("bert.encoder.layer.{l}.attention.self");
    let q = c.linear(&format!("{p}.query"), &format!("{p}.query"), x, h, h)?;
    let k = c.linear(&format!("{p}.key"), &format!("{p}.key"), x, h, h)?;
    let v = c.linear(&format!("{p}.value"), &format!("{p}.value"), x, h, h)?;
    let qh = split_heads(c, &q, &[0, 2, 1, 3]); // [B, nh, S, hd]
    let kt = split_heads(c, &k, &[0, 2, 3, 1]); // [B, nh, hd, S]
    let vh = split_heads(c, &v, &[0, 2, 1, 3]);
    let scores = c.g.op("MatMul", &format!("{p}.scores"), &[&qh, &kt], vec![]);
    let scale = c.consts.scale.clone();
    let scores = c.g.op("Mul", &format!("{p}.scores.scaled"), &[&scores, &scale], vec![]);
    let probs = match c.hooks.masked_softmax(c.g, &scores, mask, &format!("{p}.probs")) {
        Some(probs) => probs,
        None => {
            let scores = c.g.op("Add", &format!("{p}.scores.masked"), &[&scores, mask], vec![]);
            c.g.op("Softmax", &format!("{p}.probs"), &[&scores], vec![attr::int("axis", -1)])
        }
    };
    let rate = c.cfg.attention_probs_dropout_prob;
    let probs = c.dropout(&probs, rate, &format!("{p}.dropout"));
    let ctx = c.g.op("MatMul", &format!("{p}.context.heads"), &[&probs, &vh], vec![]);
    let ctx = c.g.op("Transpose", &format!("{p}.context.T"), &[&ctx], vec![attr::ints("perm", &[0, 2, 1, 3])]);
    let merge = c.consts.merge_shape.clone();
    Ok(c.g.op("Reshape", &format!("{p}.context"), &[&ctx, &merge], vec![]))
}

/// [B, S, H] → [B, S, nh, hd] → transposed by `perm`.
fn split_heads(c: &mut Ctx, value: &str, perm: &[i64]) -> String {
    let heads = c.consts.heads_shape.clone();
    let r = c.g.op("Reshape", &format!("{value}.heads"), &[value, &heads], vec![]);
    c.g.op("Transpose", &format!("{value}.heads.T"), &[&r], vec![attr::ints("perm", perm)])
}

/// dense → dropout → + `residual` → LayerNorm, for `<prefix>.dense` / `<prefix>.LayerNorm`.
fn dense_residual_norm(c: &mut Ctx, prefix: &str, x: &str, residual: &str, inp: usize) -> Result<String, WeightsError> {
    let h = c.cfg.hidden_size;
    let d = c.linear(&format!("{prefix}.dense"), &format!("{prefix}.dense"), x, h, inp)?;
    let rate = c.cfg.hidden_dropout_prob;
    let d = c.dropout(&d, rate, &format!("{prefix}.dropout"));
    let sum = c.g.op("Add", &format!("{prefix}.residual"), &[&d, residual], vec![]);
    c.layer_norm(&format!("{prefix}.LayerNorm"), &sum)
}

/// `BertSelfOutput`: dense → dropout → + input → LayerNorm.
pub fn attention_output(c: &mut Ctx, l: usize, context: &str, input: &str) -> Result<String, WeightsError> {
    let h = c.cfg.hidden_size;
    dense_residual_norm(c, &format!("bert.encoder.layer.{l}.attention.output"), context, input, h)
}

/// `BertIntermediate`: dense → exact GELU `x/2 · (1 + erf(x/√2))`.
pub fn intermediate(c: &mut Ctx, l: usize, x: &str) -> Result<String, WeightsError> {
    let (h, i) = (c.cfg.hidden_size, c.cfg.intermediate_size);
    let p = format!("bert.encoder.layer.{l}.intermediate.dense");
    let d = c.linear(&p, &p, x, i, h)?;
    if let Some(y) = c.hooks.gelu(c.g, &d, &format!("{p}.gelu")) {
        return Ok(y);
    }
    let (sqrt2, half, one) = (c.consts.sqrt2.clone(), c.consts.half.clone(), c.consts.one.clone());
    let scaled = c.g.op("Div", &format!("{p}.gelu.div"), &[&d, &sqrt2], vec![]);
    let erf = c.g.op("Erf", &format!("{p}.gelu.erf"), &[&scaled], vec![]);
    let erf1 = c.g.op("Add", &format!("{p}.gelu.add"), &[&erf, &one], vec![]);
    let half_x = c.g.op("Mul", &format!("{p}.gelu.half_x"), &[&d, &half], vec![]);
    Ok(c.g.op("Mul", &format!("{p}.gelu"), &[&half_x, &erf1], vec![]))
}

/// `BertOutput`: dense (intermediate → hidden) → dropout → + attention output → LayerNorm.
pub fn output(c: &mut Ctx, l: usize, x: &str, attention_out: &str) -> Result<String, WeightsError> {
    let i = c.cfg.intermediate_size;
    dense_residual_norm(c, &format!("bert.encoder.layer.{l}.output"), x, attention_out, i)
}

/// One `BertLayer`.
pub fn layer(c: &mut Ctx, l: usize, x: &str, mask: &str) -> Result<String, WeightsError> {
    let ctx = self_attention(c, l, x, mask)?;
    let att = attention_output(c, l, &ctx, x)?;
    let inter = intermediate(c, l, &att)?;
    output(c, l, &inter, &att)
}

/// Token-classification head: dropout → `classifier` Linear; the result is named [`LOGITS`].
pub fn classifier(c: &mut Ctx, hidden: &str, num_labels: usize) -> Result<String, WeightsError> {
    let rate = c.cfg.classifier_dropout_rate();
    let x = c.dropout(hidden, rate, "dropout");
    let h = c.cfg.hidden_size;
    c.linear("classifier", LOGITS, &x, num_labels, h)
}

/// The number of labels of the head (`classifier.weight` rows).
pub(crate) fn num_labels(cfg: &BertConfig, weights: &Weights) -> Result<usize, WeightsError> {
    match weights.get("classifier.weight") {
        Some(t) if t.shape.len() == 2 => Ok(t.shape[0]),
        _ => weights.require("classifier.weight", &[0, cfg.hidden_size]).map(|_| 0),
    }
}

/// Declares the three int64 [batch, sequence] inputs; returns (input_ids, attention_mask, token_type_ids).
pub(crate) fn declare_inputs(g: &mut GraphBuilder) -> (String, String, String) {
    let dims = [Dim::sym("batch"), Dim::sym("sequence")];
    let ids = g.input(INPUT_IDS, ElemType::I64, &dims);
    let mask = g.input(ATTENTION_MASK, ElemType::I64, &dims);
    let types = g.input(TOKEN_TYPE_IDS, ElemType::I64, &dims);
    (ids, mask, types)
}

/// Declares the three int64 [batch, sequence] inputs, builds the encoder and head, returns the value names.
/// The number of labels is taken from `classifier.weight` (see [`Weights::ensure_classifier`]). Graph outputs
/// are left to the caller.
pub fn build_token_classifier(
    g: &mut GraphBuilder,
    cfg: &BertConfig,
    weights: &Weights,
    hooks: &mut dyn ForwardHooks,
) -> Result<ForwardOutputs, WeightsError> {
    let num_labels = num_labels(cfg, weights)?;
    let (ids, mask, types) = declare_inputs(g);
    let mut c = Ctx::new(g, cfg, weights, hooks);
    let mut x = embeddings(&mut c, &ids, &types)?;
    let ext = extended_attention_mask(&mut c, &mask);
    for l in 0..cfg.num_hidden_layers {
        x = layer(&mut c, l, &x, &ext)?;
    }
    let logits = classifier(&mut c, &x, num_labels)?;
    Ok(ForwardOutputs { logits, last_hidden_state: x, num_labels })
}
