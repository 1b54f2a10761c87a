//! `nerkit prepare`: tokenize, align labels to sub-words, cut windows; writes a prepared cache
//! (`prepared-<split>.jsonl` + `manifest.json`) and prints a summary.
use crate::labels::LabelSet;
use crate::prepare::{prepare_to_dir, EncodeOptions, PrepareRequest};

use std::path::PathBuf;

#[derive(clap::Args, Debug)]
pub struct Args {
    /// Labelled sentences: a JSONL file with `{"tokens": [...], "ner_tags": [...]}` per line (string tags).
    #[arg(long)]
    pub data: PathBuf,
    /// Model whose tokenizer to use: `embedded`, a model directory, or a hub id `org/name[@revision]`.
    #[arg(long, default_value = "embedded")]
    pub model: String,
    /// Maximum tokens per example, special tokens included; longer sentences are cut into windows.
    #[arg(long, default_value_t = 128)]
    pub max_len: usize,
    /// Sub-words of overlap between consecutive windows of a long sentence.
    #[arg(long, default_value_t = 32)]
    pub stride: usize,
    /// Label every sub-word of a word (continuations of `B-X` get `I-X`), not only the first.
    #[arg(long)]
    pub label_all_subwords: bool,
    /// Share of sentences held out as the `validation` split (0 = none).
    #[arg(long, default_value_t = 0.1)]
    pub val_fraction: f64,
    /// Seed of the validation hold-out.
    #[arg(long, default_value_t = 42)]
    pub seed: u64,
    /// Output directory of the prepared cache.
    #[arg(long)]
    pub out: PathBuf,
    /// Rebuild even when the existing cache matches.
    #[arg(long)]
    pub force: bool,
    /// Label set in class order, comma-separated (default: the data's own tags, `O` first, types sorted).
    #[arg(long, value_delimiter = ',')]
    pub labels: Vec<String>,
    /// Tagging scheme of the data (default: detected); converted to IOB2.
    #[arg(long, value_enum)]
    pub scheme: Option<crate::data::Scheme>,
}

pub fn run(args: Args) -> anyhow::Result<()> {
    let source: crate::data::DataSource = args.data.display().to_string().parse()?;
    let given = if args.labels.is_empty() { None } else { Some(LabelSet::new(args.labels.clone())?) };
    let options = crate::data::LoadOptions { scheme: args.scheme, ..Default::default() };
    let (dataset, labels) = crate::data::load_labelled(&source, given.as_ref(), &options)?;
    let sentences = dataset.sentences;
    let model = crate::model::resolve(&args.model)?;
    let req = PrepareRequest {
        sentences: &sentences,
        labels: &labels,
        model: &model,
        model_ref: args.model.clone(),
        data: args.data.display().to_string(),
        options: EncodeOptions {
            max_len: args.max_len,
            stride: args.stride,
            label_all_subwords: args.label_all_subwords,
        },
        val_fraction: args.val_fraction,
        seed: args.seed,
        out: args.out.clone(),
        force: args.force,
    };
    let outcome = prepare_to_dir(&req)?;
    let m = &outcome.manifest;
    println!(
        "{} {} ({} sentences, model {})",
        if outcome.reused { "reused prepared cache" } else { "wrote prepared cache" },
        args.out.display(),
        sentences.len(),
        m.model
    );
    for (name, s) in &m.splits {
        let st = &s.stats;
        let ratio = st.subwords as f64 / st.words.max(1) as f64;
        let split_share = 100.0 * st.split_sentences as f64 / st.sentences.max(1) as f64;
        println!(
            "  {name:<10} {:>6} sentences  {:>6} examples  {:>3} split into windows ({split_share:.1}%)  \
             {:.2} sub-words/word  {} truncated words  {} [UNK]-only words  -> {}",
            st.sentences, st.examples, st.split_sentences, ratio, st.truncated_words, st.unk_words, s.file
        );
    }
    for (scheme, w) in &m.class_weights {
        let shown: Vec<String> = labels.labels().iter().zip(w).map(|(l, w)| format!("{l}={w:.3}")).collect();
        println!("  class weights {scheme:<12} {}", shown.join(" "));
    }
    Ok(())
}
