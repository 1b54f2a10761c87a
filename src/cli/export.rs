//! `nerkit export`: a model directory → `model.onnx` (+ `model.int8.onnx`), `config.json` with `id2label`,
//! tokenizer files, `export.json` (what int8 variant was written and why); prints sizes and an fp32-vs-int8
//! logit comparison on built-in sentences. With `--int8 --data` the accuracy guard
//! ([`crate::quantize::guard`]) picks the int8 variant.
use std::path::PathBuf;

use anyhow::Context;
use nerkit_export::calibrate::CalibrationMethod;
use nerkit_export::pipeline::{export_model_dir, ExportRequest};
use nerkit_export::quantize::{Granularity, QuantizeOptions};

use crate::infer::compare::{compare_dir, SAMPLE_SENTENCES};
use crate::infer::EngineSpec;
use crate::quantize::guard::{GuardOptions, GuardReport};
use crate::quantize::plan::{Int8Outcome, Int8Plan, Int8Request};

#[derive(clap::Args, Debug)]
pub struct Args {
    /// Model directory (config.json, model.safetensors, tokenizer.json), or `embedded` for the bundled MiniLM.
    #[arg(long)]
    pub model: String,
    /// Output directory (created if missing).
    #[arg(long)]
    pub out: PathBuf,
    /// Also write the dynamic int8 graph model.int8.onnx.
    #[arg(long)]
    pub int8: bool,
    /// int8: one scale per weight tensor instead of one per output channel.
    #[arg(long, requires = "int8")]
    pub per_tensor: bool,
    /// int8: quantize activations with one scale per tensor (ONNX Runtime's `DynamicQuantizeLinear`, whose
    /// scale spans the whole batch) instead of one per token (the default: a text's result does not depend on
    /// what it is batched with).
    #[arg(long, requires = "int8", conflicts_with = "static_activations")]
    pub per_tensor_activations: bool,
    /// int8: static activations, one scale per activation calibrated on `--calibration` (or `--data`) sentences:
    /// batch-invariant and one fused ONNX Runtime kernel per MatMul (ONNX Runtime only). Without this flag and
    /// with `--data`, the accuracy guard chooses.
    #[arg(long = "static", requires = "int8")]
    pub static_activations: bool,
    /// int8 with --data: the largest accepted entity micro F1 drop against fp32, in points (paired on the same
    /// sentences). The guard writes the fastest variant within it, or no int8 graph when none is.
    #[arg(long, value_name = "POINTS", default_value_t = 0.5, requires = "data")]
    pub max_f1_drop: f64,
    /// int8 with --data: the largest accepted F1 drop of any one entity type (e.g. AC, LF), in points.
    #[arg(long, value_name = "POINTS", default_value_t = 1.0, requires = "data")]
    pub max_type_drop: f64,
    /// Sentences static ranges are calibrated on (labels unused). Default: --data.
    #[arg(long, value_name = "FILE")]
    pub calibration: Option<PathBuf>,
    /// At most this many calibration sentences (the first ones).
    #[arg(long, default_value_t = 500)]
    pub calibration_sentences: usize,
    /// How a static range is chosen: minmax, percentile (99.99), percentile-P, entropy. Clipping (percentile,
    /// entropy) cuts BERT's outlier activation channels; on MiniLM min-max gave the smallest logit error.
    #[arg(long, default_value = "minmax", value_parser = parse_method)]
    pub calibration_method: CalibrationMethod,
    /// Mixed-precision variants of the guard keep this many of the most sensitive weight groups in fp32.
    #[arg(long, default_value_t = 2)]
    pub keep_sensitive: usize,
    /// The guard's hybrid variant quantizes this many of the most sensitive weight groups per token (at run
    /// time) and the rest with static ranges.
    #[arg(long, default_value_t = 6)]
    pub hybrid_groups: usize,
    /// int8: comma-separated weight-name patterns kept in fp32 (e.g. classifier,embeddings,layer.5).
    #[arg(long, value_delimiter = ',', default_value = "classifier")]
    pub keep_fp32: Vec<String>,
    /// Also write model.fused.onnx: the graph in ONNX Runtime's fused com.microsoft ops (MultiHeadAttention,
    /// SkipLayerNormalization, BiasGelu) for `--backend ort-fused`; tract cannot run it. With --int8 also
    /// model.fused.int8.onnx. On a 2-core CPU it beat the standard graph only for fp32 at batch 1 (README).
    #[arg(long)]
    pub fused: bool,
    /// Also write model.fp16.onnx: every weight and activation in float16, float32 logits out, for ONNX
    /// Runtime on CUDA (`--backend ort-cuda-fp16`, `nerkit bench --backends ort-cuda-fp16`). CPUs gain nothing.
    #[arg(long)]
    pub fp16: bool,
    /// ONNX default-domain opset (at least 17).
    #[arg(long, default_value_t = 17)]
    pub opset: i64,
    /// Comma-separated label names in class order. Default: the model's id2label (else, for an untrained base model, O,B-AC,B-LF,I-LF).
    #[arg(long, value_delimiter = ',')]
    pub labels: Option<Vec<String>>,
    /// Seed of a classifier head initialised when the checkpoint has none for these labels.
    #[arg(long, default_value_t = 42)]
    pub seed: u64,
    /// Skip the fp32-vs-int8 comparison.
    #[arg(long)]
    pub no_check: bool,
    /// Labelled data (e.g. a training run's validation.jsonl): also print the entity micro F1 of the exported
    /// fp32 and int8 graphs on it (Viterbi decoding), so the int8 cost is measured, not guessed. With --int8
    /// (and no explicit activation flag) the accuracy guard picks the int8 variant on it.
    #[arg(long, value_name = "FILE")]
    pub data: Option<PathBuf>,
}

