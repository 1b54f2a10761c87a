//! `nerkit bench` on a real exported model: every requested backend either has a row per shape with sane numbers
//! or is listed as skipped with a reason; the baseline's ratio is 1.
mod common;

use std::ffi::OsString;
use std::path::Path;
use std::process::Command;

fn os(args: &[&str]) -> Vec<OsString> {
    args.iter().map(OsString::from).collect()
}

/// Runs `nerkit bench ARGS --json DIR/bench.json`; asserts it succeeded; returns its stdout and the JSON report.
fn bench_json(args: &[OsString], dir: &Path) -> (String, serde_json::Value) {
    let json = dir.join("bench.json");
    let out =
        Command::new(env!("CARGO_BIN_EXE_nerkit")).arg("bench").args(args).arg("--json").arg(&json).output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(out.status.success(), "{stdout}{}", String::from_utf8_lossy(&out.stderr));
    (stdout, serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap())
}

#[test]
fn bench_reports_each_backend_and_shape_or_why_it_was_skipped() {
    let tmp = tempfile::tempdir().unwrap();
    let model = nerkit::infer::select::exported_dir(&common::token_classifier_dir(tmp.path())).unwrap();
    let with_model = |rest: &[&str]| [os(&["--model"]), vec![model.clone().into()], os(rest)].concat();
    let args = with_model(&["--backends", "ort,ort-int8,tract,ort-fused,ort-cuda", "--batch", "1,2", "--seq", "16"]);
    let (stdout, report) = bench_json(&[args, os(&["--warmup", "1", "--rounds", "3"])].concat(), tmp.path());
    let rows = report["rows"].as_array().unwrap();
    let skipped = report["skipped"].as_array().unwrap();
    for backend in ["ort", "ort-int8", "tract"] {
        let mine: Vec<_> = rows.iter().filter(|r| r["backend"] == backend).collect();
        assert_eq!(mine.len(), 2, "{backend}: {stdout}");
        for r in mine {
            let (p50, p95) = (r["p50_ms"].as_f64().unwrap(), r["p95_ms"].as_f64().unwrap());
            assert!(p50 > 0.0 && p95 >= p50, "{r}");
            let tokens = r["batch"].as_f64().unwrap() * 16.0;
            assert!((r["tokens_per_s"].as_f64().unwrap() - tokens / (p50 / 1e3)).abs() < 1e-6 * tokens * 1e3 / p50);
            if backend == "ort" {
                assert_eq!(r["ratio"].as_f64(), Some(1.0));
            }
        }
    }
    // the export wrote no fused graph, and this build/machine has no CUDA: both skipped, with a reason
    for backend in ["ort-fused", "ort-cuda"] {
        let s = skipped
            .iter()
            .find(|s| s["backend"] == backend)
            .unwrap_or_else(|| panic!("{backend} not skipped: {stdout}"));
        assert!(!s["reason"].as_str().unwrap().is_empty());
    }
    assert!(stdout.contains("skipped ort-cuda"), "{stdout}");

    // --duration ends the timed rounds long before --rounds
    let args =
        with_model(&["--backends", "ort", "--batch", "1", "--seq", "16", "--rounds", "100000", "--duration", "1"]);
    let (_, report) = bench_json(&args, tmp.path());
    let rounds = report["rounds"].as_u64().unwrap();
    assert!((1..100_000).contains(&rounds), "{rounds} rounds");
}

fn plod_sentences(n: usize) -> Vec<Vec<String>> {
    let text = std::fs::read_to_string(common::plod_train()).expect("PLOD-CW train.jsonl");
    text.lines()
        .take(n)
        .map(|l| {
            serde_json::from_value(serde_json::from_str::<serde_json::Value>(l).unwrap()["tokens"].clone()).unwrap()
        })
        .collect()
}

