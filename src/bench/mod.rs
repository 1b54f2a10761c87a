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

use std::path::{Path, PathBuf};
use std::time::Instant;

use serde::Serialize;

use crate::infer::{load_backend, Backend, BackendKind, BackendOptions, PaddedBatch};
use crate::runtime::Device;

/// A backend as `--backends` names it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, clap::ValueEnum)]
#[serde(rename_all = "kebab-case")]
pub enum BenchBackend {
    /// `model.onnx` on the CPU.
    Ort,
    /// `model.int8.onnx` on the CPU.
    OrtInt8,
    /// `model.fused.onnx` (ONNX Runtime's fused ops) on the CPU.
    OrtFused,
    /// `model.fused.int8.onnx` on the CPU.
    OrtFusedInt8,
    /// `model.onnx` on CUDA.
    OrtCuda,
    /// `model.fp16.onnx` on CUDA (converted from `model.onnx` when missing).
    OrtCudaFp16,
    /// `model.onnx` on tract (pure Rust).
    Tract,
}

impl BenchBackend {
    pub fn name(self) -> &'static str {
        match self {
            BenchBackend::Ort => "ort",
            BenchBackend::OrtInt8 => "ort-int8",
            BenchBackend::OrtFused => "ort-fused",
            BenchBackend::OrtFusedInt8 => "ort-fused-int8",
            BenchBackend::OrtCuda => "ort-cuda",
            BenchBackend::OrtCudaFp16 => "ort-cuda-fp16",
            BenchBackend::Tract => "tract",
        }
    }

    /// Where this backend runs.
    pub fn device(self) -> Device {
        match self {
            BenchBackend::OrtCuda | BenchBackend::OrtCudaFp16 => Device::Cuda,
            _ => Device::Cpu,
        }
    }

    fn load(self, dir: &Path, threads: Option<usize>) -> Result<Box<dyn Backend>, String> {
        let (kind, device) = match self {
            BenchBackend::Ort => (BackendKind::Ort, Device::Cpu),
            BenchBackend::OrtInt8 => (BackendKind::OrtInt8, Device::Cpu),
            BenchBackend::OrtFused => (BackendKind::OrtFused, Device::Cpu),
            BenchBackend::OrtFusedInt8 => (BackendKind::OrtFusedInt8, Device::Cpu),
            BenchBackend::OrtCuda => (BackendKind::Ort, Device::Cuda),
            BenchBackend::OrtCudaFp16 => (BackendKind::OrtFp16, Device::Cuda),
            BenchBackend::Tract => (BackendKind::Tract, Device::Cpu),
        };
        if self == BenchBackend::OrtCudaFp16 {
            crate::infer::select::ensure_fp16(dir).map_err(|e| e.to_string())?;
        }
        // the benchmark must measure what it names: no silent fallback to another graph or engine
        if let Some(file) = kind.files().first() {
            if !dir.join(file).is_file() {
                return Err(format!("no {file} in {} (nerkit export --int8 --fused --fp16 writes it)", dir.display()));
            }
        }
        let backend = load_backend(kind, dir, &BackendOptions { device, threads }).map_err(|e| e.to_string())?;
        if self != BenchBackend::Tract && backend.name() == "tract" {
            return Err("ONNX Runtime is not available (it fell back to tract)".into());
        }
        Ok(backend)
    }
}

#[derive(Clone, Debug)]
pub struct BenchPlan {
    pub backends: Vec<BenchBackend>,
    pub batches: Vec<usize>,
    pub seqs: Vec<usize>,
    pub warmup: usize,
    pub rounds: usize,
    pub threads: Option<usize>,
    pub baseline: BenchBackend,
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

/// One backend × shape.
#[derive(Clone, Debug, Serialize)]
pub struct BenchRow {
    pub backend: String,
    pub batch: usize,
    pub seq: usize,
    pub p50_ms: f64,
    pub p95_ms: f64,
    pub p99_ms: f64,
    pub sentences_per_s: f64,
    pub tokens_per_s: f64,
    /// The baseline's p50 over this one's (> 1: faster than the baseline); `None` when the baseline was skipped.
    pub ratio: Option<f64>,
    /// Resident memory added by loading this backend, MB.
    pub rss_mb: f64,
    /// The backend's entity micro F1 on the `--accuracy` data (the same on every shape); `None` without it.
    pub f1: Option<f64>,
    /// Every timed round's latency, ms (for the report's distribution chart; not in the JSON).
    #[serde(skip)]
    pub samples_ms: Vec<f64>,
}

#[derive(Clone, Debug, Serialize)]
pub struct Skipped {
    pub backend: String,
    pub reason: String,
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

fn rss_mb() -> f64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines().find(|l| l.starts_with("VmRSS:")).and_then(|l| l.split_whitespace().nth(1)?.parse().ok())
        })
        .map_or(0.0, |kb: f64| kb / 1024.0)
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

