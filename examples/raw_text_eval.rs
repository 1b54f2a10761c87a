//! Scores the raw-text path against word-level gold in more shapes than `nerkit evaluate --raw-text` (one
//! sentence per text, native aggregation): validation sentences alone and in paragraphs of 5 consecutive
//! sentences, under native and Hugging Face aggregations and each pair mode, through the same library code
//! (`nerkit::evaluate::raw_text`). Prints entity micro F1 (seqeval default mode) and AC / LF F1.
//!
//! Usage: cargo run --example raw_text_eval -- MODEL_DIR VALIDATION.jsonl
use nerkit::abbrev::PairMode;
use nerkit::evaluate::raw_text::tag_as_text;
use nerkit::infer::{Aggregation, EngineChoice, EngineSpec, TagOptions, TextTagger};
use nerkit::labels::LabelSet;
use nerkit::metrics::accumulator::MetricsAccumulator;

fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().collect();
    let (model, data) = (std::path::Path::new(&args[1]), &args[2]);
    let mut tagger = TextTagger::open(model, EngineChoice::Exact(EngineSpec::ORT), Some(2))?;
    let (mut words, mut gold): (Vec<Vec<String>>, Vec<Vec<String>>) = (Vec::new(), Vec::new());
    for line in std::fs::read_to_string(data)?.lines().filter(|l| !l.trim().is_empty()) {
        let v: serde_json::Value = serde_json::from_str(line)?;
        let strings = |k: &str| -> Vec<String> {
            v[k].as_array().unwrap().iter().map(|t| t.as_str().unwrap().to_string()).collect()
        };
        words.push(strings("tokens"));
        gold.push(strings("ner_tags"));
    }
    println!("| input | aggregation | pairs | entity micro F1 | AC F1 | LF F1 |\n|---|---|---|---|---|---|");
    let runs = [
        (Aggregation::Native, PairMode::Hybrid),
        (Aggregation::Native, PairMode::Model),
        (Aggregation::Native, PairMode::Rules),
        (Aggregation::Simple, PairMode::Hybrid),
        (Aggregation::First, PairMode::Hybrid),
    ];
    for (shape, per_text) in [("sentence", 1), ("paragraph of 5", 5)] {
        for (aggregation, pairs) in runs {
            let opts = TagOptions { aggregation, pairs, ..TagOptions::default() };
            let pred = tag_as_text(&mut tagger, &words, per_text, &opts)?;
            let mut acc = MetricsAccumulator::new(&LabelSet::plod());
            for (g, p) in gold.iter().zip(&pred) {
                acc.add(g, p)?;
            }
            let m = acc.finalize();
            let f1 = |t: &str| m.entity.per_type.get(t).map_or(0.0, |p| p.f1);
            println!(
                "| {shape} | {aggregation:?} | {} | {:.4} | {:.4} | {:.4} |",
                pairs.name(),
                m.entity.micro.f1,
                f1("AC"),
                f1("LF")
            );
        }
    }
    Ok(())
}