/// `--accuracy`, `--end-to-end` and `--report` on labelled sentences whose gold tags are ORT fp32's own
/// predictions: ORT scores exactly 1, every other backend's paired difference is its F1 minus 1 inside its
/// interval, the raw-text path tags every document, and the HTML page carries the three charts.
#[test]
fn bench_reads_accuracy_and_end_to_end_beside_speed_and_writes_a_report() {
    use nerkit::infer::decode::Decoding;
    use nerkit::infer::{EngineChoice, EngineSpec, TextTagger};
    use nerkit::labels::LabelSet;

    let tmp = tempfile::tempdir().unwrap();
    let model = nerkit::infer::select::exported_dir(&common::token_classifier_dir(tmp.path())).unwrap();
    let labels = LabelSet::plod();
    let words = plod_sentences(40);
    let mut tagger = TextTagger::open(&model, EngineChoice::Exact(EngineSpec::ORT), None).unwrap();
    assert_eq!(tagger.engine(), EngineSpec::ORT);
    let tags = tagger.tag_words(&words, Decoding::Viterbi).unwrap();
    let gold_path = tmp.path().join("gold.jsonl");
    let mut gold = String::new();
    let mut entities = 0;
    for (w, t) in words.iter().zip(&tags) {
        let names: Vec<&str> = t.iter().map(|x| labels.name(x.label).unwrap()).collect();
        entities += names.iter().filter(|n| n.starts_with("B-")).count();
        gold += &serde_json::json!({"tokens": w, "ner_tags": names}).to_string();
        gold.push('\n');
    }
    assert!(entities > 20, "the formula head predicts entities: {entities}");
    std::fs::write(&gold_path, gold).unwrap();

    let report = tmp.path().join("report");
    let mut args = os(&["--model"]);
    args.push(model.clone().into());
    args.extend(os(&["--backends", "ort,ort-int8,tract", "--batch", "2", "--seq", "32", "--warmup", "1"]));
    args.extend(os(&["--rounds", "3", "--accuracy"]));
    args.push(gold_path.clone().into());
    args.push("--end-to-end".into());
    args.push(gold_path.clone().into());
    args.extend(os(&["--end-to-end-rounds", "1", "--report"]));
    args.push(report.clone().into());
    let (stdout, r) = bench_json(&args, tmp.path());
    let acc = r["accuracy"].as_array().unwrap();
    assert_eq!(acc.len(), 3, "{stdout}");
    for a in acc {
        let (name, f1) = (a["backend"].as_str().unwrap(), a["f1"].as_f64().unwrap());
        assert_eq!(a["sentences"], 40);
        let row = r["rows"].as_array().unwrap().iter().find(|x| x["backend"] == name).unwrap();
        assert_eq!(row["f1"].as_f64(), Some(f1), "the timing row carries the backend's F1");
        if name == "ort" {
            assert_eq!(f1, 1.0, "ORT against its own predictions");
            assert!(a["vs_baseline"].is_null());
            continue;
        }
        // tract runs the same fp32 graph; int8 flips some of the formula head's small logit margins (0.89 here)
        let floor = if name == "tract" { 0.98 } else { 0.8 };
        assert!(f1 > floor && f1 <= 1.0, "{name}: {f1}");
        let d = &a["vs_baseline"];
        let micro = d["micro"].as_f64().unwrap();
        assert!((micro - 100.0 * (f1 - 1.0)).abs() < 1e-9, "{name}: {d}");
        assert!(d["micro_low"].as_f64().unwrap() <= micro && micro <= d["micro_high"].as_f64().unwrap(), "{d}");
        assert!(d["per_type"]["LF"].is_array(), "{d}");
    }
    let e2e = r["end_to_end"].as_array().unwrap();
    assert_eq!(e2e.len(), 3, "{stdout}");
    for e in e2e {
        assert_eq!(e["documents"], 40);
        assert!(e["sentences"].as_u64().unwrap() >= 40 && e["entities"].as_u64().unwrap() > 20, "{e}");
        let (p50, docs) = (e["p50_s"].as_f64().unwrap(), e["documents_per_s"].as_f64().unwrap());
        assert!((docs - 40.0 / p50).abs() < 1e-6 * docs, "{e}");
    }
    assert_eq!(e2e.iter().find(|e| e["backend"] == "ort").unwrap()["ratio"].as_f64(), Some(1.0));
    assert!(stdout.contains("end to end") && stdout.contains("accuracy on 40 sentences"), "{stdout}");
    let html = std::fs::read_to_string(report.join("report.html")).unwrap();
    assert_eq!(html.matches("<svg").count(), 3, "throughput, latency and speed-vs-F1 charts");
    for needle in ["Speed against accuracy", "ort-int8", "tract", "End to end"] {
        assert!(html.contains(needle), "{needle} missing from the report");
    }
    for external in ["<script", "src=\"http", "href=\"http", "url(http"] {
        assert!(!html.contains(external), "self-contained: {external}");
    }
    serde_json::from_str::<serde_json::Value>(&std::fs::read_to_string(report.join("bench.json")).unwrap()).unwrap();

    // a document the raw-text path cannot read is named by file:line before anything is timed
    let bad = tmp.path().join("bad.jsonl");
    std::fs::write(&bad, "{\"text\": \"Heart rate (HR) was recorded.\"}\n{\"id\": 7}\n").unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_nerkit"))
        .args(["bench", "--model"])
        .arg(&model)
        .args(["--backends", "ort", "--batch", "1", "--seq", "16", "--rounds", "1", "--end-to-end"])
        .arg(&bad)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(stderr.contains("bad.jsonl:2") && stderr.contains("`text`"), "{stderr}");
}

