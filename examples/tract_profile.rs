//! Where tract spends its time on a model: runs the graph as `nerkit`'s tract backend loads it (decluttered and
//! optimised, symbolic batch/sequence) on a synthetic batch, times every node, and prints the total per op type
//! and per part of a BERT layer (dense products, attention products, the attention mask add, softmax, ...).
//! docs/performance.md ("tract") compares these parts with ONNX Runtime's profiler.
//!
//! `cargo run --example tract_profile -- runs/export/model.onnx [BATCH] [SEQ] [THREADS] [RUNS]`
use std::collections::HashMap;
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use tract_onnx::prelude::*;

/// The part of a BERT layer a node belongs to, from its op and the exporter's node names.
fn part(op: &str, name: &str) -> String {
    let attention = name.contains("scores") || name.contains("context");
    match op {
        "OptMatMul" | "OptMatMulPack" if attention => format!("{op} (attention: scores, context)"),
        "OptMatMul" | "OptMatMulPack" => format!("{op} (dense layers)"),
        "Add" if name.contains("masked") => "Add (attention mask)".into(),
        "Add" => "Add (other)".into(),
        _ => op.to_string(),
    }
}

fn main() -> Result<()> {
    let args: Vec<String> = std::env::args().collect();
    let path = args.get(1).context("usage: tract_profile MODEL.onnx [BATCH] [SEQ] [THREADS] [RUNS]")?;
    let arg = |i: usize, default: usize| args.get(i).map_or(Ok(default), |v| v.parse()).context("a number");
    let (batch, seq, threads, runs) = (arg(2, 8)?, arg(3, 128)?, arg(4, 2)?, arg(5, 5)?);
    if threads > 1 {
        tract_linalg::multithread::set_default_executor(tract_linalg::multithread::Executor::multithread(threads));
    }
    let plan = tract_onnx::onnx().model_for_path(path)?.into_optimized()?.into_runnable()?;
    let n_inputs = plan.model().input_outlets()?.len();
    let inputs = || -> TVec<TValue> {
        let ids =
            tract_ndarray::Array2::<i64>::from_shape_fn((batch, seq), |(i, j)| 1000 + ((i * 7 + j * 13) % 2000) as i64);
        let mut v: TVec<TValue> =
            tvec![ids.into_tensor().into(), tract_ndarray::Array2::<i64>::ones((batch, seq)).into_tensor().into()];
        if n_inputs > 2 {
            v.push(tract_ndarray::Array2::<i64>::zeros((batch, seq)).into_tensor().into());
        }
        v
    };
    plan.run(inputs())?;
    let (mut by_op, mut by_part): (HashMap<String, (Duration, usize)>, HashMap<String, Duration>) = Default::default();
    let start = Instant::now();
    for _ in 0..runs {
        let mut state = plan.spawn()?;
        state.run_plan_with_eval(inputs(), |ctx, st, node, input| {
            let t = Instant::now();
            let out = tract_onnx::tract_core::plan::eval(ctx, st, node, input);
            let (op, took) = (node.op().name().to_string(), t.elapsed());
            *by_part.entry(part(&op, &node.name)).or_default() += took;
            let e = by_op.entry(op).or_default();
            e.0 += took;
            e.1 += 1;
            out
        })?;
    }
    let per_run = |d: Duration| d.as_secs_f64() * 1000.0 / runs as f64;
    println!(
        "{path}: batch {batch} x seq {seq}, {threads} threads, {:.1} ms per run ({runs} runs)",
        per_run(start.elapsed())
    );
    let mut ops: Vec<_> = by_op.into_iter().collect();
    ops.sort_by_key(|(_, (d, _))| std::cmp::Reverse(*d));
    println!("\nper op type:");
    for (op, (d, n)) in ops.iter().take(15) {
        println!("  {op:28} {:8.1} ms  ({} nodes)", per_run(*d), n / runs);
    }
    let mut parts: Vec<_> = by_part.into_iter().collect();
    parts.sort_by_key(|(_, d)| std::cmp::Reverse(*d));
    println!("\nper part:");
    for (p, d) in parts.iter().take(10) {
        println!("  {p:40} {:8.1} ms", per_run(*d));
    }
    Ok(())
}
