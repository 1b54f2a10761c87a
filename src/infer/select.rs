//! Which engine tags raw text: `--backend auto` or an [`EngineSpec`] (`ort`, `ort-int8`, `ort-cuda`, ...), and the
//! exported graphs it needs.
//!
//! `auto` tries, in order: ONNX Runtime on CUDA (when this build has the `cuda` feature and the library has
//! the provider), ONNX Runtime int8 on the CPU, ONNX Runtime fp32, tract (pure Rust: tagging still works when
//! the ONNX Runtime library is missing). Each step down is logged once with its reason and reported in
//! [`Loaded::why`]. A model directory without exported graphs (e.g. `nerkit train`'s `best/`) is exported on
//! first use (fp32 + int8) into `<dir>/.nerkit-onnx/`, or into `$NERKIT_HOME/exports/` when the directory is
//! read-only; the cache is redone when `model.safetensors` changes.
use std::path::{Path, PathBuf};

use super::lanes::LanePlan;
use super::{load_backend, Backend, BackendOptions, EngineChoice, EngineSpec, Graph, InferError};
use super::{FP16_FILE, FP32_FILE, INT8_FILE};
use crate::runtime::Device;

/// A loaded engine, and why it is the one in use.
pub struct Loaded {
    /// One engine per lane (at least one), all alike.
    pub backends: Vec<Box<dyn Backend>>,
    /// The directory holding the graphs actually loaded.
    pub graph_dir: PathBuf,
    /// One line per decision, e.g. `ort-cuda unavailable (...); using ort int8`.
    pub why: Vec<String>,
    /// Windows per engine call that suit these lanes ([`super::lanes::default_batch`]).
    pub batch_size: usize,
}

/// Directory holding `model.onnx` for `model_dir`: the directory itself when exported, else the export cache
/// (written now if missing or stale).
pub fn exported_dir(model_dir: &Path) -> Result<PathBuf, InferError> {
    if model_dir.join(FP32_FILE).is_file() {
        return Ok(model_dir.to_path_buf());
    }
    let weights = model_dir.join("model.safetensors");
    let meta = std::fs::metadata(&weights).map_err(|e| InferError::Load {
        backend: "export",
        path: weights.clone(),
        message: format!("{e} (a model directory needs model.onnx, or config.json + model.safetensors)"),
    })?;
    let stamp = format!(
        "{} {}",
        meta.len(),
        meta.modified().ok().and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok()).map_or(0, |d| d.as_nanos())
    );
    let beside = model_dir.join(".nerkit-onnx");
    let canonical = std::fs::canonicalize(model_dir).unwrap_or_else(|_| model_dir.to_path_buf());
    let home = crate::paths::nerkit_home().join("exports").join(format!("{:016x}", fnv(&canonical.to_string_lossy())));
    for dir in [&beside, &home] {
        if std::fs::read_to_string(dir.join("source.txt")).is_ok_and(|s| s == stamp) && dir.join(INT8_FILE).is_file() {
            return Ok(dir.clone());
        }
    }
    let mut last_err = None;
    for dir in [beside, home] {
        if std::fs::create_dir_all(&dir).is_err() {
            continue;
        }
        tracing::info!(model = %model_dir.display(), cache = %dir.display(), "exporting the inference graphs (fp32 + int8) on first use");
        // an fp16 graph converted from the previous weights would be stale ([`ensure_fp16`] redoes it on demand)
        let _ = std::fs::remove_file(dir.join(FP16_FILE));
        let req = nerkit_export::pipeline::ExportRequest {
            seed: 0,
            int8: Some(Default::default()),
            ..nerkit_export::pipeline::ExportRequest::new(model_dir, &dir)
        };
        match nerkit_export::pipeline::export_model_dir(&req) {
            Ok(summary) if summary.classifier_initialised => {
                return Err(InferError::Load {
                    backend: "export",
                    path: model_dir.to_path_buf(),
                    message: "no trained classifier in model.safetensors (train one with `nerkit train`)".into(),
                })
            }
            Ok(_) => {
                std::fs::write(dir.join("source.txt"), &stamp).ok();
                return Ok(dir);
            }
            Err(e) => last_err = Some(e.to_string()),
        }
    }
    Err(InferError::Load {
        backend: "export",
        path: model_dir.to_path_buf(),
        message: last_err.unwrap_or_else(|| "no writable export cache (directory and $NERKIT_HOME)".into()),
    })
}