/// `--lanes 1,2`: one end-to-end row per lane count of each engine, the same entities, tract always one lane.
#[test]
fn bench_times_the_raw_text_path_at_each_lane_count() {
    let model = std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("onnx/fixtures/tiny-bert");
    let tmp = tempfile::tempdir().unwrap();
    let docs = tmp.path().join("docs.txt");
    let text: Vec<String> =
        (0..20).map(|i| format!("Patient {i} had computed tomography (CT) and an MRI scan. It was normal.")).collect();
    std::fs::write(&docs, text.join("\n")).unwrap();
    let mut args = os(&["--model"]);
    args.push(model.into());
    args.extend(os(&[
        "--backends",
        "ort-int8,tract",
        "--batch",
        "1",
        "--seq",
        "16",
        "--rounds",
        "1",
        "--lanes",
        "1,2",
    ]));
    args.extend(os(&["--end-to-end-rounds", "1", "--end-to-end"]));
    args.push(docs.into());
    let (stdout, r) = bench_json(&args, tmp.path());
    let rows: Vec<(String, u64, u64)> = r["end_to_end"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            (e["backend"].as_str().unwrap().to_string(), e["lanes"].as_u64().unwrap(), e["entities"].as_u64().unwrap())
        })
        .collect();
    let lanes: Vec<(&str, u64)> = rows.iter().map(|(b, l, _)| (b.as_str(), *l)).collect();
    assert_eq!(lanes, [("ort-int8", 1), ("ort-int8", 2), ("tract", 1)], "{stdout}");
    assert_eq!(rows[0].2, rows[1].2, "lanes change no entity: {stdout}");
    assert!(stdout.contains("ort-int8 ×2"), "{stdout}");
    // each lane count tags with predict's default batch for its threads
    use nerkit::infer::lanes::{cores, default_batch, threads_per_lane};
    let batches: Vec<u64> =
        r["end_to_end"].as_array().unwrap()[..2].iter().map(|e| e["batch"].as_u64().unwrap()).collect();
    let want = |lanes| default_batch(nerkit::runtime::Device::Cpu, threads_per_lane(cores(), lanes)) as u64;
    assert_eq!(batches, [want(1), want(2)], "{stdout}");
}

