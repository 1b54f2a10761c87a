//! `nerkit evaluate`: score predictions (entity-level, seqeval-equivalent), explain errors, write a report.
use std::path::PathBuf;

use crate::evaluate::{compare, evaluate, read_predictions, write_outputs, Baseline, EvalOptions};
use crate::labels::LabelSet;
use anyhow::{bail, Context};

#[derive(clap::Args, Debug)]
pub struct Args {
    /// Predictions made elsewhere, JSONL: {"tokens": [...], "ner_tags": [gold...], "pred_tags": [...]}
    /// with optional "pred_scores": [per-word confidence].
    #[arg(long, value_name = "FILE.jsonl")]
    pub predictions: Option<PathBuf>,
    /// Output directory for metrics.json, report.md, report.html and charts/.
    #[arg(long, value_name = "DIR", default_value = "evaluation")]
    pub out: PathBuf,
    /// A second run to compare with: its metrics.json, or its predictions JSONL (same sentences).
    #[arg(long, value_name = "FILE")]
    pub compare: Option<PathBuf>,
    #[command(flatten)]
    pub report: Box<ReportArgs>,
    #[command(flatten)]
    pub model: Box<ModelArgs>,
}

/// How to score and what to show.
#[derive(clap::Args, Debug)]
pub struct ReportArgs {
    /// Entity matching: `default` (seqeval default, lenient) or `strict` (seqeval strict IOB2).
    #[arg(long, default_value = "default")]
    pub mode: String,
    /// Label set, comma-separated (tags may also be given as ids into this list).
    #[arg(long, default_value = "O,B-AC,B-LF,I-LF", value_delimiter = ',')]
    pub labels: Vec<String>,
    /// Sample sentences shown in the report (half worst, half random).
    #[arg(long, default_value_t = 12)]
    pub samples: usize,
    /// Seed of the random sample.
    #[arg(long, default_value_t = 13)]
    pub seed: u64,
    /// Report title.
    #[arg(long, default_value = "nerkit evaluation")]
    pub title: String,
}

/// Model-based evaluation (not available until an inference backend is wired in).
#[derive(clap::Args, Debug)]
pub struct ModelArgs {
    /// Model directory to run (model-based evaluation; needs an inference backend).
    #[arg(long, value_name = "DIR")]
    pub model: Option<PathBuf>,
    /// Data to run the model on (with --model).
    #[arg(long, value_name = "FILE")]
    pub data: Option<PathBuf>,
    /// Inference backend for --model (ort, ort-cuda, tract).
    #[arg(long)]
    pub backend: Option<String>,
}

pub fn run(args: Args) -> anyhow::Result<()> {
    let m = &args.model;
    if m.model.is_some() || m.data.is_some() || m.backend.is_some() {
        bail!(
            "model-based evaluation (--model/--data/--backend) is not wired into this build yet: only --predictions \
             is available. Score predictions made elsewhere with `nerkit evaluate --predictions FILE.jsonl`"
        );
    }
    let Some(pred_path) = args.predictions else {
        bail!("nothing to evaluate: pass --predictions FILE.jsonl (see `nerkit evaluate --help`)");
    };
    let rep = &args.report;
    let labels = LabelSet::new(rep.labels.iter().map(|s| s.trim().to_string()).collect()).context("--labels")?;
    let options = EvalOptions {
        mode: rep.mode.parse()?,
        samples: rep.samples,
        seed: rep.seed,
        title: rep.title.clone(),
        source: pred_path.display().to_string(),
        ..EvalOptions::default()
    };
    let records = read_predictions(&pred_path, &labels)?;
    let mut report = evaluate(records, &labels, &options)?;
    if let Some(other) = &args.compare {
        let baseline = Baseline::load(other, &labels)?;
        report.comparison = Some(compare(&report, &baseline, &other.display().to_string())?);
    }
    let out = write_outputs(&report, &args.out)?;
    let e = report.entity();
    println!(
        "{} sentences, {} words · micro F1 {:.2} · macro F1 {:.2} · P {:.2} · R {:.2} ({} mode)",
        report.records.len(),
        report.metrics.token.tokens,
        100.0 * e.micro.f1,
        100.0 * e.macro_.f1,
        100.0 * e.micro.precision,
        100.0 * e.micro.recall,
        options.mode.as_str()
    );
    for (k, p) in &e.per_type {
        println!(
            "  {k:<4} P {:6.2}  R {:6.2}  F1 {:6.2}  support {}",
            100.0 * p.precision,
            100.0 * p.recall,
            100.0 * p.f1,
            p.support
        );
    }
    println!(
        "wrote {}, {}, {} and {} chart files",
        out.metrics_json.display(),
        out.report_md.display(),
        out.report_html.display(),
        out.charts.len()
    );
    Ok(())
}
