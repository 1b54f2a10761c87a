//! `nerkit bench`: engines side by side on one model (see [`crate::bench`]).
use std::path::PathBuf;

use crate::bench::{BenchBackend, BenchPlan};

#[derive(clap::Args, Debug)]
pub struct Args {
    /// Model directory: trained (exported on first use) or exported (model.onnx, model.int8.onnx, ...).
    #[arg(long, value_name = "DIR")]
    pub model: PathBuf,
    /// Backends to compare (unavailable ones are reported as skipped, with the reason).
    #[arg(long, value_enum, value_delimiter = ',', default_value = "ort,ort-int8,tract")]
    pub backends: Vec<BenchBackend>,
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
    /// Engine intra-op threads (default: the engine's own choice).
    #[arg(long)]
    pub threads: Option<usize>,
    /// The backend the ratio column divides by.
    #[arg(long, value_enum, default_value = "ort")]
    pub baseline: BenchBackend,
    /// Also write the rows as JSON (`machine`, `model`, `rounds`, `rows`: backend, batch, seq, p50_ms, p95_ms,
    /// p99_ms, sentences_per_s, tokens_per_s, ratio, rss_mb; `skipped`: backend, reason).
    #[arg(long, value_name = "FILE")]
    pub json: Option<PathBuf>,
}

pub fn run(args: Args) -> anyhow::Result<()> {
    if args.rounds == 0 || args.batch.contains(&0) || args.seq.iter().any(|&s| s < 2) {
        anyhow::bail!("--rounds and --batch must be at least 1, --seq at least 2 ([CLS] and [SEP])");
    }
    let dir = crate::infer::select::exported_dir(&args.model)?;
    let plan = BenchPlan {
        backends: args.backends.clone(),
        batches: args.batch.clone(),
        seqs: args.seq.clone(),
        warmup: args.warmup,
        rounds: args.rounds,
        threads: args.threads,
        baseline: args.baseline,
    };
    let bar = indicatif::ProgressBar::new((plan.warmup + plan.rounds) as u64);
    if !std::io::IsTerminal::is_terminal(&std::io::stderr()) {
        bar.set_draw_target(indicatif::ProgressDrawTarget::hidden());
    }
    let report = crate::bench::run(&dir, &plan, &|done, _| bar.set_position(done as u64));
    bar.finish_and_clear();
    print!("{}", crate::bench::table(&report, args.baseline.name()));
    if let Some(path) = &args.json {
        std::fs::write(path, serde_json::to_string_pretty(&report)?)
            .map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))?;
    }
    if report.rows.is_empty() {
        anyhow::bail!("no backend could run (see the skipped lines)");
    }
    Ok(())
}
