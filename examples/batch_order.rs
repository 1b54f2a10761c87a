//! Writes the padded batches a `nerkit train` run feeds, in order (one JSON object per step), so that an
//! independent implementation can replay the run (benches/reference/pytorch_replay.py).
//!
//! ```text
//! cargo run --release --example batch_order -- DATA OUT.jsonl [--seed 42] [--split-seed 42] [--batch-size 16]
//!     [--epochs 4] [--val-fraction 0.1] [--max-len 128] [--stride 32] [--batching shuffled|bucketed]
//! ```
//! Uses the trainer's own data path ([`TrainingData`]: validation carve, windows, per-epoch batches), with the
//! embedded model's tokenizer and the trainer's defaults for every setting not given here.
use std::io::Write;

use anyhow::Result;
use clap::Parser;
use nerkit::config::TrainConfig;
use nerkit::prepare::batch::{pad_batch, Batching};
use nerkit::train::TrainingData;

#[derive(Parser)]
struct Args {
    data: String,
    out: std::path::PathBuf,
    #[arg(long, default_value_t = 42)]
    seed: u64,
    #[arg(long = "split-seed")]
    split_seed: Option<u64>,
    #[arg(long = "batch-size", default_value_t = 16)]
    batch_size: usize,
    #[arg(long, default_value_t = 4)]
    epochs: usize,
    #[arg(long = "val-fraction", default_value_t = 0.1)]
    val_fraction: f64,
    #[arg(long = "max-len", default_value_t = 128)]
    max_len: usize,
    #[arg(long, default_value_t = 32)]
    stride: usize,
    #[arg(long, value_enum, default_value = "shuffled")]
    batching: Batching,
}

fn main() -> Result<()> {
    let a = Args::parse();
    let cfg = TrainConfig {
        data: a.data,
        seed: a.seed,
        split_seed: a.split_seed,
        batch_size: a.batch_size,
        epochs: a.epochs,
        val_fraction: a.val_fraction,
        max_len: a.max_len,
        stride: a.stride,
        batching: a.batching,
        ..TrainConfig::default()
    };
    let data = TrainingData::load(&cfg, &nerkit::model::resolve(&cfg.model)?)?;
    let (examples, pad_id) = (&data.examples, i64::from(data.encoder.pad_id()));
    let mut out = std::io::BufWriter::new(std::fs::File::create(&a.out)?);
    let mut steps = 0;
    for epoch in 0..cfg.epochs {
        for indices in data.epoch_batches(&cfg, epoch) {
            let b = pad_batch(examples, &indices, pad_id);
            let rows = |x: &ndarray::Array2<i64>| x.rows().into_iter().map(|r| r.to_vec()).collect::<Vec<_>>();
            let line = serde_json::json!({
                "epoch": epoch,
                "input_ids": rows(&b.inputs.input_ids),
                "attention_mask": rows(&b.inputs.attention_mask),
                "token_type_ids": rows(&b.inputs.token_type_ids),
                "labels": rows(&b.labels),
            });
            writeln!(out, "{line}")?;
            steps += 1;
        }
    }
    eprintln!("{steps} steps over {} examples written to {}", examples.len(), a.out.display());
    Ok(())
}
