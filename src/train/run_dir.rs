//! A training run's directory:
//! - `config.toml` — the resolved configuration; `validation.jsonl` — the validation sentences;
//! - `metrics.csv` — one `train` row per step (loss, lr, gradient norm) and one `eval` row per epoch
//!   (validation loss, entity micro/macro F1 and F1 per type). Deterministic: same seed + config on CPU gives
//!   the same file. Wall-clock figures go to `throughput.csv` (step, tokens, seconds, tokens/s) instead;
//! - `checkpoint.safetensors` — last checkpoint (parameters, AdamW moments, trainer state in metadata);
//! - `best/` — the best model as an HF-compatible directory (config.json with id2label, model.safetensors,
//!   tokenizer.json, nerkit.toml) that `evaluate`, `export` and `serve` accept;
//! - `curves.png` / `curves.svg` — training loss and validation F1.
use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

use nerkit_export::config::BertConfig;
use nerkit_export::weights::{Tensor, Weights};

use super::checkpoint::NamedTensor;
use super::TrainError;
use crate::config::TrainConfig;
use crate::metrics::Metrics;

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> TrainError + '_ {
    move |source| TrainError::Io { path: path.to_path_buf(), source }
}

pub struct RunDir {
    pub root: PathBuf,
    metrics: BufWriter<File>,
    throughput: BufWriter<File>,
    entity_types: Vec<String>,
}

impl RunDir {
    /// Creates (or, when resuming, appends to) the run directory.
    pub fn open(root: &Path, cfg: &TrainConfig, entity_types: &[String], resume: bool) -> Result<Self, TrainError> {
        std::fs::create_dir_all(root).map_err(io(root))?;
        let cfg_path = root.join("config.toml");
        std::fs::write(&cfg_path, cfg.to_toml()).map_err(io(&cfg_path))?;
        let open = |name: &str, header: String| -> Result<BufWriter<File>, TrainError> {
            let path = root.join(name);
            let fresh = !resume || !path.exists();
            let f = std::fs::OpenOptions::new()
                .create(true)
                .write(true)
                .append(!fresh)
                .truncate(fresh)
                .open(&path)
                .map_err(io(&path))?;
            let mut w = BufWriter::new(f);
            if fresh {
                writeln!(w, "{header}").map_err(io(&path))?;
            }
            Ok(w)
        };
        let per_type: String = entity_types.iter().map(|t| format!(",val_f1_{t}")).collect();
        let metrics = open(
            "metrics.csv",
            format!("kind,epoch,step,lr,loss,grad_norm,val_loss,val_micro_f1,val_macro_f1{per_type}"),
        )?;
        let throughput = open("throughput.csv", "step,tokens,seconds,tokens_per_s".into())?;
        Ok(RunDir { root: root.to_path_buf(), metrics, throughput, entity_types: entity_types.to_vec() })
    }

    /// Writes the validation split as JSONL (`{"tokens": [...], "ner_tags": [...]}`), so `nerkit evaluate`
    /// can score the model on exactly the sentences training validated on.
    pub fn write_validation(&self, sentences: &[crate::data::Sentence]) -> Result<(), TrainError> {
        let path = self.root.join("validation.jsonl");
        let mut out = String::new();
        for s in sentences {
            let line = serde_json::json!({ "tokens": s.words, "ner_tags": s.tags });
            out.push_str(&line.to_string());
            out.push('\n');
        }
        std::fs::write(&path, out).map_err(io(&path))
    }

    pub fn checkpoint_path(&self) -> PathBuf {
        self.root.join("checkpoint.safetensors")
    }

    pub fn best_dir(&self) -> PathBuf {
        self.root.join("best")
    }

    pub fn log_step(
        &mut self,
        epoch: usize,
        step: u64,
        lr: f64,
        loss: f32,
        grad_norm: Option<f32>,
    ) -> Result<(), TrainError> {
        let gn = grad_norm.map(|g| format!("{g:.6}")).unwrap_or_default();
        let blanks = ",".repeat(2 + self.entity_types.len());
        writeln!(self.metrics, "train,{epoch},{step},{lr:.6e},{loss:.6},{gn},{blanks}")
            .map_err(io(&self.root.join("metrics.csv")))
    }

    pub fn log_throughput(&mut self, step: u64, tokens: usize, seconds: f64) -> Result<(), TrainError> {
        writeln!(self.throughput, "{step},{tokens},{seconds:.4},{:.1}", tokens as f64 / seconds.max(1e-9))
            .map_err(io(&self.root.join("throughput.csv")))
    }

    pub fn log_eval(&mut self, epoch: usize, step: u64, val_loss: f64, m: &Metrics) -> Result<(), TrainError> {
        let per_type: String = self
            .entity_types
            .iter()
            .map(|t| format!(",{:.6}", m.entity.per_type.get(t).map_or(0.0, |p| p.f1)))
            .collect();
        writeln!(
            self.metrics,
            "eval,{epoch},{step},,,,{val_loss:.6},{:.6},{:.6}{per_type}",
            m.entity.micro.f1, m.entity.macro_.f1
        )
        .map_err(io(&self.root.join("metrics.csv")))?;
        self.flush()
    }

    pub fn flush(&mut self) -> Result<(), TrainError> {
        self.metrics.flush().map_err(io(&self.root.join("metrics.csv")))?;
        self.throughput.flush().map_err(io(&self.root.join("throughput.csv")))
    }
}

/// Writes an HF-compatible model directory: `config.json` (with labels), `model.safetensors` (the base weights
/// with trained parameters replaced), `tokenizer.json`, and `nerkit.toml` (training config + metrics).
/// Written into a temp directory first, then swapped in, so a crash never leaves a half-written model.
pub fn write_model_dir(
    dir: &Path,
    config: &BertConfig,
    base: &Weights,
    trained: &[NamedTensor],
    tokenizer_json: &Path,
    summary_toml: &str,
) -> Result<(), TrainError> {
    let name = dir.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_else(|| "best".into());
    let tmp = dir.with_file_name(format!(".{name}.tmp"));
    if tmp.exists() {
        std::fs::remove_dir_all(&tmp).map_err(io(&tmp))?;
    }
    std::fs::create_dir_all(&tmp).map_err(io(&tmp))?;
    let mut weights = base.clone();
    for t in trained {
        weights.insert(&t.name, Tensor::new(t.shape.clone(), t.data.clone()));
    }
    weights.save(&tmp.join("model.safetensors"))?;
    let cfg_json = serde_json::to_string_pretty(config).expect("BertConfig serialises");
    std::fs::write(tmp.join("config.json"), cfg_json).map_err(io(&tmp))?;
    std::fs::copy(tokenizer_json, tmp.join("tokenizer.json")).map_err(io(tokenizer_json))?;
    std::fs::write(tmp.join("nerkit.toml"), summary_toml).map_err(io(&tmp))?;
    let old = dir.with_file_name(format!(".{name}.old"));
    if dir.exists() {
        if old.exists() {
            std::fs::remove_dir_all(&old).map_err(io(&old))?;
        }
        std::fs::rename(dir, &old).map_err(io(dir))?;
    }
    std::fs::rename(&tmp, dir).map_err(io(dir))?;
    if old.exists() {
        std::fs::remove_dir_all(&old).map_err(io(&old))?;
    }
    Ok(())
}
