//! `nerkit bench`: inference engines side by side on one model. Every backend × shape cell is timed in
//! interleaved rounds (round r runs every cell once before round r + 1), so the machine's drift lands on all of
//! them alike and the ratios hold even on a noisy shared machine. Backends that cannot load (no GPU, no ONNX
//! Runtime library, a graph file missing) are reported as skipped with the reason.
//!
//! Beside the graph timings: [`accuracy`] (each engine's F1 on labelled data and its paired difference to the
//! baseline), [`end_to_end`] (the raw-text path of `nerkit predict` on real documents) and [`report`] (the
//! terminal table and the self-contained HTML page with charts).
pub mod accuracy;
pub mod end_to_end;
pub mod reference;
pub mod report;
pub mod server_load;

pub(crate) use crate::timing::{pause_before_turn, rss_mb};
pub use crate::timing::{
    percentile, synthetic_batch, time_engines, BenchRow, Engine, Skipped, TokenSpace, SWITCH_PAUSE,
};

use std::path::{Path, PathBuf};

use serde::Serialize;

use crate::infer::{load_backend, Backend, EngineSpec, Graph};
use crate::runtime::Device;

/// Loads exactly `spec` for `dir`: the benchmark must measure what it names, so a missing graph file or an ONNX
/// Runtime engine that would fall back to tract is a reason to skip it, not a silent substitute.
fn load_exact(spec: EngineSpec, dir: &Path, threads: Option<usize>) -> Result<Box<dyn Backend>, String> {
    if spec.graph == Graph::Fp16 {
        crate::infer::select::ensure_fp16(dir).map_err(|e| e.to_string())?;
    }
    if let Some(file) = spec.files().first() {
        if !dir.join(file).is_file() {
            return Err(format!("no {file} in {} (nerkit export --int8 --fused --fp16 writes it)", dir.display()));
        }
    }
    let backend = load_backend(spec, dir, threads).map_err(|e| e.to_string())?;
    if spec.is_ort() && !backend.spec().is_ort() {
        return Err("ONNX Runtime is not available (it fell back to tract)".into());
    }
    Ok(backend)
}

#[derive(Clone, Debug)]
pub struct BenchPlan {
    pub backends: Vec<EngineSpec>,
    pub batches: Vec<usize>,
    pub seqs: Vec<usize>,
    pub warmup: usize,
    pub rounds: usize,
    pub threads: Option<usize>,
    pub baseline: EngineSpec,
    /// Stop the timed rounds after this many seconds (`--duration`), even before `rounds`.
    pub duration: Option<f64>,
    /// Labelled data every engine is scored on (`--accuracy`), optionally its first `accuracy_limit` sentences.
    pub accuracy: Option<PathBuf>,
    pub accuracy_limit: Option<usize>,
    /// Documents the raw-text path is timed on (`--end-to-end`), in `end_to_end_rounds` timed passes each.
    pub end_to_end: Option<PathBuf>,
    pub end_to_end_rounds: usize,
    /// Engine lanes of the end-to-end taggers, one row per count (`--lanes`); empty = `nerkit predict`'s default
    /// for each engine ([`crate::infer::lanes::default_lanes`]).
    pub lanes: Vec<usize>,
    /// The Hugging Face pipeline beside the end-to-end engines (`--compare-python`).
    pub compare: Option<Compare>,
}

/// `--compare-python PYTHON`: the pipeline on the trained `model_dir` at each of `batches`.
#[derive(Clone, Debug)]
pub struct Compare {
    pub python: PathBuf,
    pub model_dir: PathBuf,
    pub batches: Vec<usize>,
}

#[derive(Clone, Debug, Default, Serialize)]
pub struct BenchReport {
    pub machine: String,
    pub model: String,
    pub rounds: usize,
    pub rows: Vec<BenchRow>,
    pub skipped: Vec<Skipped>,
    /// `--accuracy`: one row per engine that ran.
    pub accuracy: Vec<accuracy::AccuracyRow>,
    /// `--end-to-end`: one row per engine that ran.
    pub end_to_end: Vec<end_to_end::EndToEndRow>,
    /// `--server`: one row per server × concurrency.
    pub server: Vec<server_load::ServerRow>,
}

/// The CPU model and core count, for every report's header.
pub fn machine() -> String {
    let cpu = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("model name"))
                .map(|l| l.split(':').nth(1).unwrap_or("").trim().to_string())
        })
        .unwrap_or_else(|| "unknown CPU".into());
    let cores = std::thread::available_parallelism().map_or(0, |n| n.get());
    format!("{cpu}, {cores} cores")
}

