//! Do ONNX Runtime's CPU and CUDA execution providers compute the same training step?
//!
//! For a model directory and a JSONL training file, runs the first optimizer step of nerkit's training graph
//! from the same initial state on several batches, on the CPU and on the CUDA EP (with and without ORT's graph
//! optimizations), and prints loss and gradient norm side by side. Then fingerprints every intermediate value
//! of the graph (`nerkit_export::fingerprint`) on the first batch and names the ops whose outputs disagree
//! although their inputs agree. Needs a binary built with `--features cuda` and the GPU build of ONNX Runtime
//! (docs/gpu.md); with `--cpu-only` it compares optimized vs unoptimized CPU sessions instead, and with
//! `--cpu-twice` two identical CPU sessions (run-to-run determinism).
//!
//! ```text
//! cargo run --release --features cuda --example device_check -- MODEL_DIR train.jsonl [--batches 3]
//!     [--batch-size 16] [--steps 5] [--fingerprint-batch 0] [--csv fingerprints.csv] [--cpu-only | --cpu-twice]
//! ```
use std::io::Write;

use anyhow::{bail, Context, Result};
use nerkit::config::TrainConfig;
use nerkit::data::{self, DataSource, LoadOptions};
use nerkit::labels::LabelSet;
use nerkit::prepare::batch::{batches, pad_batch, LabelledBatch};
use nerkit::prepare::encode::{EncodeOptions, Encoder};
use nerkit::runtime::{self, Device};
use nerkit::train::engine::{step_inputs, train_step, Step};
use nerkit::train::graphs;
use nerkit::train::state::TrainState;
use nerkit_export::builder::{model_bytes, parse_model};
use nerkit_export::config::BertConfig;
use nerkit_export::fingerprint::{add_fingerprints, origins, relative_difference};
use nerkit_export::train_graph::names;
use nerkit_export::weights::Weights;
use ort::session::builder::GraphOptimizationLevel;
use ort::session::Session;

const LR: f32 = 1e-4;
const SEED: i64 = 7;

struct Args {
    model: String,
    data: String,
    batches: usize,
    batch_size: usize,
    csv: Option<String>,
    cpu_only: bool,
    cpu_twice: bool,
    fingerprint_batch: usize,
    steps: usize,
}

fn args() -> Result<Args> {
    let mut it = std::env::args().skip(1);
    let mut a = Args {
        model: String::new(),
        data: String::new(),
        batches: 3,
        batch_size: 16,
        csv: None,
        cpu_only: false,
        cpu_twice: false,
        fingerprint_batch: 0,
        steps: 5,
    };
    let mut positional = Vec::new();
    while let Some(x) = it.next() {
        match x.as_str() {
            "--batches" => a.batches = it.next().context("--batches N")?.parse()?,
            "--batch-size" => a.batch_size = it.next().context("--batch-size N")?.parse()?,
            "--csv" => a.csv = Some(it.next().context("--csv FILE")?),
            "--cpu-only" => a.cpu_only = true,
            "--cpu-twice" => (a.cpu_only, a.cpu_twice) = (true, true),
            "--fingerprint-batch" => a.fingerprint_batch = it.next().context("--fingerprint-batch N")?.parse()?,
            "--steps" => a.steps = it.next().context("--steps N")?.parse()?,
            _ => positional.push(x),
        }
    }
    let [model, data] = <[String; 2]>::try_from(positional).map_err(|_| anyhow::anyhow!("usage: MODEL_DIR DATA"))?;
    (a.model, a.data) = (model, data);
    Ok(a)
}

fn session(bytes: &[u8], device: Device, optimize: bool) -> Result<Session> {
    let env = runtime::environment()?;
    let level = if optimize { GraphOptimizationLevel::All } else { GraphOptimizationLevel::Disable };
    let mut b = Session::builder(&env)?.with_optimization_level(level).map_err(|e| anyhow::anyhow!("{e}"))?;
    // The CPU graph uses nerkit's kernels (`cpu_kernels`, on by default).
    b = b.with_operators(nerkit::train::kernels::domain()?).map_err(|e| anyhow::anyhow!("{e}"))?;
    let eps = runtime::execution_providers(device)?;
    if !eps.is_empty() {
        b = b.with_execution_providers(eps).map_err(|e| anyhow::anyhow!("{e}"))?;
    }
    Ok(b.commit_from_memory(bytes)?)
}

