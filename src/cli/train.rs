//! `nerkit train`: fine-tune a BERT-family token classifier on ONNX Runtime (CPU or CUDA).
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use anyhow::Context;

use crate::config::{ClassWeighting, Device, LossKind, TrainConfig};
use crate::train::{train, StopReason, TrainOptions};

/// Settings come from `--config` (TOML; see `nerkit train --print-config`), then the flags below override them.
#[derive(clap::Args, Debug)]
pub struct Args {
    /// Training configuration file (TOML).
    #[arg(long)]
    config: Option<PathBuf>,
    /// Model: a directory, `embedded`, or a hub id.
    #[arg(long)]
    model: Option<String>,
    /// Training data (JSONL, CoNLL, CSV, parquet, or `hub:<repo>`).
    #[arg(long)]
    data: Option<String>,
    /// Validation data; default: `--val-fraction` of the training data, carved with `--split-seed`.
    #[arg(long)]
    validation: Option<String>,
    /// Extra training data appended to the training split (repeatable).
    #[arg(long = "extra-data")]
    extra_data: Vec<String>,
    /// Label set in class order, comma-separated (default: the training data's tags, `O` first, then types
    /// sorted by name, `B-` before `I-`).
    #[arg(long, value_delimiter = ',')]
    labels: Vec<String>,
    /// Tagging scheme of the data files (default: detected per file); converted to IOB2 on read.
    #[arg(long, value_enum)]
    scheme: Option<crate::data::Scheme>,
    /// Passes over the training data (default 4; the recipes in configs/ set their own).
    #[arg(long)]
    epochs: Option<usize>,
    /// Peak learning rate of AdamW after linear warm-up, then linear decay (default 5e-5).
    #[arg(long)]
    lr: Option<f64>,
    /// Windows per optimizer step (default 16).
    #[arg(long = "batch-size")]
    batch_size: Option<usize>,
    /// Batches: shuffled (uniform, like PyTorch) or bucketed (similar lengths together, less padding).
    #[arg(long, value_enum)]
    batching: Option<crate::prepare::batch::Batching>,
    /// Longest window in sub-word tokens, special tokens included (8–512, default 128); longer sentences are cut
    /// into overlapping windows.
    #[arg(long = "max-len")]
    max_len: Option<usize>,
    /// Cross-entropy weight per label: none (default), inverse or sqrt-inverse label frequency.
    #[arg(long = "class-weights", value_enum)]
    class_weights: Option<ClassWeighting>,
    /// Loss: cross-entropy (default) or focal.
    #[arg(long, value_enum)]
    loss: Option<LossKind>,
    /// Seed of initialisation, batch order and dropout.
    #[arg(long)]
    seed: Option<u64>,
    /// Seed of the validation carve (default: `--seed`); fix it to compare training seeds on one split.
    #[arg(long = "split-seed")]
    split_seed: Option<u64>,
    /// Epochs without validation improvement before stopping (0 = never).
    #[arg(long)]
    patience: Option<usize>,
    /// Layer-wise learning-rate decay factor in (0, 1] (1 = off), e.g. 0.9.
    #[arg(long = "layer-lr-decay")]
    layer_lr_decay: Option<f64>,
    /// Validate and ship an exponential moving average of the weights with this decay (0 = off), e.g. 0.995.
    #[arg(long = "ema-decay")]
    ema_decay: Option<f64>,
    /// Where the training graph runs: cpu (default), cuda, or auto (CUDA when available).
    #[arg(long, value_enum)]
    device: Option<Device>,
    /// Validation decoding: viterbi (BIO-constrained) or argmax.
    #[arg(long, value_enum)]
    decode: Option<crate::infer::decode::Decoding>,
    /// ONNX Runtime intra-op threads (0 = all cores).
    #[arg(long)]
    threads: Option<usize>,
    /// Run directory.
    #[arg(long)]
    out: Option<String>,
    /// Continue from the run directory's last checkpoint.
    #[arg(long)]
    resume: bool,
    /// Stop after this many optimizer steps (a checkpoint is saved; continue with --resume).
    #[arg(long = "max-steps")]
    max_steps: Option<u64>,
    /// Train with ONNX Runtime's own training API over these ORT training artifacts (training_model.onnx,
    /// eval_model.onnx, optimizer_model.onnx, checkpoint) instead of nerkit's training graph. Needs the
    /// `ort-training` cargo feature and a libonnxruntime built with --enable_training_apis.
    #[arg(long = "ort-training-artifacts", value_name = "DIR")]
    ort_training_artifacts: Option<PathBuf>,
    /// Print the resolved configuration as TOML and exit.
    #[arg(long = "print-config")]
    print_config: bool,
    /// No progress bars.
    #[arg(long)]
    quiet: bool,
}

