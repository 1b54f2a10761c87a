//! Model references: where a HF-style model directory (`config.json`, `tokenizer.json`, `model.safetensors`)
//! comes from, and loading its tokenizer.
//!
//! A reference string is, in this order of precedence:
//! 1. `embedded`: the default model provisioned by `scripts/setup.sh` into [`crate::paths::embedded_model_dir`];
//! 2. an existing local directory;
//! 3. a hub id `org/name`, optionally `org/name@revision`, fetched through [`crate::hub::fetch_model_files`].
use std::path::{Path, PathBuf};

/// Files every model directory must have.
pub const REQUIRED_FILES: [&str; 3] = [CONFIG_FILE, TOKENIZER_FILE, WEIGHTS_FILE];
pub const CONFIG_FILE: &str = "config.json";
pub const TOKENIZER_FILE: &str = "tokenizer.json";
pub const WEIGHTS_FILE: &str = "model.safetensors";
/// The fp32 inference graph of an exported model directory (it may stand in for [`WEIGHTS_FILE`]).
pub const EXPORTED_FILE: &str = "model.onnx";

/// Why a model reference could not be resolved or its tokenizer loaded.
#[derive(Debug, thiserror::Error)]
pub enum ModelError {
    #[error(
        "the embedded model is not provisioned: {} is missing; run `make setup` (or `bash scripts/setup.sh`), \
         or set NERKIT_HOME to a provisioned cache",
        missing.display()
    )]
    EmbeddedMissing { missing: PathBuf },
    #[error("model reference `{reference}` is neither `embedded`, an existing directory, nor a hub id `org/name`")]
    Unrecognised { reference: String },
    #[error(
        "model directory {}: no {TOKENIZER_FILE} (a fast-tokenizer file is required; vocab.txt-only models are \
         not supported: save the tokenizer with `tokenizer.save_pretrained` from `transformers` first)",
        dir.display()
    )]
    MissingTokenizer { dir: PathBuf },
    #[error("model directory {}: missing {}", dir.display(), path.display())]
    MissingFile { dir: PathBuf, path: PathBuf },
    #[error(transparent)]
    Hub(#[from] crate::hub::HubError),
    #[error("{}: cannot load tokenizer: {message}", path.display())]
    Tokenizer { path: PathBuf, message: String },
}

/// A parsed model reference (see the module docs for the syntax).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ModelRef {
    Embedded,
    Local(PathBuf),
    Hub { repo: String, revision: Option<String> },
}

impl ModelRef {
    /// Parses a reference; checks only the syntax and whether a local directory exists.
    pub fn parse(reference: &str) -> Result<Self, ModelError> {
        let reference = reference.trim();
        if reference == "embedded" {
            return Ok(ModelRef::Embedded);
        }
        let path = Path::new(reference);
        if path.is_dir() {
            return Ok(ModelRef::Local(path.to_path_buf()));
        }
        let (repo, revision) = match reference.split_once('@') {
            Some((r, rev)) if !rev.is_empty() => (r, Some(rev.to_string())),
            Some(_) => return Err(ModelError::Unrecognised { reference: reference.to_string() }),
            None => (reference, None),
        };
        // Anything path-like that does not exist is reported as a missing directory, not tried on the hub.
        let path_like = reference.starts_with('.') || reference.starts_with('/') || reference.starts_with('~');
        if !path_like && crate::hub::split_repo_id(repo).is_ok() {
            return Ok(ModelRef::Hub { repo: repo.to_string(), revision });
        }
        if path_like {
            return Err(ModelError::MissingFile { dir: path.to_path_buf(), path: path.to_path_buf() });
        }
        Err(ModelError::Unrecognised { reference: reference.to_string() })
    }

    /// Finds (or downloads) the directory and checks the [`REQUIRED_FILES`] are there.
    pub fn resolve(&self) -> Result<ModelDir, ModelError> {
        match self {
            ModelRef::Embedded => open_embedded(crate::paths::embedded_model_dir()),
            ModelRef::Local(dir) => ModelDir::open(dir),
            ModelRef::Hub { repo, revision } => {
                let dir = match crate::hub::fetch_model_files(repo, revision.as_deref(), &REQUIRED_FILES) {
                    Ok(dir) => dir,
                    Err(crate::hub::HubError::NotFound { ref file, .. }) if file == TOKENIZER_FILE => {
                        return Err(ModelError::MissingTokenizer { dir: PathBuf::from(repo) });
                    }
                    Err(e) => return Err(e.into()),
                };
                ModelDir::open(&dir)
            }
        }
    }
}

impl std::fmt::Display for ModelRef {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ModelRef::Embedded => write!(f, "embedded"),
            ModelRef::Local(p) => write!(f, "{}", p.display()),
            ModelRef::Hub { repo, revision: Some(r) } => write!(f, "{repo}@{r}"),
            ModelRef::Hub { repo, revision: None } => write!(f, "{repo}"),
        }
    }
}

/// The embedded model at `dir`; a missing file says how to provision it.
fn open_embedded(dir: PathBuf) -> Result<ModelDir, ModelError> {
    if let Some(missing) = REQUIRED_FILES.iter().map(|f| dir.join(f)).find(|p| !p.is_file()) {
        return Err(ModelError::EmbeddedMissing { missing });
    }
    Ok(ModelDir { path: dir })
}