pub fn run(args: Args) -> anyhow::Result<()> {
    let model_dir = crate::model::resolve(&args.model)?.path;
    anyhow::ensure!(
        model_dir.join("config.json").is_file(),
        "{} has no config.json (expected a model directory)",
        model_dir.display()
    );
    let labels = match args.labels.clone() {
        Some(l) => Some(l),
        None if crate::labels::LabelSet::from_model_dir(&model_dir)?.is_some() => None,
        None => {
            tracing::warn!(
                "{} has no id2label (an untrained base model?): exporting with the PLOD label set; pass --labels",
                model_dir.display()
            );
            Some(crate::labels::LabelSet::plod().labels().to_vec())
        }
    };
    let plan = Int8Plan::of(args.per_tensor_activations, args.static_activations, args.data.as_deref());
    let int8 = args.int8.then(|| QuantizeOptions {
        granularity: if args.per_tensor { Granularity::PerTensor } else { Granularity::PerChannel },
        keep_fp32: args.keep_fp32.clone(),
        embeddings: true,
        activations: plan.activations(),
        ranges: Default::default(),
        per_row: Vec::new(),
    });
    // The guard and the static pass write model.int8.onnx themselves (they need the fp32 graph first).
    let deferred = plan.deferred();
    let req = ExportRequest {
        model_dir: model_dir.clone(),
        out_dir: args.out.clone(),
        labels,
        seed: args.seed,
        opset: args.opset,
        int8: if deferred { None } else { int8.clone() },
        fused: args.fused,
        fp16: args.fp16,
    };
    let mut summary = export_model_dir(&req).with_context(|| format!("exporting {}", model_dir.display()))?;
    let int8_note = match (&int8, deferred) {
        (Some(opts), true) => {
            let outcome = write_int8(&args, &plan, opts)?;
            summary.int8 = outcome.written;
            outcome.note
        }
        (Some(_), false) => serde_json::json!({
            "variant": if args.per_tensor_activations { "per-tensor" } else { "per-row" },
            "checked": false,
            "reason": "no --data: the int8 graph's accuracy was not checked",
        }),
        (None, _) => serde_json::json!(null),
    };
    if int8.is_some() && plan != Int8Plan::Guarded {
        println!("int8: accuracy not checked against fp32 by a guard (give --data to choose the variant on it)");
    }
    let export_json = args.out.join("export.json");
    std::fs::write(&export_json, serde_json::to_string_pretty(&serde_json::json!({ "int8": int8_note }))?)
        .with_context(|| format!("writing {}", export_json.display()))?;
    println!("labels: {}", summary.labels.join(", "));
    if summary.classifier_initialised && args.int8 && !args.no_check {
        println!(
            "note: with an untrained head the logit margins are tiny, so argmax agreement understates int8 quality"
        );
    }
    if summary.classifier_initialised {
        println!(
            "classifier: none in the checkpoint for these labels; initialised from seed {} (untrained)",
            args.seed
        );
    }
    println!("{}: {}", summary.fp32_path.display(), mib(summary.fp32_bytes));
    if let Some((path, report)) = &summary.int8 {
        let bytes = std::fs::metadata(path)?.len();
        println!(
            "{}: {} ({:.1}x smaller; {} weights int8, kept fp32: {})",
            path.display(),
            mib(bytes),
            summary.fp32_bytes as f64 / bytes as f64,
            report.quantized.len(),
            if report.kept_fp32.is_empty() { "none".to_string() } else { report.kept_fp32.join(", ") }
        );
        if !args.no_check {
            let (agreement, engines) =
                compare_dir(&args.out, (EngineSpec::ORT, EngineSpec::ORT_INT8), SAMPLE_SENTENCES, None)
                    .context("comparing fp32 and int8 logits")?;
            println!(
                "fp32 vs int8 on {} sentences ({engines}): logits max|diff| {:.4} (fp32 max|logit| {:.3}), \
                 argmax agreement {}/{} tokens ({:.1}%)",
                SAMPLE_SENTENCES.len(),
                agreement.max_abs_diff,
                agreement.max_abs_a,
                agreement.argmax_agree,
                agreement.positions,
                100.0 * agreement.argmax_rate()
            );
        }
    }
    if let Some((path, bytes)) = &summary.fused {
        println!("{}: {}", path.display(), mib(*bytes));
        if let Some((path, _)) = &summary.fused_int8 {
            println!("{}: {}", path.display(), mib(std::fs::metadata(path)?.len()));
        }
        if !args.no_check {
            let (a, engines) = compare_dir(&args.out, (EngineSpec::ORT, EngineSpec::ORT_FUSED), SAMPLE_SENTENCES, None)
                .context("comparing the standard and fused graphs")?;
            println!(
                "standard vs fused on {} sentences ({engines}): logits max|diff| {:.2e}, argmax agreement {}/{} tokens",
                SAMPLE_SENTENCES.len(),
                a.max_abs_diff,
                a.argmax_agree,
                a.positions
            );
        }
    }
    if let Some((path, report)) = &summary.fp16 {
        println!(
            "{}: {} ({} tensors in float16, {} values saturated at ±65504)",
            path.display(),
            mib(std::fs::metadata(path)?.len()),
            report.tensors,
            report.saturated
        );
    }
    println!("copied: {}", if summary.copied.is_empty() { "nothing".into() } else { summary.copied.join(", ") });
    if let Some(data) = &args.data {
        let mut kinds = vec![EngineSpec::ORT];
        if summary.int8.is_some() {
            kinds.push(EngineSpec::ORT_INT8);
        }
        if summary.fused.is_some() {
            kinds.push(EngineSpec::ORT_FUSED);
        }
        if summary.fused_int8.is_some() {
            kinds.push(EngineSpec::ORT_FUSED_INT8);
        }
        print_f1(&args.out, data, &kinds)?;
    }
    Ok(())
}

