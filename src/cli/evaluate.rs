//! `nerkit evaluate`: score predictions (entity-level, seqeval-equivalent), explain errors, write a report.
use std::path::PathBuf;

use crate::abbrev::{HybridOptions, PairMode};
use crate::data::{DataSource, LoadOptions};
use crate::evaluate::definitions::{mode_row, ModeRow};
use crate::evaluate::{compare, evaluate, read_predictions, write_outputs, Baseline, EvalOptions, PredictionRecord};
use crate::infer::decode::Decoding;
use crate::infer::glossary::model_pair_types;
use crate::infer::tagger::{decode_pairs, untagged, PairDecoding, TagError, WordTag};
use crate::infer::{EngineChoice, TagOptions, TextTagger};
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
    /// Inference engine for --model, as `nerkit predict --backend` (a trained directory is exported on first
    /// use). Default `ort`: the fp32 model as trained; `auto` scores the engine `predict` and `serve` pick.
    #[arg(long, value_enum, default_value = "ort")]
    pub backend: EngineChoice,
    /// Abbreviation definitions (models with AC/LF types): `hybrid` (model scores + letter alignment, the
    /// default), `model` (the model's tags, paired by layout, re-mention and nearest long form) or `rules`
    /// (Schwartz–Hearst alone). With --model the report also shows all three side by side.
    #[arg(long, value_enum, default_value = "hybrid")]
    pub pairs: PairMode,
    /// Hybrid decoding: the largest cost, in nats of the sentence's log-probability, of moving a long form's
    /// boundary to where the letters align (where the model tagged part of the definition).
    #[arg(long, default_value_t = HybridOptions::default().max_cost)]
    pub hybrid_cost: f32,
    /// Hybrid decoding: the largest cost of adding a definition the model left untagged.
    #[arg(long, default_value_t = HybridOptions::default().max_cost_new)]
    pub hybrid_cost_new: f32,
    /// Score the raw-text path (what `predict`, `serve` and the Python package run): each sentence is rebuilt
    /// as text (words joined by spaces), tagged, and its entities mapped back onto the gold words.
    #[arg(long)]
    pub raw_text: bool,
    /// Score a baseline instead of a model: `rules` = Schwartz–Hearst alone on --data (no model needed).
    #[arg(long, value_enum)]
    pub baseline: Option<BaselineKind>,
}

/// Baselines `evaluate --baseline` can score on labelled data without a model.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum BaselineKind {
    /// Schwartz–Hearst (2003) abbreviation definitions and the later mentions of their short forms.
    Rules,
}

/// The records of `sentences` tagged by the model (`tags`, already decoded with `decoding`) under pair `mode`.
fn records_for(
    sentences: &[crate::data::Sentence],
    tags: &[Vec<WordTag>],
    labels: &LabelSet,
    decoding: Decoding,
    pairs: Option<&PairDecoding>,
) -> anyhow::Result<Vec<PredictionRecord>> {
    let mut records = Vec::with_capacity(tags.len());
    for (s, t) in sentences.iter().zip(tags) {
        let mut t = t.clone();
        if let Some(p) = pairs {
            let words: Vec<&str> = s.words.iter().map(String::as_str).collect();
            decode_pairs(&words, &mut t, labels, decoding, p);
        }
        let pred = t.iter().map(|w| labels.name(w.label).unwrap_or("O").to_string()).collect();
        let scores = t.iter().map(|w| f64::from(w.score)).collect();
        records.push(PredictionRecord::from_sentence(s, pred, Some(scores))?);
    }
    Ok(records)
}

/// What a model-based (or baseline) run produced: the records of the chosen pair mode, where they came from,
/// the label set, and one summary row per pair mode (pair label sets with a model).
struct Run {
    records: Vec<PredictionRecord>,
    source: String,
    labels: LabelSet,
    modes: Vec<ModeRow>,
}

