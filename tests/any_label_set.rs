//! Any NER task, end to end, as a user runs it: a synthetic corpus with three entity types (Gene, Species,
//! Disease; Gene is single-word, so the set has no `I-Gene`), written here in IOB2 (JSONL) and IOBES (CoNLL),
//! is trained on a tiny random BERT with the `nerkit` binary, evaluated, exported with the int8 guard,
//! predicted and served. The label set comes from the data everywhere; nothing mentions AC or LF, and neither
//! `pairs` nor `glossary` appears anywhere. Needs `make setup` (ONNX Runtime, the embedded tokenizer).
mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use common::server::{get, post_json, Server};
use nerkit::data::{self, DataSource, LoadOptions, Scheme};
use nerkit::labels::LabelSet;
use serde_json::{json, Value};

const GENES: &[&str] = &["BRCA1", "TP53", "EGFR", "KRAS", "MYC", "PTEN"];
const SPECIES: &[&[&str]] = &[&["Homo", "sapiens"], &["Mus", "musculus"], &["Danio", "rerio"], &["rats"]];
const DISEASES: &[&[&str]] =
    &[&["breast", "cancer"], &["cystic", "fibrosis"], &["type", "2", "diabetes"], &["asthma"], &["glioma"]];

/// Sentence `i` of the synthetic corpus: (words, IOB2 tags).
fn sentence(i: usize) -> (Vec<String>, Vec<String>) {
    let (g, s, d) = (GENES[i % GENES.len()], SPECIES[(i / 2) % SPECIES.len()], DISEASES[(i / 3) % DISEASES.len()]);
    let mut words = Vec::new();
    let mut tags = Vec::new();
    let mut push = |ws: &[&str], ty: Option<&str>| {
        for (k, w) in ws.iter().enumerate() {
            words.push(w.to_string());
            tags.push(match ty {
                None => "O".to_string(),
                Some(t) => format!("{}-{t}", if k == 0 { "B" } else { "I" }),
            });
        }
    };
    match i % 3 {
        0 => {
            push(&["Mutations", "in"], None);
            push(&[g], Some("Gene"));
            push(&["cause"], None);
            push(d, Some("Disease"));
            push(&["in"], None);
            push(s, Some("Species"));
            push(&["."], None);
        }
        1 => {
            push(&["We", "knocked", "out"], None);
            push(&[g], Some("Gene"));
            push(&["in"], None);
            push(s, Some("Species"));
            push(&["models", "of"], None);
            push(d, Some("Disease"));
            push(&["."], None);
        }
        _ => {
            push(d, Some("Disease"));
            push(&["was", "not", "linked", "to"], None);
            push(&[g], Some("Gene"));
            push(&["expression", "."], None);
        }
    }
    (words, tags)
}

fn write_jsonl(path: &Path, range: std::ops::Range<usize>) {
    let lines: Vec<String> = range
        .map(|i| {
            let (w, t) = sentence(i);
            json!({"tokens": w, "ner_tags": t}).to_string()
        })
        .collect();
    std::fs::write(path, lines.join("\n") + "\n").unwrap();
}

/// The same sentences as CoNLL in `scheme`.
fn write_conll(path: &Path, range: std::ops::Range<usize>, scheme: Scheme) {
    let mut out = String::new();
    for i in range {
        let (w, t) = sentence(i);
        for (w, t) in w.iter().zip(data::scheme::from_iob2(&t, scheme)) {
            out.push_str(&format!("{w}\t{t}\n"));
        }
        out.push('\n');
    }
    std::fs::write(path, out).unwrap();
}

fn tiny_model(dir: &Path) -> PathBuf {
    common::tiny_model(dir, 2)
}

fn nerkit(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_nerkit")).args(args).env("RUST_LOG", "warn").output().expect("run nerkit")
}

