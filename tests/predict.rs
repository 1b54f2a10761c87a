//! Raw-text tagging end to end on a real model (the embedded MiniLM with the fixtures' formula head, exported
//! on first use): offsets under Unicode, long documents, and the `nerkit predict` CLI (shards, resume, bad
//! input).
mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

use nerkit::infer::{Aggregation, EngineChoice, EngineSpec, Offsets, TagOptions, TextTagger};

const STRATEGIES: [Aggregation; 6] = [
    Aggregation::Native,
    Aggregation::None,
    Aggregation::Simple,
    Aggregation::First,
    Aggregation::Average,
    Aggregation::Max,
];

const UNICODE_TEXT: &str =
    "Café-au-lait macules (CALMs) 😀 in 東京 patients\twith naïve\u{a0}T cells (Tₙ), e\u{301}tude of \
    interleukin-6 (IL-6) and tumour necrosis factor α (TNF-α); see Fig. 2, e.g. MRI.";

#[test]
fn entity_text_equals_the_input_slice_in_every_strategy_and_offset_unit() {
    let tmp = tempfile::tempdir().unwrap();
    let mut tagger = TextTagger::open(&common::token_classifier_dir(tmp.path()), EngineChoice::Auto, Some(2)).unwrap();
    let chars: Vec<char> = UNICODE_TEXT.chars().collect();
    let mut seen = 0;
    for aggregation in STRATEGIES {
        for offsets in [Offsets::Chars, Offsets::Bytes] {
            let opts = TagOptions { aggregation, decode: None, offsets, stride: None, pairs: Default::default() };
            let out = tagger.tag(&[UNICODE_TEXT], &opts).unwrap().remove(0);
            for e in &out.entities {
                let slice = match offsets {
                    Offsets::Chars => chars[e.start..e.end].iter().collect::<String>(),
                    Offsets::Bytes => UNICODE_TEXT[e.start..e.end].to_string(),
                };
                assert_eq!(slice, e.text, "{aggregation:?} {offsets:?} {e:?}");
                assert!(e.score > 0.0 && e.score <= 1.0);
            }
            assert!(out.pairs.is_some() && out.glossary.is_some(), "an AC/LF model pairs");
            for p in out.pairs.iter().flatten() {
                assert!(out.entities[p.ac].label.ends_with("AC") && out.entities[p.lf].label.ends_with("LF"));
            }
            seen += out.entities.len();
        }
    }
    assert!(seen > 0, "the model found no entity at all: the test checks nothing");
}

#[test]
fn leading_whitespace_of_any_kind_shifts_offsets_and_changes_nothing_else() {
    let tmp = tempfile::tempdir().unwrap();
    let mut tagger =
        TextTagger::open(&common::token_classifier_dir(tmp.path()), EngineChoice::Exact(EngineSpec::ORT), Some(2))
            .unwrap();
    let text = "Echo planar imaging (EPI) and magnetic resonance imaging (MRI) were compared.";
    let shifted = format!("\u{a0}\t \u{2003}{text}");
    let mut total = 0;
    for aggregation in STRATEGIES {
        let opts =
            TagOptions { aggregation, decode: None, offsets: Offsets::Chars, stride: None, pairs: Default::default() };
        let a = tagger.tag(&[text], &opts).unwrap().remove(0).entities;
        let b = tagger.tag(&[&shifted], &opts).unwrap().remove(0).entities;
        assert_eq!(a.len(), b.len(), "{aggregation:?}");
        total += a.len();
        for (x, y) in a.iter().zip(&b) {
            assert_eq!(
                (x.label.as_str(), x.text.as_str(), x.start + 4, x.end + 4),
                (y.label.as_str(), y.text.as_str(), y.start, y.end)
            );
            assert!((x.score - y.score).abs() < 1e-4, "{aggregation:?} {x:?} {y:?}");
        }
    }
    assert!(total > 0, "no entity found: the comparison checks nothing");
}

#[test]
fn a_long_document_is_tagged_end_to_end_without_truncation() {
    let tmp = tempfile::tempdir().unwrap();
    let mut tagger =
        TextTagger::open(&common::token_classifier_dir(tmp.path()), EngineChoice::Exact(EngineSpec::ORT), Some(2))
            .unwrap();
    // 5,000+ words: many sentences, and one 700-word sentence that needs windows on its own
    let mut doc = String::new();
    for i in 0..400 {
        doc.push_str(&format!("Sentence {i} uses magnetic resonance imaging (MRI) on patients. "));
    }
    doc.push_str(&"word ".repeat(700));
    let n_words = nerkit::infer::text::split_words(&doc).len();
    assert!(n_words > 5000);
    for aggregation in [Aggregation::Native, Aggregation::Simple] {
        let out = tagger.tag(&[&doc], &TagOptions { aggregation, ..Default::default() }).unwrap().remove(0);
        let tagged: usize = out.sentences.iter().map(|s| s.tags.len()).sum();
        assert_eq!(tagged, n_words, "{aggregation:?}: every word gets a tag");
        let last = out.entities.iter().map(|e| e.end).max().unwrap_or(0);
        assert!(last > doc.chars().count() / 2, "{aggregation:?}: entities reach the document's second half");
    }
}

