//! `nerkit evaluate`: score predictions (entity-level, seqeval-equivalent), explain errors, write a report.
use std::path::PathBuf;

use crate::data::{DataSource, LoadOptions};
use crate::evaluate::{compare, evaluate, read_predictions, write_outputs, Baseline, EvalOptions, PredictionRecord};
use crate::infer::tagger::tag_with_model_dir;
use crate::infer::BackendKind;
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
    /// Label set, comma-separated (tags may also be given as ids into this list). Default: the model's
    /// (`config.json` id2label) with --model, else the tags of the predictions file.
    #[arg(long, value_delimiter = ',')]
    pub labels: Vec<String>,
    /// Tagging scheme of --data (default: detected); converted to IOB2.
    #[arg(long, value_enum)]
    pub scheme: Option<crate::data::Scheme>,
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

/// Model-based evaluation: run a model directory over labelled data.
#[derive(clap::Args, Debug)]
pub struct ModelArgs {
    /// Model to run: a trained directory (`nerkit train`'s best/), an exported one (model.onnx), or `embedded`.
    #[arg(long, value_name = "DIR")]
    pub model: Option<PathBuf>,
    /// Data to run the model on (with --model).
    #[arg(long, value_name = "FILE")]
    pub data: Option<PathBuf>,
    /// Word decoding for --model: viterbi (BIO-constrained, default) or argmax.
    #[arg(long, value_enum, default_value = "viterbi")]
    pub decode: crate::infer::decode::Decoding,
    /// Inference backend for --model.
    #[arg(long, value_enum, default_value = "ort")]
    pub backend: BackendKind,
}

/// Runs `--model` over `--data` and turns its word predictions into records; returns them with the label set
/// (`labels`, else the model's).
fn model_records(
    m: &ModelArgs,
    labels: Option<LabelSet>,
    scheme: Option<crate::data::Scheme>,
) -> anyhow::Result<(Vec<PredictionRecord>, String, LabelSet)> {
    let (Some(model), Some(data)) = (&m.model, &m.data) else {
        bail!("--model needs --data (the labelled sentences to run it on), and --data needs --model");
    };
    let dir = crate::model::resolve(&model.display().to_string())?;
    let labels = match labels {
        Some(l) => l,
        None => LabelSet::from_model_dir(&dir.path)?.with_context(|| {
            format!(
                "{} has no trained label set (config.json has no id2label): train it first, or pass --labels",
                dir.path.display()
            )
        })?,
    };
    let labels = &labels;
    let source = DataSource::from_path(data)?;
    let dataset = crate::data::load(&source, labels, &LoadOptions { scheme, ..Default::default() })?;
    let words: Vec<Vec<String>> = dataset.sentences.iter().map(|s| s.words.clone()).collect();
    let (tags, engine) = tag_with_model_dir(m.backend, &dir.path, &words, labels, m.decode)?;
    let mut records = Vec::with_capacity(tags.len());
    for (s, t) in dataset.sentences.iter().zip(tags) {
        let pred = t.iter().map(|w| labels.name(w.label).unwrap_or("O").to_string()).collect();
        let scores = t.iter().map(|w| f64::from(w.score)).collect();
        records.push(PredictionRecord::from_sentence(s, pred, Some(scores))?);
    }
    let source = format!("{} on {} ({engine})", model.display(), data.display());
    Ok((records, source, labels.clone()))
}

pub fn run(args: Args) -> anyhow::Result<()> {
    let rep = &args.report;
    let given = if rep.labels.is_empty() {
        None
    } else {
        Some(LabelSet::new(rep.labels.iter().map(|s| s.trim().to_string()).collect()).context("--labels")?)
    };
    let (records, source, labels) = match (&args.predictions, &args.model.model) {
        (Some(_), Some(_)) => bail!("give either --predictions or --model/--data, not both"),
        (Some(p), None) => {
            let labels = match given {
                Some(l) => l,
                None => crate::evaluate::predictions_label_set(p)?,
            };
            (read_predictions(p, &labels)?, p.display().to_string(), labels)
        }
        (None, Some(_)) => model_records(&args.model, given, rep.scheme)?,
        (None, None) => bail!("nothing to evaluate: pass --predictions FILE.jsonl, or --model DIR --data FILE"),
    };
    let options = EvalOptions {
        mode: rep.mode.parse()?,
        samples: rep.samples,
        seed: rep.seed,
        title: rep.title.clone(),
        source,
        ..EvalOptions::default()
    };
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
    if let Some(ci) = &report.micro_f1_interval {
        println!(
            "  micro F1 {:.0} % bootstrap interval over sentences: {:.2} – {:.2} (std {:.2})",
            100.0 * ci.confidence,
            100.0 * ci.low,
            100.0 * ci.high,
            100.0 * ci.std
        );
    }
    for (k, p) in &e.per_type {
        println!(
            "  {k:<8} P {:6.2}  R {:6.2}  F1 {:6.2}  support {}",
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