fn ok(args: &[&str]) -> String {
    let out = nerkit(args);
    let (stdout, stderr) = (String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert!(out.status.success(), "nerkit {args:?} failed:\n{stdout}\n{stderr}");
    stdout.into_owned()
}

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

const EXPECTED: &[&str] = &["O", "B-Disease", "I-Disease", "B-Gene", "B-Species", "I-Species"];

#[test]
fn an_iobes_file_loads_as_its_iob2_conversion() {
    let dir = tempfile::tempdir().unwrap();
    let (iob2, iobes, bilou) = (dir.path().join("a.jsonl"), dir.path().join("b.conll"), dir.path().join("c.tsv"));
    write_jsonl(&iob2, 0..30);
    write_conll(&iobes, 0..30, Scheme::Iobes);
    write_conll(&bilou, 0..30, Scheme::Bilou);
    let text = std::fs::read_to_string(&iobes).unwrap();
    assert!(text.contains("\tS-Gene") && text.contains("\tE-Disease"), "the file really is IOBES");
    let load = |p: &Path| {
        let (ds, labels) =
            data::load_labelled(&DataSource::from_path(p).unwrap(), None, &LoadOptions::default()).unwrap();
        (ds.sentences.into_iter().map(|s| (s.words, s.tags)).collect::<Vec<_>>(), labels)
    };
    let (a, la) = load(&iob2);
    assert_eq!(la.labels(), EXPECTED);
    assert_eq!(load(&iobes), (a.clone(), la.clone()));
    assert_eq!(load(&bilou), (a, la));

    // a sequence IOBES cannot produce is an error naming file:line and word
    let bad = dir.path().join("bad.conll");
    std::fs::write(&bad, "BRCA1\tS-Gene\n\nbreast\tB-Disease\nis\tO\n").unwrap();
    let err = data::load(&DataSource::from_path(&bad).unwrap(), &LabelSet::plod(), &LoadOptions::default())
        .unwrap_err()
        .to_string();
    assert!(err.contains("bad.conll:3 word 0: IOBES: `B-Disease` is not continued (next: `O`)"), "{err}");
}

#[test]
fn three_types_train_evaluate_export_predict_and_serve_without_pairs() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    let model = tiny_model(root);
    let (train, val) = (root.join("train.jsonl"), root.join("val.conll"));
    write_jsonl(&train, 0..60);
    write_conll(&val, 60..84, Scheme::Iobes); // validation in another scheme: detected and converted
    let run = root.join("run");
    ok(&[
        "train",
        "--model",
        s(&model),
        "--data",
        s(&train),
        "--validation",
        s(&val),
        "--epochs",
        "12",
        "--lr",
        "3e-3",
        "--batch-size",
        "4",
        "--max-len",
        "64",
        "--threads",
        "1",
        "--device",
        "cpu",
        "--quiet",
        "--out",
        s(&run),
    ]);
    let best = run.join("best");
    let labels = LabelSet::from_model_dir(&best).unwrap().expect("id2label written");
    assert_eq!(labels.labels(), EXPECTED);

    // evaluate reads the label set from the model; the synthetic task is easy, the tiny model must learn it
    let eval_out = root.join("eval");
    let report = ok(&["evaluate", "--model", s(&best), "--data", s(&val), "--out", s(&eval_out)]);
    println!("{report}");
    let metrics: Value =
        serde_json::from_str(&std::fs::read_to_string(eval_out.join("metrics.json")).unwrap()).unwrap();
    let text = metrics.to_string();
    for ty in ["Gene", "Species", "Disease"] {
        assert!(report.contains(ty), "evaluate prints {ty}:\n{report}");
    }
    assert!(!text.contains("\"AC\"") && !text.contains("\"LF\""), "no PLOD types in metrics.json: {text}");
    let micro = metrics["micro_f1"].as_f64().unwrap_or_else(|| panic!("micro F1 in {text}"));
    assert!(micro > 0.8, "micro F1 {micro} on a trivially learnable corpus:\n{report}");

    // export with the int8 guard: it scores every variant against fp32 on the validation data's types
    let export = root.join("export");
    ok(&["export", "--model", s(&best), "--out", s(&export), "--int8", "--data", s(&val)]);
    let ej: Value = serde_json::from_str(&std::fs::read_to_string(export.join("export.json")).unwrap()).unwrap();
    let guard = ej.to_string();
    assert!(guard.contains("\"checked\":true"), "{guard}");
    assert!(guard.contains("\"Species\""), "the guard's per-type bounds cover the model's types: {guard}");

    // predict raw text: the new types, and no pairs/glossary keys
    let out = ok(&["predict", "--model", s(&export), "Mutations in TP53 cause glioma in Mus musculus ."]);
    let rec: Value = serde_json::from_str(out.lines().find(|l| l.starts_with('{')).expect("a JSON line")).unwrap();
    assert!(rec.get("pairs").is_none() && rec.get("glossary").is_none(), "{rec}");
    let kinds: Vec<&str> = rec["entities"].as_array().unwrap().iter().map(|e| e["label"].as_str().unwrap()).collect();
    assert!(kinds.contains(&"Gene") && kinds.contains(&"Species"), "{rec}");

    // CoNLL output in the scheme of the user's files
    let conll =
        ok(&["predict", "--model", s(&export), "--format", "conll", "--scheme", "iobes", "KRAS in Mus musculus ."]);
    assert!(
        conll.contains("KRAS\tS-Gene") && conll.contains("Mus\tB-Species") && conll.contains("musculus\tE-Species"),
        "{conll}"
    );

    // serve: /info names the labels and types, POST /tag answers with them and without pairs
    let server = Server::start(&export, &[], &[]);
    let info = get(server.addr, "/info").json();
    assert_eq!(info["labels"], json!(EXPECTED));
    assert_eq!(info["entity_types"], json!(["Disease", "Gene", "Species"]));
    assert!(info.get("pairs").is_none(), "{info}");
    let res = post_json(server.addr, "/tag", &json!({"text": "We knocked out KRAS in Danio rerio models of asthma ."}));
    assert_eq!(res.status, 200, "{}", res.text());
    let body = res.json();
    assert!(body.get("pairs").is_none() && body.get("glossary").is_none(), "{body}");
    let labels: Vec<&str> = body["entities"].as_array().unwrap().iter().map(|e| e["label"].as_str().unwrap()).collect();
    assert!(labels.contains(&"Gene") && labels.iter().all(|l| ["Gene", "Species", "Disease"].contains(l)), "{body}");
    let hf = post_json(server.addr, "/tag", &json!({"inputs": "Mutations in EGFR cause asthma in rats .", "parameters": {"aggregation_strategy": "simple"}})).json();
    let groups: Vec<&str> = hf.as_array().unwrap().iter().filter_map(|e| e["entity_group"].as_str()).collect();
    assert!(groups.contains(&"Gene"), "{hf}");
}

#[test]
fn extra_data_with_another_tag_set_is_an_error_naming_both_sets() {
    let dir = tempfile::tempdir().unwrap();
    let model = tiny_model(dir.path());
    let train = dir.path().join("train.jsonl");
    write_jsonl(&train, 0..12);
    let plod = Path::new(env!("CARGO_MANIFEST_DIR")).join("data/sample.jsonl");
    let out = nerkit(&[
        "train",
        "--model",
        s(&model),
        "--data",
        s(&train),
        "--extra-data",
        s(&plod),
        "--epochs",
        "1",
        "--out",
        s(&dir.path().join("run")),
    ]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(err.contains("--extra-data") && err.contains("not within the training label set"), "{err}");
    assert!(err.contains("B-AC") && err.contains("B-Species"), "both sets are named: {err}");
}