/// `--server`: a bounded load against two running servers (batching on and off, as `/info` says), every request
/// answered and counted by the server itself; an address off this machine is refused before any request.
#[test]
fn bench_loads_running_servers_and_refuses_addresses_off_the_machine() {
    use common::server::{get, Server};
    let model = std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("onnx/fixtures/tiny-bert");
    let on = Server::start(&model, &[], &[]);
    let off = Server::start(&model, &["--no-batching"], &[]);
    let tmp = tempfile::tempdir().unwrap();
    let json = tmp.path().join("server.json");
    let urls = format!("http://{},http://{}/tag", on.addr, off.addr);
    let out = Command::new(env!("CARGO_BIN_EXE_nerkit"))
        .args(["bench", "--server", &urls, "--concurrency", "1,4", "--requests", "24", "--json"])
        .arg(&json)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{stdout}{}", String::from_utf8_lossy(&out.stderr));
    let r: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap();
    let rows = r["server"].as_array().unwrap();
    assert_eq!(rows.len(), 4, "{stdout}");
    for (row, (batching, concurrency)) in rows.iter().zip([(true, 1), (true, 4), (false, 1), (false, 4)]) {
        assert_eq!(row["batching"].as_bool(), Some(batching), "{row}");
        assert_eq!(row["concurrency"].as_u64(), Some(concurrency), "{row}");
        assert_eq!(row["requests"], 24, "{row}");
        assert!(row["errors"].as_object().unwrap().is_empty(), "{row}");
        let (p50, p99, rps) =
            (row["p50_ms"].as_f64().unwrap(), row["p99_ms"].as_f64().unwrap(), row["requests_per_s"].as_f64().unwrap());
        assert!(p50 > 0.0 && p99 >= p50 && rps > 0.0, "{row}");
    }
    // each server answered exactly the 48 requests sent to it
    for s in [&on, &off] {
        let metrics = get(s.addr, "/metrics").text();
        let line = metrics
            .lines()
            .find(|l| l.starts_with("nerkit_http_requests_total") && l.contains("/tag") && l.contains("\"200\""))
            .unwrap_or_else(|| panic!("no /tag counter: {metrics}"));
        assert_eq!(line.rsplit(' ').next().unwrap().parse::<f64>().unwrap(), 48.0, "{line}");
    }
    assert!(stdout.contains("batching off") && stdout.contains("batching on"), "{stdout}");

    let out = Command::new(env!("CARGO_BIN_EXE_nerkit"))
        .args(["bench", "--server", "http://10.11.12.13:8080", "--requests", "1"])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success() && stderr.contains("loopback"), "{stderr}");
}

/// A stand-in for a Python with torch and transformers: it speaks the reference script's protocol (`ready N`,
/// `run B` → `SECONDS ENTITIES`) without a model, so the harness around it is tested in CI; the real pipeline
/// run is in docs/performance.md. Returns the executable and the file where it logs each request.
fn fake_python(dir: &std::path::Path, body: &str) -> (std::path::PathBuf, std::path::PathBuf) {
    use std::os::unix::fs::PermissionsExt;
    let script = dir.join("fake_reference.py");
    std::fs::write(&script, body).unwrap();
    let exe = dir.join("fakepython");
    std::fs::write(&exe, format!("#!/bin/sh\nexec python3 {} \"$@\"\n", script.display())).unwrap();
    std::fs::set_permissions(&exe, std::fs::Permissions::from_mode(0o755)).unwrap();
    (exe, dir.join("requests.log"))
}

/// `nerkit bench` of int8 at one small shape, end to end on `docs`, with the pipeline under `python`.
fn compare_bench(model: &std::path::Path, docs: &std::path::Path, python: &std::path::Path) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_nerkit"));
    cmd.args(["bench", "--model"]).arg(model);
    cmd.args(["--backends", "ort-int8", "--batch", "1", "--seq", "16", "--rounds", "1", "--end-to-end"]).arg(docs);
    cmd.arg("--compare-python").arg(python);
    cmd
}

