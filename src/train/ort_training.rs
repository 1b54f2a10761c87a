//! Optional (`--features ort-training`): fine-tuning through ONNX Runtime's own training API
//! (`ort::training::Trainer`) instead of nerkit's training graph, for users whose libonnxruntime is built with
//! `--enable_training_apis`.
//!
//! The model, loss and optimizer come from ORT training artifacts (`training_model.onnx`, `eval_model.onnx`,
//! `optimizer_model.onnx`, `checkpoint`, as `onnxruntime.training.artifacts.generate_artifacts` writes them for
//! a token classifier whose loss block takes `labels`). nerkit supplies the rest of the loop, shared with
//! [`super::train`]: data, validation carve, windows, seeded batches, warmup + linear decay (through the
//! optimizer's learning rate), `metrics.csv` and `throughput.csv` (training loss per step, validation loss per
//! epoch) in the run directory, and at the end the trained graph exported for inference as `model.onnx` with
//! its `logits` output.
//!
//! No prebuilt ONNX Runtime with the training API is obtainable for the API version this build of ort needs
//! (Microsoft's last training packages are 1.19), so this path is compiled and its refusal is tested
//! (`tests/ort_training.rs`), but it has not been run end to end.
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Instant;

use ort::session::{Session, SessionInputValue};
use ort::training::Trainer;
use ort::value::Tensor;

use super::run_dir::RunDir;
use super::trainer::TrainingData;
use super::{ort_err, TrainError};
use crate::config::TrainConfig;
use crate::prepare::batch::{batches_by_length, pad_batch, LabelledBatch};

/// The files of a training-artifacts directory.
pub const ARTIFACT_FILES: [&str; 4] = ["training_model.onnx", "eval_model.onnx", "optimizer_model.onnx", "checkpoint"];

/// What a run through the training API did.
#[derive(Clone, Debug)]
pub struct ArtifactRun {
    pub out: PathBuf,
    pub steps: u64,
    pub epochs_completed: usize,
    /// Mean validation loss after each completed epoch.
    pub validation_losses: Vec<f64>,
    /// The trained graph for inference (`<out>/model.onnx`).
    pub exported: PathBuf,
}

/// Fails with what to do unless `dir` holds the artifacts and the loaded ONNX Runtime has the training API.
pub fn check(dir: &Path) -> Result<(), TrainError> {
    for f in ARTIFACT_FILES {
        if !dir.join(f).exists() {
            return Err(TrainError::Artifacts { dir: dir.to_path_buf(), missing: f });
        }
    }
    crate::runtime::environment()?;
    if ort::training::training_api().is_err() {
        let library = crate::runtime::find_library().map(|p| p.display().to_string()).unwrap_or_default();
        return Err(TrainError::NoTrainingApi { library });
    }
    Ok(())
}

