//! `nerkit predict`: raw text → entities (see [`crate::predict`]).
use std::io::IsTerminal;
use std::path::PathBuf;

use crate::infer::decode::Decoding;
use crate::infer::{Aggregation, EngineChoice, Offsets, TagOptions, TextTagger};
use crate::predict::{Format, OnError, PredictJob, Shard};

#[derive(clap::Args, Debug)]
pub struct Args {
    /// Model directory: trained (`nerkit train`'s best/, exported on first use) or exported (model.onnx).
    #[arg(long, value_name = "DIR")]
    pub model: PathBuf,
    /// Texts to tag (one document each) when no --input is given.
    pub texts: Vec<String>,
    /// Input file (`-` = stdin): plain text, one document per line, or JSONL `{"id", "text", ...}`
    /// (a `.jsonl` name or --jsonl).
    #[arg(long, value_name = "FILE|-")]
    pub input: Option<PathBuf>,
    /// Read the input as JSONL whatever its name.
    #[arg(long)]
    pub jsonl: bool,
    /// The whole plain-text input is one document.
    #[arg(long)]
    pub whole_file: bool,
    /// Output file (JSONL / CoNLL) or directory (brat); stdout when absent.
    #[arg(long, value_name = "FILE|DIR")]
    pub output: Option<PathBuf>,
    #[arg(long, value_enum, default_value = "jsonl")]
    pub format: Format,
    /// Tagging scheme of `--format conll` output (e.g. `iobes` to match your own files).
    #[arg(long, value_enum, default_value = "iob2")]
    pub scheme: crate::data::Scheme,
    #[arg(long, value_enum, default_value = "native")]
    pub aggregation: Aggregation,
    /// Word decoding of the native aggregation (default viterbi; the HF strategies use argmax).
    #[arg(long, value_enum)]
    pub decode: Option<Decoding>,
    /// Entity offsets: Unicode code points (Python `str`) or UTF-8 bytes.
    #[arg(long, value_enum, default_value = "chars")]
    pub offsets: Offsets,
    #[arg(long, value_enum, default_value = "auto")]
    pub backend: EngineChoice,
    /// Engine threads in all (default: every core), shared by the lanes.
    #[arg(long)]
    pub threads: Option<usize>,
    /// Engines tagging parts of each round at once, each with threads/lanes intra-op threads [default: 2 on a
    /// CPU with 2 or more cores, 1 on CUDA and tract].
    #[arg(long, value_parser = clap::value_parser!(u64).range(1..=64))]
    pub lanes: Option<u64>,
    /// Take every N-th document starting at I (0-based). Default: JOB_COMPLETION_INDEX / NERKIT_SHARDS.
    #[arg(long, value_name = "I/N")]
    pub shard: Option<Shard>,
    /// Skip documents whose id is already in the output; append the rest.
    #[arg(long)]
    pub resume: bool,
    /// What a bad input line does: stop with file:line, or go to <output>.errors.jsonl.
    #[arg(long, value_enum, default_value = "stop")]
    pub on_error: OnError,
    /// Documents per tagging round (their windows are sorted by length and batched together: larger rounds pad
    /// less). A round also ends at 4 MiB of text.
    #[arg(long, default_value_t = crate::predict::DEFAULT_CHUNK)]
    pub chunk: usize,
    /// Abbreviation definitions (models with AC/LF types): `hybrid` (the model's scores and the short forms'
    /// letters together), `model` (the model's tags paired by layout, re-mention and nearest long form) or
    /// `rules` (Schwartz–Hearst alone).
    #[arg(long, value_enum, default_value = "hybrid")]
    pub pairs: crate::abbrev::PairMode,
    /// Windows per engine call [default: 4 per thread of a lane, 4 to 32; 32 on CUDA].
    #[arg(long)]
    pub batch_size: Option<usize>,
}

/// The Kubernetes Indexed Job convention: JOB_COMPLETION_INDEX with the shard count in NERKIT_SHARDS.
fn shard_from_env() -> anyhow::Result<Option<Shard>> {
    match (std::env::var("JOB_COMPLETION_INDEX"), std::env::var("NERKIT_SHARDS")) {
        (Ok(i), Ok(n)) => Ok(Some(format!("{i}/{n}").parse().map_err(anyhow::Error::msg)?)),
        (Ok(_), Err(_)) => anyhow::bail!("JOB_COMPLETION_INDEX is set but NERKIT_SHARDS (the shard count) is not"),
        _ => Ok(None),
    }
}

pub fn run(args: Args) -> anyhow::Result<()> {
    if args.input.is_none() && args.texts.is_empty() {
        anyhow::bail!("nothing to tag: give texts as arguments or --input FILE|-");
    }
    let options = TagOptions {
        aggregation: args.aggregation,
        decode: args.decode,
        offsets: args.offsets,
        stride: None,
        pairs: args.pairs,
    };
    options.decoding().map_err(anyhow::Error::msg)?;
    if args.format == Format::Brat && args.offsets == Offsets::Bytes {
        anyhow::bail!("brat standoff counts characters: use --offsets chars with --format brat");
    }
    let mut tagger = TextTagger::open_lanes(&args.model, args.backend, args.threads, args.lanes.map(|n| n as usize))?;
    if let Some(b) = args.batch_size {
        tagger.batch_size = b.max(1);
    }
    tracing::info!(backend = %tagger.engine(), "model {}", args.model.display());
    let jsonl = args.jsonl || args.input.as_ref().is_some_and(|p| p.extension().is_some_and(|e| e == "jsonl"));
    let job = PredictJob {
        input: args.input.clone(),
        texts: args.texts.clone(),
        jsonl,
        whole_file: args.whole_file,
        output: args.output.clone(),
        format: args.format,
        scheme: args.scheme,
        shard: match args.shard {
            Some(s) => Some(s),
            None => shard_from_env()?,
        },
        resume: args.resume,
        on_error: args.on_error,
        options,
        chunk: args.chunk,
        chunk_bytes: crate::predict::DEFAULT_CHUNK_BYTES,
    };
    let bar = if std::io::stderr().is_terminal() {
        let b = indicatif::ProgressBar::new_spinner();
        b.set_style(
            indicatif::ProgressStyle::with_template("{spinner} {pos} documents, {per_sec}, {elapsed}")
                .expect("template"),
        );
        Some(b)
    } else {
        None
    };
    let start = std::time::Instant::now();
    let summary = crate::predict::run(&mut tagger, &job, &|n| {
        if let Some(b) = &bar {
            b.set_position(n as u64);
        }
    })?;
    if let Some(b) = bar {
        b.finish_and_clear();
    }
    let secs = start.elapsed().as_secs_f64().max(1e-9);
    eprintln!(
        "predict: {} documents, {} sentences, {} entities in {:.1} s ({:.1} sentences/s, backend {}){}{}",
        summary.documents,
        summary.sentences,
        summary.entities,
        secs,
        summary.sentences as f64 / secs,
        tagger.engine(),
        if summary.skipped_resume > 0 { format!(", {} already done", summary.skipped_resume) } else { String::new() },
        if summary.bad_lines > 0 { format!(", {} bad lines skipped", summary.bad_lines) } else { String::new() },
    );
    Ok(())
}
