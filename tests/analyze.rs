//! `analyze::run` on the real PLOD-CW train file: numbers in analysis.json and the chart files.
use std::path::Path;

use nerkit::analyze::{run, Analysis, AnalyzeConfig};
use nerkit::data::{plod_dir, DataSource};

fn plod_train() -> DataSource {
    let dir = plod_dir().unwrap_or_else(|e| panic!("this test needs the offline PLOD data: {e}"));
    DataSource::from_path(dir.join("plod-cw-2024-lowercased/train.jsonl")).unwrap()
}

fn assert_chart(path: &Path, magic: &[u8], min_bytes: u64) {
    let bytes = std::fs::read(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    assert!(bytes.len() as u64 >= min_bytes, "{} is only {} bytes", path.display(), bytes.len());
    assert!(bytes.windows(magic.len()).take(64).any(|w| w == magic), "{} lacks {magic:?}", path.display());
}

#[test]
fn analyze_plod_train_with_carved_validation() {
    let out = tempfile::tempdir().unwrap();
    let config = AnalyzeConfig::new(vec![plod_train()], out.path());
    let output = run(&config).unwrap();

    let json = std::fs::read_to_string(out.path().join("analysis.json")).unwrap();
    assert_eq!(json, serde_json::to_string_pretty(&output.analysis).unwrap());
    let a: Analysis = serde_json::from_str(&json).unwrap();
    assert_eq!(a.carved_validation, Some((0.1, 42)));
    let names: Vec<&str> = a.splits.iter().map(|s| s.name.as_str()).collect();
    assert_eq!(names, ["train", "validation"]);
    // 1072 sentences: round(107.2) = 107 carved out.
    assert_eq!((a.splits[0].sentences, a.splits[1].sentences), (965, 107));
    assert_eq!(a.splits[0].tokens + a.splits[1].tokens, 40_000);
    for (i, expected) in [32_971, 2_336, 1_500, 3_193].into_iter().enumerate() {
        assert_eq!(a.splits[0].tags[i].count + a.splits[1].tags[i].count, expected, "{}", a.labels[i]);
    }
    let ac_spans: usize = a.splits.iter().map(|s| s.spans[0].count).sum();
    let lf_spans: usize = a.splits.iter().map(|s| s.spans[1].count).sum();
    assert_eq!((ac_spans, lf_spans), (2_336, 1_500), "one span per B- tag (no orphan I- in PLOD)");
    let dups: usize = a.splits.iter().map(|s| s.duplicates.redundant).sum::<usize>() + a.overlaps[0].shared_sentences;
    assert_eq!(dups, 1, "README: one exact duplicate sentence inside train");
    assert!(a.overlaps[0].word_type_share > 0.5 && a.overlaps[0].word_type_share < 1.0);
    let s = &a.splits[0];
    let imbalance =
        s.tags.iter().map(|t| t.count).max().unwrap() as f64 / s.tags.iter().map(|t| t.count).min().unwrap() as f64;
    assert!((s.imbalance_ratio.unwrap() - imbalance).abs() < 1e-9, "{:?} vs {imbalance}", s.imbalance_ratio);
    if let Some(sub) = &s.subwords {
        assert!(sub.total > s.tokens + 2 * s.sentences, "sub-words incl. [CLS]/[SEP] exceed words");
    }

    let md = std::fs::read_to_string(out.path().join("analysis.md")).unwrap();
    assert!(md.contains("| sentences | 965 | 107 |"), "{md}");
    for stem in ["label_distribution", "sentence_length_words", "span_lengths"] {
        assert_chart(&out.path().join(format!("{stem}.png")), b"\x89PNG", 10_000);
        assert_chart(&out.path().join(format!("{stem}.svg")), b"<svg", 5_000);
    }
    let sub_png = out.path().join("sentence_length_subwords.png");
    assert_eq!(sub_png.exists(), s.subwords.is_some());
}

#[test]
fn split_names_must_match_sources() {
    let out = tempfile::tempdir().unwrap();
    let mut config = AnalyzeConfig::new(vec![plod_train()], out.path());
    config.split_names = Some(vec!["a".into(), "b".into()]);
    let err = nerkit::analyze::run(&config).unwrap_err().to_string();
    assert!(err.contains("2 split name(s) given for 1 split(s)"), "{err}");
}

#[test]
fn two_sources_keep_their_names_and_overlap_fully() {
    let data = Path::new(env!("CARGO_MANIFEST_DIR")).join("data");
    let sources = ["sample.conll", "sample.csv"].map(|f| DataSource::from_path(data.join(f)).unwrap()).to_vec();
    let out = tempfile::tempdir().unwrap();
    let mut config = AnalyzeConfig::new(sources, out.path());
    config.split_names = Some(vec!["train".into(), "test".into()]);
    let a = run(&config).unwrap().analysis;
    assert_eq!(a.carved_validation, None);
    assert_eq!(a.splits.iter().map(|s| s.name.as_str()).collect::<Vec<_>>(), ["train", "test"]);
    let n = a.splits[0].sentences;
    assert_eq!(a.splits[1].sentences, n);
    // The two samples hold the same sentences: everything in "test" is seen in "train".
    let o = &a.overlaps[0];
    assert_eq!((o.shared_sentences, o.word_type_share, o.entity_share), (n, 1.0, 1.0));
}