/// Trains per `cfg` (data, split, batches, epochs, learning rate and schedule; the artifacts fix the model,
/// loss, optimizer and weight decay) with the artifacts in `dir`.
pub fn train_with_artifacts(cfg: &TrainConfig, dir: &Path, interrupt: &AtomicBool) -> Result<ArtifactRun, TrainError> {
    cfg.validate()?;
    check(dir)?;
    let data = TrainingData::load(cfg, &crate::model::resolve(&cfg.model)?)?;
    let labels = data.labels.clone();
    let (examples, val_set) = (&data.examples, &data.val_set);
    let (val_examples, _) = data.encoder.encode_sentences(&val_set.sentences, &labels)?;
    let val_lengths: Vec<usize> = val_examples.iter().map(|e| e.len()).collect();
    let pad_id = i64::from(data.encoder.pad_id());
    let order = input_order(&dir.join("training_model.onnx"))?;

    let env = crate::runtime::environment()?;
    let mut builder = Session::builder(&env).map_err(ort_err("creating a session"))?;
    if cfg.threads > 0 {
        builder = builder.with_intra_threads(cfg.threads).map_err(|e| ort_err("setting threads")(e.into()))?;
    }
    let allocator = ort::memory::Allocator::default();
    let trainer =
        Trainer::new_from_artifacts(builder, allocator, dir, None).map_err(ort_err("loading training artifacts"))?;
    ort::training::set_seed(cfg.seed as i64).map_err(ort_err("seeding the training API"))?;

    let entity_types = labels.entity_types();
    let mut run = RunDir::open(&PathBuf::from(&cfg.out), cfg, &entity_types, false)?;
    run.write_validation(&val_set.sentences)?;
    let schedule = data.schedule(cfg);
    let mut summary = ArtifactRun {
        out: run.root.clone(),
        steps: 0,
        epochs_completed: 0,
        validation_losses: Vec::new(),
        exported: run.root.join("model.onnx"),
    };
    'epochs: for epoch in 0..cfg.epochs {
        for indices in data.epoch_batches(cfg, epoch) {
            if interrupt.load(Ordering::SeqCst) {
                break 'epochs;
            }
            let batch = pad_batch(examples, &indices, pad_id);
            let lr = schedule.lr(summary.steps as usize);
            let t0 = Instant::now();
            let mut optimizer = trainer.optimizer();
            optimizer.set_lr(lr as f32).map_err(ort_err("setting the learning rate"))?;
            let values = inputs(&batch, &order)?;
            let loss = {
                let out = trainer.step(values.as_slice(), NONE).map_err(ort_err("running a training step"))?;
                scalar(&out[0])?
            };
            summary.steps += 1;
            if !loss.is_finite() {
                // Before the optimizer step, so the weights in the session stay the last finite ones.
                return Err(TrainError::NonFinite { step: summary.steps, loss, grad_norm: None });
            }
            optimizer.step().map_err(ort_err("running the optimizer"))?;
            optimizer.reset_grad().map_err(ort_err("resetting gradients"))?;
            run.log_step(epoch, summary.steps, lr, loss, None)?;
            let tokens = batch.inputs.attention_mask.iter().filter(|&&m| m != 0).count();
            run.log_throughput(summary.steps, tokens, t0.elapsed().as_secs_f64())?;
        }
        let (mut total, mut n) = (0.0f64, 0usize);
        // Evaluation order does not matter; batching by length only saves padding (as `ValidationSet`).
        for indices in batches_by_length(&val_lengths, 32, 0) {
            let batch = pad_batch(&val_examples, &indices, pad_id);
            let values = inputs(&batch, &order)?;
            let out = trainer.eval_step(values.as_slice(), NONE).map_err(ort_err("evaluating"))?;
            total += f64::from(scalar(&out[0])?) * indices.len() as f64;
            n += indices.len();
        }
        let val_loss = total / n.max(1) as f64;
        tracing::info!("epoch {}/{}: validation loss {val_loss:.4}", epoch + 1, cfg.epochs);
        summary.validation_losses.push(val_loss);
        summary.epochs_completed = epoch + 1;
    }
    run.flush()?;
    trainer.export(&summary.exported, ["logits"]).map_err(ort_err("exporting the inference graph"))?;
    Ok(summary)
}

/// The training model's graph inputs among `input_ids`, `attention_mask`, `token_type_ids` and `labels`, in
/// the graph's order (the training API takes its inputs by position).
fn input_order(training_model: &Path) -> Result<Vec<String>, TrainError> {
    let bytes =
        std::fs::read(training_model).map_err(|source| TrainError::Io { path: training_model.into(), source })?;
    let proto = nerkit_export::builder::parse_model(&bytes)
        .map_err(|e| TrainError::Engine { what: "reading training_model.onnx", message: e.to_string() })?;
    let graph = proto.graph.unwrap_or_default();
    let known = ["input_ids", "attention_mask", "token_type_ids", "labels"];
    let order: Vec<String> =
        graph.input.iter().map(|i| i.name.clone()).filter(|n| known.contains(&n.as_str())).collect();
    for need in ["input_ids", "labels"] {
        if !order.iter().any(|n| n == need) {
            return Err(TrainError::Engine {
                what: "reading training_model.onnx",
                message: format!("it has no graph input `{need}` (inputs: {order:?})"),
            });
        }
    }
    Ok(order)
}

/// The labels go with the other inputs, in the graph's order; the second argument of a step stays empty.
const NONE: &[SessionInputValue<'static>] = &[];

fn inputs(batch: &LabelledBatch, order: &[String]) -> Result<Vec<SessionInputValue<'static>>, TrainError> {
    order
        .iter()
        .map(|name| {
            let array = match name.as_str() {
                "input_ids" => &batch.inputs.input_ids,
                "attention_mask" => &batch.inputs.attention_mask,
                "token_type_ids" => &batch.inputs.token_type_ids,
                _ => &batch.labels,
            };
            Ok(Tensor::from_array(array.clone()).map_err(ort_err("building an input tensor"))?.into_dyn().into())
        })
        .collect()
}

fn scalar(value: &ort::value::DynValue) -> Result<f32, TrainError> {
    let (_, data) = value.try_extract_tensor::<f32>().map_err(ort_err("reading the loss"))?;
    data.first().copied().ok_or(TrainError::Engine { what: "reading the loss", message: "empty tensor".into() })
}
