//! `nerkit export`: a model directory → `model.onnx` (+ `model.int8.onnx`), `config.json` with `id2label`,
//! tokenizer files; prints sizes and an fp32-vs-int8 logit comparison on built-in sentences.
use std::path::PathBuf;

use anyhow::Context;
use nerkit_export::pipeline::{export_model_dir, ExportRequest};
use nerkit_export::quantize::{ActivationScale, Granularity, QuantizeOptions};

use crate::infer::compare::{compare_dir, SAMPLE_SENTENCES};
use crate::infer::{BackendKind, BackendOptions};

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
    #[arg(long, requires = "int8")]
    pub per_tensor_activations: bool,
    /// int8: comma-separated weight-name patterns kept in fp32 (e.g. classifier,embeddings,layer.5).
    #[arg(long, value_delimiter = ',', default_value = "classifier")]
    pub keep_fp32: Vec<String>,
    /// Also write model.fused.onnx: the graph in ONNX Runtime's fused com.microsoft ops (MultiHeadAttention,
    /// SkipLayerNormalization, BiasGelu) for `--backend ort-fused`; tract cannot run it. With --int8 also
    /// model.fused.int8.onnx. On a 2-core CPU it beat the standard graph only for fp32 at batch 1 (README).
    #[arg(long)]
    pub fused: bool,
    /// ONNX default-domain opset (at least 17).
    #[arg(long, default_value_t = 17)]
    pub opset: i64,
    /// Comma-separated label names in class order. Default: the model's id2label, else O,B-AC,B-LF,I-LF.
    #[arg(long, value_delimiter = ',')]
    pub labels: Option<Vec<String>>,
    /// Seed of a classifier head initialised when the checkpoint has none for these labels.
    #[arg(long, default_value_t = 42)]
    pub seed: u64,
    /// Skip the fp32-vs-int8 comparison.
    #[arg(long)]
    pub no_check: bool,
    /// Labelled data (e.g. a training run's validation.jsonl): also print the entity micro F1 of the exported
    /// fp32 and int8 graphs on it (Viterbi decoding), so the int8 cost is measured, not guessed.
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
    let labels = match args.labels {
        Some(l) => Some(l),
        None if has_real_id2label(&model_dir.join("config.json")) => None,
        None => Some(crate::labels::LabelSet::plod().labels().to_vec()),
    };
    let int8 = args.int8.then(|| QuantizeOptions {
        granularity: if args.per_tensor { Granularity::PerTensor } else { Granularity::PerChannel },
        keep_fp32: args.keep_fp32.clone(),
        embeddings: true,
        activations: if args.per_tensor_activations { ActivationScale::PerTensor } else { ActivationScale::PerRow },
    });
    let req = ExportRequest {
        model_dir: model_dir.clone(),
        out_dir: args.out.clone(),
        labels,
        seed: args.seed,
        opset: args.opset,
        int8,
        fused: args.fused,
    };
    let summary = export_model_dir(&req).with_context(|| format!("exporting {}", model_dir.display()))?;
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
            let opts = BackendOptions::default();
            let (agreement, engines) =
                compare_dir(&args.out, (BackendKind::Ort, BackendKind::OrtInt8), SAMPLE_SENTENCES, &opts)
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
            let opts = BackendOptions::default();
            let (a, engines) =
                compare_dir(&args.out, (BackendKind::Ort, BackendKind::OrtFused), SAMPLE_SENTENCES, &opts)
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
    println!("copied: {}", if summary.copied.is_empty() { "nothing".into() } else { summary.copied.join(", ") });
    if let Some(data) = &args.data {
        let mut kinds = vec![BackendKind::Ort];
        if summary.int8.is_some() {
            kinds.push(BackendKind::OrtInt8);
        }
        if summary.fused.is_some() {
            kinds.push(BackendKind::OrtFused);
        }
        if summary.fused_int8.is_some() {
            kinds.push(BackendKind::OrtFusedInt8);
        }
        print_f1(&args.out, data, &kinds)?;
    }
    Ok(())
}

/// Entity micro F1 (seqeval default mode, Viterbi decoding) of each graph of `dir` on the labelled `data`.
fn print_f1(dir: &std::path::Path, data: &std::path::Path, kinds: &[BackendKind]) -> anyhow::Result<()> {
    let labels = crate::labels::LabelSet::plod();
    let source = crate::data::DataSource::from_path(data)?;
    let dataset = crate::data::load(&source, &labels, &crate::data::LoadOptions::default())?;
    let words: Vec<Vec<String>> = dataset.sentences.iter().map(|s| s.words.clone()).collect();
    let mut first = None;
    for &kind in kinds {
        let (tags, engine) = crate::infer::tagger::tag_with_model_dir(
            kind,
            dir,
            &words,
            &labels,
            crate::infer::decode::Decoding::Viterbi,
        )?;
        let mut acc = crate::metrics::MetricsAccumulator::new(&labels);
        for (s, t) in dataset.sentences.iter().zip(&tags) {
            let gold = crate::prepare::encode::label_ids(s, &labels)?;
            acc.add_ids(&gold, &t.iter().map(|w| w.label).collect::<Vec<_>>())?;
        }
        let m = acc.finalize();
        let f1 = m.entity.micro.f1;
        let per_type: Vec<String> = m.entity.per_type.iter().map(|(k, p)| format!("{k} {:.4}", p.f1)).collect();
        let delta = first.map(|f: f64| format!(", {:+.4} vs fp32", f1 - f)).unwrap_or_default();
        println!(
            "{kind:?} ({engine}) on {} ({} sentences): entity micro F1 {f1:.4} ({}){delta}",
            data.display(),
            dataset.sentences.len(),
            per_type.join(", ")
        );
        first.get_or_insert(f1);
    }
    Ok(())
}

fn mib(bytes: u64) -> String {
    format!("{:.1} MiB", bytes as f64 / (1024.0 * 1024.0))
}

/// True when config.json has an id2label that is not transformers' placeholder `LABEL_<i>`.
fn has_real_id2label(config: &std::path::Path) -> bool {
    let Ok(cfg) = nerkit_export::config::BertConfig::from_file(config) else { return false };
    !cfg.id2label.is_empty() && !cfg.id2label.values().all(|v| v.starts_with("LABEL_"))
}
