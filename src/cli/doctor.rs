//! `nerkit doctor`: checks the installation without loading anything (ONNX Runtime library file, embedded
//! model, PLOD data, hub feature, CUDA provider) and says how to fix what is missing. Exits non-zero when a
//! required piece is missing.
use crate::paths;
use std::path::{Path, PathBuf};

#[derive(clap::Args, Debug)]
pub struct Args {}

const SETUP_FIX: &str = "run `make setup` (or `bash scripts/setup.sh`)";

/// Outcome of one check.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Check {
    pub name: &'static str,
    pub ok: bool,
    /// A missing required piece makes `doctor` fail; an optional one is only reported.
    pub required: bool,
    pub detail: String,
    pub fix: Option<String>,
}

/// Where things are expected (gathered from the environment by [`Locations::from_env`]).
#[derive(Clone, Debug)]
pub struct Locations {
    pub nerkit_home: PathBuf,
    /// ORT_DYLIB_PATH when set.
    pub ort_env: Option<PathBuf>,
    pub ort_cached: PathBuf,
    pub embedded_model: PathBuf,
    pub plod_dir: Option<PathBuf>,
    pub hub_feature: bool,
}

impl Locations {
    pub fn from_env() -> Self {
        Locations {
            nerkit_home: paths::nerkit_home(),
            ort_env: std::env::var_os("ORT_DYLIB_PATH").filter(|p| !p.is_empty()).map(PathBuf::from),
            ort_cached: paths::cached_ort_lib(),
            embedded_model: paths::embedded_model_dir(),
            plod_dir: find_plod_dir(),
            hub_feature: crate::hub::hub_enabled(),
        }
    }
}

/// `PLOD_DIR` when set, else the first `<ancestor>/shared/data/plod` directory, for the current directory and
/// each of its ancestors.
pub fn find_plod_dir() -> Option<PathBuf> {
    if let Some(p) = std::env::var_os("PLOD_DIR").filter(|p| !p.is_empty()) {
        return Some(PathBuf::from(p));
    }
    let cwd = std::env::current_dir().ok()?;
    cwd.ancestors().map(|a| a.join("shared").join("data").join("plod")).find(|p| p.is_dir())
}

pub fn checks(loc: &Locations) -> Vec<Check> {
    let mut out = Vec::new();
    let (ort, ort_from_env) = match &loc.ort_env {
        Some(p) => (p.clone(), true),
        None => (loc.ort_cached.clone(), false),
    };
    let ort_ok = ort.is_file();
    out.push(Check {
        name: "ONNX Runtime library",
        ok: ort_ok,
        required: true,
        detail: format!("{}{}", ort.display(), if ort_from_env { " (ORT_DYLIB_PATH)" } else { "" }),
        fix: (!ort_ok).then(|| {
            if ort_from_env {
                format!("ORT_DYLIB_PATH points to a missing file; fix or unset it, then {SETUP_FIX}")
            } else {
                format!("{SETUP_FIX}, or set ORT_DYLIB_PATH to an existing {}", paths::ORT_LIB_NAME)
            }
        }),
    });
    let missing: Vec<&str> =
        crate::model::REQUIRED_FILES.iter().copied().filter(|f| !loc.embedded_model.join(f).is_file()).collect();
    out.push(Check {
        name: "embedded model",
        ok: missing.is_empty(),
        required: true,
        detail: if missing.is_empty() {
            loc.embedded_model.display().to_string()
        } else {
            format!("{} (missing {})", loc.embedded_model.display(), missing.join(", "))
        },
        fix: (!missing.is_empty()).then(|| SETUP_FIX.to_string()),
    });
    let plod_ok = loc.plod_dir.as_deref().is_some_and(Path::is_dir);
    out.push(Check {
        name: "PLOD data",
        ok: plod_ok,
        required: false,
        detail: loc.plod_dir.as_ref().map_or("not found".into(), |p| p.display().to_string()),
        fix: (!plod_ok).then(|| "set PLOD_DIR to the directory holding plod-cw-2024-lowercased/".to_string()),
    });
    out.push(Check {
        name: "hub feature",
        ok: loc.hub_feature,
        required: false,
        detail: if loc.hub_feature { "compiled in".into() } else { "not compiled in".into() },
        fix: (!loc.hub_feature).then(|| "rebuild with default features to use hub models/datasets".to_string()),
    });
    let cuda = ort.with_file_name("libonnxruntime_providers_cuda.so");
    let shared = ort.with_file_name("libonnxruntime_providers_shared.so");
    let cuda_ok = cuda.is_file() && shared.is_file();
    out.push(Check {
        name: "CUDA provider",
        ok: cuda_ok,
        required: false,
        detail: if cuda_ok { cuda.display().to_string() } else { format!("no {} (CPU only)", cuda.display()) },
        fix: (!cuda_ok).then(|| "see docs/gpu.md (onnxruntime-gpu 1.31.1 + CUDA 13 libraries)".to_string()),
    });
    out
}