#[test]
fn lanes_tag_exactly_like_one_engine() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = common::token_classifier_dir(tmp.path());
    let mut one = TextTagger::open_lanes(&dir, EngineChoice::Exact(EngineSpec::ORT_INT8), Some(1), Some(1)).unwrap();
    let mut three = TextTagger::open_lanes(&dir, EngineChoice::Exact(EngineSpec::ORT_INT8), Some(3), Some(3)).unwrap();
    assert_eq!((one.lanes(), three.lanes()), (1, 3));
    assert!(three.backend_reasons().iter().any(|r| r == "3 lanes, 1 thread each"), "{:?}", three.backend_reasons());
    let mut docs: Vec<String> = (0..12)
        .map(|i| {
            format!(
                "Study {i}: interleukin-{i} (IL-{i}) rose.{}",
                " Computed tomography (CT) was normal.".repeat(i % 4)
            )
        })
        .collect();
    docs.push(UNICODE_TEXT.to_string());
    docs.push("Magnetic resonance imaging (MRI) of the brain. ".repeat(60));
    let texts: Vec<&str> = docs.iter().map(String::as_str).collect();
    for aggregation in [Aggregation::Native, Aggregation::Simple] {
        let opts = TagOptions { aggregation, ..Default::default() };
        let a = one.tag(&texts, &opts).unwrap();
        let b = three.tag(&texts, &opts).unwrap();
        assert!(a.iter().map(|t| t.entities.len()).sum::<usize>() > 0, "no entity: the comparison checks nothing");
        assert_eq!(a, b, "{aggregation:?}");
        // one long document alone: its sentences (native) or windows (simple) spread over the lanes
        assert_eq!(one.tag(&texts[13..], &opts).unwrap(), three.tag(&texts[13..], &opts).unwrap(), "{aggregation:?}");
    }
}

fn nerkit(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_nerkit")).args(args).output().unwrap()
}

fn corpus(dir: &Path) -> PathBuf {
    let path = dir.join("docs.jsonl");
    let lines: Vec<String> = (0..30)
        .map(|i| {
            serde_json::json!({"id": format!("doc{i}"), "source": "test",
                "text": format!("Study {i}: interleukin-{i} (IL-{i}) levels rose. Computed tomography (CT) was normal.")})
            .to_string()
        })
        .collect();
    std::fs::write(&path, lines.join("\n") + "\n").unwrap();
    path
}

fn sorted_lines(bytes: &[u8]) -> Vec<String> {
    let mut v: Vec<String> = String::from_utf8(bytes.to_vec()).unwrap().lines().map(String::from).collect();
    v.sort();
    v
}

#[test]
fn shards_together_equal_one_run_and_resume_equals_an_uninterrupted_run() {
    let tmp = tempfile::tempdir().unwrap();
    let model = common::token_classifier_dir(tmp.path());
    let input = corpus(tmp.path());
    let (m, i) = (model.to_str().unwrap(), input.to_str().unwrap());
    let full = tmp.path().join("full.jsonl");
    let out = nerkit(&["predict", "--model", m, "--input", i, "--output", full.to_str().unwrap(), "--backend", "ort"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let full_bytes = std::fs::read(&full).unwrap();
    assert_eq!(full_bytes.iter().filter(|&&b| b == b'\n').count(), 30);
    assert!(String::from_utf8_lossy(&full_bytes).contains("\"source\":\"test\""), "extra fields pass through");
    let mut shards = Vec::new();
    for s in 0..3 {
        let o = nerkit(&["predict", "--model", m, "--input", i, "--shard", &format!("{s}/3"), "--backend", "ort"]);
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        assert_eq!(o.stdout.iter().filter(|&&b| b == b'\n').count(), 10);
        shards.extend_from_slice(&o.stdout);
    }
    assert_eq!(sorted_lines(&shards), sorted_lines(&full_bytes));
    // a run killed after 11 records and half of the 12th, then resumed
    let resumed = tmp.path().join("resumed.jsonl");
    let cut = full_bytes.iter().enumerate().filter(|(_, &b)| b == b'\n').nth(10).unwrap().0 + 1;
    std::fs::write(&resumed, &full_bytes[..cut + 40]).unwrap();
    let o = nerkit(&[
        "predict",
        "--model",
        m,
        "--input",
        i,
        "--output",
        resumed.to_str().unwrap(),
        "--resume",
        "--backend",
        "ort",
    ]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert_eq!(std::fs::read(&resumed).unwrap(), full_bytes);
}

#[test]
fn bad_lines_stop_with_file_and_line_or_go_to_the_errors_file() {
    let tmp = tempfile::tempdir().unwrap();
    let model = common::token_classifier_dir(tmp.path());
    let input = tmp.path().join("bad.jsonl");
    let mut bytes =
        b"{\"id\": 1, \"text\": \"Computed tomography (CT).\"}\n{\"id\": 2, \"title\": \"no text\"}\n".to_vec();
    bytes.extend_from_slice(
        b"{\"id\": 3, \"text\": \"caf\xe9\"}\n{\"id\": 4, \"text\": \"  \"}\n{\"id\": 5, \"text\": \"Fine.\"}\n",
    );
    std::fs::write(&input, bytes).unwrap();
    let (m, i) = (model.to_str().unwrap(), input.to_str().unwrap());
    let o = nerkit(&["predict", "--model", m, "--input", i, "--backend", "ort"]);
    assert!(!o.status.success());
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("bad.jsonl:2") && err.contains("missing field `text`"), "{err}");
    let out = tmp.path().join("out.jsonl");
    let o = nerkit(&[
        "predict",
        "--model",
        m,
        "--input",
        i,
        "--output",
        out.to_str().unwrap(),
        "--on-error",
        "skip",
        "--backend",
        "ort",
    ]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let ids: Vec<i64> = std::fs::read_to_string(&out)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap()["id"].as_i64().unwrap())
        .collect();
    assert_eq!(ids, [1, 5]);
    let errors = std::fs::read_to_string(format!("{}.errors.jsonl", out.display())).unwrap();
    let lines: Vec<serde_json::Value> = errors.lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    assert_eq!(lines.iter().map(|l| l["line"].as_u64().unwrap()).collect::<Vec<_>>(), [2, 3, 4]);
    assert!(lines[1]["error"].as_str().unwrap().contains("UTF-8"));
}