/// The token ids synthetic batches are drawn from: the model's `[CLS]` and `[SEP]` and the size of its vocabulary.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TokenSpace {
    pub cls: i64,
    pub sep: i64,
    pub vocab: i64,
}

impl Default for TokenSpace {
    /// bert-base-uncased (the embedded MiniLM's vocabulary).
    fn default() -> Self {
        TokenSpace { cls: 101, sep: 102, vocab: 30_522 }
    }
}

impl TokenSpace {
    /// From a tokenizer: its `[CLS]`/`[SEP]` (BERT's ids when it has none) and vocabulary size.
    pub fn of(tokenizer: &tokenizers::Tokenizer) -> Self {
        let id = |t: &str, d: i64| tokenizer.token_to_id(t).map_or(d, i64::from);
        let d = TokenSpace::default();
        TokenSpace { cls: id("[CLS]", d.cls), sep: id("[SEP]", d.sep), vocab: tokenizer.get_vocab_size(true) as i64 }
    }

    /// The tokenizer of the exported model directory `dir`, or BERT's space when it has none.
    pub fn of_dir(dir: &Path) -> Self {
        crate::model::load_tokenizer(&dir.join("tokenizer.json"))
            .map_or_else(|_| TokenSpace::default(), |t| Self::of(&t))
    }
}

/// A batch of `batch` sequences of `seq` tokens (`[CLS] … [SEP]` with ids spread over up to 2,000 vocabulary rows
/// from row 1,000 on, or over the upper half of a smaller vocabulary), all attended.
pub fn synthetic_batch(batch: usize, seq: usize, space: &TokenSpace) -> PaddedBatch {
    let lo = 1000.min(space.vocab / 2);
    let span = 2000.min(space.vocab - lo).max(1);
    let seqs: Vec<Vec<i64>> = (0..batch)
        .map(|b| {
            (0..seq)
                .map(|t| match t {
                    0 => space.cls,
                    t if t + 1 == seq => space.sep,
                    t => lo + ((b * 7919 + t * 104_729) as i64 % span),
                })
                .collect()
        })
        .collect();
    PaddedBatch::from_sequences(&seqs, 0)
}

/// The `p` quantile (0..=1) of ascending `sorted` by nearest rank; 0 for no samples.
pub(crate) fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i.min(sorted.len() - 1)]
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
        match b.load(dir, plan.threads) {
            Ok(backend) => loaded.push(Engine { name: b.name().into(), backend, rss_mb: (rss_mb() - before).max(0.0) }),
            Err(reason) => skipped.push(Skipped { backend: b.name().into(), reason }),
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
        plan.baseline.name(),
        &|d, _| progress(d, total),
    );
    let failed_names: Vec<&str> = failed.iter().map(|f| f.backend.as_str()).collect();
    loaded.retain(|e| !failed_names.contains(&e.name.as_str()));
    skipped.extend(failed);
    let baseline = plan.baseline.name();
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
        let kind = plan.backends.iter().copied().find(|b| b.name() == engine.name);
        let (device, tract) = (kind.map_or(Device::Cpu, |k| k.device()), kind.is_none_or(|k| k == BenchBackend::Tract));
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
                    .map(|_| k.load(dir, lanes.threads))
                    .collect::<Result<Vec<_>, String>>()
                    .map_err(|e| anyhow::anyhow!("{}: {e}", engine.name))?,
                (_, _, None) => anyhow::bail!("{}: cannot load more lanes", engine.name),
            };
            out.push(end_to_end::LaneTagger::new(&engine.name, engines, dir, lanes.batch)?);
        }
    }
    Ok(out)
}

/// A loaded engine to time, and the resident memory its loading added (MB).
pub struct Engine {
    pub name: String,
    pub backend: Box<dyn Backend>,
    pub rss_mb: f64,
}

/// The pause before an engine's turn in interleaved rounds. An ONNX Runtime session's idle worker threads keep
/// spinning for tens of milliseconds after its run; on 2 cores that spinning took 25-45 % of the next session's
/// time (MiniLM 8 × 128: fp32 160 ms right after another session, 123 ms after a 100 ms pause; 20 ms was not
/// enough), and more from a fast int8 graph than from fp32, so ratios shrank. After the pause each engine runs as
/// it does alone in `serve` or `predict`.
pub const SWITCH_PAUSE: std::time::Duration = std::time::Duration::from_millis(100);

/// Waits [`SWITCH_PAUSE`] before an engine's turn when `engines` take turns (nothing for a lone engine).
pub(crate) fn pause_before_turn(engines: usize) {
    if engines > 1 {
        std::thread::sleep(SWITCH_PAUSE);
    }
}

