//! nerkit's Hugging Face strategies equal `transformers.pipeline("token-classification",
//! aggregation_strategy=...)` on the same model: identical entity_group / entity, start, end and word, score
//! within 1e-4, for all five strategies on 44 texts (fixture written by scripts/fixtures/hf_pipeline_parity.py).
mod common;

use nerkit::infer::{Aggregation, EngineChoice, EngineSpec, Offsets, TagOptions, TextTagger};
use serde_json::Value;

#[test]
fn all_five_strategies_equal_the_transformers_pipeline() {
    let fixture: Value = serde_json::from_str(
        &std::fs::read_to_string(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/fixtures/hf_pipeline/minilm_formula_head.json"
        ))
        .unwrap(),
    )
    .unwrap();
    let texts: Vec<&str> = fixture["texts"].as_array().unwrap().iter().map(|t| t.as_str().unwrap()).collect();
    assert!(texts.len() >= 40);
    let tmp = tempfile::tempdir().unwrap();
    let mut tagger =
        TextTagger::open(&common::token_classifier_dir(tmp.path()), EngineChoice::Exact(EngineSpec::ORT), Some(2))
            .unwrap();
    let mut compared = 0;
    for (name, aggregation) in [
        ("none", Aggregation::None),
        ("simple", Aggregation::Simple),
        ("first", Aggregation::First),
        ("average", Aggregation::Average),
        ("max", Aggregation::Max),
    ] {
        let opts =
            TagOptions { aggregation, decode: None, offsets: Offsets::Chars, stride: None, pairs: Default::default() };
        let ours = tagger.tag(&texts, &opts).unwrap();
        let theirs = fixture["strategies"][name].as_array().unwrap();
        for ((text, ours), theirs) in texts.iter().zip(&ours).zip(theirs) {
            let theirs = theirs.as_array().unwrap();
            let key = if aggregation == Aggregation::None { "entity" } else { "entity_group" };
            let row = |e: &Value| {
                (
                    e[key].as_str().unwrap().to_string(),
                    e["start"].as_u64().unwrap() as usize,
                    e["end"].as_u64().unwrap() as usize,
                    e["word"].as_str().unwrap().to_string(),
                )
            };
            let expected: Vec<_> = theirs.iter().map(row).collect();
            let got: Vec<_> = ours
                .entities
                .iter()
                .map(|e| (e.label.clone(), e.start, e.end, e.word.clone().unwrap_or_default()))
                .collect();
            assert_eq!(got, expected, "{name}: {text:?}");
            for (e, t) in ours.entities.iter().zip(theirs) {
                let s = t["score"].as_f64().unwrap();
                assert!((f64::from(e.score) - s).abs() < 1e-4, "{name}: {text:?}: score {} vs {s}", e.score);
            }
            compared += expected.len();
        }
    }
    assert!(compared > 1000, "{compared} entities compared");
}