/// Runs one step from `state`; returns the requested scalar outputs.
fn run(s: &mut Session, state: &TrainState, batch: &LabelledBatch, cw: &[f32], outputs: &[String]) -> Result<Vec<f32>> {
    let first = Step { number: 1, lr: LR, seed: SEED, ema_decay: 0.0 };
    let out = s.run(step_inputs(state, batch, cw, &first)?)?;
    outputs
        .iter()
        .map(|name| {
            let v = out.get(name.as_str()).with_context(|| format!("no output `{name}`"))?;
            Ok(v.try_extract_tensor::<f32>()?.1[0])
        })
        .collect()
}

/// `steps` consecutive optimizer steps (cycling over the batches) on two engines from the same state: loss and
/// gradient norm per step, then how far the parameters have moved apart.
fn consecutive_steps(
    engines: &mut [(String, Session)],
    params: &[nerkit_export::train_graph::TrainParam],
    batches: &[LabelledBatch],
    cw: &[f32],
    steps: usize,
) -> Result<()> {
    if steps == 0 {
        return Ok(());
    }
    let mut states = [TrainState::new(params)?, TrainState::new(params)?];
    println!("\n{steps} consecutive steps, {} vs {}:", engines[0].0, engines[1].0);
    println!("step   loss (a)    loss (b)     grad_norm (a) grad_norm (b)");
    for step in 1..=steps as u64 {
        let batch = &batches[(step as usize - 1) % batches.len()];
        let mut out = Vec::new();
        for ((_, s), state) in engines.iter_mut().zip(states.iter_mut()) {
            let settings = Step { number: step, lr: LR, seed: SEED + step as i64, ema_decay: 0.0 };
            out.push(train_step(s, state, batch, cw, &settings, true)?);
        }
        let g = |o: &nerkit::train::engine::StepOutput| o.grad_norm.unwrap_or(f32::NAN);
        println!("{step:<6} {:>10.6} {:>10.6}   {:>12.6} {:>12.6}", out[0].loss, out[1].loss, g(&out[0]), g(&out[1]));
    }
    let (a, b) = (states[0].model_tensors()?, states[1].model_tensors()?);
    let start = TrainState::new(params)?.model_tensors()?;
    let mut rows: Vec<(f64, String)> = Vec::new();
    for ((x, y), s) in a.iter().zip(&b).zip(&start) {
        // How different the two updates are, relative to how far the parameter moved.
        let (mut diff, mut moved) = (0.0f64, 0.0f64);
        for ((&p, &q), &p0) in x.data.iter().zip(&y.data).zip(&s.data) {
            diff += ((p - q) as f64).powi(2);
            moved += ((p - p0) as f64).powi(2);
        }
        rows.push(((diff / moved.max(1e-300)).sqrt(), x.name.clone()));
    }
    rows.sort_by(|x, y| y.0.total_cmp(&x.0));
    println!("parameters whose updates differ most (‖Δa − Δb‖ / ‖Δa‖ after {steps} steps):");
    for (r, name) in rows.iter().take(8) {
        println!("  {name:<60} {r:.3e}");
    }
    let median = rows[rows.len() / 2].0;
    println!("  median over {} parameters: {median:.3e}", rows.len());
    Ok(())
}

