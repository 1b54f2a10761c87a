//! `nerkit bench` on a real exported model: every requested backend either has a row per shape with sane numbers
//! or is listed as skipped with a reason; the baseline's ratio is 1.
mod common;

use std::process::Command;

#[test]
fn bench_reports_each_backend_and_shape_or_why_it_was_skipped() {
    let tmp = tempfile::tempdir().unwrap();
    let model = nerkit::infer::select::exported_dir(&common::token_classifier_dir(tmp.path())).unwrap();
    let json = tmp.path().join("bench.json");
    let out = Command::new(env!("CARGO_BIN_EXE_nerkit"))
        .args(["bench", "--model"])
        .arg(&model)
        .args(["--backends", "ort,ort-int8,tract,ort-fused,ort-cuda", "--batch", "1,2", "--seq", "16"])
        .args(["--warmup", "1", "--rounds", "3", "--json"])
        .arg(&json)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{stdout}{}", String::from_utf8_lossy(&out.stderr));
    let report: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap();
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
    let out = Command::new(env!("CARGO_BIN_EXE_nerkit"))
        .args(["bench", "--model"])
        .arg(&model)
        .args(["--backends", "ort", "--batch", "1", "--seq", "16", "--rounds", "100000", "--duration", "1", "--json"])
        .arg(&json)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let report: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap();
    let rounds = report["rounds"].as_u64().unwrap();
    assert!((1..100_000).contains(&rounds), "{rounds} rounds");
}

fn plod_sentences(n: usize) -> Vec<Vec<String>> {
    let dir = std::env::var("PLOD_DIR").map(std::path::PathBuf::from).unwrap_or_else(|_| {
        std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../shared/data/plod/plod-cw-2024-lowercased")
    });
    let text = std::fs::read_to_string(dir.join("train.jsonl")).expect("PLOD data in ../shared/data/plod");
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
    use nerkit::infer::tagger::tag_with_model_dir;
    use nerkit::infer::BackendKind;
    use nerkit::labels::LabelSet;

    let tmp = tempfile::tempdir().unwrap();
    let model = nerkit::infer::select::exported_dir(&common::token_classifier_dir(tmp.path())).unwrap();
    let labels = LabelSet::plod();
    let words = plod_sentences(40);
    let (tags, engine) = tag_with_model_dir(BackendKind::Ort, &model, &words, &labels, Decoding::Viterbi).unwrap();
    assert!(engine.starts_with("ort"), "{engine}");
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

    let (json, report) = (tmp.path().join("bench.json"), tmp.path().join("report"));
    let out = Command::new(env!("CARGO_BIN_EXE_nerkit"))
        .args(["bench", "--model"])
        .arg(&model)
        .args(["--backends", "ort,ort-int8,tract", "--batch", "2", "--seq", "32", "--warmup", "1", "--rounds", "3"])
        .arg("--accuracy")
        .arg(&gold_path)
        .arg("--end-to-end")
        .arg(&gold_path)
        .args(["--end-to-end-rounds", "1", "--json"])
        .arg(&json)
        .arg("--report")
        .arg(&report)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{stdout}{}", String::from_utf8_lossy(&out.stderr));
    let r: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap();
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
