//! Thin clap front ends: each subcommand parses its arguments and calls one library function.
pub mod analyze;
pub mod bench;
pub mod doctor;
pub mod evaluate;
pub mod export;
pub mod predict;
pub mod prepare;
pub mod serve;
pub mod train;

use std::ffi::OsString;
use std::io::IsTerminal;

use clap::{Parser, Subcommand};

/// Logs to stderr, in colour only on a terminal; `RUST_LOG` overrides the default `info` level.
pub fn init_tracing() {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal())
        .with_target(false)
        .try_init();
}

/// nerkit: fine-tune, export and serve biomedical abbreviation/NER models through ONNX.
#[derive(Parser)]
#[command(name = "nerkit", version, about, long_about = None)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Dataset statistics and charts (analysis.json, analysis.md, PNG + SVG).
    Analyze(analyze::Args),
    /// Tokenize, align labels to sub-words, cut windows; writes a prepared cache.
    Prepare(prepare::Args),
    /// Fine-tune on ONNX Runtime (CPU or CUDA) with nerkit's own training graph.
    Train(train::Args),
    /// Score a model or predictions: entity-level metrics (seqeval-equivalent), error analysis, report.
    Evaluate(evaluate::Args),
    /// Build the ONNX inference graph (+ int8) from a model directory.
    Export(export::Args),
    /// Tag raw text: documents (arguments, text, JSONL) → entities, AC↔LF pairs, glossary (JSONL, CoNLL, brat).
    Predict(predict::Args),
    /// HTTP server: POST /tag (nerkit and Hugging Face shapes), /health, /info, /metrics, /docs, web UI.
    Serve(serve::Args),
    /// Engines side by side on one model: interleaved rounds, p50/p95/p99, sentences/s, tokens/s, ratios.
    Bench(bench::Args),
    /// Check the installation: ONNX Runtime library, embedded model, data.
    Doctor(doctor::Args),
}

/// The `nerkit` command line on `args` (the program name first), as the binary and the Python package's
/// `nerkit` script run it. `--help` and `--version` print and exit the process, as clap does.
pub fn main_with<I, T>(args: I) -> anyhow::Result<()>
where
    I: IntoIterator<Item = T>,
    T: Into<OsString> + Clone,
{
    init_tracing();
    match Cli::parse_from(args).command {
        Command::Analyze(a) => analyze::run(a),
        Command::Prepare(a) => prepare::run(a),
        Command::Train(a) => train::run(a),
        Command::Evaluate(a) => evaluate::run(a),
        Command::Export(a) => export::run(a),
        Command::Predict(a) => predict::run(a),
        Command::Serve(a) => serve::run(a),
        Command::Bench(a) => bench::run(a),
        Command::Doctor(a) => doctor::run(a),
    }
}
