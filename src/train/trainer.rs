//! The fine-tuning loop: data → windows → seeded batches (uniform or length-bucketed) → training graph steps on
//! ONNX Runtime, validation every epoch, early stopping, best-model export, checkpoints and resume.
use std::collections::{BTreeMap, HashMap};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Instant;

use indicatif::{ProgressBar, ProgressStyle};
use nerkit_export::config::BertConfig;
use nerkit_export::weights::Weights;
use serde::Serialize;

use super::checkpoint;
use super::early_stop::{EarlyStopping, Verdict};
use super::engine::{self, Step};
use super::graphs;
use super::run_dir::{write_model_dir, RunDir};
use super::schedule::LinearSchedule;
use super::state::{ema_decay_at, Placement, TrainState};
use super::validation::{validate, ValidationSet};
use super::TrainError;
use crate::config::TrainConfig;
use crate::data::{self, split::carve_validation, DataSource, Dataset, LoadOptions};
use crate::labels::LabelSet;
use crate::model::ModelDir;
use crate::prepare::batch::{batches, pad_batch};
use crate::prepare::encode::{EncodeOptions, Encoder, Example};
use crate::prepare::weights::{class_weights, label_counts};

/// How a run is driven (as opposed to what is trained, which is [`TrainConfig`]).
#[derive(Clone, Debug, Default)]
pub struct TrainOptions {
    /// Continue from `<out>/checkpoint.safetensors` when it exists.
    pub resume: bool,
    /// Show progress bars.
    pub progress: bool,
    /// Stop after this many optimizer steps in this invocation (the checkpoint is saved; tests, smoke runs).
    pub max_steps: Option<u64>,
}

/// Why training ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum StopReason {
    Completed,
    EarlyStopped,
    Interrupted,
    StepLimit,
}

/// The one-screen summary of a run.
#[derive(Clone, Debug, Serialize)]
pub struct TrainSummary {
    pub out: PathBuf,
    pub stopped: StopReason,
    pub steps: u64,
    pub epochs_completed: usize,
    pub best_epoch: Option<usize>,
    pub best_micro_f1: Option<f64>,
    pub best_macro_f1: Option<f64>,
    pub best_f1_per_type: BTreeMap<String, f64>,
    pub train_sentences: usize,
    pub train_examples: usize,
    pub validation_sentences: usize,
    pub class_weights: Vec<f32>,
    pub seconds: f64,
    pub train_tokens_per_s: f64,
}

/// Per-step dropout seed: distinct for every step of a run, reproducible from the run seed.
fn dropout_seed(seed: u64, step: u64) -> i64 {
    (seed.wrapping_mul(0x9E37_79B9).wrapping_add(step) & 0x3FFF_FFFF_FFFF_FFFF) as i64
}

/// Seed of one epoch's batch order: reproducible from the run seed and the epoch.
fn epoch_seed(seed: u64, epoch: usize) -> u64 {
    seed.wrapping_mul(1_000_003).wrapping_add(epoch as u64)
}

/// What a training run reads, per its config: the label set, the training and validation sentences, the
/// encoder of the model's tokenizer and the training examples (windows). Shared by [`train`], the
/// `ort-training` path and `examples/batch_order.rs`, so that all three see the same data in the same order.
pub struct TrainingData {
    /// The config's `labels`, else the training data's own tags ([`LabelSet::from_tags`]).
    pub labels: LabelSet,
    pub train_set: Dataset,
    pub val_set: Dataset,
    pub encoder: Encoder,
    pub examples: Vec<Example>,
}

impl TrainingData {
    pub fn load(cfg: &TrainConfig, model: &ModelDir) -> Result<Self, TrainError> {
        let (labels, train_set, val_set) = datasets(cfg)?;
        let options =
            EncodeOptions { max_len: cfg.max_len, stride: cfg.stride, label_all_subwords: cfg.label_all_subwords };
        let encoder = Encoder::new(model.tokenizer()?, options)?;
        let (examples, _) = encoder.encode_sentences(&train_set.sentences, &labels)?;
        Ok(TrainingData { labels, train_set, val_set, encoder, examples })
    }

