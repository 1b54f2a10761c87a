//! `nerkit evaluate --predictions` end to end on data/sample-predictions.jsonl (8 hand-written sentences).
//!
//! Hand count, default mode. AC gold 8 (EPI MRI COPD BMI TNF IL-6 CRP PCR), predicted 7 (COPD is tagged LF,
//! TNF is missed, "control" is a spurious AC): TP 6 → P 6/7, R 6/8, F1 12/15. LF gold 6, predicted 6
//! (MRI's and CRP's long forms lose their first word, COPD predicted as LF, the COPD long form missed):
//! TP 3 → P = R = F1 = 1/2. Micro: TP 9, predicted 13, gold 14. Words 73, 10 wrong.
use std::path::{Path, PathBuf};
use std::process::Command;

use nerkit::evaluate::compare::{Baseline, Change};
use nerkit::evaluate::{compare, evaluate, read_predictions, write_outputs, Category, EvalOptions, PredictionRecord};
use nerkit::labels::LabelSet;
use nerkit::metrics::Mode;
use serde_json::Value;

fn sample_path() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("data/sample-predictions.jsonl")
}

fn sample() -> Vec<PredictionRecord> {
    read_predictions(&sample_path(), &LabelSet::plod()).unwrap()
}

fn approx(v: &Value, want: f64) {
    let got = v.as_f64().unwrap_or_else(|| panic!("not a number: {v}"));
    assert!((got - want).abs() < 1e-12, "got {got}, want {want}");
}

#[test]
fn sample_predictions_end_to_end() {
    let dir = tempfile::tempdir().unwrap();
    let report = evaluate(sample(), &LabelSet::plod(), &EvalOptions::default()).unwrap();
    let out = write_outputs(&report, dir.path()).unwrap();
    for p in [&out.metrics_json, &out.report_md, &out.report_html] {
        assert!(std::fs::metadata(p).unwrap().len() > 500, "{}", p.display());
    }
    for name in ["per_class", "confusion", "length_errors", "calibration"] {
        for ext in ["png", "svg"] {
            let p = dir.path().join(format!("charts/{name}.{ext}"));
            assert!(std::fs::metadata(&p).map(|m| m.len() > 1000).unwrap_or(false), "{}", p.display());
        }
    }
    let m: Value = serde_json::from_str(&std::fs::read_to_string(&out.metrics_json).unwrap()).unwrap();
    assert_eq!(m["sentences"], 8);
    assert_eq!(m["tokens"], 73);
    approx(&m["micro_precision"], 9.0 / 13.0);
    approx(&m["micro_recall"], 9.0 / 14.0);
    approx(&m["micro_f1"], 18.0 / 27.0);
    approx(&m["macro_f1"], (12.0 / 15.0 + 0.5) / 2.0);
    approx(&m["per_type"]["AC"]["precision"], 6.0 / 7.0);
    approx(&m["per_type"]["AC"]["recall"], 0.75);
    approx(&m["per_type"]["AC"]["f1"], 0.8);
    assert_eq!((m["per_type"]["AC"]["fp"].as_u64(), m["per_type"]["AC"]["fn"].as_u64()), (Some(1), Some(2)));
    approx(&m["per_type"]["LF"]["f1"], 0.5);
    // strict mode drops the stray I-LF on "protein": LF predicted 5, TP 3
    approx(&m["entity_strict"]["per_type"]["LF"]["precision"], 0.6);
    approx(&m["entity_strict"]["micro"]["f1"], 18.0 / 26.0);
    approx(&m["token"]["accuracy"], 63.0 / 73.0);
    // confusion row B-LF (gold): 3 correct, 3 predicted O (MRI's "Magnetic", COPD long form's first word, "C-reactive")
    assert_eq!(m["token"]["confusion"]["counts"][2], serde_json::json!([3, 0, 3, 0]));
    assert_eq!(m["errors"]["boundary"], 2);
    assert_eq!(m["errors"]["type_confusion"], 1);
    assert_eq!(m["errors"]["missed"], 2);
    assert_eq!(m["errors"]["spurious"], 1);
    assert_eq!(m["pairs"]["pairs"], 6);
    assert_eq!(m["pairs"]["ac_only"], 2);
    assert!(m["calibration"]["ece"].as_f64().unwrap() > 0.0);

    let md = std::fs::read_to_string(&out.report_md).unwrap();
    assert!(md.contains("[Echo planar imaging]{LF} ( [EPI]{AC} )"), "Markdown marks up entities");
    assert!(md.contains("![Token confusion matrix](charts/confusion.png)"));
    let html = std::fs::read_to_string(&out.report_html).unwrap();
    assert!(html.contains("<svg") && html.contains("class=\"ent t-LF bad\""));
    for forbidden in ["http://", "https://", "<script", "<link", "src="] {
        assert!(!html.contains(forbidden), "report.html must be self-contained: found {forbidden}");
    }
}

#[test]
fn error_categories_on_hand_made_records() {
    let recs = vec![
        // boundary: gold LF 0..3, predicted LF 1..3
        PredictionRecord::from_strs(&["a", "b", "c", "d"], &["B-LF", "I-LF", "I-LF", "O"], &["O", "B-LF", "I-LF", "O"]),
        // type confusion (same span) + spurious
        PredictionRecord::from_strs(&["x", "y", "z"], &["B-AC", "O", "O"], &["B-LF", "O", "B-AC"]),
        // missed
        PredictionRecord::from_strs(&["p", "q"], &["B-AC", "O"], &["O", "O"]),
    ];
    let r = evaluate(recs, &LabelSet::plod(), &EvalOptions::default()).unwrap();
    let c = &r.errors.counts;
    assert_eq!(
        (c[&Category::Boundary], c[&Category::TypeConfusion], c[&Category::Missed], c[&Category::Spurious]),
        (1, 1, 1, 1)
    );
    let tc = &r.errors.worst[&Category::TypeConfusion][0];
    assert_eq!(
        (tc.sentence, tc.gold.as_ref().unwrap().kind.as_str(), tc.pred.as_ref().unwrap().kind.as_str()),
        (1, "AC", "LF")
    );
}