fn resolve(a: &Args) -> anyhow::Result<TrainConfig> {
    let mut c = match &a.config {
        Some(p) => TrainConfig::from_toml_file(p)?,
        None => TrainConfig::default(),
    };
    macro_rules! set {
        ($($field:ident),*) => { $( if let Some(v) = a.$field.clone() { c.$field = v; } )* };
    }
    set!(
        model,
        data,
        epochs,
        lr,
        batch_size,
        batching,
        max_len,
        class_weights,
        loss,
        seed,
        patience,
        layer_lr_decay,
        ema_decay,
        device,
        decode,
        threads,
        out
    );
    if a.split_seed.is_some() {
        c.split_seed = a.split_seed;
    }
    if a.validation.is_some() {
        c.validation = a.validation.clone();
    }
    if !a.extra_data.is_empty() {
        c.extra_data = a.extra_data.clone();
    }
    if !a.labels.is_empty() {
        c.labels = a.labels.iter().map(|l| l.trim().to_string()).collect();
    }
    if a.scheme.is_some() {
        c.scheme = a.scheme;
    }
    c.validate()?;
    Ok(c)
}

pub fn run(args: Args) -> anyhow::Result<()> {
    let cfg = resolve(&args)?;
    if args.print_config {
        print!("{}", cfg.to_toml());
        return Ok(());
    }
    let interrupt = Arc::new(AtomicBool::new(false));
    let flag = interrupt.clone();
    ctrlc::set_handler(move || {
        if flag.swap(true, Ordering::SeqCst) {
            std::process::exit(130);
        }
        eprintln!("\ninterrupt: saving a checkpoint after this step (Ctrl-C again to quit at once)");
    })
    .context("installing the Ctrl-C handler")?;
    if let Some(dir) = &args.ort_training_artifacts {
        return train_with_artifacts(&cfg, dir, &interrupt);
    }
    let opts = TrainOptions { resume: args.resume, progress: !args.quiet, max_steps: args.max_steps };
    let s = train(&cfg, &opts, &interrupt)?;

    println!("\nnerkit train — {}", s.out.display());
    println!(
        "  data        {} train sentences ({} windows), {} validation sentences",
        s.train_sentences, s.train_examples, s.validation_sentences
    );
    println!(
        "  steps       {} in {} epoch(s), {:.0} s, {:.0} train tokens/s",
        s.steps, s.epochs_completed, s.seconds, s.train_tokens_per_s
    );
    println!("  weights     {:?}", s.class_weights);
    match (s.best_epoch, s.best_micro_f1) {
        (Some(e), Some(f1)) => {
            let per_type: Vec<String> = s.best_f1_per_type.iter().map(|(k, v)| format!("{k} {v:.4}")).collect();
            println!("  best        epoch {}: validation entity micro F1 {f1:.4} ({})", e + 1, per_type.join(", "));
            println!("  model       {}", s.out.join("best").display());
        }
        _ => println!("  best        (no validation pass yet)"),
    }
    match s.stopped {
        StopReason::Completed => println!("  stopped     all epochs completed"),
        StopReason::EarlyStopped => {
            println!("  stopped     early: no validation improvement for {} epoch(s)", cfg.patience)
        }
        StopReason::Interrupted => println!("  stopped     interrupted; continue with --resume"),
        StopReason::StepLimit => println!("  stopped     --max-steps reached; continue with --resume"),
    }
    Ok(())
}

#[cfg(feature = "ort-training")]
fn train_with_artifacts(cfg: &TrainConfig, dir: &std::path::Path, interrupt: &AtomicBool) -> anyhow::Result<()> {
    let r = crate::train::ort_training::train_with_artifacts(cfg, dir, interrupt)?;
    println!("\nnerkit train (ONNX Runtime training API) — {}", r.out.display());
    println!("  steps       {} in {} epoch(s)", r.steps, r.epochs_completed);
    let losses: Vec<String> = r.validation_losses.iter().map(|l| format!("{l:.4}")).collect();
    println!("  validation  loss per epoch: {}", losses.join(", "));
    println!("  exported    {} (logits)", r.exported.display());
    Ok(())
}

#[cfg(not(feature = "ort-training"))]
fn train_with_artifacts(_: &TrainConfig, _: &std::path::Path, _: &AtomicBool) -> anyhow::Result<()> {
    anyhow::bail!(
        "--ort-training-artifacts needs a nerkit built with the `ort-training` feature \
         (cargo build --release --features ort-training); without it, drop the flag: nerkit's own training graph \
         needs no training-enabled ONNX Runtime"
    )
}
