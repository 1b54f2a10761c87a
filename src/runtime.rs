//! ONNX Runtime discovery and one-time initialisation (`ort` 2.0.0-rc.15 with `load-dynamic`).
//!
//! The C library is looked up in this order: `ORT_DYLIB_PATH`, [`crate::paths::cached_ort_lib`] (where
//! `scripts/setup.sh` puts it), then next to the running executable. [`environment`] loads it once per process
//! and returns the shared [`ort::environment::Environment`] that `Session::builder(&env)` takes. Execution
//! providers are chosen per session with [`execution_providers`].
use std::path::PathBuf;
use std::sync::OnceLock;

use ort::ep::ExecutionProviderDispatch;

use crate::paths::{cached_ort_lib, ORT_LIB_NAME};

/// How to fix a missing or broken runtime library, appended to every error.
pub const FIX_HINT: &str = "run `make setup` (or `bash scripts/setup.sh`) to install it, or set ORT_DYLIB_PATH to a \
     libonnxruntime.so (1.31); `--backend tract` works without ONNX Runtime";

#[derive(Clone, Debug, thiserror::Error)]
pub enum RuntimeError {
    #[error("ONNX Runtime library not found (tried {}); {FIX_HINT}", display_paths(tried))]
    NotFound { tried: Vec<PathBuf> },
    #[error("cannot load ONNX Runtime from {path}: {message}; {FIX_HINT}")]
    Load { path: PathBuf, message: String },
    #[error("cannot create the ONNX Runtime environment: {message}")]
    Environment { message: String },
    #[error("CUDA execution provider requested but {message}")]
    Cuda { message: String },
}

fn display_paths(paths: &[PathBuf]) -> String {
    paths.iter().map(|p| p.display().to_string()).collect::<Vec<_>>().join(", ")
}

/// Candidate library paths, in lookup order.
pub fn library_candidates() -> Vec<PathBuf> {
    let mut out = Vec::new();
    if let Some(p) = std::env::var_os("ORT_DYLIB_PATH").filter(|p| !p.is_empty()) {
        out.push(PathBuf::from(p));
    }
    out.push(cached_ort_lib());
    if let Some(dir) = std::env::current_exe().ok().and_then(|e| e.parent().map(|d| d.to_path_buf())) {
        out.push(dir.join(ORT_LIB_NAME));
        out.push(dir.join("libonnxruntime.so"));
    }
    out
}

/// The first existing candidate library. `ORT_DYLIB_PATH`, when set, must exist: a typo is not silently
/// replaced by another library.
pub fn find_library() -> Result<PathBuf, RuntimeError> {
    let candidates = library_candidates();
    if let Some(p) = std::env::var_os("ORT_DYLIB_PATH").filter(|p| !p.is_empty()) {
        let p = PathBuf::from(p);
        return if p.is_file() { Ok(p) } else { Err(RuntimeError::NotFound { tried: vec![p] }) };
    }
    candidates.iter().find(|p| p.is_file()).cloned().ok_or(RuntimeError::NotFound { tried: candidates })
}

static ENVIRONMENT: OnceLock<Result<ort::environment::Environment, RuntimeError>> = OnceLock::new();

/// Loads the library (once per process) and returns the shared environment.
pub fn environment() -> Result<ort::environment::Environment, RuntimeError> {
    ENVIRONMENT
        .get_or_init(|| {
            let path = find_library()?;
            tracing::debug!(path = %path.display(), "loading ONNX Runtime");
            let builder =
                ort::init_from(&path).map_err(|e| RuntimeError::Load { path: path.clone(), message: e.to_string() })?;
            builder.with_name("nerkit").build().map_err(|e| RuntimeError::Environment { message: e.to_string() })
        })
        .clone()
}

/// Where a session runs.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, clap::ValueEnum, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Device {
    /// CPU only.
    #[default]
    Cpu,
    /// CUDA, an error if it cannot be used.
    Cuda,
    /// CUDA when this ONNX Runtime build supports it, else CPU (logged).
    Auto,
}

/// Execution providers for `device` (empty = ONNX Runtime's default CPU provider). CUDA needs the `cuda`
/// cargo feature and a GPU build of the library.
pub fn execution_providers(device: Device) -> Result<Vec<ExecutionProviderDispatch>, RuntimeError> {
    match (device, cuda_provider()) {
        (Device::Cpu, _) => Ok(vec![]),
        (Device::Cuda, Ok(ep)) => Ok(vec![ep.error_on_failure()]),
        (Device::Cuda, Err(message)) => Err(RuntimeError::Cuda { message }),
        (Device::Auto, Ok(ep)) => Ok(vec![ep]),
        (Device::Auto, Err(message)) => {
            static SAID: std::sync::Once = std::sync::Once::new();
            SAID.call_once(|| tracing::info!("not using CUDA ({message}); running on CPU"));
            Ok(vec![])
        }
    }
}

#[cfg(feature = "cuda")]
fn cuda_provider() -> Result<ExecutionProviderDispatch, String> {
    use ort::ep::ExecutionProvider;
    match ort::ep::CUDA::is_available() {
        Ok(true) => Ok(ort::ep::CUDA::default().build()),
        Ok(false) => {
            Err("this ONNX Runtime library was built without it (install the GPU build of onnxruntime)".into())
        }
        Err(e) => Err(e.to_string()),
    }
}

#[cfg(not(feature = "cuda"))]
fn cuda_provider() -> Result<ExecutionProviderDispatch, String> {
    Err("nerkit was built without the `cuda` cargo feature (cargo build --features cuda)".into())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn not_found_error_says_what_to_run() {
        let e = RuntimeError::NotFound { tried: vec![PathBuf::from("/nope/libonnxruntime.so")] }.to_string();
        assert!(e.contains("/nope/libonnxruntime.so"), "{e}");
        assert!(e.contains("make setup") && e.contains("ORT_DYLIB_PATH") && e.contains("--backend tract"), "{e}");
    }

    #[test]
    fn candidates_include_the_cache() {
        assert!(library_candidates().contains(&cached_ort_lib()));
    }
}