fn parse_method(s: &str) -> Result<CalibrationMethod, String> {
    s.parse()
}

/// Writes `model.int8.onnx` by `plan` (static or guarded, [`crate::quantize::plan`]) and prints the guard's table.
fn write_int8(args: &Args, plan: &Int8Plan, opts: &QuantizeOptions) -> anyhow::Result<Int8Outcome> {
    let calibration =
        args.calibration.as_ref().or(args.data.as_ref()).context("--static needs --calibration or --data")?;
    let req = Int8Request {
        out_dir: &args.out,
        calibration,
        calibration_sentences: args.calibration_sentences,
        method: args.calibration_method,
        data: args.data.as_deref(),
        guard: GuardOptions {
            max_f1_drop: args.max_f1_drop,
            max_type_drop: args.max_type_drop,
            method: args.calibration_method,
            keep_sensitive: args.keep_sensitive,
            hybrid_groups: args.hybrid_groups,
            ..Default::default()
        },
    };
    let outcome = crate::quantize::plan::write(plan, &req, opts, &exported_labels(&args.out)?)?;
    if let Some(report) = &outcome.guard {
        print_guard(report);
    }
    Ok(outcome)
}

/// The guard's variants, one line each, and its choice.
fn print_guard(report: &GuardReport) {
    println!(
        "int8 guard: {} variants on {} ({} sentences), calibrated on {} sentences ({}), bound -{} micro F1 points, -{} per entity type",
        crate::quantize::guard::VARIANTS.len(),
        report.data,
        report.sentences,
        report.calibration_sentences,
        report.calibration_method,
        report.max_f1_drop,
        report.max_type_drop
    );
    let (b, sq) = report.speed_shape;
    println!("  fp32           F1 {:.4}  {b}x{sq} batch p50 {:.1} ms", report.fp32_f1, report.fp32_p50_ms);
    for v in &report.variants {
        let worst = v.delta.per_type.iter().min_by(|a, b| a.1 .0.total_cmp(&b.1 .0));
        println!(
            "  {:<14} F1 {:.4}  {:+.2} points [{:+.2}, {:+.2}]  worst type {}  logit RMSE {:.4}  p50 {:.1} ms ({:.2}x fp32){}",
            v.name,
            v.f1,
            v.delta.micro,
            v.delta.micro_low,
            v.delta.micro_high,
            worst.map_or_else(|| "-".to_string(), |(t, d)| format!("{t} {:+.2}", d.0)),
            v.logit_rmse,
            v.p50_ms,
            v.speedup,
            v.over_bound.as_ref().map_or(String::new(), |why| format!("  (over the bound: {why})"))
        );
    }
    let top: Vec<String> =
        report.sensitivity.iter().take(4).map(|g| format!("{} ({:.3})", g.group, g.logit_rmse)).collect();
    println!("  most sensitive groups (logit RMSE alone): {}", top.join(", "));
    println!("  chose {}", report.reason);
}

