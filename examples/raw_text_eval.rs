//! Scores the raw-text path against word-level gold: each validation sentence is rebuilt as raw text (tokens
//! joined by single spaces), alone or in paragraphs of 5 consecutive sentences, tagged by `TextTagger`, and
//! its entities mapped back onto the gold tokens by offsets (an AC covers each of its tokens with B-AC; an LF
//! B-LF then I-LF). Prints entity micro F1 (seqeval default mode) and AC / LF F1 per input shape, aggregation
//! and pair mode; compare with `nerkit evaluate` on the same model and file.
//!
//! Usage: cargo run --example raw_text_eval -- MODEL_DIR VALIDATION.jsonl
use nerkit::abbrev::PairMode;
use nerkit::infer::{Aggregation, BackendChoice, Offsets, TagOptions, TextTagger};
use nerkit::labels::LabelSet;
use nerkit::metrics::accumulator::MetricsAccumulator;

fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().collect();
    let (model, data) = (std::path::Path::new(&args[1]), &args[2]);
    let mut tagger = TextTagger::open(model, BackendChoice::Ort, Some(2))?;
    let mut sentences: Vec<(Vec<String>, Vec<String>)> = Vec::new();
    for line in std::fs::read_to_string(data)?.lines().filter(|l| !l.trim().is_empty()) {
        let v: serde_json::Value = serde_json::from_str(line)?;
        let strings = |k: &str| -> Vec<String> {
            v[k].as_array().unwrap().iter().map(|t| t.as_str().unwrap().to_string()).collect()
        };
        sentences.push((strings("tokens"), strings("ner_tags")));
    }
    println!("| input | aggregation | pairs | entity micro F1 | AC F1 | LF F1 |\n|---|---|---|---|---|---|");
    let runs = [
        (Aggregation::Native, PairMode::Hybrid),
        (Aggregation::Native, PairMode::Model),
        (Aggregation::Native, PairMode::Rules),
        (Aggregation::Simple, PairMode::Hybrid),
        (Aggregation::First, PairMode::Hybrid),
    ];
    for (shape, group) in [("sentence", 1), ("paragraph of 5", 5)] {
        for (aggregation, pairs) in runs {
            let mut acc = MetricsAccumulator::new(&LabelSet::plod());
            for chunk in sentences.chunks(group) {
                // the paragraph text and each gold token's byte range in it
                let (mut text, mut ranges) = (String::new(), Vec::new());
                for (tokens, _) in chunk {
                    let mut r = Vec::new();
                    for t in tokens {
                        if !text.is_empty() {
                            text.push(' ');
                        }
                        r.push((text.len(), text.len() + t.len()));
                        text.push_str(t);
                    }
                    ranges.push(r);
                }
                let opts = TagOptions { aggregation, decode: None, offsets: Offsets::Bytes, stride: None, pairs };
                let out = tagger.tag(&[&text], &opts)?.remove(0);
                for ((_, gold), r) in chunk.iter().zip(&ranges) {
                    let mut pred = vec!["O".to_string(); r.len()];
                    for e in &out.entities {
                        let kind = nerkit::infer::entity::entity_type(&e.label);
                        let mut first = true;
                        for (k, &(s, end)) in r.iter().enumerate() {
                            if s < e.end && e.start < end && pred[k] == "O" {
                                pred[k] = if kind == "AC" || first { format!("B-{kind}") } else { format!("I-{kind}") };
                                first = false;
                            }
                        }
                    }
                    acc.add(gold, &pred)?;
                }
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