#[test]
fn compare_python_takes_turns_in_the_end_to_end_rounds() {
    let tmp = tempfile::tempdir().unwrap();
    let model = common::token_classifier_dir(tmp.path());
    let docs = tmp.path().join("docs.txt");
    std::fs::write(&docs, "EPI (echo planar imaging) is fast.\nMRI was used.\nNo abbreviations here.\n").unwrap();
    let log = tmp.path().join("requests.log");
    let body = format!(
        r#"import json, sys, time
# argv: the reference script nerkit wrote, then its arguments: MODEL_DIR TEXTS.json THREADS --serve
script, args = sys.argv[1], [a for a in sys.argv[2:] if a != "--serve"]
assert script.endswith("hf_pipeline_predict.py") and "--serve" in sys.argv and args[0].endswith("model"), sys.argv
texts = json.load(open(args[1]))
print(f"ready {{len(texts)}}", flush=True)
for line in sys.stdin:
    words = line.split()
    if not words or words[0] == "quit":
        break
    open("{}", "a").write(line)
    secs = 0.02 * int(words[1])
    time.sleep(secs)
    print(f"{{secs}} {{len(texts) + int(words[1])}}", flush=True)
"#,
        log.display()
    );
    let (python, _) = fake_python(tmp.path(), &body);
    let json = tmp.path().join("bench.json");
    let out = compare_bench(&model, &docs, &python)
        .args(["--end-to-end-rounds", "2", "--compare-batch", "1,4", "--json"])
        .arg(&json)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{stdout}{}", String::from_utf8_lossy(&out.stderr));
    // one untimed and two timed rounds, the pipeline's two batch sizes taking turns in each
    let requests = std::fs::read_to_string(&log).unwrap();
    assert_eq!(requests, "run 1\nrun 4\n".repeat(3));
    let report: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap();
    let rows = report["end_to_end"].as_array().unwrap();
    let row = |name: &str| rows.iter().find(|r| r["backend"] == name).unwrap_or_else(|| panic!("{name}: {stdout}"));
    let nerkit = row("ort-int8");
    for (name, secs, entities) in [("hf-pipeline-b1", 0.02, 4), ("hf-pipeline-b4", 0.08, 7)] {
        let r = row(name);
        assert!((r["p50_s"].as_f64().unwrap() - secs).abs() < 1e-9, "{r}");
        assert_eq!(r["entities"], entities, "{r}");
        assert_eq!((r["documents"].as_u64(), r["sentences"].as_u64()), (Some(3), nerkit["sentences"].as_u64()));
    }
    assert!(stdout.contains("vs the Hugging Face pipeline at its fastest (hf-pipeline-b1): ort-int8"), "{stdout}");
}

#[test]
fn compare_python_failures_name_the_cause() {
    let tmp = tempfile::tempdir().unwrap();
    let model = common::token_classifier_dir(tmp.path());
    let docs = tmp.path().join("docs.txt");
    std::fs::write(&docs, "MRI was used.\n").unwrap();
    let bench = |model: &std::path::Path, python: &std::path::Path| {
        let out = compare_bench(model, &docs, python).output().unwrap();
        assert!(!out.status.success());
        String::from_utf8_lossy(&out.stderr).to_string()
    };
    // a Python without torch: its own error comes back
    let (python, _) = fake_python(
        tmp.path(),
        "import sys\nsys.stderr.write(\"ModuleNotFoundError: No module named 'torch'\\n\")\nsys.exit(1)\n",
    );
    let err = bench(&model, &python);
    assert!(err.contains("No module named 'torch'") && err.contains("needs torch and transformers"), "{err}");
    // an exported directory has no weights for transformers to load
    let exported = nerkit::infer::select::exported_dir(&model).unwrap();
    std::fs::remove_file(model.join("model.safetensors")).unwrap();
    let err = bench(&exported, &python);
    assert!(err.contains("no model.safetensors") && err.contains("--compare-model"), "{err}");
}
