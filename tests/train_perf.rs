//! Manual measurement (ignored by default; not a timing assertion): the MiniLM-L6 training step on ONNX
//! Runtime's CPU provider, as `nerkit train` runs it (two device-side state sets, IoBinding, no host copies).
//! Batch 16 × 128, AdamW (weight decay 0.01) + clipping at 1.0, dropout on: the shapes and settings of
//! `benches/reference/pytorch_train_step.py`.
//!
//! `cargo test --release --test train_perf -- --ignored --nocapture` after `make setup`. Rounds alternate the
//! standard-op graph and the graph with nerkit's CPU kernels (crate `nerkit-kernels`), each round timing 3
//! steps of each after a warm-up. With `NERKIT_PYTORCH=/path/to/python` (torch and transformers installed),
//! PyTorch runs in the same rounds, step for step: the script serves steps on its stdin (`--serve`), so each
//! PyTorch step is timed right beside nerkit's, under the same load of this shared machine, and the ratio is
//! reported per round. Then one step of each graph is profiled (ONNX Runtime's profiler, second run of a
//! fresh session) and its kernel time printed by op type, by part of the graph and by node pattern.
//!
//! Settings: `NERKIT_THREADS` (2), `NERKIT_PERF_ROUNDS` (3), `NERKIT_PERF_PATTERNS` (node patterns listed,
//! 25), `NERKIT_PERF_PROFILE=0` (no profiles), `NERKIT_PERF_ONLY=kernels|standard` (one graph; the peak RSS
//! is then that session's).
use std::collections::{BTreeMap, HashMap};
use std::time::Instant;

use ndarray::Array2;
use nerkit::config::{CpuKernels, Device, TrainConfig};
use nerkit::infer::PaddedBatch;
use nerkit::prepare::batch::LabelledBatch;
use nerkit::train::engine::{train_step, Step};
use nerkit::train::graphs::{self, Graphs};
use nerkit::train::state::TrainState;
use nerkit_export::config::BertConfig;
use nerkit_export::weights::Weights;
use ort::session::Session;
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

fn batch(rows: usize, width: usize) -> LabelledBatch {
    let mut rng = StdRng::seed_from_u64(1);
    let ids = Array2::from_shape_fn((rows, width), |_| rng.random_range(1000..30000i64));
    let labels = Array2::from_shape_fn((rows, width), |(_, t)| if t == 0 { -100 } else { rng.random_range(0..4i64) });
    LabelledBatch {
        inputs: PaddedBatch {
            input_ids: ids,
            attention_mask: Array2::ones((rows, width)),
            token_type_ids: Array2::zeros((rows, width)),
        },
        labels,
    }
}

struct Variant {
    name: &'static str,
    graphs: Graphs,
    session: Session,
    state: TrainState,
    step: u64,
    times: Vec<f64>,
}

impl Variant {
    fn step(&mut self, batch: &LabelledBatch) -> f64 {
        self.step += 1;
        let s = Step { number: self.step, lr: 5e-5, seed: self.step as i64, ema_decay: 0.0 };
        let t = Instant::now();
        train_step(&mut self.session, &mut self.state, batch, &[1.0; 4], &s, self.graphs.clips).unwrap();
        t.elapsed().as_secs_f64()
    }
}

/// `benches/reference/pytorch_train_step.py --serve` as a child process: one step per request.
struct PyTorch {
    child: std::process::Child,
    stdout: std::io::BufReader<std::process::ChildStdout>,
    times: Vec<f64>,
}

impl PyTorch {
    fn start(python: &str, model: &std::path::Path, threads: usize) -> PyTorch {
        use std::io::BufRead;
        let script = concat!(env!("CARGO_MANIFEST_DIR"), "/benches/reference/pytorch_train_step.py");
        let mut child = std::process::Command::new(python)
            .args([script, &model.display().to_string(), &threads.to_string(), "--serve"])
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::null())
            .spawn()
            .expect("starting the PyTorch reference");
        let mut stdout = std::io::BufReader::new(child.stdout.take().unwrap());
        let mut line = String::new();
        stdout.read_line(&mut line).unwrap();
        assert_eq!(line.trim(), "ready", "PyTorch reference did not start");
        PyTorch { child, stdout, times: vec![] }
    }

    fn step(&mut self) -> f64 {
        use std::io::{BufRead, Write};
        let stdin = self.child.stdin.as_mut().unwrap();
        writeln!(stdin, "step").unwrap();
        stdin.flush().unwrap();
        let mut line = String::new();
        self.stdout.read_line(&mut line).unwrap();
        line.trim().parse().expect("a step time from the PyTorch reference")
    }
}