/// Runs `--model` over `--data` (or the `--baseline` rules) and turns its word predictions into records; the
/// label set is `labels`, else the model's (the data's for a baseline).
fn model_records(
    m: &ModelArgs,
    labels: Option<LabelSet>,
    scheme: Option<crate::data::Scheme>,
    score_mode: crate::metrics::Mode,
) -> anyhow::Result<Run> {
    let Some(data) = &m.data else {
        bail!("--model and --baseline need --data (the labelled sentences to run on)");
    };
    let source = DataSource::from_path(data)?;
    let load = LoadOptions { scheme, ..Default::default() };
    if m.baseline == Some(BaselineKind::Rules) {
        if m.model.is_some() {
            bail!("--baseline rules scores Schwartz–Hearst alone: leave out --model (or use --pairs rules with it)");
        }
        let (dataset, labels) = crate::data::load_labelled(&source, labels.as_ref(), &load)?;
        let types = model_pair_types(None, &labels).map_err(anyhow::Error::msg)?.with_context(|| {
            format!(
                "--baseline rules needs abbreviation (AC) and long-form (LF) types; the labels are {}",
                labels.labels().join(", ")
            )
        })?;
        let pairs = PairDecoding { types, mode: PairMode::Rules, hybrid: HybridOptions::default() };
        let tags: Vec<Vec<WordTag>> = dataset.sentences.iter().map(|s| untagged(s.words.len(), &labels)).collect();
        let records = records_for(&dataset.sentences, &tags, &labels, Decoding::Viterbi, Some(&pairs))?;
        let source = format!("Schwartz–Hearst rules on {}", data.display());
        return Ok(Run { records, source, labels, modes: Vec::new() });
    }
    let Some(model) = &m.model else { bail!("--data needs --model (or --baseline rules)") };
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
    let dataset = crate::data::load(&source, &labels, &load)?;
    let words: Vec<Vec<String>> = dataset.sentences.iter().map(|s| s.words.clone()).collect();
    let hybrid = HybridOptions { max_cost: m.hybrid_cost, max_cost_new: m.hybrid_cost_new };
    let mut tagger = TextTagger::open(&dir.path, m.backend, None)?.with_hybrid_options(hybrid);
    if tagger.labels() != &labels {
        let model = tagger.labels().labels().to_vec();
        return Err(TagError::Labels { model, expected: labels.labels().to_vec() }.into());
    }
    let types = model_pair_types(Some(&dir.path), &labels).map_err(anyhow::Error::msg)?;
    // every pair mode, for the report's table (pair label sets); the chosen mode's records are the report's
    let modes_run =
        if types.is_some() { vec![PairMode::Rules, PairMode::Model, PairMode::Hybrid] } else { vec![m.pairs] };
    let (mut modes, mut chosen) = (Vec::new(), None);
    let word_tags = if m.raw_text { None } else { Some(tagger.tag_words(&words, m.decode)?) };
    for mode in modes_run {
        let records = match &word_tags {
            Some(tags) => {
                let pairs = types.clone().map(|types| PairDecoding { types, mode, hybrid });
                records_for(&dataset.sentences, tags, &labels, m.decode, pairs.as_ref())?
            }
            None => {
                let opts = TagOptions { decode: Some(m.decode), pairs: mode, ..TagOptions::default() };
                let pred = crate::evaluate::raw_text::tag_as_text(&mut tagger, &words, 1, &opts)?;
                let records =
                    dataset.sentences.iter().zip(pred).map(|(s, p)| PredictionRecord::from_sentence(s, p, None));
                records.collect::<Result<Vec<_>, _>>()?
            }
        };
        if types.is_some() {
            modes.push(mode_row(&records, &labels, mode, score_mode)?);
        }
        if mode == m.pairs {
            chosen = Some(records);
        }
    }
    let records = chosen.expect("the chosen pair mode is among those run");
    let pairs = if types.is_some() { format!(", pairs {}", m.pairs.name()) } else { String::new() };
    let raw = if m.raw_text { ", raw text" } else { "" };
    let source = format!("{} on {} ({}{pairs}{raw})", model.display(), data.display(), tagger.engine());
    Ok(Run { records, source, labels, modes })
}

pub fn run(args: Args) -> anyhow::Result<()> {
    let rep = &args.report;
    let given = if rep.labels.is_empty() {
        None
    } else {
        Some(LabelSet::new(rep.labels.iter().map(|s| s.trim().to_string()).collect()).context("--labels")?)
    };
    let score_mode: crate::metrics::Mode = rep.mode.parse()?;
    let by_model = args.model.model.is_some() || args.model.baseline.is_some();
    let run = match (&args.predictions, by_model) {
        (Some(_), true) => bail!("give either --predictions or --model/--baseline with --data, not both"),
        (Some(p), false) => {
            let labels = match given {
                Some(l) => l,
                None => crate::evaluate::predictions_label_set(p)?,
            };
            Run { records: read_predictions(p, &labels)?, source: p.display().to_string(), labels, modes: Vec::new() }
        }
        (None, true) => model_records(&args.model, given, rep.scheme, score_mode)?,
        (None, false) => bail!(
            "nothing to evaluate: pass --predictions FILE.jsonl, --model DIR --data FILE, or --baseline rules --data FILE"
        ),
    };
    let Run { records, source, labels, modes } = run;
    let pairs = if args.model.baseline.is_some() { PairMode::Rules } else { args.model.pairs };
    let options = EvalOptions {
        mode: score_mode,
        pairs,
        samples: rep.samples,
        seed: rep.seed,
        title: rep.title.clone(),
        source,
        ..EvalOptions::default()
    };
    let mut report = evaluate(records, &labels, &options)?;
    report.pair_modes = modes;
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
    if let Some(d) = &report.definitions {
        let p = &d.pairs;
        println!(
            "  definition pairs ({}): P {:.2}  R {:.2}  F1 {:.2}  ({} gold, {} predicted, {} right)",
            d.mode.name(),
            100.0 * p.precision,
            100.0 * p.recall,
            100.0 * p.f1,
            p.gold,
            p.predicted,
            p.correct
        );
    }
    if !report.pair_modes.is_empty() {
        println!(
            "  {:<7} {:>8} {:>8} {:>8} {:>8} {:>8} {:>8}",
            "pairs", "micro", "AC", "LF", "pair P", "pair R", "pair F1"
        );
        for m in &report.pair_modes {
            println!(
                "  {:<7} {:>8.2} {:>8.2} {:>8.2} {:>8.2} {:>8.2} {:>8.2}",
                m.mode.name(),
                100.0 * m.micro_f1,
                100.0 * m.short_f1,
                100.0 * m.long_f1,
                100.0 * m.pairs.precision,
                100.0 * m.pairs.recall,
                100.0 * m.pairs.f1
            );
        }
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