/// Entity micro F1 (seqeval default mode, Viterbi decoding; the int8 guard's scorer) of each graph of `dir` on
/// the labelled `data`.
fn print_f1(dir: &std::path::Path, data: &std::path::Path, specs: &[EngineSpec]) -> anyhow::Result<()> {
    use crate::quantize::accuracy::{score, Labelled};
    let labels = exported_labels(dir)?;
    let labelled = Labelled::load(data, &labels, None)?;
    let encoder = crate::prepare::encode::Encoder::new(
        crate::model::ModelDir::open(dir)?.tokenizer()?,
        crate::prepare::encode::EncodeOptions::default(),
    )?;
    let mut first = None;
    for &spec in specs {
        let mut engine = crate::infer::load_backend(spec, dir, None)?;
        let scored = score(engine.as_mut(), &encoder, &labelled, &labels)?;
        let per_type: Vec<String> = scored.per_type.iter().map(|(k, f1)| format!("{k} {f1:.4}")).collect();
        let delta = first.map(|f: f64| format!(", {:+.4} vs fp32", scored.f1 - f)).unwrap_or_default();
        println!(
            "{} on {} ({} sentences): entity micro F1 {:.4} ({}){delta}",
            engine.spec(),
            data.display(),
            labelled.len(),
            scored.f1,
            per_type.join(", ")
        );
        first.get_or_insert(scored.f1);
    }
    Ok(())
}

fn mib(bytes: u64) -> String {
    format!("{:.1} MiB", bytes as f64 / (1024.0 * 1024.0))
}

/// The label set the export wrote into `dir`'s config.json.
fn exported_labels(dir: &std::path::Path) -> anyhow::Result<crate::labels::LabelSet> {
    crate::labels::LabelSet::from_model_dir(dir)?
        .with_context(|| format!("{} has no id2label in config.json", dir.display()))
}