/// Runs `plan` on the exported model directory `dir`. `progress(done, total)` counts timing rounds and
/// end-to-end passes.
pub fn run(dir: &Path, plan: &BenchPlan, progress: &dyn Fn(usize, usize)) -> anyhow::Result<BenchReport> {
    // read the inputs first: a bad file is reported before minutes of timing
    let documents = plan.end_to_end.as_deref().map(end_to_end::read_documents).transpose()?;
    // start the reference before the timings: a missing torch is reported before minutes of work
    let mut pipeline = match (&plan.compare, &documents) {
        (Some(c), Some(docs)) => Some(reference::HfPipeline::start(
            &c.python,
            &c.model_dir,
            docs,
            plan.threads.unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get())),
        )?),
        _ => None,
    };
    let mut loaded: Vec<Engine> = Vec::new();
    let mut skipped = Vec::new();
    for &b in &plan.backends {
        let before = rss_mb();
        match load_exact(b, dir, plan.threads) {
            Ok(backend) => loaded.push(Engine { name: b.to_string(), backend, rss_mb: (rss_mb() - before).max(0.0) }),
            Err(reason) => skipped.push(Skipped { backend: b.to_string(), reason }),
        }
    }
    let shapes: Vec<(usize, usize)> =
        plan.batches.iter().flat_map(|&b| plan.seqs.iter().map(move |&s| (b, s))).collect();
    let e2e_passes = if documents.is_some() { plan.end_to_end_rounds + 1 } else { 0 };
    let total = plan.warmup + plan.rounds + e2e_passes;
    let (mut rows, failed) = time_engines(
        &mut loaded,
        &shapes,
        &TokenSpace::of_dir(dir),
        plan.warmup,
        plan.rounds,
        plan.duration,
        &plan.baseline.to_string(),
        &|d, _| progress(d, total),
    );
    let failed_names: Vec<&str> = failed.iter().map(|f| f.backend.as_str()).collect();
    loaded.retain(|e| !failed_names.contains(&e.name.as_str()));
    skipped.extend(failed);
    let baseline = &plan.baseline.to_string();
    let accuracy = match &plan.accuracy {
        Some(data) => accuracy::measure(&mut loaded, dir, data, plan.accuracy_limit, baseline)?,
        None => Vec::new(),
    };
    for r in &mut rows {
        r.f1 = accuracy.iter().find(|a| a.backend == r.backend).map(|a| a.f1);
    }
    let end_to_end = match &documents {
        Some(docs) => {
            let done = plan.warmup + plan.rounds;
            let reference = pipeline
                .as_mut()
                .zip(plan.compare.as_ref())
                .map(|(pipeline, c)| end_to_end::Reference { pipeline, batches: &c.batches });
            let taggers = lane_taggers(loaded, dir, plan)?;
            end_to_end::measure(taggers, docs, plan.end_to_end_rounds, baseline, reference, &|d, _| {
                progress(done + d, total)
            })?
        }
        None => Vec::new(),
    };
    Ok(BenchReport {
        machine: machine(),
        model: dir.display().to_string(),
        rounds: rows.first().map_or(0, |r| r.samples_ms.len()),
        rows,
        skipped,
        accuracy,
        end_to_end,
        server: Vec::new(),
    })
}

/// The end-to-end taggers: each engine at each lane count of `plan` (its own session serves the one-lane
/// tagger; more lanes load more sessions, each with its share of the threads), with `nerkit predict`'s default
/// batch size for those lanes.
fn lane_taggers(engines: Vec<Engine>, dir: &Path, plan: &BenchPlan) -> anyhow::Result<Vec<end_to_end::LaneTagger>> {
    use crate::infer::lanes::LanePlan;
    let mut out = Vec::new();
    for engine in engines {
        let kind = plan.backends.iter().copied().find(|b| b.to_string() == engine.name);
        let (device, tract) = (kind.map_or(Device::Cpu, |k| k.device), kind.is_none_or(|k| !k.is_ort()));
        let counts: Vec<Option<usize>> =
            if plan.lanes.is_empty() { vec![None] } else { plan.lanes.iter().copied().map(Some).collect() };
        let mut plans: Vec<LanePlan> =
            counts.into_iter().map(|n| LanePlan::new(device, tract, plan.threads, n)).collect();
        plans.dedup_by_key(|p| p.lanes);
        let mut own = Some(engine.backend);
        for lanes in plans {
            let engines = match (lanes.lanes, own.take(), kind) {
                (1, Some(b), _) => vec![b],
                (n, _, Some(k)) => (0..n)
                    .map(|_| load_exact(k, dir, lanes.threads))
                    .collect::<Result<Vec<_>, String>>()
                    .map_err(|e| anyhow::anyhow!("{}: {e}", engine.name))?,
                (_, _, None) => anyhow::bail!("{}: cannot load more lanes", engine.name),
            };
            out.push(end_to_end::LaneTagger::new(&engine.name, engines, dir, lanes.batch)?);
        }
    }
    Ok(out)
}
