//! Abbreviation definitions as users get them: `nerkit evaluate --baseline rules` scores Schwartz–Hearst alone on
//! labelled data (definition pairs per rule, no model), and `nerkit predict --pairs rules|model|hybrid` answers
//! with the rules', the model's or the combined definitions, each pair naming its evidence. The model is the
//! embedded MiniLM with the fixtures' formula head (labels O, B-AC, B-LF, I-LF): untrained, so unsure everywhere
//! — where the model is unsure, the hybrid decoder lets the letters decide. Needs `make setup`.
mod common;

use std::path::Path;
use std::process::{Command, Output};

use serde_json::{json, Value};

fn nerkit(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_nerkit")).args(args).env("RUST_LOG", "warn").output().expect("run nerkit")
}

fn ok(out: Output) -> String {
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout).unwrap()
}

/// Four labelled sentences: a bracketed definition (rules find it), an abbreviation list (rules cannot), a
/// definition whose letters do not align ("copper (cu)") and a definition with a later mention.
fn write_gold(path: &Path) {
    let sentences: [(&str, &str); 4] = [
        ("we used echo planar imaging ( epi ) here .", "O O B-LF I-LF I-LF O B-AC O O O"),
        (
            "abbreviations : bmi , body mass index ; ci , confidence interval .",
            "O O B-AC O B-LF I-LF I-LF O B-AC O B-LF I-LF O",
        ),
        ("levels of copper ( cu ) rose", "O O B-LF O B-AC O O"),
        ("the heat shock factor ( hsf ) binds ; hsf trimerizes", "O B-LF I-LF I-LF O B-AC O O O B-AC O"),
    ];
    let lines: Vec<String> = sentences
        .iter()
        .map(|(t, g)| {
            json!({"tokens": t.split(' ').collect::<Vec<_>>(), "ner_tags": g.split(' ').collect::<Vec<_>>()})
                .to_string()
        })
        .collect();
    std::fs::write(path, lines.join("\n") + "\n").unwrap();
}

#[test]
fn evaluate_scores_the_rules_alone_per_rule() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("gold.jsonl");
    write_gold(&data);
    let out = tmp.path().join("rules");
    let stdout = ok(nerkit(&[
        "evaluate",
        "--baseline",
        "rules",
        "--data",
        data.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
    ]));
    assert!(stdout.contains("definition pairs (rules): P 100.00  R 40.00"), "{stdout}");
    let m: Value = serde_json::from_str(&std::fs::read_to_string(out.join("metrics.json")).unwrap()).unwrap();
    let d = &m["definitions"];
    assert_eq!(d["mode"], "rules");
    // gold: epi, bmi, ci (listed), cu, hsf = 5 definitions; the rules find epi and hsf
    assert_eq!(
        (d["pairs"]["gold"].as_u64(), d["pairs"]["predicted"].as_u64(), d["pairs"]["correct"].as_u64()),
        (Some(5), Some(2), Some(2))
    );
    assert_eq!(d["by_rule"]["listed"]["found"], 0);
    assert_eq!(
        (d["by_rule"]["parenthesised"]["gold"].as_u64(), d["by_rule"]["parenthesised"]["found"].as_u64()),
        (Some(3), Some(2))
    );
    // entities: the rules tag epi, hsf and its later mention (3 of 6 gold ACs), and 2 of 5 long forms
    assert_eq!(m["per_type"]["AC"]["precision"], 1.0);
    assert_eq!(m["per_type"]["AC"]["recall"], 0.5);
    assert_eq!(m["per_type"]["LF"]["recall"], 0.4);
    let report = std::fs::read_to_string(out.join("report.md")).unwrap();
    assert!(
        report.contains("#### Missed definitions") && report.contains("`cu` ↔ `copper` (parenthesised)"),
        "{report}"
    );
    // the scored records come back out, readable by --predictions
    let again = tmp.path().join("again");
    let preds = out.join("predictions.jsonl");
    ok(nerkit(&["evaluate", "--predictions", preds.to_str().unwrap(), "--out", again.to_str().unwrap()]));
    let m2: Value = serde_json::from_str(&std::fs::read_to_string(again.join("metrics.json")).unwrap()).unwrap();
    assert_eq!(m2["micro_f1"], m["micro_f1"]);

    // what cannot work says why
    let err = nerkit(&["evaluate", "--baseline", "rules", "--model", "x", "--data", data.to_str().unwrap()]);
    assert!(String::from_utf8_lossy(&err.stderr).contains("leave out --model"));
    let disease = tmp.path().join("disease.jsonl");
    std::fs::write(
        &disease,
        json!({"tokens": ["cystic", "fibrosis"], "ner_tags": ["B-Disease", "I-Disease"]}).to_string(),
    )
    .unwrap();
    let err = nerkit(&["evaluate", "--baseline", "rules", "--data", disease.to_str().unwrap()]);
    let msg = String::from_utf8_lossy(&err.stderr);
    assert!(!err.status.success() && msg.contains("B-Disease") && msg.contains("(AC)"), "{msg}");
}

