//! nerkit's entity metrics against numbers produced by seqeval 1.2.2 itself
//! (`scripts/fixtures/seqeval_fixtures.py`; the fixtures are committed, no Python needed here).
mod common;

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use nerkit::labels::LabelSet;
use nerkit::metrics::{default_entities, entity_report, strict_entities, EntityReport, MetricsAccumulator, Mode};
use serde_json::Value;

fn fixture_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/seqeval")
}

fn load(name: &str) -> Value {
    let p = fixture_dir().join(name);
    serde_json::from_str(&std::fs::read_to_string(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()))).unwrap()
}

fn corpus(v: &Value) -> Vec<Vec<String>> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|s| s.as_array().unwrap().iter().map(|t| t.as_str().unwrap().to_string()).collect())
        .collect()
}

fn close(ours: f64, theirs: &Value, what: &str) {
    if theirs.is_null() {
        assert!(ours.is_nan(), "{what}: seqeval NaN, nerkit {ours}");
    } else {
        let t = theirs.as_f64().unwrap();
        assert!((ours - t).abs() <= 1e-9, "{what}: seqeval {t}, nerkit {ours}");
    }
}

fn check_report(ours: &EntityReport, theirs: &Value, ctx: &str) {
    let obj = theirs.as_object().unwrap();
    let types: BTreeSet<&str> = obj.keys().map(|k| k.as_str()).filter(|k| !k.ends_with(" avg")).collect();
    let mine: BTreeSet<&str> = ours.per_type.keys().map(|k| k.as_str()).collect();
    assert_eq!(mine, types, "{ctx}: entity types");
    for t in types {
        let (p, s) = (&ours.per_type[t], &obj[t]);
        close(p.precision, &s["precision"], &format!("{ctx} {t} precision"));
        close(p.recall, &s["recall"], &format!("{ctx} {t} recall"));
        close(p.f1, &s["f1-score"], &format!("{ctx} {t} f1"));
        assert_eq!(p.support as u64, s["support"].as_u64().unwrap(), "{ctx} {t} support");
    }
    for (name, a) in [("micro avg", &ours.micro), ("macro avg", &ours.macro_), ("weighted avg", &ours.weighted)] {
        let s = &obj[name];
        close(a.precision, &s["precision"], &format!("{ctx} {name} precision"));
        close(a.recall, &s["recall"], &format!("{ctx} {name} recall"));
        close(a.f1, &s["f1-score"], &format!("{ctx} {name} f1"));
        assert_eq!(a.support as u64, s["support"].as_u64().unwrap(), "{ctx} {name} support");
    }
}

/// Checks one corpus in one mode; returns whether seqeval raised (and we then must fail too).
fn check_case(case: &Value, mode: Mode) -> bool {
    let name = case["name"].as_str().unwrap();
    let (gold, pred) = (corpus(&case["y_true"]), corpus(&case["y_pred"]));
    let expected = &case[mode.as_str()];
    let ours = entity_report(&gold, &pred, mode);
    if expected.get("error").is_some() {
        assert!(ours.is_err(), "{name} {mode:?}: seqeval raised {}, nerkit did not", expected["error"]);
        return true;
    }
    check_report(&ours.unwrap_or_else(|e| panic!("{name} {mode:?}: {e}")), expected, &format!("{name} {mode:?}"));
    false
}

#[test]
fn hand_crafted_cases_match_seqeval_in_both_modes() {
    let cases = load("cases.json");
    let cases = cases.as_array().unwrap();
    assert!(cases.len() >= 30, "{} cases", cases.len());
    let mut strict_errors = 0;
    for c in cases {
        assert!(!check_case(c, Mode::Default), "default mode never fails");
        strict_errors += usize::from(check_case(c, Mode::Strict));
    }
    // E-/S- (ValueError), X- and `.` (KeyError) are outside IOB2
    assert_eq!(strict_errors, 3);
}

#[test]
fn hand_crafted_entities_match_get_entities_and_strict_tokens() {
    for c in load("cases.json").as_array().unwrap() {
        let name = c["name"].as_str().unwrap();
        for side in ["y_true", "y_pred"] {
            for (i, sent) in corpus(&c[side]).iter().enumerate() {
                let as_triples = |spans: Vec<nerkit::metrics::Span>| {
                    spans.into_iter().map(|s| serde_json::json!([s.kind, s.start, s.end])).collect::<Vec<_>>()
                };
                let want_default = c["entities_default"][side][i].as_array().unwrap().clone();
                assert_eq!(as_triples(default_entities(sent)), want_default, "{name} {side}[{i}] default");
                let want_strict = &c["entities_strict"][side][i];
                match strict_entities(sent) {
                    Ok(spans) => assert_eq!(&Value::Array(as_triples(spans)), want_strict, "{name} {side}[{i}] strict"),
                    Err(e) => assert!(want_strict.get("error").is_some(), "{name} {side}[{i}]: nerkit error {e}"),
                }
            }
        }
    }
}

#[test]
fn random_corpora_match_seqeval_in_both_modes() {
    let cases = load("random.json");
    let cases = cases.as_array().unwrap();
    assert_eq!(cases.len(), 200);
    for c in cases {
        assert!(!check_case(c, Mode::Default));
        assert!(!check_case(c, Mode::Strict));
    }
}

#[test]
fn corrupted_plod_predictions_match_seqeval() {
    let labels = LabelSet::plod();
    // Tokens and gold tags come from the shared PLOD file (never copied into the repository); the fixture holds
    // only the corrupted predictions for its first 200 sentences.
    let train = common::plod_train();
    let text = std::fs::read_to_string(&train).unwrap();
    let preds = std::fs::read_to_string(fixture_dir().join("plod_corrupted_preds.jsonl")).unwrap();
    let records: Vec<(Vec<String>, Vec<String>)> = text
        .lines()
        .zip(preds.lines())
        .map(|(gold, pred)| {
            let g: Value = serde_json::from_str(gold).unwrap();
            let p: Value = serde_json::from_str(pred).unwrap();
            (
                corpus(&Value::Array(vec![g["ner_tags"].clone()])).remove(0),
                corpus(&Value::Array(vec![p["pred_tags"].clone()])).remove(0),
            )
        })
        .collect();
    assert_eq!(records.len(), 200);
    let mut acc = MetricsAccumulator::new(&labels);
    for (gold, pred) in &records {
        acc.add(gold, pred).unwrap();
    }
    let m = acc.finalize();
    let expected = load("plod_corrupted.json");
    check_report(&m.entity, &expected["default"], "plod default");
    check_report(&m.entity_strict, &expected["strict"], "plod strict");
    // the realistic case must exercise what differs between the modes
    assert!(m.entity.micro.f1 < m.entity_strict.micro.f1);
}