    /// The index batches of one epoch (seeded by the run seed and the epoch).
    pub fn epoch_batches(&self, cfg: &TrainConfig, epoch: usize) -> Vec<Vec<usize>> {
        batches(&self.examples, cfg.batch_size, epoch_seed(cfg.seed, epoch), cfg.batching)
    }

    /// Warmup + linear decay over all the run's steps.
    pub fn schedule(&self, cfg: &TrainConfig) -> LinearSchedule {
        LinearSchedule::new(cfg.lr, cfg.warmup_ratio, self.examples.len().div_ceil(cfg.batch_size) * cfg.epochs)
    }
}

/// The label set, training and validation sentences per the config. The label set is `labels` when the config
/// names one (integer class ids in the data index it), else the tags of the training data (ids then index the
/// PLOD order, the only corpora stored with ids). Validation tags must be in the set; `extra_data` whose tags
/// are not is an error naming both sets. Every source is read in its own tagging scheme (`scheme`, or detected).
fn datasets(cfg: &TrainConfig) -> Result<(LabelSet, Dataset, Dataset), TrainError> {
    let options = LoadOptions { scheme: cfg.scheme, ..LoadOptions::default() };
    let given = if cfg.labels.is_empty() {
        None
    } else {
        Some(LabelSet::new(cfg.labels.clone()).map_err(|e| crate::config::ConfigError::Invalid {
            field: "labels",
            value: cfg.labels.join(","),
            rule: match e {
                crate::labels::LabelError::NoOutside => "must include `O`",
                crate::labels::LabelError::Empty => "must not be empty",
                crate::labels::LabelError::Duplicate(_) => "must not repeat a label",
                crate::labels::LabelError::NotBio(_) => "must be BIO labels: `O`, `B-<type>`, `I-<type>`",
            },
        })?)
    };
    let (train, labels) = data::load_labelled(&cfg.data.parse()?, given.as_ref(), &options)?;
    let (mut train, val) = match &cfg.validation {
        Some(v) => (train, data::load(&v.parse()?, &labels, &options)?),
        None => carve_validation(train, cfg.val_fraction, cfg.split_seed.unwrap_or(cfg.seed))?,
    };
    for extra in &cfg.extra_data {
        let source: DataSource = extra.parse()?;
        let (sentences, scheme) = data::read_iob2(&source, &labels, &options)?;
        data::check_tags_within(&sentences, &labels, &format!("--extra-data {extra}"))?;
        train.sentences.extend(data::validated(&source, sentences, scheme, &labels, &options)?.sentences);
    }
    tracing::info!("label set ({} labels): {}", labels.len(), labels.labels().join(", "));
    Ok((labels, train, val))
}

struct Resumed {
    step: u64,
    epoch: usize,
    batch_in_epoch: usize,
    early: EarlyStopping,
}

fn save_checkpoint(
    run: &RunDir,
    state: &TrainState,
    step: u64,
    epoch: usize,
    batch_in_epoch: usize,
    early: &EarlyStopping,
) -> Result<(), TrainError> {
    let meta = HashMap::from([
        ("nerkit.step".to_string(), step.to_string()),
        ("nerkit.epoch".to_string(), epoch.to_string()),
        ("nerkit.batch_in_epoch".to_string(), batch_in_epoch.to_string()),
        ("nerkit.early_stopping".to_string(), serde_json::to_string(early).expect("serialises")),
    ]);
    Ok(checkpoint::write(&run.checkpoint_path(), &state.checkpoint_tensors()?, meta)?)
}

fn load_checkpoint(run: &RunDir, state: &mut TrainState) -> Result<Option<Resumed>, TrainError> {
    let path = run.checkpoint_path();
    if !path.exists() {
        return Ok(None);
    }
    let (tensors, meta) = checkpoint::read(&path)?;
    state.load_tensors(&tensors)?;
    let get = |k: &str| {
        meta.get(k).cloned().ok_or_else(|| TrainError::Checkpoint { message: format!("metadata `{k}` is missing") })
    };
    let num = |k: &str| -> Result<u64, TrainError> {
        get(k)?.parse().map_err(|_| TrainError::Checkpoint { message: format!("metadata `{k}` is not a number") })
    };
    let early = serde_json::from_str(&get("nerkit.early_stopping")?)
        .map_err(|e| TrainError::Checkpoint { message: format!("metadata `nerkit.early_stopping`: {e}") })?;
    Ok(Some(Resumed {
        step: num("nerkit.step")?,
        epoch: num("nerkit.epoch")? as usize,
        batch_in_epoch: num("nerkit.batch_in_epoch")? as usize,
        early,
    }))
}

