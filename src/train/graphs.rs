//! The two graphs a training run executes, both built from the same BERT forward builder:
//! the training graph (forward with dropout + loss + gradients + AdamW) and the evaluation graph
//! (forward without dropout + loss), which share parameter names so one set of values feeds both.
use nerkit_export::bert::{build_token_classifier, ForwardHooks, Inference};
use nerkit_export::builder::{model_bytes, GraphBuilder};
use nerkit_export::config::BertConfig;
use nerkit_export::train_graph::{
    build_eval_graph, build_train_graph, dropout, AdamWConfig, LossConfig, ParamSelection, TrainGraphConfig, TrainParam,
};
use nerkit_export::weights::Weights;

use super::TrainError;
use crate::config::{LossKind, TrainConfig};

/// Training-time hooks: in-graph dropout masks keyed by the `seed` input and the site name.
struct TrainingDropout;

impl ForwardHooks for TrainingDropout {
    fn dropout(&mut self, g: &mut GraphBuilder, value: &str, rate: f32, site: &str) -> String {
        dropout::dropout(g, value, rate, dropout::site_id(site), &format!("{site}.train"))
    }
}

/// Serialised graphs plus the trainable parameters in the training graph's input order.
pub struct Graphs {
    pub train: Vec<u8>,
    pub eval: Vec<u8>,
    pub params: Vec<TrainParam>,
    /// Whether the training graph outputs `grad_norm` (gradient clipping on).
    pub clips: bool,
}

pub fn build(cfg: &BertConfig, weights: &Weights, tc: &TrainConfig, num_labels: usize) -> Result<Graphs, TrainError> {
    let graph_cfg = TrainGraphConfig {
        loss: LossConfig { num_labels, focal_gamma: (tc.loss == LossKind::Focal).then_some(tc.focal_gamma as f32) },
        adamw: AdamWConfig {
            weight_decay: tc.weight_decay as f32,
            max_grad_norm: (tc.clip_norm > 0.0).then_some(tc.clip_norm as f32),
            ..AdamWConfig::default()
        },
        params: ParamSelection::WeightsAndBiases,
        freeze_word_embeddings: tc.freeze_word_embeddings,
        ..TrainGraphConfig::new(nerkit_export::bert::LOGITS, num_labels)
    };

    let mut g = GraphBuilder::new("nerkit_train");
    let out = build_token_classifier(&mut g, cfg, weights, &mut TrainingDropout)?;
    let train = build_train_graph(g, &TrainGraphConfig { logits: out.logits, ..graph_cfg.clone() })?;

    let mut g = GraphBuilder::new("nerkit_eval");
    let out = build_token_classifier(&mut g, cfg, weights, &mut Inference)?;
    let names: Vec<String> = train.params.iter().map(|p| p.name.clone()).collect();
    let eval = build_eval_graph(g, &TrainGraphConfig { logits: out.logits, ..graph_cfg.clone() }, &names)?;

    Ok(Graphs {
        train: model_bytes(&train.model),
        eval: model_bytes(&eval.model),
        params: train.params,
        clips: graph_cfg.adamw.max_grad_norm.is_some(),
    })
}