fn median(v: &[f64]) -> f64 {
    let mut v = v.to_vec();
    v.sort_by(|a, b| a.partial_cmp(b).unwrap());
    v[v.len() / 2]
}

/// One profiled step (the second run of a fresh session, so arena growth is not counted).
fn profile(name: &str, graphs: &Graphs, batch: &LabelledBatch, threads: usize) {
    let env = nerkit::runtime::environment().unwrap();
    let prof = std::env::temp_dir().join(format!("nerkit_train_profile_{name}"));
    let mut session = Session::builder(&env)
        .unwrap()
        .with_intra_threads(threads)
        .unwrap()
        .with_operators(nerkit::train::kernels::domain().unwrap())
        .unwrap()
        .with_profiling(&prof)
        .unwrap()
        .commit_from_memory(&graphs.train)
        .unwrap();
    let mut state = TrainState::new(&graphs.params).unwrap();
    for number in 1..=2 {
        let s = Step { number, lr: 5e-5, seed: number as i64, ema_decay: 0.0 };
        train_step(&mut session, &mut state, batch, &[1.0; 4], &s, graphs.clips).unwrap();
    }
    let path = session.end_profiling().unwrap();
    let events: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    let _ = std::fs::remove_file(path);
    // Events come in time order: the last one of each node is from the second run.
    let mut last: HashMap<String, (String, f64)> = HashMap::new();
    for e in events.as_array().unwrap() {
        if e["cat"] == "Node" && e["name"].as_str().is_some_and(|n| n.ends_with("_kernel_time")) {
            let node = e["name"].as_str().unwrap().trim_end_matches("_kernel_time").to_string();
            let op = e["args"]["op_name"].as_str().unwrap_or("?").to_string();
            last.insert(node, (op, e["dur"].as_f64().unwrap_or(0.0) / 1e6));
        }
    }
    let total: f64 = last.values().map(|(_, s)| s).sum();
    let table = |title: &str, key: &dyn Fn(&str, &str) -> String, rows: usize| {
        let mut sums: HashMap<String, (f64, usize)> = HashMap::new();
        for (node, (op, s)) in &last {
            let e = sums.entry(key(node, op)).or_default();
            e.0 += s;
            e.1 += 1;
        }
        let mut sums: Vec<_> = sums.into_iter().collect();
        sums.sort_by(|a, b| b.1 .0.partial_cmp(&a.1 .0).unwrap());
        eprintln!("  {title}:");
        for (k, (s, n)) in sums.iter().take(rows) {
            eprintln!("    {s:>7.3} s  {:>5.1}%  ×{n:<4} {k}", 100.0 * s / total);
        }
    };
    eprintln!("{name}: profiled kernel time {total:.3} s (one step)");
    table("by op type", &|_, op| op.to_string(), 14);
    // The same split as benches/reference/pytorch_train_step.py --profile prints for PyTorch.
    let products: f64 =
        last.values().filter(|(op, _)| matches!(op.as_str(), "MatMul" | "FusedMatMul" | "Gemm")).map(|(_, s)| s).sum();
    eprintln!("  matrix products (MatMul, FusedMatMul, Gemm): {:.1}% of kernel time", 100.0 * products / total);
    let part = |n: &str, _: &str| {
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
        .to_string()
    };
    table("by part of the graph", &part, 5);
    // The same node in every layer counts once (layer index as *).
    let pattern = |n: &str, _: &str| {
        n.split('.').map(|p| if p.chars().all(|c| c.is_ascii_digit()) { "*" } else { p }).collect::<Vec<_>>().join(".")
    };
    let rows = std::env::var("NERKIT_PERF_PATTERNS").ok().and_then(|v| v.parse().ok()).unwrap_or(25);
    table("by node pattern", &pattern, rows);
}

