//! Training configuration: a TOML file (`nerkit train --config train.toml`) with defaults that work on the
//! embedded model and the PLOD data, overridable from the command line. Validation names the bad field.
use serde::{Deserialize, Serialize};

pub use crate::prepare::weights::ClassWeighting;

/// Loss function over token labels.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, Default, clap::ValueEnum)]
#[serde(rename_all = "kebab-case")]
pub enum LossKind {
    #[default]
    CrossEntropy,
    Focal,
}

pub use crate::runtime::Device;

/// Which of nerkit's CPU kernels training uses (config `cpu_kernels`: `off`, `exact`, `all`). One type with the
/// graph builder's; training's default is `all` ([`TrainConfig::default`]), the builder's `off`.
pub use nerkit_export::train_graph::cpu_ops::CpuKernels;

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct TrainConfig {
    /// Model reference: a directory, `embedded`, or a hub id.
    pub model: String,
    /// Training data source (path or `hub:<repo>`).
    pub data: String,
    /// Validation data; when absent, `val_fraction` of the training data is carved off with `split_seed`.
    pub validation: Option<String>,
    pub val_fraction: f64,
    /// Auxiliary training sources appended to the training split (e.g. the SDU data); their tags must be within
    /// the label set.
    pub extra_data: Vec<String>,
    /// The label set in class order; empty = the training data's tags (`O` first, then types sorted by name,
    /// `B-` before `I-`). Integer class ids in the data index this list.
    pub labels: Vec<String>,
    /// Tagging scheme of the data files (`iob2`, `iob1`, `iobes`, `bilou`); absent = detected per file.
    /// Everything is converted to IOB2 on read.
    pub scheme: Option<crate::data::Scheme>,
    /// Seed of everything random in training: classifier initialisation, batch order, dropout masks.
    pub seed: u64,
    /// Seed of the validation carve; absent = `seed`. Set it to vary `seed` over one validation split.
    pub split_seed: Option<u64>,
    pub epochs: usize,
    pub lr: f64,
    pub batch_size: usize,
    /// `shuffled` (uniform batches, like PyTorch) or `bucketed` (similar lengths together: less padding).
    pub batching: crate::prepare::batch::Batching,
    pub max_len: usize,
    pub stride: usize,
    pub warmup_ratio: f64,
    pub weight_decay: f64,
    /// Global gradient-norm clip; 0 disables clipping.
    pub clip_norm: f64,
    pub class_weights: ClassWeighting,
    pub loss: LossKind,
    pub focal_gamma: f64,
    /// Epochs without validation improvement before stopping; 0 disables early stopping.
    pub patience: usize,
    pub label_all_subwords: bool,
    pub freeze_word_embeddings: bool,
    /// Layer-wise learning-rate decay: encoder layer i trains at `lr · d^(layers − i)`, the embeddings at
    /// `lr · d^(layers + 1)`, the head at `lr`. 1 = off.
    pub layer_lr_decay: f64,
    /// Exponential moving average of the weights, updated every step with this decay (0 = off, e.g. 0.995).
    /// When on, validation, best-model selection and the exported model use the averaged weights.
    pub ema_decay: f64,
    /// How validation turns per-word scores into tags: `viterbi` (BIO-constrained) or `argmax`.
    pub decode: nerkit_api::Decoding,
    pub device: Device,
    /// Intra-op threads for ONNX Runtime on CPU; 0 = all cores.
    pub threads: usize,
    /// On the CPU, which parts of the step run as nerkit's fused kernels (`nerkit::train::kernels`) instead of
    /// standard ONNX ops: `all` (dropout, softmax, GELU, LayerNorm, AdamW; the fastest), `exact` (dropout and AdamW: bitwise the
    /// standard ops' results) or `off`.
    pub cpu_kernels: CpuKernels,
    pub out: String,
}

