use clap::{Parser, Subcommand};

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
    Analyze(nerkit::cli::analyze::Args),
    /// Tokenize, align labels to sub-words, cut windows; writes a prepared cache.
    Prepare(nerkit::cli::prepare::Args),
    /// Fine-tune on ONNX Runtime (CPU or CUDA) with nerkit's own training graph.
    Train(nerkit::cli::train::Args),
    /// Score a model or predictions: entity-level metrics (seqeval-equivalent), error analysis, report.
    Evaluate(nerkit::cli::evaluate::Args),
    /// Build the ONNX inference graph (+ int8) from a model directory.
    Export(nerkit::cli::export::Args),
    /// Tag raw text: documents (arguments, text, JSONL) → entities, AC↔LF pairs, glossary (JSONL, CoNLL, brat).
    Predict(nerkit::cli::predict::Args),
    /// HTTP server: POST /tag (nerkit and Hugging Face shapes), /health, /info, /metrics, /docs, web UI.
    Serve(nerkit::cli::serve::Args),
    /// Engines side by side on one model: interleaved rounds, p50/p95/p99, sentences/s, tokens/s, ratios.
    Bench(nerkit::cli::bench::Args),
    /// Check the installation: ONNX Runtime library, embedded model, data.
    Doctor(nerkit::cli::doctor::Args),
}

fn main() -> anyhow::Result<()> {
    // Behave like other command-line tools when the reader of stdout goes away (`nerkit ... | head`): exit
    // quietly instead of panicking on a broken pipe.
    #[cfg(unix)]
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
    }
    nerkit::cli::init_tracing();
    match Cli::parse().command {
        Command::Analyze(a) => nerkit::cli::analyze::run(a),
        Command::Prepare(a) => nerkit::cli::prepare::run(a),
        Command::Train(a) => nerkit::cli::train::run(a),
        Command::Evaluate(a) => nerkit::cli::evaluate::run(a),
        Command::Export(a) => nerkit::cli::export::run(a),
        Command::Predict(a) => nerkit::cli::predict::run(a),
        Command::Serve(a) => nerkit::cli::serve::run(a),
        Command::Bench(a) => nerkit::cli::bench::run(a),
        Command::Doctor(a) => nerkit::cli::doctor::run(a),
    }
}