fn predict(model: &Path, mode: &str, text: &str) -> Value {
    let out = ok(nerkit(&["predict", "--model", model.to_str().unwrap(), "--pairs", mode, text]));
    serde_json::from_str(out.lines().next().unwrap()).unwrap()
}

fn entity_texts(v: &Value) -> Vec<(String, String)> {
    v["entities"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| (e["label"].as_str().unwrap().into(), e["text"].as_str().unwrap().into()))
        .collect()
}

#[test]
fn predict_answers_in_each_pair_mode_with_evidence() {
    let tmp = tempfile::tempdir().unwrap();
    let model = common::token_classifier_dir(tmp.path());
    let text = "We used echo planar imaging (EPI) here. Later, EPI was repeated.";
    // rules: Schwartz–Hearst's definition, and the later mention linked across the sentence boundary
    let rules = predict(&model, "rules", text);
    let pair = |l: &str, s: &str| (l.to_string(), s.to_string());
    assert_eq!(entity_texts(&rules), [pair("LF", "echo planar imaging"), pair("AC", "EPI"), pair("AC", "EPI")]);
    assert_eq!(
        rules["pairs"],
        json!([{"ac": 1, "lf": 0, "rule": "parenthesised", "evidence": "letters", "score": 1.0}])
    );
    assert_eq!(rules["glossary"]["EPI"]["mentions"], json!([1, 2]));
    // hybrid: the untrained model is unsure, so the aligned definition is adopted on top of its tags
    let hybrid = predict(&model, "hybrid", text);
    let ents = entity_texts(&hybrid);
    let pairs = hybrid["pairs"].as_array().unwrap();
    let defined: Vec<(String, String, String)> = pairs
        .iter()
        .map(|p| {
            let (a, l) = (p["ac"].as_u64().unwrap() as usize, p["lf"].as_u64().unwrap() as usize);
            (ents[a].1.clone(), ents[l].1.clone(), p["evidence"].as_str().unwrap().to_string())
        })
        .collect();
    assert!(
        defined.iter().any(|(a, l, e)| a == "EPI" && l == "echo planar imaging" && (e == "letters" || e == "both")),
        "{hybrid}"
    );
    assert_eq!(hybrid["glossary"]["EPI"]["long_form"], "echo planar imaging");
    // model: the tags as decoded; every pair names its rule and evidence
    let model_only = predict(&model, "model", text);
    for p in model_only["pairs"].as_array().unwrap() {
        assert!(["parenthesised", "listed", "remention", "nearest"].contains(&p["rule"].as_str().unwrap()), "{p}");
        assert!(["both", "model"].contains(&p["evidence"].as_str().unwrap()), "{p}");
    }
    let bad = nerkit(&["predict", "--model", model.to_str().unwrap(), "--pairs", "letters", text]);
    assert!(!bad.status.success() && String::from_utf8_lossy(&bad.stderr).contains("hybrid"));
}
