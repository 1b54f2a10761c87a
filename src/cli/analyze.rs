//! `nerkit analyze`: dataset statistics and charts (analysis.json, analysis.md, PNG + SVG).
use std::path::PathBuf;

use anyhow::Context;

use crate::analyze::{run as run_analysis, AnalyzeConfig};
use crate::data::{CsvColumns, DataSource, LoadOptions};

/// Dataset statistics and charts: tag counts and imbalance, sentence lengths in words and sub-words, span
/// lengths, frequent abbreviations/long forms, vocabulary overlap and duplicates between splits.
#[derive(clap::Args, Debug)]
pub struct Args {
    /// A data source (repeatable): a .jsonl/.json, .conll/.txt/.tsv, .csv or .parquet file, or
    /// `hub:<owner>/<name>[@train|validation|test]` (without a split: all three).
    #[arg(long = "data", required = true)]
    pub data: Vec<String>,
    /// Names of the loaded splits, comma-separated, in order (default: hub split names, else file stems).
    #[arg(long, value_delimiter = ',')]
    pub split_names: Option<Vec<String>>,
    /// With a single source: share carved out as validation (0 = no carving).
    #[arg(long, default_value_t = 0.1)]
    pub val_fraction: f64,
    /// Seed of the validation carve.
    #[arg(long, default_value_t = 42)]
    pub seed: u64,
    /// tokenizer.json or a model directory for sub-word statistics (default: the embedded model's).
    #[arg(long)]
    pub tokenizer: Option<PathBuf>,
    /// Sequence limit in sub-words (incl. [CLS]/[SEP]) to report sentences above.
    #[arg(long, default_value_t = 128)]
    pub max_len: usize,
    /// Rewrite orphan I-X tags to B-X instead of warning about them.
    #[arg(long)]
    pub repair: bool,
    /// CSV column holding the words (default: auto-detect tokens/words/...).
    #[arg(long)]
    pub csv_tokens: Option<String>,
    /// CSV column holding the tags (default: auto-detect ner_tags/tags/labels/...).
    #[arg(long)]
    pub csv_tags: Option<String>,
    /// Output directory.
    #[arg(long)]
    pub out: PathBuf,
    /// Label set in class order, comma-separated (default: the tags of all the sources).
    #[arg(long, value_delimiter = ',')]
    pub labels: Vec<String>,
    /// Tagging scheme of the data (default: detected per source); converted to IOB2.
    #[arg(long, value_enum)]
    pub scheme: Option<crate::data::Scheme>,
}

pub fn run(args: Args) -> anyhow::Result<()> {
    let sources = args
        .data
        .iter()
        .map(|s| s.parse::<DataSource>().with_context(|| format!("--data {s}")))
        .collect::<anyhow::Result<Vec<_>>>()?;
    let mut config = AnalyzeConfig::new(sources, &args.out);
    config.split_names = args.split_names;
    config.val_fraction = args.val_fraction;
    config.seed = args.seed;
    config.tokenizer = args.tokenizer;
    config.max_len = args.max_len;
    config.load = LoadOptions {
        repair: args.repair,
        csv: CsvColumns { tokens: args.csv_tokens, tags: args.csv_tags },
        name: None,
        scheme: args.scheme,
    };
    if !args.labels.is_empty() {
        config.labels = Some(crate::labels::LabelSet::new(args.labels.clone()).context("--labels")?);
    }
    if config.tokenizer.is_none() && crate::analyze::subwords::default_tokenizer().is_none() {
        println!(
            "note: no --tokenizer and no embedded model at {}: sub-word statistics are skipped",
            crate::paths::embedded_model_dir().display()
        );
    }
    let output = run_analysis(&config)?;
    for s in &output.analysis.splits {
        let over = s.subwords.as_ref().map(|w| format!(", {} over max_len {}", w.over_max_len, config.max_len));
        println!("{}: {} sentences, {} tokens{}", s.name, s.sentences, s.tokens, over.unwrap_or_default());
    }
    println!("wrote {} files to {}", output.files.len(), args.out.display());
    Ok(())
}
