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
}
