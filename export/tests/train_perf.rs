//! Manual measurement (ignored by default; not a timing assertion): MiniLM-L6 training step on ORT CPU.
//!
//! `cargo test -p nerkit-export --test train_perf -- --ignored --nocapture` with `NERKIT_HOME` and
//! `ORT_DYLIB_PATH` set (`NERKIT_FREEZE_WORD_EMBEDDINGS=1` measures the frozen-embedding variant,
//! `NERKIT_DENSE_EMBEDDING_GRAD=1` the dense word-embedding gradient). Prints graph size, build and session times, step time (batch 16 × 128, 2 threads),
//! peak RSS, and the ORT profile aggregated by op type. Host-side feeding copies all parameters and moments
//! every step (the trainer binds two device-side buffer sets instead, see `src/train/state.rs`), so the step
//! time here is an upper bound.
mod autodiff_support;

use std::collections::HashMap;
use std::path::PathBuf;
use std::time::Instant;

use autodiff_support::{env, Val};
use ndarray::{ArrayD, IxDyn};
use nerkit_export::builder::model_bytes;
use nerkit_export::config::BertConfig;
use nerkit_export::train_graph::{bert_train_graph, names, TrainGraphConfig};
use nerkit_export::weights::Weights;
use ort::session::{Session, SessionInputValue};
use ort::value::Tensor;
use rand::{rngs::StdRng, Rng, SeedableRng};

fn peak_rss_mb() -> f64 {
    let s = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    s.lines()
        .find(|l| l.starts_with("VmHWM:"))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|v| v.parse::<f64>().ok())
        .map(|kb| kb / 1024.0)
        .unwrap_or(f64::NAN)
}