#[test]
#[ignore = "manual performance measurement (MiniLM, ~2 min in release)"]
fn minilm_training_step_on_ort_cpu() {
    let threads: usize = std::env::var("NERKIT_THREADS").ok().and_then(|v| v.parse().ok()).unwrap_or(2);
    let rounds: usize = std::env::var("NERKIT_PERF_ROUNDS").ok().and_then(|v| v.parse().ok()).unwrap_or(3);
    let dir = nerkit::paths::embedded_model_dir();
    let cfg = BertConfig::from_file(&dir.join("config.json")).expect("embedded model (make setup)");
    let mut weights = Weights::load(&dir.join("model.safetensors")).unwrap();
    weights.ensure_classifier(4, cfg.hidden_size, 0.02, 1);
    let batch = batch(16, 128);
    // NERKIT_PERF_ONLY=kernels|standard times one graph (then the peak RSS is that one session's).
    let only = std::env::var("NERKIT_PERF_ONLY").ok();
    let mut variants: Vec<Variant> = [("standard ops", CpuKernels::Off), ("nerkit CPU kernels", CpuKernels::All)]
        .into_iter()
        .filter(|(_, k)| match only.as_deref() {
            Some("kernels") => *k == CpuKernels::All,
            Some("standard") => *k == CpuKernels::Off,
            _ => true,
        })
        .map(|(name, cpu_kernels): (&str, CpuKernels)| {
            let t = Instant::now();
            let tc = TrainConfig { cpu_kernels, threads, ..TrainConfig::default() };
            let graphs = graphs::build(&cfg, &weights, &tc, 4, false).unwrap();
            let session = nerkit::train::engine::session(&graphs.train, Device::Cpu, threads).unwrap();
            let state = TrainState::new(&graphs.params).unwrap();
            eprintln!("{name}: graph + session in {:.1} s", t.elapsed().as_secs_f64());
            Variant { name, graphs, session, state, step: 0, times: vec![] }
        })
        .collect();
    for v in &mut variants {
        v.step(&batch); // warm-up: the arena grows on the first run
    }
    let mut pytorch = std::env::var("NERKIT_PYTORCH").ok().map(|python| PyTorch::start(&python, &dir, threads));
    // Per round: PyTorch's median step over each variant's.
    let mut ratios: Vec<Vec<f64>> = vec![vec![]; variants.len()];
    for round in 1..=rounds {
        let mut round_times = vec![];
        for v in &mut variants {
            let t: Vec<f64> = (0..3).map(|_| v.step(&batch)).collect();
            eprintln!("round {round}, {}: {:.3} / {:.3} / {:.3} s", v.name, t[0], t[1], t[2]);
            round_times.push(median(&t));
            v.times.extend(t);
        }
        if let Some(py) = &mut pytorch {
            let t: Vec<f64> = (0..3).map(|_| py.step()).collect();
            eprintln!("round {round}, PyTorch: {:.3} / {:.3} / {:.3} s", t[0], t[1], t[2]);
            for (r, own) in ratios.iter_mut().zip(&round_times) {
                r.push(median(&t) / own);
            }
            py.times.extend(t);
        }
    }
    let tokens = (16 * 128) as f64;
    for v in &variants {
        let m = median(&v.times);
        eprintln!("{}: median step {m:.3} s, {:.0} tokens/s", v.name, tokens / m);
    }
    if let Some(mut py) = pytorch {
        let m = median(&py.times);
        eprintln!("PyTorch (same rounds): median step {m:.3} s, {:.0} tokens/s", tokens / m);
        for (v, r) in variants.iter().zip(&ratios) {
            let mut sorted = r.clone();
            sorted.sort_by(|a, b| a.partial_cmp(b).unwrap());
            eprintln!(
                "{}: {:.2}× PyTorch's tokens/s (median of {} rounds; range {:.2}–{:.2})",
                v.name,
                median(r),
                r.len(),
                sorted[0],
                sorted[sorted.len() - 1]
            );
        }
        let _ = py.child.kill();
    }
    if let [standard, kernels] = &variants[..] {
        eprintln!(
            "batch 16 × 128, {threads} threads: CPU kernels {:.2}× the standard ops' speed",
            median(&standard.times) / median(&kernels.times)
        );
    }
    eprintln!("peak RSS {:.0} MB ({} training session(s))", peak_rss_mb(), variants.len());
    if std::env::var("NERKIT_PERF_PROFILE").is_ok_and(|v| v == "0") {
        return;
    }
    let graphs: BTreeMap<&str, Graphs> = variants.into_iter().map(|v| (v.name, v.graphs)).collect();
    for (name, g) in &graphs {
        profile(name, g, &batch, threads);
    }
}
