//! `nerkit._native`: the Rust core's raw-text tagger for Python. The same engine as `nerkit serve`
//! ([`nerkit::serve::ServeEngine`]), so `Tagger.tag` returns what `POST /tag` returns, as JSON text that the
//! Python side (`nerkit/__init__.py`) turns into dicts. The interpreter lock is released while Rust works.
use std::path::PathBuf;
use std::sync::Mutex;

use nerkit::infer::EngineChoice;
use nerkit::serve::ServeEngine;
use nerkit_api as api;
use nerkit_server::{Engine, EngineError};
use pyo3::exceptions::{PyFileNotFoundError, PyRuntimeError, PyValueError};
use pyo3::prelude::*;

/// A model directory opened for tagging (trained `best/` or an export).
#[pyclass(module = "nerkit._native", frozen)]
struct NativeTagger {
    engine: Mutex<ServeEngine>,
    info: String,
}

/// An option value (`"simple"`, `"viterbi"`, ...) read as the server reads it, or a `ValueError` naming it.
fn option<T: serde::de::DeserializeOwned>(name: &str, value: Option<&str>) -> PyResult<Option<T>> {
    value
        .map(|v| {
            serde_json::from_value(serde_json::Value::String(v.to_string()))
                .map_err(|e| PyValueError::new_err(format!("{name}: {e}")))
        })
        .transpose()
}

#[pymethods]
impl NativeTagger {
    #[new]
    #[pyo3(signature = (model, backend = "auto", lanes = None, threads = None))]
    fn new(
        py: Python<'_>,
        model: PathBuf,
        backend: &str,
        lanes: Option<usize>,
        threads: Option<usize>,
    ) -> PyResult<Self> {
        if !model.is_dir() {
            return Err(PyFileNotFoundError::new_err(format!(
                "model directory {} not found (a trained `best/` or an exported directory)",
                model.display()
            )));
        }
        let choice: EngineChoice = backend.parse().map_err(|e| PyValueError::new_err(format!("backend: {e}")))?;
        if lanes == Some(0) || threads == Some(0) {
            return Err(PyValueError::new_err("lanes and threads must be at least 1"));
        }
        let engine = py
            .detach(|| ServeEngine::open_lanes(&model, choice, threads, lanes))
            .map_err(|e| PyRuntimeError::new_err(format!("{}: {e}", model.display())))?;
        let info = serde_json::to_string(&engine.info()).expect("info serialises");
        Ok(NativeTagger { engine: Mutex::new(engine), info })
    }

    /// `/info`'s JSON: model, labels, entity types, pair types, backend and why.
    #[getter]
    fn info_json(&self) -> &str {
        &self.info
    }

    /// Tags `texts`; returns the JSON list of `POST /tag` answers, one per text.
    #[pyo3(signature = (texts, aggregation = None, decoding = None, offsets = None, pairs = None))]
    fn tag_json(
        &self,
        py: Python<'_>,
        texts: Vec<String>,
        aggregation: Option<&str>,
        decoding: Option<&str>,
        offsets: Option<&str>,
        pairs: Option<&str>,
    ) -> PyResult<String> {
        let opts = api::TagOptions {
            aggregation: option("aggregation", aggregation)?.unwrap_or_default(),
            decode: option("decoding", decoding)?,
            offsets: option("offsets", offsets)?.unwrap_or_default(),
            stride: None,
            pairs: option("pairs", pairs)?.unwrap_or_default(),
        };
        let results = py.detach(|| {
            let refs: Vec<&str> = texts.iter().map(String::as_str).collect();
            let mut engine = self.engine.lock().unwrap_or_else(|p| p.into_inner());
            engine.tag(&refs, &opts)
        });
        let results = results.map_err(|e| match e {
            EngineError::Invalid(m) => PyValueError::new_err(m),
            EngineError::Failed(m) => PyRuntimeError::new_err(m),
        })?;
        Ok(serde_json::to_string(&results).expect("results serialise"))
    }
}

/// Runs the `nerkit` command line with `argv` (program name first), as the Rust binary does.
#[pyfunction]
fn cli_main(py: Python<'_>, argv: Vec<String>) -> PyResult<i32> {
    match py.detach(|| nerkit::cli::main_with(argv)) {
        Ok(()) => Ok(0),
        Err(e) => {
            eprintln!("Error: {e:?}");
            Ok(1)
        }
    }
}

#[pymodule]
fn _native(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<NativeTagger>()?;
    m.add_function(wrap_pyfunction!(cli_main, m)?)?;
    m.add("__version__", env!("CARGO_PKG_VERSION"))?;
    Ok(())
}
