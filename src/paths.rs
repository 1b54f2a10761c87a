//! Where nerkit keeps its cache (ONNX Runtime library, embedded model): `NERKIT_HOME`, else `./.nerkit`
//! when it exists (the project checkout), else `$XDG_CACHE_HOME/nerkit` or `~/.cache/nerkit`.
use std::path::PathBuf;

pub const ORT_LIB_NAME: &str = "libonnxruntime.so.1.31.1";

pub fn nerkit_home() -> PathBuf {
    if let Some(h) = std::env::var_os("NERKIT_HOME").filter(|h| !h.is_empty()) {
        return PathBuf::from(h);
    }
    let local = PathBuf::from(".nerkit");
    if local.is_dir() {
        return local;
    }
    if let Some(x) = std::env::var_os("XDG_CACHE_HOME").filter(|h| !h.is_empty()) {
        return PathBuf::from(x).join("nerkit");
    }
    match std::env::var_os("HOME") {
        Some(h) => PathBuf::from(h).join(".cache").join("nerkit"),
        None => local,
    }
}

/// `<home>/ort/libonnxruntime.so.1.31.1`, where `scripts/setup.sh` puts the library.
pub fn cached_ort_lib() -> PathBuf {
    nerkit_home().join("ort").join(ORT_LIB_NAME)
}

/// `<home>/models/all-minilm-l6-v2`, the embedded default model directory.
pub fn embedded_model_dir() -> PathBuf {
    nerkit_home().join("models").join("all-minilm-l6-v2")
}