fn main() -> Result<()> {
    let a = args()?;
    let labels = LabelSet::plod();
    let model = nerkit::model::resolve(&a.model)?;
    let mut bert = BertConfig::from_file(&model.config_path())?;
    bert.set_labels(labels.labels());
    let mut weights = Weights::load(&model.weights_path())?;
    weights.ensure_classifier(labels.len(), bert.hidden_size, bert.initializer_range, 42);
    let tc = TrainConfig { batch_size: a.batch_size, ..TrainConfig::default() };
    // The graph the trainer runs on CUDA (dense embedding gradient), or on the CPU with --cpu-only/--cpu-twice.
    let built = graphs::build(&bert, &weights, &tc, labels.len(), !a.cpu_only)?;
    if !built.clips {
        bail!("the check reads `grad_norm`: gradient clipping must be on");
    }

    let source: DataSource = a.data.parse()?;
    let dataset = data::load(&source, &labels, &LoadOptions::default())?;
    let options = EncodeOptions { max_len: tc.max_len, stride: tc.stride, label_all_subwords: false };
    let encoder = Encoder::new(model.tokenizer()?, options)?;
    let (examples, _) = encoder.encode_sentences(&dataset.sentences, &labels)?;
    let pad = i64::from(encoder.pad_id());
    let order = batches(&examples, a.batch_size, 42, tc.batching);
    let picked: Vec<LabelledBatch> = order.iter().take(a.batches).map(|ix| pad_batch(&examples, ix, pad)).collect();
    let cw = vec![1.0f32; labels.len()];
    let state = TrainState::new(&built.params)?;

    let (other, other_name, other_optimized) = match (a.cpu_only, a.cpu_twice) {
        (_, true) => (Device::Cpu, "cpu-again", true),
        (true, false) => (Device::Cpu, "cpu-unoptimized", false),
        _ => (Device::Cuda, "cuda", true),
    };
    let mut engines = vec![
        ("cpu".to_string(), session(&built.train, Device::Cpu, true)?),
        (other_name.to_string(), session(&built.train, other, other_optimized)?),
    ];
    if !a.cpu_only {
        engines.push(("cuda-unoptimized".into(), session(&built.train, Device::Cuda, false)?));
    }
    let wanted = [names::LOSS.to_string(), names::GRAD_NORM.to_string()];
    println!("batch  shape      engine              loss         grad_norm");
    for (i, batch) in picked.iter().enumerate() {
        for (name, s) in engines.iter_mut() {
            let v = run(s, &state, batch, &cw, &wanted)?;
            println!(
                "{i:<6} {:<10} {name:<18} {:>11.6}  {:>11.6}",
                format!("{:?}", batch.inputs.input_ids.dim()),
                v[0],
                v[1]
            );
        }
    }
    consecutive_steps(&mut engines[..2], &built.params, &picked, &cw, a.steps)?;
    drop(engines);

    let mut fp_model = parse_model(&built.train)?;
    let probes = add_fingerprints(&mut fp_model);
    let bytes = model_bytes(&fp_model);
    let outputs: Vec<String> = probes.iter().map(|p| p.output.clone()).collect();
    let fp_batch = picked.get(a.fingerprint_batch).context("--fingerprint-batch beyond --batches")?;
    let fa = run(&mut session(&bytes, Device::Cpu, true)?, &state, fp_batch, &cw, &outputs)?;
    let fb = run(&mut session(&bytes, other, other_optimized)?, &state, fp_batch, &cw, &outputs)?;
    let differing = fa.iter().zip(&fb).filter(|(x, y)| relative_difference(**x, **y) > 1e-3).count();
    println!(
        "\nfingerprints of {} values on batch {}: {differing} differ by more than 1e-3 (relative)",
        probes.len(),
        a.fingerprint_batch
    );
    let found = origins(&fp_model, &probes, &fa, &fb, 1e-3);
    println!(
        "ops whose outputs differ while their inputs agree ({}); Σx² of the output on both engines, and",
        found.len()
    );
    println!("the largest Σx² among its inputs (an output far below its inputs is cancellation noise):");
    let graph = fp_model.graph.as_ref().expect("graph");
    let by_value: std::collections::HashMap<&str, usize> =
        probes.iter().enumerate().map(|(i, p)| (p.value.as_str(), i)).collect();
    for o in found.iter().take(40) {
        let p = &probes[o.probe];
        let input_fp = graph.node[p.node].input.iter().filter_map(|v| by_value.get(v.as_str())).map(|&i| fa[i]);
        let largest = input_fp.fold(0.0f32, f32::max);
        println!(
            "  #{:<5} {:<14} {:<70} rel {:.2e}  {:.3e} vs {:.3e}  inputs {:.3e}",
            p.node, p.op, p.value, o.relative_difference, fa[o.probe], fb[o.probe], largest
        );
    }
    // Per-parameter squared gradient norms (`<p>.grad_sq_sum`; the fingerprint of a scalar is its square).
    let mut params: Vec<(f64, &str, f32, f32)> = probes
        .iter()
        .enumerate()
        .filter_map(|(i, p)| {
            let name = p.value.strip_suffix(".grad_sq_sum")?;
            let (x, y) = (fa[i].sqrt().sqrt(), fb[i].sqrt().sqrt());
            Some(((x as f64 - y as f64).abs(), name, x, y))
        })
        .collect();
    params.sort_by(|a, b| b.0.total_cmp(&a.0));
    println!("\nparameters with the largest gradient-norm differences (of {}):", params.len());
    for (d, name, x, y) in params.iter().take(15) {
        println!("  {name:<60} {x:>12.6} {y:>12.6}  diff {d:.3e}");
    }
    if let Some(path) = a.csv {
        let mut f = std::io::BufWriter::new(std::fs::File::create(&path)?);
        writeln!(f, "node,op,value,cpu,{other_name},relative_difference")?;
        for (i, p) in probes.iter().enumerate() {
            writeln!(
                f,
                "{},{},{},{:e},{:e},{:e}",
                p.node,
                p.op,
                p.value,
                fa[i],
                fb[i],
                relative_difference(fa[i], fb[i])
            )?;
        }
        println!("all fingerprints: {path}");
    }
    Ok(())
}