/// Parses and resolves in one step.
pub fn resolve(reference: &str) -> Result<ModelDir, ModelError> {
    ModelRef::parse(reference)?.resolve()
}

/// A model directory known to contain the [`REQUIRED_FILES`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ModelDir {
    pub path: PathBuf,
}

impl ModelDir {
    /// Checks `dir` has the required files; a missing `tokenizer.json` gets its own explanation. An exported
    /// directory (`nerkit export`: `model.onnx` instead of `model.safetensors`) is accepted too.
    pub fn open(dir: &Path) -> Result<Self, ModelError> {
        let exported = dir.join(EXPORTED_FILE).is_file();
        for file in REQUIRED_FILES {
            if exported && file == WEIGHTS_FILE {
                continue;
            }
            let path = dir.join(file);
            if !path.is_file() {
                return Err(if file == TOKENIZER_FILE {
                    ModelError::MissingTokenizer { dir: dir.to_path_buf() }
                } else {
                    ModelError::MissingFile { dir: dir.to_path_buf(), path }
                });
            }
        }
        Ok(ModelDir { path: dir.to_path_buf() })
    }

    pub fn config_path(&self) -> PathBuf {
        self.path.join(CONFIG_FILE)
    }

    pub fn tokenizer_path(&self) -> PathBuf {
        self.path.join(TOKENIZER_FILE)
    }

    pub fn weights_path(&self) -> PathBuf {
        self.path.join(WEIGHTS_FILE)
    }

    /// Loads `tokenizer.json` with padding and truncation turned off (windows and batching are done by
    /// [`crate::prepare`], never silently by the tokenizer).
    pub fn tokenizer(&self) -> Result<tokenizers::Tokenizer, ModelError> {
        load_tokenizer(&self.tokenizer_path())
    }
}

/// Loads a `tokenizer.json` with padding and truncation turned off.
pub fn load_tokenizer(path: &Path) -> Result<tokenizers::Tokenizer, ModelError> {
    let err = |e: tokenizers::Error| ModelError::Tokenizer { path: path.to_path_buf(), message: e.to_string() };
    let mut tokenizer = tokenizers::Tokenizer::from_file(path).map_err(err)?;
    tokenizer.with_padding(None);
    tokenizer.with_truncation(None).map_err(err)?;
    Ok(tokenizer)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_references() {
        assert_eq!(ModelRef::parse("embedded").unwrap(), ModelRef::Embedded);
        assert_eq!(
            ModelRef::parse("microsoft/BiomedNLP-BiomedBERT-base-uncased-abstract-fullext").unwrap(),
            ModelRef::Hub {
                repo: "microsoft/BiomedNLP-BiomedBERT-base-uncased-abstract-fullext".into(),
                revision: None
            }
        );
        assert_eq!(
            ModelRef::parse("org/name@v1").unwrap(),
            ModelRef::Hub { repo: "org/name".into(), revision: Some("v1".into()) }
        );
        let tmp = tempfile::tempdir().unwrap();
        assert_eq!(ModelRef::parse(tmp.path().to_str().unwrap()).unwrap(), ModelRef::Local(tmp.path().into()));
        assert!(matches!(ModelRef::parse("./no/such/dir"), Err(ModelError::MissingFile { .. })));
        assert!(matches!(ModelRef::parse("gpt2"), Err(ModelError::Unrecognised { .. })));
        assert!(matches!(ModelRef::parse("org/name@"), Err(ModelError::Unrecognised { .. })));
    }

    #[test]
    fn open_names_the_missing_file() {
        let tmp = tempfile::tempdir().unwrap();
        std::fs::write(tmp.path().join(CONFIG_FILE), "{}").unwrap();
        let err = ModelDir::open(tmp.path()).unwrap_err();
        assert!(matches!(err, ModelError::MissingTokenizer { .. }), "{err}");
        assert!(err.to_string().contains("tokenizer.json"));
        std::fs::write(tmp.path().join(TOKENIZER_FILE), "{}").unwrap();
        let err = ModelDir::open(tmp.path()).unwrap_err();
        assert!(err.to_string().contains(&tmp.path().join(WEIGHTS_FILE).display().to_string()), "{err}");
        std::fs::write(tmp.path().join(WEIGHTS_FILE), "").unwrap();
        assert_eq!(ModelDir::open(tmp.path()).unwrap().path, tmp.path());
    }

    #[test]
    fn missing_embedded_model_says_what_to_run() {
        let tmp = tempfile::tempdir().unwrap();
        let msg = open_embedded(tmp.path().join("all-minilm-l6-v2")).unwrap_err().to_string();
        assert!(msg.contains("make setup") && msg.contains("bash scripts/setup.sh"), "{msg}");
        assert!(msg.contains("all-minilm-l6-v2/config.json"), "{msg}");
    }

    #[test]
    fn bad_tokenizer_file_is_reported_with_its_path() {
        let tmp = tempfile::tempdir().unwrap();
        let p = tmp.path().join(TOKENIZER_FILE);
        std::fs::write(&p, "not json").unwrap();
        let err = load_tokenizer(&p).unwrap_err();
        assert!(err.to_string().contains(&p.display().to_string()), "{err}");
    }
}