/// Times every engine on every (batch, seq) shape of [`synthetic_batch`]es drawn from `space` in interleaved
/// rounds (`warmup` untimed first; the timed ones stop after `rounds`, or once `max_seconds` have passed,
/// whichever comes first, after at least one), each engine's turn after [`pause_before_turn`]; ratios divide the
/// `baseline` engine's p50 by each row's. Engines that fail while running are returned as skipped.
#[allow(clippy::too_many_arguments)]
pub fn time_engines(
    engines: &mut [Engine],
    shapes: &[(usize, usize)],
    space: &TokenSpace,
    warmup: usize,
    rounds: usize,
    max_seconds: Option<f64>,
    baseline: &str,
    progress: &dyn Fn(usize, usize),
) -> (Vec<BenchRow>, Vec<Skipped>) {
    let batches: Vec<PaddedBatch> = shapes.iter().map(|&(b, s)| synthetic_batch(b, s, space)).collect();
    // times[engine][shape] in seconds
    let mut times = vec![vec![Vec::with_capacity(rounds); shapes.len()]; engines.len()];
    let mut failed: Vec<Option<String>> = vec![None; engines.len()];
    let total = warmup + rounds;
    let mut timed_since = None;
    let turns = engines.len();
    for round in 0..total {
        if round == warmup {
            timed_since = Some(Instant::now());
        }
        for (bi, engine) in engines.iter_mut().enumerate() {
            if failed[bi].is_some() {
                continue;
            }
            pause_before_turn(turns);
            for (si, batch) in batches.iter().enumerate() {
                let start = Instant::now();
                if let Err(e) = engine.backend.run(batch) {
                    failed[bi] = Some(e.to_string());
                    break;
                }
                if round >= warmup {
                    times[bi][si].push(start.elapsed().as_secs_f64());
                }
            }
        }
        progress(round + 1, total);
        if let (Some(since), Some(limit)) = (timed_since, max_seconds) {
            if since.elapsed().as_secs_f64() >= limit {
                break;
            }
        }
    }
    let mut rows = Vec::new();
    let mut skipped = Vec::new();
    for (bi, engine) in engines.iter().enumerate() {
        if let Some(reason) = &failed[bi] {
            skipped.push(Skipped { backend: engine.name.clone(), reason: format!("failed while running: {reason}") });
            continue;
        }
        for (si, &(batch, seq)) in shapes.iter().enumerate() {
            let mut t = times[bi][si].clone();
            t.sort_by(f64::total_cmp);
            let p50 = percentile(&t, 0.5);
            rows.push(BenchRow {
                backend: engine.name.clone(),
                batch,
                seq,
                p50_ms: p50 * 1e3,
                p95_ms: percentile(&t, 0.95) * 1e3,
                p99_ms: percentile(&t, 0.99) * 1e3,
                sentences_per_s: batch as f64 / p50,
                tokens_per_s: (batch * seq) as f64 / p50,
                ratio: None,
                rss_mb: engine.rss_mb,
                f1: None,
                samples_ms: times[bi][si].iter().map(|t| t * 1e3).collect(),
            });
        }
    }
    let base: Vec<(usize, usize, f64)> =
        rows.iter().filter(|r| r.backend == baseline).map(|r| (r.batch, r.seq, r.p50_ms)).collect();
    for r in &mut rows {
        r.ratio = base.iter().find(|(b, s, _)| *b == r.batch && *s == r.seq).map(|(_, _, p)| p / r.p50_ms);
    }
    (rows, skipped)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn synthetic_batches_stay_inside_the_models_vocabulary() {
        // the committed tiny fixture has 100 tokens: BERT's ids 1000-2999 would not exist there
        let tokenizer = crate::model::load_tokenizer(
            &Path::new(env!("CARGO_MANIFEST_DIR")).join("onnx/fixtures/tiny-bert/tokenizer.json"),
        )
        .unwrap();
        let space = TokenSpace::of(&tokenizer);
        assert_eq!(space.vocab, 100);
        let b = synthetic_batch(3, 16, &space);
        assert_eq!(b.input_ids.dim(), (3, 16));
        for row in b.input_ids.outer_iter() {
            assert_eq!((row[0], row[15]), (space.cls, space.sep));
            assert!(row.iter().all(|&id| (0..space.vocab).contains(&id)), "{row}");
            assert!(row.iter().skip(1).take(14).all(|&id| id >= space.vocab / 2), "ordinary tokens: {row}");
        }
        let bert = synthetic_batch(1, 8, &TokenSpace::default());
        assert!(bert.input_ids.iter().skip(1).take(6).all(|&id| (1000..3000).contains(&id)));
    }
}
