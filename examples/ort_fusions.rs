//! Which of ONNX Runtime's in-session graph fusions fire on a model: loads an ONNX file with all
//! optimizations on, has ORT write the optimized graph, and prints the op-type counts before and after.
//!
//! `cargo run --example ort_fusions -- runs/export/model.onnx [THREADS]` (needs ORT_DYLIB_PATH or `make setup`)
use std::collections::BTreeMap;

use anyhow::{Context, Result};
use nerkit_export::builder::{parse_model, pb};
use ort::session::builder::GraphOptimizationLevel;
use ort::session::Session;

fn op_counts(model: &pb::ModelProto) -> BTreeMap<String, usize> {
    let mut counts = BTreeMap::new();
    for n in &model.graph.as_ref().expect("graph").node {
        let key = if n.domain.is_empty() { n.op_type.clone() } else { format!("{}:{}", n.domain, n.op_type) };
        *counts.entry(key).or_insert(0) += 1;
    }
    counts
}

fn main() -> Result<()> {
    let path = std::env::args().nth(1).context("usage: ort_fusions MODEL.onnx")?;
    let before = parse_model(&std::fs::read(&path)?)?;
    let out = std::env::temp_dir().join("nerkit_ort_optimized.onnx");
    let env = nerkit::runtime::environment()?;
    let _session = Session::builder(&env)?
        .with_optimization_level(GraphOptimizationLevel::All)
        .map_err(|e| anyhow::anyhow!("{e}"))?
        .with_optimized_model_path(&out)
        .map_err(|e| anyhow::anyhow!("{e}"))?
        .commit_from_file(&path)?;
    let after = parse_model(&std::fs::read(&out)?)?;
    let (b, a) = (op_counts(&before), op_counts(&after));
    println!("{:<40} {:>7} {:>7}", "op", "before", "after");
    let keys: std::collections::BTreeSet<&String> = b.keys().chain(a.keys()).collect();
    for k in keys {
        println!("{k:<40} {:>7} {:>7}", b.get(k).copied().unwrap_or(0), a.get(k).copied().unwrap_or(0));
    }
    let total = |m: &BTreeMap<String, usize>| m.values().sum::<usize>();
    println!("{:<40} {:>7} {:>7}", "total nodes", total(&b), total(&a));
    Ok(())
}
