//! `POST /tag` in-process: the whole actix app (middleware, JSON in and out, limits, the batcher's queue and
//! engine thread) called through `actix_web::test`, without sockets, so the handler's cost is measured apart from
//! the network and a load generator. Two engines: an echo engine that tags nothing (what the server itself
//! costs per request) and the embedded MiniLM on ORT int8 (one PLOD sentence, native JSON and the Hugging Face
//! shape). Over HTTP with a real load: `nerkit bench --server`.
//!
//! `cargo bench --bench serve -- --warm-up-time 1 --measurement-time 5`
use std::hint::black_box;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use actix_web::test::{call_service, init_service, TestRequest};
use criterion::{criterion_group, criterion_main, Criterion};
use nerkit::infer::{EngineChoice, EngineSpec};
use nerkit::labels::LabelSet;
use nerkit::serve::ServeEngine;
use nerkit_export::pipeline::{export_model_dir, ExportRequest};
use nerkit_export::quantize::QuantizeOptions;
use nerkit_server::api::{ModelInfo, TagOptions, TagResult};
use nerkit_server::batcher::Status;
use nerkit_server::{Engine, EngineError, ServerConfig, TokenCounter};
use serde_json::json;

const SENTENCE: &str =
    "Functional MRI (fMRI) with echo planar imaging (EPI) measures the blood oxygen level dependent \
                        (BOLD) signal in the default mode network (DMN).";

/// Tags nothing: one empty result per text.
struct Echo;

impl Engine for Echo {
    fn info(&self) -> ModelInfo {
        ModelInfo {
            model_id: "echo".into(),
            labels: vec!["O".into()],
            backend: "none".into(),
            backend_reasons: Vec::new(),
            max_len: 128,
            ..Default::default()
        }
    }
    fn token_counter(&self) -> TokenCounter {
        Arc::new(|t: &str| t.split_whitespace().count())
    }
    fn tag(&mut self, texts: &[&str], _: &TagOptions) -> Result<Vec<TagResult>, EngineError> {
        Ok(texts.iter().map(|_| TagResult::default()).collect())
    }
}

/// The embedded MiniLM (classifier untrained: the speed is what is measured), exported with int8.
fn minilm(dir: &Path) -> Box<dyn Engine> {
    let req = ExportRequest {
        labels: Some(LabelSet::plod().labels().to_vec()),
        int8: Some(QuantizeOptions::default()),
        ..ExportRequest::new(nerkit::paths::embedded_model_dir(), dir)
    };
    export_model_dir(&req).expect("export the embedded MiniLM (`make setup` first)");
    Box::new(
        ServeEngine::open(dir, EngineChoice::Exact(EngineSpec::ORT_INT8), None, 1)
            .expect("ORT int8 (`make setup` first)"),
    )
}

fn bench_engine(c: &mut Criterion, name: &str, engine: Box<dyn Engine>) {
    let rt = actix_web::rt::System::new();
    let mut slot = Some(engine);
    let state = nerkit_server::state(&ServerConfig::default(), move || Ok(slot.take().expect("loaded once")), |_| {});
    let since = Instant::now();
    while !matches!(state.batcher.status(), Status::Ready(..)) {
        assert!(since.elapsed() < Duration::from_secs(120), "{name}: the engine did not get ready");
        std::thread::sleep(Duration::from_millis(10));
    }
    let app = rt.block_on(init_service(nerkit_server::app(state.clone())));
    let bodies = [("native", json!({ "text": SENTENCE })), ("hf", json!({ "inputs": SENTENCE }))];
    let mut group = c.benchmark_group(format!("tag_handler_{name}"));
    group.sample_size(20);
    for (shape, body) in bodies {
        group.bench_function(shape, |b| {
            b.iter(|| {
                let req = TestRequest::post().uri("/tag").set_json(black_box(&body)).to_request();
                let res = rt.block_on(call_service(&app, req));
                assert!(res.status().is_success(), "{name} {shape}: {}", res.status());
                res
            })
        });
    }
    group.finish();
    state.batcher.stop();
}

fn serve(c: &mut Criterion) {
    bench_engine(c, "echo", Box::new(Echo));
    let dir = tempfile::tempdir().expect("temp dir");
    bench_engine(c, "minilm_int8", minilm(dir.path()));
}

criterion_group!(benches, serve);
criterion_main!(benches);
