//! The two graphs a training run executes, both built from the same BERT forward builder:
//! the training graph (forward with dropout + loss + gradients + AdamW) and the evaluation graph
//! (forward without dropout + loss), which share parameter names so one set of values feeds both.
use nerkit_export::builder::model_bytes;
use nerkit_export::config::BertConfig;
use nerkit_export::train_graph::cpu_ops::CpuKernels;
use nerkit_export::train_graph::{
    bert_eval_graph, bert_train_graph, layer_lr_multipliers, AdamWConfig, LossConfig, ParamSelection, TrainGraphConfig,
    TrainParam,
};
use nerkit_export::weights::Weights;

use super::TrainError;
use crate::config::{LossKind, TrainConfig};

/// Serialised graphs plus the trainable parameters in the training graph's input order.
pub struct Graphs {
    pub train: Vec<u8>,
    pub eval: Vec<u8>,
    pub params: Vec<TrainParam>,
    /// Whether the training graph outputs `grad_norm` (gradient clipping on).
    pub clips: bool,
}

/// `on_cuda`: the graphs will run on the CUDA provider. The word-embedding gradient is row-sparse on the CPU
/// (the same values, less memory traffic) and stays dense on CUDA, where the row-sparse graph (it uses `Unique`)
/// has not been run. nerkit's fused kernels (`tc.cpu_kernels`, [`super::kernels`]) are CPU-only.
pub fn build(
    cfg: &BertConfig,
    weights: &Weights,
    tc: &TrainConfig,
    num_labels: usize,
    on_cuda: bool,
) -> Result<Graphs, TrainError> {
    let graph_cfg = TrainGraphConfig {
        loss: LossConfig { num_labels, focal_gamma: (tc.loss == LossKind::Focal).then_some(tc.focal_gamma as f32) },
        adamw: AdamWConfig {
            weight_decay: tc.weight_decay as f32,
            max_grad_norm: (tc.clip_norm > 0.0).then_some(tc.clip_norm as f32),
            ..AdamWConfig::default()
        },
        params: ParamSelection::WeightsAndBiases,
        freeze_word_embeddings: tc.freeze_word_embeddings,
        lr_multipliers: if tc.layer_lr_decay < 1.0 {
            let names: Vec<String> = weights.iter().map(|(n, _)| n.clone()).collect();
            layer_lr_multipliers(&names, cfg.num_hidden_layers, tc.layer_lr_decay as f32)
        } else {
            Default::default()
        },
        ema: tc.ema_decay > 0.0,
        sparse_word_embedding_grad: !on_cuda,
        cpu_kernels: if on_cuda { CpuKernels::Off } else { tc.cpu_kernels },
        ..TrainGraphConfig::new(nerkit_export::bert::LOGITS, num_labels)
    };

    let train = bert_train_graph(cfg, weights, &graph_cfg)?;
    let names: Vec<String> = train.params.iter().map(|p| p.name.clone()).collect();
    let eval = bert_eval_graph(cfg, weights, &graph_cfg, &names)?;
    Ok(Graphs {
        train: model_bytes(&train.model),
        eval: model_bytes(&eval.model),
        params: train.params,
        clips: graph_cfg.adamw.max_grad_norm.is_some(),
    })
}
