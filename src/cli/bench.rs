//! `nerkit bench`: engines side by side on one model (see [`crate::bench`]).
use std::path::PathBuf;

use crate::bench::server_load::Load;
use crate::bench::{BenchPlan, BenchReport};
use crate::infer::EngineSpec;

#[derive(clap::Args, Debug)]
pub struct Args {
    /// Model directory: trained (exported on first use) or exported (model.onnx, model.int8.onnx, ...). Not
    /// needed when only --server is measured.
    #[arg(long, value_name = "DIR", required_unless_present = "server")]
    pub model: Option<PathBuf>,
    /// Backends to compare (unavailable ones are reported as skipped, with the reason).
    #[arg(long, value_enum, value_delimiter = ',', default_value = "ort,ort-int8,tract")]
    pub backends: Vec<EngineSpec>,
    /// Batch sizes.
    #[arg(long, value_delimiter = ',', default_value = "1,8")]
    pub batch: Vec<usize>,
    /// Sequence lengths in sub-word tokens.
    #[arg(long, value_delimiter = ',', default_value = "32,128")]
    pub seq: Vec<usize>,
    /// Untimed rounds first.
    #[arg(long, default_value_t = 3)]
    pub warmup: usize,
    /// Timed rounds; each runs every backend × shape once.
    #[arg(long, default_value_t = 20)]
    pub rounds: usize,
    /// Stop the timed rounds after this many seconds even before --rounds (at least one round is timed).
    #[arg(long, value_name = "SECONDS")]
    pub duration: Option<f64>,
    /// Engine intra-op threads (default: the engine's own choice).
    #[arg(long)]
    pub threads: Option<usize>,
    /// The backend the ratio column divides by.
    #[arg(long, value_enum, default_value = "ort")]
    pub baseline: EngineSpec,
    /// Labelled data (JSONL, CoNLL, CSV, parquet; e.g. a run's validation.jsonl): each backend's entity micro F1
    /// beside its speed, and its F1 difference to the baseline paired on the same sentences.
    #[arg(long, value_name = "DATA")]
    pub accuracy: Option<PathBuf>,
    /// With --accuracy: only the first N sentences.
    #[arg(long, value_name = "N", requires = "accuracy")]
    pub accuracy_limit: Option<usize>,
    /// Documents (plain text, one per line; or JSONL with `text`, or labelled `tokens` joined by spaces): time
    /// the whole raw-text path of `nerkit predict` on them, per backend.
    #[arg(long, value_name = "FILE")]
    pub end_to_end: Option<PathBuf>,
    /// With --end-to-end: timed passes over the file per backend (after one untimed pass), interleaved.
    #[arg(long, default_value_t = 3, requires = "end_to_end")]
    pub end_to_end_rounds: usize,
    /// With --end-to-end: engine lanes of the raw-text path (as `nerkit predict --lanes`), one row per count
    /// [default: predict's default for each backend: 2 on a CPU with 2 or more cores, 1 on CUDA and tract].
    #[arg(long, value_delimiter = ',', requires = "end_to_end")]
    pub lanes: Vec<usize>,
    /// With --end-to-end: also run the Hugging Face token-classification pipeline (PyTorch, aggregation
    /// "simple") under this Python (it needs torch and transformers) on the same documents and the trained
    /// --model directory, in the same interleaved rounds: its rows are `hf-pipeline-b<batch>`.
    #[arg(long, value_name = "PYTHON", requires = "end_to_end")]
    pub compare_python: Option<PathBuf>,
    /// With --compare-python: the trained model directory the pipeline loads (config.json, model.safetensors,
    /// tokenizer.json), when --model is an export of it. Default: --model.
    #[arg(long, value_name = "DIR", requires = "compare_python")]
    pub compare_model: Option<PathBuf>,
    /// With --compare-python: the pipeline's batch sizes, one turn each per round.
    #[arg(long, value_delimiter = ',', default_value = "1,8", requires = "compare_python")]
    pub compare_batch: Vec<usize>,
    /// A running `nerkit serve` to load (loopback addresses only; repeat or comma-separate to compare servers,
    /// e.g. one started with --no-batching). Texts: the --end-to-end documents, else built-in sentences.
    #[arg(long, value_name = "URL", value_delimiter = ',')]
    pub server: Vec<String>,
    /// With --server: concurrent requests in flight, one load per value.
    #[arg(long, value_delimiter = ',', default_value = "1,8,32")]
    pub concurrency: Vec<usize>,
    /// With --server: requests per concurrency level (one text each).
    #[arg(long, default_value_t = 256)]
    pub requests: usize,
    /// With --server: a level stops early after this many seconds.
    #[arg(long, default_value_t = 60.0)]
    pub max_seconds: f64,
    /// With --server: bearer token of a server started with --api-key.
    #[arg(long, env = "NERKIT_API_KEY", hide_env_values = true)]
    pub api_key: Option<String>,
    /// Also write the report as JSON (`machine`, `model`, `rounds`; `rows`: backend, batch, seq, p50_ms, p95_ms,
    /// p99_ms, sentences_per_s, tokens_per_s, ratio, rss_mb, f1; `accuracy`: backend, sentences, f1, per_type,
    /// vs_baseline {micro, micro_low, micro_high, per_type}; `end_to_end`: backend, lanes, batch, documents, sentences,
    /// entities, p50_s, documents_per_s, sentences_per_s, ratio; `server`: url, batching, backend, concurrency,
    /// requests, errors, p50_ms, p95_ms, p99_ms, requests_per_s; `skipped`: backend, reason).
    #[arg(long, value_name = "FILE")]
    pub json: Option<PathBuf>,
    /// Write a self-contained HTML page (report.html: throughput, latency distribution, speed against F1) and
    /// bench.json into DIR.
    #[arg(long, value_name = "DIR")]
    pub report: Option<PathBuf>,
}

