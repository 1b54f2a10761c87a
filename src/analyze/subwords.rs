//! Sub-word lengths through a Hugging Face `tokenizer.json`: words are encoded pre-split, with special tokens
//! ([CLS]/[SEP]), padding and truncation disabled, so the count is what a model would see before windowing.
use std::path::{Path, PathBuf};

use tokenizers::Tokenizer;

use super::AnalyzeError;
use crate::data::Dataset;

/// `path` itself when it is a file, `path/tokenizer.json` when it is a directory.
pub fn tokenizer_file(path: &Path) -> PathBuf {
    if path.is_dir() {
        path.join("tokenizer.json")
    } else {
        path.to_path_buf()
    }
}

/// The default tokenizer: the embedded model's `tokenizer.json`, when it exists.
pub fn default_tokenizer() -> Option<PathBuf> {
    Some(crate::paths::embedded_model_dir().join("tokenizer.json")).filter(|p| p.is_file())
}

/// A tokenizer that counts sub-words per sentence.
pub struct SubwordCounter {
    tokenizer: Tokenizer,
    pub path: PathBuf,
}

impl SubwordCounter {
    pub fn load(path: &Path) -> Result<Self, AnalyzeError> {
        let file = tokenizer_file(path);
        let err = |message: String| AnalyzeError::Tokenizer { path: file.clone(), message };
        if !file.is_file() {
            return Err(err("file not found".into()));
        }
        let mut tokenizer = Tokenizer::from_file(&file).map_err(|e| err(e.to_string()))?;
        tokenizer.with_padding(None).with_truncation(None).map_err(|e| err(e.to_string()))?;
        Ok(SubwordCounter { tokenizer, path: file })
    }

    /// Sub-words (special tokens included) of each sentence of `ds`, in order.
    pub fn lengths(&self, ds: &Dataset) -> Result<Vec<usize>, AnalyzeError> {
        ds.sentences
            .iter()
            .map(|s| {
                self.tokenizer.encode(s.words.as_slice(), true).map(|e| e.len()).map_err(|e| AnalyzeError::Tokenizer {
                    path: self.path.clone(),
                    message: format!("{}: {e}", s.origin),
                })
            })
            .collect()
    }
}
