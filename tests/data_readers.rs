//! Readers on the real offline PLOD data and on the committed samples (all formats must agree).
use std::collections::BTreeMap;
use std::path::PathBuf;

use nerkit::data::{load, plod_dir, DataSource, Dataset, LoadOptions};
use nerkit::labels::LabelSet;

fn plod(rel: &str) -> PathBuf {
    let dir = plod_dir().unwrap_or_else(|e| panic!("this test needs the offline PLOD data: {e}"));
    let path = dir.join(rel);
    assert!(path.is_file(), "missing PLOD data file {}", path.display());
    path
}

fn tag_counts(ds: &Dataset) -> BTreeMap<&str, usize> {
    let mut m = BTreeMap::new();
    for t in ds.sentences.iter().flat_map(|s| &s.tags) {
        *m.entry(t.as_str()).or_default() += 1;
    }
    m
}

fn load_path(path: PathBuf) -> Dataset {
    let source = DataSource::from_path(path).unwrap();
    load(&source, &LabelSet::plod(), &LoadOptions::default()).unwrap()
}

#[test]
fn plod_cw_train_has_the_documented_counts() {
    let ds = load_path(plod("plod-cw-2024-lowercased/train.jsonl"));
    assert_eq!(ds.name, "train");
    assert_eq!(ds.sentences.len(), 1072);
    assert_eq!(ds.num_tokens(), 40_000);
    let counts = tag_counts(&ds);
    assert_eq!(counts, BTreeMap::from([("O", 32_971), ("B-AC", 2_336), ("B-LF", 1_500), ("I-LF", 3_193)]));
    assert_eq!(ds.sentences[0].origin, "train.jsonl:1");
    assert_eq!(ds.sentences[0].words[4], "gothenburg");
    assert_eq!(ds.sentences[1071].origin, "train.jsonl:1072");
}

#[test]
fn sdu_file_loads_with_documented_counts() {
    let ds = load_path(plod("sdu-aaai22-sci-en-bio/all.jsonl"));
    assert_eq!(ds.sentences.len(), 4_477);
    assert_eq!(ds.num_tokens(), 133_384);
    let counts = tag_counts(&ds);
    assert_eq!(counts, BTreeMap::from([("O", 108_664), ("B-AC", 9_167), ("B-LF", 6_411), ("I-LF", 9_142)]));
}

#[test]
fn sample_files_agree_across_formats() {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("data");
    let jsonl = load_path(dir.join("sample.jsonl"));
    let conll = load_path(dir.join("sample.conll"));
    let csv = load_path(dir.join("sample.csv"));
    assert!(jsonl.sentences.len() >= 5);
    for other in [&conll, &csv] {
        assert_eq!(other.sentences.len(), jsonl.sentences.len());
        for (a, b) in jsonl.sentences.iter().zip(&other.sentences) {
            assert_eq!((&a.words, &a.tags), (&b.words, &b.tags), "{} vs {}", a.origin, b.origin);
        }
    }
    assert_eq!(conll.sentences[0].origin, "sample.conll:3");
    assert_eq!(csv.sentences[1].origin, "sample.csv:3");
}