#[test]
fn strict_mode_reclassifies_the_stray_inside_tag() {
    let opts = EvalOptions { mode: Mode::Strict, ..EvalOptions::default() };
    let r = evaluate(sample(), &LabelSet::plod(), &opts).unwrap();
    // "C-reactive protein": default sees a boundary error, strict sees a missed long form
    assert_eq!(r.errors.counts[&Category::Boundary], 1);
    assert_eq!(r.errors.counts[&Category::Missed], 3);
    assert_eq!(r.summary().micro_f1, r.metrics.entity_strict.micro.f1);
}

#[test]
fn compare_with_predictions_and_metrics_json() {
    let labels = LabelSet::plod();
    let this = sample();
    let mut other = this.clone();
    other[1].pred = other[1].gold.clone(); // the other run got sentence 2 right
    other[5].pred[0] = "B-AC".into(); // and added a spurious AC in sentence 6
    let report = evaluate(this, &labels, &EvalOptions::default()).unwrap();
    let c = compare(&report, &Baseline::Predictions(other.clone()), "other.jsonl").unwrap();
    let diff = c.differing.as_ref().unwrap();
    assert_eq!(
        diff.iter().map(|d| (d.sentence, d.change)).collect::<Vec<_>>(),
        vec![(1, Change::Broken), (5, Change::Fixed)]
    );
    let micro = c.rows.iter().find(|r| r.name == "micro avg").unwrap();
    assert!(micro.delta()[2] < 0.0, "the other run is better");

    // the same deltas from the other run's metrics.json
    let dir = tempfile::tempdir().unwrap();
    let other_report = evaluate(other, &labels, &EvalOptions::default()).unwrap();
    let out = write_outputs(&other_report, dir.path()).unwrap();
    let from_json = compare(&report, &Baseline::load(&out.metrics_json, &labels).unwrap(), "m.json").unwrap();
    assert_eq!(from_json.rows, c.rows);
    assert!(from_json.differing.is_none());

    let mut shorter = sample();
    shorter.pop();
    assert!(compare(&report, &Baseline::Predictions(shorter), "x").is_err());
}

fn nerkit(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_nerkit")).args(args).output().unwrap()
}

#[test]
fn cli_scores_predictions_and_reports_bad_lines() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("eval");
    let ok = nerkit(&[
        "evaluate",
        "--predictions",
        sample_path().to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
        "--compare",
        sample_path().to_str().unwrap(),
    ]);
    assert!(ok.status.success(), "{}", String::from_utf8_lossy(&ok.stderr));
    assert!(String::from_utf8_lossy(&ok.stdout).contains("micro F1 66.67"));
    assert!(out.join("report.html").is_file());
    assert!(std::fs::read_to_string(out.join("report.md")).unwrap().contains("0 sentences have different predictions"));

    let bad = dir.path().join("bad.jsonl");
    std::fs::write(&bad, "{\"tokens\":[\"a\"],\"ner_tags\":[\"O\"],\"pred_tags\":[\"O\"]}\n{\"tokens\":[\"a\",\"b\"],\"ner_tags\":[\"O\",\"B-XX\"],\"pred_tags\":[\"O\",\"O\"]}\n").unwrap();
    // the label set is the file's own tags unless --labels fixes it: then a tag outside it names file:line
    let e = nerkit(&[
        "evaluate",
        "--predictions",
        bad.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
        "--labels",
        "O,B-AC,B-LF,I-LF",
    ]);
    assert!(!e.status.success());
    let msg = String::from_utf8_lossy(&e.stderr);
    assert!(msg.contains("bad.jsonl:2: field `ner_tags`[1] = `B-XX`"), "{msg}");
    let own = nerkit(&["evaluate", "--predictions", bad.to_str().unwrap(), "--out", out.to_str().unwrap()]);
    assert!(own.status.success(), "{}", String::from_utf8_lossy(&own.stderr));
    assert!(String::from_utf8_lossy(&own.stdout).contains("XX "), "type XX is scored");
    std::fs::write(&bad, "{\"tokens\":[\"a\"],\"ner_tags\":[\"O\"],\"pred_tags\":[\"O\"]}\n{\"tokens\":[\"a\"],\"ner_tags\":[\"O\"],\"pred_tags\":[\"Gene\"]}\n").unwrap();
    let e = nerkit(&["evaluate", "--predictions", bad.to_str().unwrap(), "--out", out.to_str().unwrap()]);
    let msg = String::from_utf8_lossy(&e.stderr);
    assert!(!e.status.success() && msg.contains("bad.jsonl:2: field `pred_tags`[0] = `Gene` is not a label"), "{msg}");

    // A model-based run names what is wrong with its model reference.
    let m = nerkit(&["evaluate", "--model", "no-such-model-dir", "--data", sample_path().to_str().unwrap()]);
    assert!(!m.status.success());
    assert!(String::from_utf8_lossy(&m.stderr).contains("no-such-model-dir"), "{}", String::from_utf8_lossy(&m.stderr));
}