pub fn run(_args: Args) -> anyhow::Result<()> {
    let loc = Locations::from_env();
    println!("nerkit {} — NERKIT_HOME {}", env!("CARGO_PKG_VERSION"), loc.nerkit_home.display());
    let results = checks(&loc);
    for c in &results {
        let tag = match (c.ok, c.required) {
            (true, _) => "ok     ",
            (false, true) => "MISSING",
            (false, false) => "absent ",
        };
        println!("  [{tag}] {:<22} {}", c.name, c.detail);
        if let Some(fix) = &c.fix {
            println!("            fix: {fix}");
        }
    }
    let failed: Vec<&str> = results.iter().filter(|c| c.required && !c.ok).map(|c| c.name).collect();
    if !failed.is_empty() {
        anyhow::bail!("missing required: {}", failed.join(", "));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn locations(root: &Path) -> Locations {
        Locations {
            nerkit_home: root.to_path_buf(),
            ort_env: None,
            ort_cached: root.join("ort").join(paths::ORT_LIB_NAME),
            embedded_model: root.join("models").join("m"),
            plod_dir: None,
            hub_feature: true,
        }
    }

    #[test]
    fn empty_home_fails_required_checks_with_fix() {
        let tmp = tempfile::tempdir().unwrap();
        let r = checks(&locations(tmp.path()));
        let failing: Vec<_> = r.iter().filter(|c| c.required && !c.ok).collect();
        assert_eq!(failing.len(), 2);
        assert!(failing.iter().all(|c| c.fix.as_deref().unwrap().contains("make setup")));
        assert!(failing[1].detail.contains("tokenizer.json"));
    }

    #[test]
    fn provisioned_home_passes_and_sees_cuda_provider() {
        let tmp = tempfile::tempdir().unwrap();
        let loc = locations(tmp.path());
        std::fs::create_dir_all(loc.ort_cached.parent().unwrap()).unwrap();
        std::fs::create_dir_all(&loc.embedded_model).unwrap();
        std::fs::write(&loc.ort_cached, b"x").unwrap();
        for f in crate::model::REQUIRED_FILES {
            std::fs::write(loc.embedded_model.join(f), b"x").unwrap();
        }
        let r = checks(&loc);
        assert!(r.iter().filter(|c| c.required).all(|c| c.ok), "{r:?}");
        assert!(!r.iter().find(|c| c.name == "CUDA provider").unwrap().ok);
        for lib in ["libonnxruntime_providers_cuda.so", "libonnxruntime_providers_shared.so"] {
            std::fs::write(loc.ort_cached.with_file_name(lib), b"x").unwrap();
        }
        assert!(checks(&loc).iter().find(|c| c.name == "CUDA provider").unwrap().ok);
        // An ORT_DYLIB_PATH that points nowhere wins over the cache, and says so.
        let bad = Locations { ort_env: Some(tmp.path().join("nope.so")), ..loc };
        let c = checks(&bad).into_iter().next().unwrap();
        assert!(!c.ok && c.fix.unwrap().contains("ORT_DYLIB_PATH"));
    }
}
