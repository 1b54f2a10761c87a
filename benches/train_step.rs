//! One training step of the embedded MiniLM (4-label head) as `nerkit train` runs it on the CPU: forward,
//! weighted cross-entropy, gradients, clipping and AdamW in one ONNX Runtime session, with nerkit's CPU kernels
//! and with standard ONNX ops only, at batch 4 × 32 and 16 × 128 (the default recipe's batch). PyTorch side by
//! side: `tests/train_perf.rs` with `NERKIT_PYTORCH` (interleaved rounds, not criterion).
//!
//! `cargo bench --bench train_step -- --warm-up-time 2 --measurement-time 20`
use std::hint::black_box;

use criterion::{criterion_group, criterion_main, Criterion};
use ndarray::Array2;
use nerkit::config::{CpuKernels, Device, TrainConfig};
use nerkit::infer::PaddedBatch;
use nerkit::prepare::batch::LabelledBatch;
use nerkit::train::engine::{train_step, Step};
use nerkit::train::graphs;
use nerkit::train::state::TrainState;
use nerkit_export::config::BertConfig;
use nerkit_export::weights::Weights;

const THREADS: usize = 2;

/// Token ids in the WordPiece range and labels spread over the four classes ([CLS] ignored), deterministic.
fn batch(rows: usize, width: usize) -> LabelledBatch {
    let ids = Array2::from_shape_fn((rows, width), |(r, t)| 1000 + ((r * 7919 + t * 104_729) % 20_000) as i64);
    let labels = Array2::from_shape_fn((rows, width), |(r, t)| if t == 0 { -100 } else { ((r + t) % 4) as i64 });
    LabelledBatch {
        inputs: PaddedBatch {
            input_ids: ids,
            attention_mask: Array2::ones((rows, width)),
            token_type_ids: Array2::zeros((rows, width)),
        },
        labels,
    }
}

fn training_step(c: &mut Criterion) {
    let dir = nerkit::paths::embedded_model_dir();
    let cfg = BertConfig::from_file(&dir.join("config.json")).expect("embedded model (make setup)");
    let mut weights = Weights::load(&dir.join("model.safetensors")).expect("weights");
    weights.ensure_classifier(4, cfg.hidden_size, 0.02, 1);
    for (name, cpu_kernels) in [("cpu_kernels", CpuKernels::All), ("standard_ops", CpuKernels::Off)] {
        let tc = TrainConfig { cpu_kernels, threads: THREADS, ..TrainConfig::default() };
        let graphs = graphs::build(&cfg, &weights, &tc, 4, false).expect("training graph");
        let mut session = nerkit::train::engine::session(&graphs.train, Device::Cpu, THREADS).expect("ORT session");
        let mut state = TrainState::new(&graphs.params).expect("state");
        let mut number = 0u64;
        for (rows, width) in [(4, 32), (16, 128)] {
            let b = batch(rows, width);
            let mut group = c.benchmark_group(format!("train_step_minilm_b{rows}_s{width}"));
            group.sample_size(10);
            group.bench_function(name, |bench| {
                bench.iter(|| {
                    number += 1;
                    let s = Step { number, lr: 5e-5, seed: number as i64, ema_decay: 0.0 };
                    black_box(train_step(&mut session, &mut state, &b, &[1.0; 4], &s, graphs.clips).expect("step"))
                })
            });
            group.finish();
        }
    }
}

criterion_group!(benches, training_step);
criterion_main!(benches);