#[derive(Serialize)]
struct ModelCard<'a> {
    training: &'a TrainConfig,
    best: BestCard,
}

#[derive(Serialize)]
struct BestCard {
    epoch: usize,
    step: u64,
    validation_micro_f1: f64,
    validation_macro_f1: f64,
    validation_f1_per_type: BTreeMap<String, f64>,
}

fn progress(enabled: bool, len: usize, epoch: usize, epochs: usize) -> ProgressBar {
    if !enabled {
        return ProgressBar::hidden();
    }
    let pb = ProgressBar::new(len as u64);
    pb.set_style(
        ProgressStyle::with_template("epoch {prefix} [{bar:30}] {pos}/{len} {msg} ({elapsed} < {eta})")
            .expect("valid template")
            .progress_chars("=> "),
    );
    pb.set_prefix(format!("{}/{epochs}", epoch + 1));
    pb
}

/// Runs training per `cfg`. `interrupt` (set by Ctrl-C) makes the loop save a checkpoint and return.
pub fn train(cfg: &TrainConfig, opts: &TrainOptions, interrupt: &AtomicBool) -> Result<TrainSummary, TrainError> {
    cfg.validate()?;
    let started = Instant::now();
    let model = crate::model::resolve(&cfg.model)?;
    let data = TrainingData::load(cfg, &model)?;
    let TrainingData { labels, train_set, val_set, encoder, examples } = &data;
    let labels = labels.clone();
    let mut bert = BertConfig::from_file(&model.config_path())?;
    bert.set_labels(labels.labels());
    let mut weights = Weights::load(&model.weights_path())?;
    weights.ensure_classifier(labels.len(), bert.hidden_size, bert.initializer_range, cfg.seed);

    let weights_cw = class_weights(&label_counts(examples, labels.len()), cfg.class_weights);
    let validation = ValidationSet::new(encoder, &val_set.sentences, &labels, 32)?;
    let pad_id = i64::from(encoder.pad_id());

    let on_cuda = engine::uses_cuda(cfg.device)?;
    let built = graphs::build(&bert, &weights, cfg, labels.len(), on_cuda)?;
    let mut train_session = engine::session(&built.train, cfg.device, cfg.threads)?;
    let mut eval_session = engine::session(&built.eval, cfg.device, cfg.threads)?;
    let placement = Placement::for_session(&train_session, on_cuda);
    let mut state = TrainState::new_in(&built.params, placement)?;
    if cfg.ema_decay > 0.0 {
        state.enable_ema()?;
    }
    let clips = built.clips;
    drop(built);

    let entity_types = labels.entity_types();
    let mut run = RunDir::open(&PathBuf::from(&cfg.out), cfg, &entity_types, opts.resume)?;
    run.write_validation(&val_set.sentences)?;
    let schedule = data.schedule(cfg);
    let (mut step, mut first_epoch, mut skip, mut early) = (0u64, 0usize, 0usize, EarlyStopping::new(cfg.patience));
    if opts.resume {
        if let Some(r) = load_checkpoint(&run, &mut state)? {
            tracing::info!(step = r.step, epoch = r.epoch, "resuming from {}", run.checkpoint_path().display());
            (step, first_epoch, skip, early) = (r.step, r.epoch, r.batch_in_epoch, r.early);
        }
    }

    let mut summary = TrainSummary {
        out: run.root.clone(),
        stopped: StopReason::Completed,
        steps: step,
        epochs_completed: first_epoch,
        best_epoch: early.best_epoch,
        best_micro_f1: early.best,
        best_macro_f1: None,
        best_f1_per_type: BTreeMap::new(),
        train_sentences: train_set.sentences.len(),
        train_examples: examples.len(),
        validation_sentences: validation.sentences(),
        class_weights: weights_cw.clone(),
        seconds: 0.0,
        train_tokens_per_s: 0.0,
    };
    let (mut tokens_total, mut train_seconds) = (0usize, 0.0f64);
    let steps_at_start = step;

    'epochs: for epoch in first_epoch..cfg.epochs {
        let order = data.epoch_batches(cfg, epoch);
        let pb = progress(opts.progress, order.len(), epoch, cfg.epochs);
        pb.set_position(skip as u64);
        for (b, indices) in order.iter().enumerate().skip(skip) {
            if interrupt.load(Ordering::SeqCst) {
                save_checkpoint(&run, &state, step, epoch, b, &early)?;
                summary.stopped = StopReason::Interrupted;
                pb.abandon_with_message("interrupted; checkpoint saved");
                break 'epochs;
            }
            if opts.max_steps.is_some_and(|m| step - steps_at_start >= m) {
                save_checkpoint(&run, &state, step, epoch, b, &early)?;
                summary.stopped = StopReason::StepLimit;
                pb.finish_and_clear();
                break 'epochs;
            }
            let batch = pad_batch(examples, indices, pad_id);
            let tokens = batch.inputs.attention_mask.iter().filter(|&&m| m != 0).count();
            let lr = schedule.lr(step as usize);
            let t0 = Instant::now();
            let settings = Step {
                number: step + 1,
                lr: lr as f32,
                seed: dropout_seed(cfg.seed, step),
                ema_decay: ema_decay_at(cfg.ema_decay, step + 1) as f32,
            };
            let out = engine::train_step(&mut train_session, &mut state, &batch, &weights_cw, &settings, clips)?;
            step += 1;
            let dt = t0.elapsed().as_secs_f64();
            tokens_total += tokens;
            train_seconds += dt;
            run.log_step(epoch, step, lr, out.loss, out.grad_norm)?;
            run.log_throughput(step, tokens, dt)?;
            pb.set_message(format!(
                "loss {:.4} lr {:.2e} {:.0} tok/s",
                out.loss,
                lr,
                tokens_total as f64 / train_seconds
            ));
            pb.inc(1);
        }
        skip = 0;
        pb.finish_and_clear();

        let result = validate(&mut eval_session, &state, &validation, &weights_cw, &labels, cfg.decode)?;
        run.log_eval(epoch, step, result.loss, &result.metrics)?;
        let e = &result.metrics.entity;
        let per_type: BTreeMap<String, f64> = e.per_type.iter().map(|(k, p)| (k.clone(), p.f1)).collect();
        tracing::info!(
            "epoch {}/{}: validation loss {:.4}, entity micro F1 {:.4}, macro F1 {:.4}, {}",
            epoch + 1,
            cfg.epochs,
            result.loss,
            e.micro.f1,
            e.macro_.f1,
            per_type.iter().map(|(k, v)| format!("{k} {v:.4}")).collect::<Vec<_>>().join(", ")
        );
        summary.epochs_completed = epoch + 1;
        let verdict = early.observe(epoch, e.micro.f1);
        if verdict == Verdict::Improved {
            let card = ModelCard {
                training: cfg,
                best: BestCard {
                    epoch,
                    step,
                    validation_micro_f1: e.micro.f1,
                    validation_macro_f1: e.macro_.f1,
                    validation_f1_per_type: per_type.clone(),
                },
            };
            let toml = toml::to_string_pretty(&card).expect("model card serialises");
            write_model_dir(&run.best_dir(), &bert, &weights, &state.model_tensors()?, &model.tokenizer_path(), &toml)?;
            summary.best_macro_f1 = Some(e.macro_.f1);
            summary.best_f1_per_type = per_type;
        }
        save_checkpoint(&run, &state, step, epoch + 1, 0, &early)?;
        if verdict == Verdict::Stop {
            summary.stopped = StopReason::EarlyStopped;
            break;
        }
    }
    run.flush()?;
    summary.steps = step;
    summary.best_epoch = early.best_epoch;
    summary.best_micro_f1 = early.best;
    summary.seconds = started.elapsed().as_secs_f64();
    summary.train_tokens_per_s = tokens_total as f64 / train_seconds.max(1e-9);
    super::curves::write(&run.root)?;
    Ok(summary)
}
