//! The parts of the raw-text path around the inference graph, on 200 real PLOD sentences (`../shared/data/plod`;
//! `PLOD_DIR` overrides): tokenisation + label alignment (`prepare`), word decoding (argmax and BIO-constrained
//! Viterbi over per-word log-probabilities), and whole raw-text tagging with the embedded MiniLM (ORT int8, native
//! aggregation and the Hugging Face `simple` strategy). Inference alone: `benches/inference.rs`.
//!
//! `cargo bench --bench pipeline -- --warm-up-time 1 --measurement-time 5`
use std::hint::black_box;
use std::path::PathBuf;

use criterion::{criterion_group, criterion_main, Criterion};
use nerkit::data::{load, DataSource, LoadOptions};
use nerkit::infer::decode::{decode, Decoding};
use nerkit::infer::{Aggregation, TagOptions, TextTagger};
use nerkit::infer::{EngineChoice, EngineSpec};
use nerkit::labels::LabelSet;
use nerkit::prepare::encode::{EncodeOptions, Encoder};
use nerkit_export::pipeline::{export_model_dir, ExportRequest};
use nerkit_export::quantize::QuantizeOptions;

const SENTENCES: usize = 200;

fn plod() -> PathBuf {
    std::env::var("PLOD_DIR").map(PathBuf::from).unwrap_or_else(|_| {
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../shared/data/plod/plod-cw-2024-lowercased")
    })
}

fn pipeline(c: &mut Criterion) {
    let labels = LabelSet::plod();
    let source = DataSource::from_path(plod().join("train.jsonl")).expect("PLOD data (../shared/data/plod)");
    let mut data = load(&source, &labels, &LoadOptions::default()).expect("PLOD train.jsonl");
    data.sentences.truncate(SENTENCES);
    let model = nerkit::paths::embedded_model_dir();
    let tokenizer = nerkit::model::load_tokenizer(&model.join("tokenizer.json")).expect("`make setup` first");
    let encoder = Encoder::new(tokenizer, EncodeOptions::default()).expect("encoder");

    let mut group = c.benchmark_group(format!("pipeline_{SENTENCES}_sentences"));
    group.sample_size(10);
    group.bench_function("tokenise_align", |b| {
        b.iter(|| black_box(encoder.encode_sentences(black_box(&data.sentences), &labels).expect("encode")))
    });

    // per-word log-probabilities with some structure: a deterministic walk over the four labels
    let log_probs: Vec<Vec<Vec<f32>>> = data
        .sentences
        .iter()
        .enumerate()
        .map(|(s, sent)| {
            (0..sent.words.len())
                .map(|w| (0..labels.len()).map(|l| -(((s * 31 + w * 7 + l * 13) % 11) as f32) / 3.0).collect())
                .collect()
        })
        .collect();
    for (name, decoding) in [("decode_argmax", Decoding::Argmax), ("decode_viterbi", Decoding::Viterbi)] {
        group.bench_function(name, |b| {
            b.iter(|| log_probs.iter().map(|lp| decode(black_box(lp), &labels, decoding).len()).sum::<usize>())
        });
    }

    let dir = tempfile::tempdir().expect("temp dir");
    let req = ExportRequest {
        labels: Some(labels.labels().to_vec()),
        int8: Some(QuantizeOptions::default()),
        ..ExportRequest::new(&model, dir.path())
    };
    export_model_dir(&req).expect("export the embedded MiniLM");
    let mut tagger =
        TextTagger::open(dir.path(), EngineChoice::Exact(EngineSpec::ORT_INT8), None).expect("ORT int8 (make setup)");
    let texts: Vec<String> = data.sentences.iter().map(|s| s.words.join(" ")).collect();
    let texts: Vec<&str> = texts.iter().map(String::as_str).collect();
    for (name, aggregation) in [("tag_text_native", Aggregation::Native), ("tag_text_hf_simple", Aggregation::Simple)] {
        let opts = TagOptions { aggregation, ..Default::default() };
        group.bench_function(name, |b| {
            b.iter(|| {
                texts
                    .chunks(nerkit::predict::DEFAULT_CHUNK)
                    .map(|c| tagger.tag(black_box(c), &opts).expect("tag").len())
                    .sum::<usize>()
            })
        });
    }
    group.finish();
}

criterion_group!(benches, pipeline);
criterion_main!(benches);
