//! MiniLM (embedded model, 4-label head) at batch 1 × sequence 48 (one sentence, the serving case) and the grid
//! batch {1, 8, 32} × sequence {32, 128, 512}: ONNX Runtime on the standard graph (fp32, int8) and on the fused
//! graph (fp32, int8), and tract fp32. The model is exported once into a temporary directory. PyTorch on the
//! serving shapes: `benches/reference/pytorch_inference.py`.
//!
//! `cargo bench --bench inference -- --warm-up-time 1 --measurement-time 5` (the whole grid takes about half an
//! hour on 2 cores; filter, e.g. `-- minilm_b8_s128`)
use std::hint::black_box;

use criterion::{criterion_group, criterion_main, Criterion};
use nerkit::infer::{load_backend, EngineSpec, PaddedBatch};
use nerkit_export::pipeline::{export_model_dir, ExportRequest};
use nerkit_export::quantize::QuantizeOptions;

const SHAPES: [(usize, usize); 10] =
    [(1, 48), (1, 32), (1, 128), (1, 512), (8, 32), (8, 128), (8, 512), (32, 32), (32, 128), (32, 512)];

fn batch(size: usize, seq: usize) -> PaddedBatch {
    // Deterministic ids inside the wordpiece range, [CLS] ... [SEP], no padding.
    let seqs: Vec<Vec<i64>> = (0..size)
        .map(|b| {
            let mut s: Vec<i64> = (0..seq).map(|i| 1000 + ((b * 7919 + i * 104_729) % 20_000) as i64).collect();
            s[0] = 101;
            s[seq - 1] = 102;
            s
        })
        .collect();
    PaddedBatch::from_sequences(&seqs, 0)
}

fn inference(c: &mut Criterion) {
    let dir = tempfile::tempdir().expect("temp dir");
    let req = ExportRequest {
        labels: Some(["O", "B-AC", "B-LF", "I-LF"].map(String::from).to_vec()),
        int8: Some(QuantizeOptions::default()),
        fused: true,
        ..ExportRequest::new(nerkit::paths::embedded_model_dir(), dir.path())
    };
    export_model_dir(&req).expect("export the embedded MiniLM (run `make setup`)");
    let kinds = [
        ("ort_fp32", EngineSpec::ORT),
        ("ort_int8", EngineSpec::ORT_INT8),
        ("ort_fused_fp32", EngineSpec::ORT_FUSED),
        ("ort_fused_int8", EngineSpec::ORT_FUSED_INT8),
        ("tract_fp32", EngineSpec::TRACT),
    ];
    for (size, seq) in SHAPES {
        let batch = batch(size, seq);
        let mut group = c.benchmark_group(format!("minilm_b{size}_s{seq}"));
        group.sample_size(10);
        for (name, kind) in kinds {
            let mut backend = load_backend(kind, dir.path(), None).expect("load backend");
            group.bench_function(name, |b| b.iter(|| black_box(backend.run(black_box(&batch)).expect("run"))));
        }
        group.finish();
    }
}

criterion_group!(benches, inference);
criterion_main!(benches);