#[test]
#[ignore = "manual performance measurement (MiniLM, ~1 min)"]
fn minilm_training_step_on_ort_cpu() {
    let home = PathBuf::from(std::env::var("NERKIT_HOME").expect("NERKIT_HOME"));
    let dir = home.join("models/all-minilm-l6-v2");
    let threads: usize = std::env::var("NERKIT_THREADS").ok().and_then(|v| v.parse().ok()).unwrap_or(2);
    let (batch, seq) = (16usize, 128usize);
    let t0 = Instant::now();
    let cfg = BertConfig::from_file(&dir.join("config.json")).unwrap();
    let mut weights = Weights::load(&dir.join("model.safetensors")).unwrap();
    weights.ensure_classifier(4, cfg.hidden_size, 0.02, 1);
    let freeze = std::env::var("NERKIT_FREEZE_WORD_EMBEDDINGS").is_ok_and(|v| v == "1");
    // The trainer's CPU graph updates the word embeddings from a row-sparse gradient; NERKIT_DENSE_EMBEDDING_GRAD=1
    // measures the dense one (what the CUDA graph uses).
    let sparse = !std::env::var("NERKIT_DENSE_EMBEDDING_GRAD").is_ok_and(|v| v == "1");
    let train_cfg = TrainGraphConfig {
        freeze_word_embeddings: freeze,
        sparse_word_embedding_grad: sparse,
        ..TrainGraphConfig::new("logits", 4)
    };
    let tg = bert_train_graph(&cfg, &weights, &train_cfg).unwrap();
    let bytes = model_bytes(&tg.model);
    let n_params: usize = tg.params.iter().map(|p| p.dims.iter().product::<i64>() as usize).sum();
    let graph = tg.model.graph.as_ref().unwrap();
    eprintln!(
        "graph: {} nodes, {} trainable tensors ({:.1} M values; word embeddings frozen: {freeze}, row-sparse gradient: {sparse}), {:.1} MB proto, \
         built in {:.2} s",
        graph.node.len(),
        tg.params.len(),
        n_params as f64 / 1e6,
        bytes.len() as f64 / 1e6,
        t0.elapsed().as_secs_f64()
    );

    let mut values: HashMap<String, Val> = HashMap::new();
    for p in &tg.params {
        let shape: Vec<usize> = p.dims.iter().map(|d| *d as usize).collect();
        let data: Vec<f32> =
            p.initial.raw_data.chunks_exact(4).map(|c| f32::from_le_bytes(c.try_into().unwrap())).collect();
        let n = data.len();
        values.insert(p.name.clone(), Val::F32(ArrayD::from_shape_vec(IxDyn(&shape), data).unwrap()));
        values.insert(names::adam_m(&p.name), Val::F32(ArrayD::zeros(IxDyn(&shape))));
        values.insert(names::adam_v(&p.name), Val::F32(ArrayD::zeros(IxDyn(&shape))));
        let _ = n;
    }
    let mut rng = StdRng::seed_from_u64(1);
    let ids: Vec<i64> = (0..batch * seq).map(|_| rng.random_range(1000..30000)).collect();
    let labels: Vec<i64> = (0..batch * seq).map(|i| if i % seq == 0 { -100 } else { rng.random_range(0..4) }).collect();
    let bs = IxDyn(&[batch, seq]);
    let fixed: Vec<(String, Val)> = vec![
        ("input_ids".into(), Val::I64(ArrayD::from_shape_vec(bs.clone(), ids).unwrap())),
        ("attention_mask".into(), Val::I64(ArrayD::from_elem(bs.clone(), 1))),
        ("token_type_ids".into(), Val::I64(ArrayD::zeros(bs.clone()))),
        (names::LABELS.into(), Val::I64(ArrayD::from_shape_vec(bs, labels).unwrap())),
        (names::CLASS_WEIGHTS.into(), Val::F32(ArrayD::from_elem(IxDyn(&[4]), 1.0))),
        (names::LR.into(), Val::F32(ArrayD::from_elem(IxDyn(&[]), 5e-5))),
    ];

    let run = |sess: &mut Session, values: &mut HashMap<String, Val>, step: u32| -> (f64, f64) {
        let mut feed: Vec<(std::borrow::Cow<str>, SessionInputValue)> = vec![];
        let t = Instant::now();
        for (k, v) in values.iter().chain(fixed.iter().map(|(k, v)| (k, v))) {
            let value: SessionInputValue = match v {
                Val::F32(a) => Tensor::from_array(a.clone()).unwrap().into(),
                Val::I64(a) => Tensor::from_array(a.clone()).unwrap().into(),
                _ => unreachable!(),
            };
            feed.push((k.clone().into(), value));
        }
        feed.push((names::STEP.into(), Tensor::from_array(ArrayD::from_elem(IxDyn(&[]), step as f32)).unwrap().into()));
        feed.push((names::SEED.into(), Tensor::from_array(ArrayD::from_elem(IxDyn(&[]), step as i64)).unwrap().into()));
        let copy_in = t.elapsed().as_secs_f64();
        let out = sess.run(feed).unwrap();
        let loss = out[names::LOSS].try_extract_array::<f32>().unwrap()[[]] as f64;
        for p in &tg.params {
            for (src, dst) in [
                (names::new_param(&p.name), p.name.clone()),
                (names::new_adam_m(&p.name), names::adam_m(&p.name)),
                (names::new_adam_v(&p.name), names::adam_v(&p.name)),
            ] {
                values.insert(dst, Val::F32(out[src.as_str()].try_extract_array::<f32>().unwrap().to_owned()));
            }
        }
        (loss, copy_in)
    };

    let t1 = Instant::now();
    let mut sess =
        Session::builder(env()).unwrap().with_intra_threads(threads).unwrap().commit_from_memory(&bytes).unwrap();
    eprintln!("session created in {:.2} s; peak RSS {:.0} MB", t1.elapsed().as_secs_f64(), peak_rss_mb());
    let mut times = vec![];
    for step in 1..=4 {
        let t = Instant::now();
        let (loss, copy_in) = run(&mut sess, &mut values, step);
        let dt = t.elapsed().as_secs_f64();
        eprintln!("step {step}: loss {loss:.4}, {dt:.2} s (host copy-in {copy_in:.3} s)");
        if step > 1 {
            times.push(dt);
        }
    }
    times.sort_by(|a, b| a.partial_cmp(b).unwrap());
    eprintln!(
        "batch {batch}×{seq}, {threads} threads: median step {:.2} s; peak RSS {:.0} MB",
        times[times.len() / 2],
        peak_rss_mb()
    );

    // Profile one step and aggregate node time by op type.
    let prof = std::env::temp_dir().join("nerkit_train_profile");
    let mut ps = Session::builder(env())
        .unwrap()
        .with_intra_threads(threads)
        .unwrap()
        .with_profiling(&prof)
        .unwrap()
        .commit_from_memory(&bytes)
        .unwrap();
    run(&mut ps, &mut values, 5);
    let path = ps.end_profiling().unwrap();
    let events: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    let mut by_op: HashMap<String, (f64, usize)> = HashMap::new();
    let mut by_node: Vec<(f64, String)> = vec![];
    for e in events.as_array().unwrap() {
        if e["cat"] == "Node" && e["name"].as_str().is_some_and(|n| n.ends_with("_kernel_time")) {
            let op = e["args"]["op_name"].as_str().unwrap_or("?").to_string();
            let us = e["dur"].as_f64().unwrap_or(0.0);
            let entry = by_op.entry(op).or_default();
            entry.0 += us;
            entry.1 += 1;
            by_node.push((us, e["name"].as_str().unwrap().trim_end_matches("_kernel_time").to_string()));
        }
    }
    let total: f64 = by_op.values().map(|v| v.0).sum();
    let mut ops: Vec<_> = by_op.into_iter().collect();
    ops.sort_by(|a, b| b.1 .0.partial_cmp(&a.1 .0).unwrap());
    eprintln!("profiled kernel time {:.2} s; by op type:", total / 1e6);
    for (op, (us, n)) in ops.iter().take(15) {
        eprintln!("  {op:<22} {:>7.3} s  {:>5.1}%  ({n} nodes)", us / 1e6, 100.0 * us / total);
    }
    // The same split as benches/reference/pytorch_train_step.py --profile prints for PyTorch.
    let matmul: f64 =
        ops.iter().filter(|(op, _)| matches!(op.as_str(), "MatMul" | "FusedMatMul" | "Gemm")).map(|(_, v)| v.0).sum();
    eprintln!("matrix products (MatMul, FusedMatMul, Gemm): {:.1}% of kernel time", 100.0 * matmul / total);
    // Where the time goes, by the part of the graph a node belongs to (node names say it).
    let part = |n: &str| {
        if n.contains(".dropout") {
            "dropout masks + apply"
        } else if n.contains(".adam") {
            "AdamW"
        } else if n.contains("grad_sq") || n.starts_with("clip.") {
            "gradient clipping"
        } else if n.contains(".grad") || n.contains("/grad") {
            "backward"
        } else {
            "forward + loss"
        }
    };
    let mut by_part: std::collections::BTreeMap<&str, f64> = Default::default();
    for (us, n) in &by_node {
        *by_part.entry(part(n)).or_default() += us;
    }
    eprintln!("by part of the graph:");
    for (p, us) in &by_part {
        eprintln!("  {p:<22} {:>7.3} s  {:>5.1}%", us / 1e6, 100.0 * us / total);
    }
    by_node.sort_by(|a, b| b.0.partial_cmp(&a.0).unwrap());
    eprintln!("slowest nodes:");
    for (us, n) in by_node.iter().take(12) {
        eprintln!("  {:>7.3} s  {n}", us / 1e6);
    }
    let _ = std::fs::remove_file(path);
}