/// Writes `model.fp16.onnx` beside `model.onnx` in `dir` when it is missing (a cheap conversion).
pub fn ensure_fp16(dir: &Path) -> Result<(), InferError> {
    let path = dir.join(FP16_FILE);
    if path.is_file() {
        return Ok(());
    }
    let fp32 = dir.join(FP32_FILE);
    let err = |p: &Path, message: String| InferError::Load { backend: "export", path: p.to_path_buf(), message };
    let bytes = std::fs::read(&fp32).map_err(|e| err(&fp32, e.to_string()))?;
    let model = nerkit_export::builder::parse_model(&bytes).map_err(|e| err(&fp32, e.to_string()))?;
    let (half, _) = nerkit_export::half::to_fp16(&model);
    tracing::info!(graph = %path.display(), "writing the fp16 graph on first use");
    nerkit_export::builder::save_model(&half, &path).map_err(|e| err(&path, e.to_string()))
}

fn fnv(s: &str) -> u64 {
    s.bytes().fold(0xcbf2_9ce4_8422_2325, |h, b| (h ^ u64::from(b)).wrapping_mul(0x100_0000_01b3))
}

/// Loads `choice` for `model_dir` (exporting it first if needed) as `lanes` copies of one engine (see
/// [`LanePlan`]; `None` = [`super::lanes::default_lanes`]) sharing `threads` intra-op threads (`None` = every
/// core). tract always runs one lane.
pub fn load(
    model_dir: &Path,
    choice: EngineChoice,
    threads: Option<usize>,
    lanes: Option<usize>,
) -> Result<Loaded, InferError> {
    let dir = exported_dir(model_dir)?;
    let device = match choice {
        EngineChoice::Exact(spec) => spec.device,
        EngineChoice::Auto => Device::Cpu,
    };
    // tract (asked for, or the fallback without ONNX Runtime) runs one lane on every thread given
    let tract = choice == EngineChoice::Exact(EngineSpec::TRACT) || crate::runtime::environment().is_err();
    let mut why = Vec::new();
    if tract && lanes.is_some_and(|n| n > 1) {
        why.push("tract runs one lane (its thread pool is process-wide)".to_string());
    }
    let plan = LanePlan::new(device, tract, threads, lanes);
    let (first, asked) = load_first(&dir, choice, plan.threads, &mut why)?;
    let lane_threads = plan.threads; // more lanes are loaded like the first
                                     // `auto` that found CUDA plans for CUDA (one lane unless asked); an engine that fell back to tract, one lane
    let loaded = first.spec();
    let fell_back = loaded == EngineSpec::TRACT;
    let plan = if fell_back || loaded.device != device {
        LanePlan::new(loaded.device, fell_back, threads, lanes)
    } else {
        plan
    };
    let mut backends = vec![first];
    for _ in 1..plan.lanes {
        backends.push(load_backend(asked, &dir, lane_threads)?);
    }
    if plan.lanes > 1 {
        let t = plan.threads.unwrap_or(1);
        why.push(format!("{} lanes, {t} thread{} each", plan.lanes, if t == 1 { "" } else { "s" }));
    }
    for line in &why {
        tracing::info!("backend: {line}");
    }
    Ok(Loaded { backends, graph_dir: dir, why, batch_size: plan.batch })
}

/// The first lane of `choice`, and the spec that loads more lanes like it; each decision taken goes to `why`.
fn load_first(
    dir: &Path,
    choice: EngineChoice,
    threads: Option<usize>,
    why: &mut Vec<String>,
) -> Result<(Box<dyn Backend>, EngineSpec), InferError> {
    let spec = match choice {
        EngineChoice::Exact(spec) => spec,
        EngineChoice::Auto => return load_auto(dir, threads, why),
    };
    if spec.graph == Graph::Fp16 {
        ensure_fp16(dir)?;
    }
    Ok((load_backend(spec, dir, threads)?, spec))
}

/// `auto`: ONNX Runtime on CUDA, else int8 on the CPU (when exported), else fp32, else tract.
fn load_auto(
    dir: &Path,
    threads: Option<usize>,
    why: &mut Vec<String>,
) -> Result<(Box<dyn Backend>, EngineSpec), InferError> {
    for spec in [EngineSpec::ORT_CUDA, EngineSpec::ORT_INT8, EngineSpec::ORT] {
        if spec.graph == Graph::Int8 && !dir.join(INT8_FILE).is_file() {
            why.push(format!("{spec}: no {INT8_FILE} in {}", dir.display()));
            continue;
        }
        let opts = BackendOptions { device: spec.device, threads };
        match crate::infer::ort_backend::OrtBackend::load(&dir.join(spec.files()[0]), &opts) {
            Ok(b) => {
                why.push(format!("using {spec}"));
                return Ok((Box::new(b), spec));
            }
            Err(e) => why.push(format!("{spec} unavailable: {e}")),
        }
    }
    why.push("using tract".into());
    Ok((load_backend(EngineSpec::TRACT, dir, threads)?, EngineSpec::TRACT))
}
