//! Dataset analysis: per-split statistics, cross-split overlap, charts and a Markdown report.
//!
//! [`run`] loads the sources ([`load_splits`]: one file → a seeded validation split is carved from it),
//! computes an [`Analysis`] ([`compute`], pure, no I/O besides the tokenizer) and writes `analysis.json`,
//! `analysis.md` and PNG + SVG charts ([`charts`], [`markdown`]) into the output directory.
pub mod charts;
pub mod histogram;
pub mod markdown;
pub mod overlap;
pub mod stats;
pub mod subwords;

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::data::split::{carve_validation, SplitError, DEFAULT_VAL_FRACTION};
use crate::data::{DataError, DataSource, Dataset, HubSplit, LoadOptions};
use crate::labels::LabelSet;
pub use overlap::Overlap;
pub use stats::SplitStats;
pub use subwords::SubwordCounter;

/// Target number of histogram bins for sentence lengths.
const LENGTH_BINS: usize = 30;

/// Why an analysis failed.
#[derive(Debug, thiserror::Error)]
pub enum AnalyzeError {
    #[error(transparent)]
    Data(#[from] DataError),
    #[error(transparent)]
    Split(#[from] SplitError),
    #[error("{given} split name(s) given for {splits} split(s): {names}")]
    SplitNames { given: usize, splits: usize, names: String },
    #[error("no data source given")]
    NoData,
    #[error("tokenizer `{path}`: {message}")]
    Tokenizer { path: PathBuf, message: String },
    #[error("cannot write `{path}`: {message}")]
    Write { path: PathBuf, message: String },
}

/// What to analyse and where to write the results.
#[derive(Clone, Debug)]
pub struct AnalyzeConfig {
    pub sources: Vec<DataSource>,
    /// Names for the loaded splits, in order; default: hub split names, else file stems.
    pub split_names: Option<Vec<String>>,
    /// Share of a single source carved out as validation; 0 disables carving.
    pub val_fraction: f64,
    pub seed: u64,
    /// `tokenizer.json` or a model directory; `None` = the embedded model's tokenizer when present.
    pub tokenizer: Option<PathBuf>,
    pub max_len: usize,
    /// The label set; `None` = the tags of all the sources together ([`crate::data::tag_set`]).
    pub labels: Option<LabelSet>,
    pub load: LoadOptions,
    pub out_dir: PathBuf,
}

impl AnalyzeConfig {
    pub fn new(sources: Vec<DataSource>, out_dir: impl Into<PathBuf>) -> Self {
        AnalyzeConfig {
            sources,
            split_names: None,
            val_fraction: DEFAULT_VAL_FRACTION,
            seed: 42,
            tokenizer: None,
            max_len: 128,
            labels: None,
            load: LoadOptions::default(),
            out_dir: out_dir.into(),
        }
    }
}

/// The whole analysis, as written to `analysis.json`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Analysis {
    pub sources: Vec<String>,
    pub labels: Vec<String>,
    /// `Some((fraction, seed))` when validation was carved from a single source.
    pub carved_validation: Option<(f64, u64)>,
    pub tokenizer: Option<String>,
    pub max_len: usize,
    pub splits: Vec<SplitStats>,
    /// Every split after the first, compared with the first (the training split).
    pub overlaps: Vec<Overlap>,
}

/// The analysis and the files written.
#[derive(Debug)]
pub struct AnalyzeOutput {
    pub analysis: Analysis,
    pub files: Vec<PathBuf>,
}

/// Loads, analyses and writes everything; see the module doc.
pub fn run(config: &AnalyzeConfig) -> Result<AnalyzeOutput, AnalyzeError> {
    let (datasets, carved, labels) = load_splits(config)?;
    let tokenizer_path = config.tokenizer.clone().or_else(subwords::default_tokenizer);
    let counter = match &tokenizer_path {
        Some(p) => Some(SubwordCounter::load(p)?),
        None => {
            tracing::debug!("no tokenizer given and no embedded model found: sub-word statistics skipped");
            None
        }
    };
    let mut analysis = compute(&datasets, &labels, counter.as_ref(), config.max_len)?;
    analysis.sources = config.sources.iter().map(|s| s.to_string()).collect();
    analysis.carved_validation = carved.then_some((config.val_fraction, config.seed));
    let files = write_outputs(&analysis, &config.out_dir)?;
    Ok(AnalyzeOutput { analysis, files })
}

/// Loads every source (a hub source without split → all three splits), names the splits, and carves a
/// validation split when there is exactly one. Returns the splits, whether carving happened, and the label set.
pub fn load_splits(config: &AnalyzeConfig) -> Result<(Vec<Dataset>, bool, LabelSet), AnalyzeError> {
    if config.sources.is_empty() {
        return Err(AnalyzeError::NoData);
    }
    let expanded: Vec<DataSource> = config
        .sources
        .iter()
        .flat_map(|s| match s {
            DataSource::Hub { split: None, .. } => HubSplit::ALL.iter().map(|&sp| s.with_split(sp)).collect(),
            other => vec![other.clone()],
        })
        .collect();
    if let Some(names) = &config.split_names {
        if names.len() != expanded.len() {
            return Err(AnalyzeError::SplitNames {
                given: names.len(),
                splits: expanded.len(),
                names: names.join(","),
            });
        }
    }
    let id_labels = config.labels.clone().unwrap_or_else(LabelSet::plod);
    let read = expanded
        .iter()
        .map(|source| crate::data::read_iob2(source, &id_labels, &config.load))
        .collect::<Result<Vec<_>, _>>()?;
    let labels = match &config.labels {
        Some(l) => l.clone(),
        None => crate::data::tag_set(read.iter().flat_map(|(s, _)| s))?,
    };
    let mut datasets = Vec::with_capacity(expanded.len());
    for (i, (source, (sentences, scheme))) in expanded.iter().zip(read).enumerate() {
        let mut options = config.load.clone();
        options.name = config.split_names.as_ref().map(|n| n[i].clone());
        datasets.push(crate::data::validated(source, sentences, scheme, &labels, &options)?);
    }
    if datasets.len() == 1 && config.val_fraction > 0.0 {
        let (mut train, val) = carve_validation(datasets.remove(0), config.val_fraction, config.seed)?;
        if let Some(names) = &config.split_names {
            train.name = names[0].clone();
        }
        return Ok((vec![train, val], true, labels));
    }
    Ok((datasets, false, labels))
}

/// Computes the statistics of every split and the overlap of each later split with the first.
pub fn compute(
    datasets: &[Dataset],
    labels: &LabelSet,
    counter: Option<&SubwordCounter>,
    max_len: usize,
) -> Result<Analysis, AnalyzeError> {
    let sub_lengths: Option<Vec<Vec<usize>>> =
        counter.map(|c| datasets.iter().map(|d| c.lengths(d)).collect::<Result<Vec<_>, _>>()).transpose()?;
    // Bin widths from the 99th percentile, not the maximum, so one outlier does not flatten the histogram.
    let p99 = |mut v: Vec<usize>| {
        v.sort_unstable();
        v.get((v.len() * 99 / 100).min(v.len().saturating_sub(1))).copied().unwrap_or(0)
    };
    let word_lengths = datasets.iter().flat_map(|d| &d.sentences).map(|s| s.words.len()).collect();
    let word_bin = histogram::nice_bin_width(p99(word_lengths), LENGTH_BINS);
    let sub_bin = sub_lengths
        .as_ref()
        .map_or(1, |l| histogram::nice_bin_width(p99(l.iter().flatten().copied().collect()), LENGTH_BINS));
    let splits = datasets
        .iter()
        .enumerate()
        .map(|(i, d)| {
            let sub = sub_lengths.as_ref().map(|l| l[i].as_slice());
            stats::split_stats(d, labels, sub, max_len, (word_bin, sub_bin))
        })
        .collect();
    let overlaps = datasets.iter().skip(1).map(|d| overlap::overlap(&datasets[0], d)).collect();
    Ok(Analysis {
        sources: Vec::new(),
        labels: labels.labels().to_vec(),
        carved_validation: None,
        tokenizer: counter.map(|c| c.path.display().to_string()),
        max_len,
        splits,
        overlaps,
    })
}

/// Writes `analysis.json`, `analysis.md` and the charts into `out_dir` (created if needed).
pub fn write_outputs(analysis: &Analysis, out_dir: &Path) -> Result<Vec<PathBuf>, AnalyzeError> {
    let write_err = |path: &Path, message: String| AnalyzeError::Write { path: path.to_path_buf(), message };
    std::fs::create_dir_all(out_dir).map_err(|e| write_err(out_dir, e.to_string()))?;
    let mut files = Vec::new();
    let json = out_dir.join("analysis.json");
    let text = serde_json::to_string_pretty(analysis).map_err(|e| write_err(&json, e.to_string()))?;
    std::fs::write(&json, text).map_err(|e| write_err(&json, e.to_string()))?;
    files.push(json);
    let charts = charts::render_all(analysis, out_dir)?;
    let md = out_dir.join("analysis.md");
    std::fs::write(&md, markdown::render(analysis, &charts)).map_err(|e| write_err(&md, e.to_string()))?;
    files.push(md);
    files.extend(charts);
    Ok(files)
}