impl Default for TrainConfig {
    fn default() -> Self {
        TrainConfig {
            model: "embedded".into(),
            data: "../shared/data/plod/plod-cw-2024-lowercased/train.jsonl".into(),
            validation: None,
            val_fraction: 0.1,
            extra_data: Vec::new(),
            labels: Vec::new(),
            scheme: None,
            seed: 42,
            split_seed: None,
            epochs: 4,
            lr: 5e-5,
            batch_size: 16,
            batching: crate::prepare::batch::Batching::Shuffled,
            max_len: 128,
            stride: 32,
            warmup_ratio: 0.1,
            weight_decay: 0.01,
            clip_norm: 1.0,
            class_weights: ClassWeighting::None,
            loss: LossKind::CrossEntropy,
            focal_gamma: 2.0,
            patience: 0,
            label_all_subwords: false,
            freeze_word_embeddings: false,
            layer_lr_decay: 1.0,
            ema_decay: 0.0,
            decode: nerkit_api::Decoding::Viterbi,
            device: Device::Auto,
            threads: 0,
            cpu_kernels: CpuKernels::All,
            out: "runs/train".into(),
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("{path}: {source}")]
    Read { path: String, source: std::io::Error },
    #[error("{path}: {message}")]
    Parse { path: String, message: String },
    #[error("config field `{field}` = {value}: {rule}")]
    Invalid { field: &'static str, value: String, rule: &'static str },
}

impl TrainConfig {
    pub fn from_toml_file(path: &std::path::Path) -> Result<Self, ConfigError> {
        let p = path.display().to_string();
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read { path: p.clone(), source })?;
        let cfg: TrainConfig =
            toml::from_str(&text).map_err(|e| ConfigError::Parse { path: p, message: e.to_string() })?;
        cfg.validate()?;
        Ok(cfg)
    }

    pub fn to_toml(&self) -> String {
        toml::to_string_pretty(self).expect("TrainConfig serialises")
    }

    pub fn validate(&self) -> Result<(), ConfigError> {
        fn check(ok: bool, field: &'static str, value: String, rule: &'static str) -> Result<(), ConfigError> {
            if ok {
                Ok(())
            } else {
                Err(ConfigError::Invalid { field, value, rule })
            }
        }
        check(self.lr > 0.0 && self.lr.is_finite(), "lr", self.lr.to_string(), "must be a positive number")?;
        check(
            self.layer_lr_decay > 0.0 && self.layer_lr_decay <= 1.0,
            "layer_lr_decay",
            self.layer_lr_decay.to_string(),
            "must be in (0, 1] (1 = off)",
        )?;
        check(
            (0.0..1.0).contains(&self.ema_decay),
            "ema_decay",
            self.ema_decay.to_string(),
            "must be in [0, 1) (0 = off)",
        )?;
        check(self.epochs >= 1, "epochs", self.epochs.to_string(), "must be at least 1")?;
        check(self.batch_size >= 1, "batch_size", self.batch_size.to_string(), "must be at least 1")?;
        check((8..=512).contains(&self.max_len), "max_len", self.max_len.to_string(), "must be within 8..=512")?;
        check(self.stride < self.max_len - 2, "stride", self.stride.to_string(), "must be smaller than max_len - 2")?;
        check(
            (0.0..1.0).contains(&self.val_fraction),
            "val_fraction",
            self.val_fraction.to_string(),
            "must be in [0, 1)",
        )?;
        check(
            (0.0..=1.0).contains(&self.warmup_ratio),
            "warmup_ratio",
            self.warmup_ratio.to_string(),
            "must be in [0, 1]",
        )?;
        check(self.weight_decay >= 0.0, "weight_decay", self.weight_decay.to_string(), "must be >= 0")?;
        check(self.clip_norm >= 0.0, "clip_norm", self.clip_norm.to_string(), "must be >= 0 (0 disables)")?;
        check(self.focal_gamma >= 0.0, "focal_gamma", self.focal_gamma.to_string(), "must be >= 0")?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn toml_round_trip_and_partial_files() {
        let cfg = TrainConfig::default();
        let back: TrainConfig = toml::from_str(&cfg.to_toml()).unwrap();
        assert_eq!(back, cfg);
        let partial: TrainConfig = toml::from_str("lr = 1e-4\nepochs = 12\nclass_weights = \"sqrt-inverse\"").unwrap();
        assert_eq!((partial.lr, partial.epochs, partial.class_weights), (1e-4, 12, ClassWeighting::SqrtInverse));
        assert_eq!(partial.batch_size, 16);
    }

    #[test]
    fn unknown_field_and_bad_values_are_named() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("train.toml");
        std::fs::write(&path, "learning_rate = 1e-4\n").unwrap();
        let err = TrainConfig::from_toml_file(&path).unwrap_err().to_string();
        assert!(err.contains("train.toml") && err.contains("learning_rate"), "{err}");
        std::fs::write(&path, "max_len = 4\n").unwrap();
        let err = TrainConfig::from_toml_file(&path).unwrap_err().to_string();
        assert!(err.contains("max_len") && err.contains("8..=512"), "{err}");
    }
}