pub fn run(args: Args) -> anyhow::Result<()> {
    if args.rounds == 0
        || args.end_to_end_rounds == 0
        || args.batch.contains(&0)
        || args.compare_batch.contains(&0)
        || args.lanes.contains(&0)
        || args.seq.iter().any(|&s| s < 2)
    {
        anyhow::bail!(
            "--rounds, --end-to-end-rounds, --batch, --compare-batch and --lanes must be at least 1, --seq at least 2 ([CLS] and [SEP])"
        );
    }
    anyhow::ensure!(
        args.concurrency.iter().all(|&c| c > 0) && args.requests > 0 && args.max_seconds > 0.0,
        "--concurrency, --requests and --max-seconds must be positive"
    );
    let bar = indicatif::ProgressBar::new(1);
    if !std::io::IsTerminal::is_terminal(&std::io::stderr()) {
        bar.set_draw_target(indicatif::ProgressDrawTarget::hidden());
    }
    let progress = |done: usize, total: usize| {
        bar.set_length(total as u64);
        bar.set_position(done as u64);
    };
    let mut report = match &args.model {
        Some(model) => {
            let dir = crate::infer::select::exported_dir(model)?;
            let plan = BenchPlan {
                backends: args.backends.clone(),
                batches: args.batch.clone(),
                seqs: args.seq.clone(),
                warmup: args.warmup,
                rounds: args.rounds,
                threads: args.threads,
                baseline: args.baseline,
                duration: args.duration,
                accuracy: args.accuracy.clone(),
                accuracy_limit: args.accuracy_limit,
                end_to_end: args.end_to_end.clone(),
                end_to_end_rounds: args.end_to_end_rounds,
                lanes: args.lanes.clone(),
                compare: args.compare_python.clone().map(|python| crate::bench::Compare {
                    python,
                    model_dir: args.compare_model.clone().unwrap_or_else(|| model.clone()),
                    batches: args.compare_batch.clone(),
                }),
            };
            crate::bench::run(&dir, &plan, &progress)?
        }
        None => BenchReport { machine: crate::bench::machine(), ..Default::default() },
    };
    if !args.server.is_empty() {
        let texts = match &args.end_to_end {
            Some(path) => crate::bench::end_to_end::read_documents(path)?,
            None => crate::infer::compare::SAMPLE_SENTENCES.iter().map(|s| s.to_string()).collect(),
        };
        let load = Load {
            concurrency: args.concurrency.clone(),
            requests: args.requests,
            max_seconds: args.max_seconds,
            texts,
            api_key: args.api_key.clone(),
        };
        report.server = crate::bench::server_load::measure(&args.server, &load, &progress)?;
    }
    bar.finish_and_clear();
    let baseline = args.baseline.to_string();
    print!("{}", crate::bench::report::table(&report, &baseline));
    if let Some(path) = &args.json {
        std::fs::write(path, serde_json::to_string_pretty(&report)?)
            .map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))?;
    }
    if let Some(dir) = &args.report {
        println!("report: {}", crate::bench::report::write(&report, &baseline, dir)?.display());
    }
    if args.model.is_some() && report.rows.is_empty() {
        anyhow::bail!("no backend could run (see the skipped lines)");
    }
    Ok(())
}
