//! The frozen inference graph: [`crate::bert::build_token_classifier`] with [`crate::bert::Inference`] hooks,
//! graph outputs, opset and metadata (`id2label` as JSON in `metadata_props`).
use crate::bert::{build_token_classifier, ForwardOutputs, Inference};
use crate::builder::{pb, Dim, ElemType, GraphBuilder};
use crate::config::BertConfig;
use crate::weights::Weights;
use crate::ExportError;

/// Name of the optional second output (encoder output) used by parity checks.
pub const LAST_HIDDEN_STATE: &str = "last_hidden_state";
/// Lowest default-domain opset the graph needs (`LayerNormalization`).
pub const MIN_OPSET: i64 = 17;

#[derive(Clone, Debug)]
pub struct InferenceOptions {
    /// Default-domain opset (≥ 17).
    pub opset: i64,
    /// Also output `last_hidden_state` [batch, sequence, hidden].
    pub with_hidden_state: bool,
}

impl Default for InferenceOptions {
    fn default() -> Self {
        InferenceOptions { opset: MIN_OPSET, with_hidden_state: false }
    }
}

/// Builds the inference `ModelProto` for `cfg` + `weights` (which must hold a classifier head).
pub fn inference_model(
    cfg: &BertConfig,
    weights: &Weights,
    opts: &InferenceOptions,
) -> Result<pb::ModelProto, ExportError> {
    check_request(cfg, opts)?;
    let mut g = GraphBuilder::new("bert_token_classifier");
    let out = build_token_classifier(&mut g, cfg, weights, &mut Inference)?;
    Ok(finish_inference_model(g, cfg, &out, opts, "inference"))
}

/// Rejects configs nerkit cannot build and opsets below [`MIN_OPSET`].
pub(crate) fn check_request(cfg: &BertConfig, opts: &InferenceOptions) -> Result<(), ExportError> {
    cfg.validate()?;
    if opts.opset < MIN_OPSET {
        return Err(ExportError::Opset { requested: opts.opset, minimum: MIN_OPSET });
    }
    Ok(())
}

/// Declares the outputs (`logits`, optionally `last_hidden_state`) and wraps the graph in a model with the
/// opset and metadata (`id2label`, `model_type`, `nerkit.graph` = `graph_kind`).
pub(crate) fn finish_inference_model(
    mut g: GraphBuilder,
    cfg: &BertConfig,
    out: &ForwardOutputs,
    opts: &InferenceOptions,
    graph_kind: &str,
) -> pb::ModelProto {
    let dims = |last: usize| [Dim::sym("batch"), Dim::sym("sequence"), Dim::Fixed(last as i64)];
    g.output(&out.logits, ElemType::F32, &dims(out.num_labels));
    if opts.with_hidden_state {
        let h = g.op("Identity", LAST_HIDDEN_STATE, &[&out.last_hidden_state], vec![]);
        g.output(&h, ElemType::F32, &dims(cfg.hidden_size));
    }
    let labels = cfg.labels(out.num_labels);
    let id2label: serde_json::Map<String, serde_json::Value> =
        labels.iter().enumerate().map(|(i, l)| (i.to_string(), l.clone().into())).collect();
    let metadata = vec![
        ("id2label".to_string(), serde_json::Value::Object(id2label).to_string()),
        ("model_type".to_string(), cfg.model_type.clone()),
        ("nerkit.graph".to_string(), graph_kind.to_string()),
    ];
    g.into_model(opts.opset, &metadata)
}

/// `id2label` from a model's metadata, in class order.
pub fn labels_from_metadata(model: &pb::ModelProto) -> Option<Vec<String>> {
    let raw = model.metadata_props.iter().find(|p| p.key == "id2label")?;
    let map: std::collections::BTreeMap<String, String> = serde_json::from_str(&raw.value).ok()?;
    let mut pairs: Vec<(usize, String)> = map.into_iter().filter_map(|(k, v)| Some((k.parse().ok()?, v))).collect();
    pairs.sort();
    Some(pairs.into_iter().map(|(_, v)| v).collect())
}
